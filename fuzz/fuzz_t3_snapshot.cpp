// SPDX-License-Identifier: MIT
// parse_t3_snapshot over hostile /snapshot bodies (the whole input is the body): only
// Error{protocol} may come out. Every thread it parses goes through t3_agent_evidence.

#include "fuzz_support.hpp"
#include "t3_evidence.hpp"

#include <afk/t3.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  afk::fuzz::expect_only_errors(
      [&] {
        const afk::T3Snapshot snapshot = afk::parse_t3_snapshot(body);
        for (const afk::T3Thread& thread : snapshot.threads) {
          afk::fuzz::require(snapshot.thread(thread.id) != nullptr, "a parsed thread is found");
          afk::fuzz::check_evidence(afk::T3ThreadRead{snapshot.sequence, thread});
        }
        afk::fuzz::check_evidence(afk::T3ThreadRead{snapshot.sequence, std::nullopt});
      },
      {afk::ErrorKind::protocol}, "parse_t3_snapshot throws only Error{protocol}");
  return 0;
}
