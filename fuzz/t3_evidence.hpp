// SPDX-License-Identifier: MIT
#pragma once

// Liveness over whatever a T3 body parsed to: t3_agent_evidence is pure and promises no
// failure, so it must return for every thread and every plausible watch.

#include "fuzz_support.hpp"

#include <afk/t3.hpp>

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

namespace afk::fuzz {

inline void check_evidence(const T3ThreadRead& read) {
  std::vector<std::string> message_ids = {"", "m-not-there"};
  std::vector<std::string> previous_turns = {""};
  if (read.thread) {
    for (const T3Message& message : read.thread->messages) {
      if (message_ids.size() < 6) {
        message_ids.push_back(message.id);
      }
    }
    if (read.thread->latest_turn) {
      previous_turns.push_back(read.thread->latest_turn->turn_id);
    }
  }
  for (const std::string& message_id : message_ids) {
    for (const std::string& previous : previous_turns) {
      for (const bool interrupt : {false, true}) {
        for (const std::int64_t dispatched : {std::int64_t{0}, read.sequence}) {
          const T3TurnWatch watch{message_id, previous, dispatched, interrupt};
          try {
            const AgentEvidence evidence = t3_agent_evidence(read, watch);
            (void)evidence;
          } catch (const std::exception& error) {
            violated("t3_agent_evidence never throws", error.what());
          }
        }
      }
    }
  }
}

} // namespace afk::fuzz
