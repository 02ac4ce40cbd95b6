// SPDX-License-Identifier: MIT
#include <afk/run.hpp>

#include <array>
#include <cstddef>

namespace afk {
namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> from_string(const std::array<Enum, N>& values, std::string_view text) noexcept {
  for (const Enum value : values) {
    if (to_string(value) == text) {
      return value;
    }
  }
  return std::nullopt;
}

constexpr std::array k_phases = {
    Phase::claimed, Phase::dispatched, Phase::working, Phase::pushed,
    Phase::ci,      Phase::deploying,  Phase::healthy, Phase::fixing,
    Phase::done,    Phase::escalated,  Phase::frozen,
};
constexpr std::array k_verdicts = {Verdict::pending, Verdict::green, Verdict::red,
                                   Verdict::unknown};
constexpr std::array k_stage_kinds = {StageKind::ci, StageKind::deploy};

} // namespace

std::string_view to_string(Phase phase) noexcept {
  switch (phase) {
  case Phase::claimed:
    return "claimed";
  case Phase::dispatched:
    return "dispatched";
  case Phase::working:
    return "working";
  case Phase::pushed:
    return "pushed";
  case Phase::ci:
    return "ci";
  case Phase::deploying:
    return "deploying";
  case Phase::healthy:
    return "healthy";
  case Phase::fixing:
    return "fixing";
  case Phase::done:
    return "done";
  case Phase::escalated:
    return "escalated";
  case Phase::frozen:
    return "frozen";
  }
  return "unknown";
}

std::optional<Phase> phase_from_string(std::string_view text) noexcept {
  return from_string(k_phases, text);
}

bool is_terminal(Phase phase) noexcept {
  switch (phase) {
  case Phase::done:
  case Phase::escalated:
  case Phase::frozen:
    return true;
  case Phase::claimed:
  case Phase::dispatched:
  case Phase::working:
  case Phase::pushed:
  case Phase::ci:
  case Phase::deploying:
  case Phase::healthy:
  case Phase::fixing:
    return false;
  }
  return false;
}

bool is_post_push(Phase phase) noexcept {
  switch (phase) {
  case Phase::pushed:
  case Phase::ci:
  case Phase::deploying:
  case Phase::healthy:
  case Phase::fixing:
  case Phase::done:
  case Phase::frozen:
    return true;
  // Escalation happens before a push (agent gave up, deadline) and, in principle, after
  // one; the phase alone cannot tell, so callers look at the record's pushed SHAs.
  case Phase::escalated:
  case Phase::claimed:
  case Phase::dispatched:
  case Phase::working:
    return false;
  }
  return false;
}

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
  case Verdict::pending:
    return "pending";
  case Verdict::green:
    return "green";
  case Verdict::red:
    return "red";
  case Verdict::unknown:
    return "unknown";
  }
  return "unknown";
}

std::optional<Verdict> verdict_from_string(std::string_view text) noexcept {
  return from_string(k_verdicts, text);
}

std::string_view to_string(StageKind kind) noexcept {
  switch (kind) {
  case StageKind::ci:
    return "ci";
  case StageKind::deploy:
    return "deploy";
  }
  return "unknown";
}

std::optional<StageKind> stage_kind_from_string(std::string_view text) noexcept {
  return from_string(k_stage_kinds, text);
}

} // namespace afk
