// SPDX-License-Identifier: MIT
#pragma once

/// A run: one attempt by afk to implement one issue, from claim to a terminal phase.
/// Its durable state is a RunRecord kept in afk's own comment on the issue (see
/// run_record.hpp); any tick on any machine can resume a run from it.

#include "afk/issue.hpp"
#include "afk/time.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

/// Phases of the run lifecycle (../shared/design/architecture.md, "Lifecycle of a run").
enum class Phase {
  claimed,    ///< Record written and lock label set; no agent yet.
  dispatched, ///< Turn start sent to T3; the agent has not been seen working yet.
  working,    ///< The agent is working; nothing pushed yet.
  pushed,     ///< A commit carrying the run's trailer is on the default branch.
  ci,         ///< CI for the newest pushed SHA is running.
  deploying,  ///< CI is green; the rollout of that SHA is in progress.
  healthy,    ///< CI green and rolled out; waiting out the healthy-for period.
  fixing,     ///< Post-push red: a fix-forward turn is running.
  done,       ///< Terminal: healthy long enough, issue closed.
  escalated,  ///< Terminal: handed back to a human (ready-for-human).
  frozen,     ///< Terminal: fix-forward exhausted, broken state kept, repo frozen.
};

[[nodiscard]] std::string_view to_string(Phase phase) noexcept;
[[nodiscard]] std::optional<Phase> phase_from_string(std::string_view text) noexcept;
[[nodiscard]] bool is_terminal(Phase phase) noexcept;
/// True once something may be on the default branch (pushed and every phase after it).
[[nodiscard]] bool is_post_push(Phase phase) noexcept;

/// What a CI or deploy stage says about one SHA. `unknown` means the stage could not be
/// read (error, timeout, garbage): it is reported and waited on, never taken as green.
enum class Verdict { pending, green, red, unknown };

[[nodiscard]] std::string_view to_string(Verdict verdict) noexcept;
[[nodiscard]] std::optional<Verdict> verdict_from_string(std::string_view text) noexcept;

/// Whether a stage builds the SHA (CI) or rolls it out (deploy).
enum class StageKind { ci, deploy };

[[nodiscard]] std::string_view to_string(StageKind kind) noexcept;
[[nodiscard]] std::optional<StageKind> stage_kind_from_string(std::string_view text) noexcept;

/// One stage's verdict for one SHA, with what a person (or the fix-forward prompt) needs.
struct StageVerdict {
  std::string stage; ///< e.g. "github_checks", "woodpecker", "kubernetes"
  StageKind kind = StageKind::ci;
  Verdict verdict = Verdict::unknown;
  std::string detail; ///< failing checks, rollout message, read error
  std::string url;
  bool operator==(const StageVerdict&) const = default;
};

/// The machine-readable state of one run. Everything a later tick needs to resume.
struct RunRecord {
  std::string run_id; ///< derive_run_id(issue, attempt)
  IssueRef issue;
  int attempt = 1; ///< 1 for the first dispatch of this issue, +1 each re-dispatch
  Phase phase = Phase::claimed;

  std::string project_id; ///< derive_project_id(repo)
  std::string thread_id;  ///< derive_thread_id(issue, attempt)
  std::string branch;     ///< afk/<issue>-<slug>
  std::string worktree_path;
  std::string base_sha; ///< default-branch head the worktree was made from

  Timestamp claimed_at{};
  std::optional<Timestamp> dispatched_at; ///< first turn start sent
  std::optional<Timestamp> working_since; ///< agent first seen busy
  std::optional<Timestamp> first_push_at;
  std::optional<Timestamp> last_push_at;  ///< newest pushed SHA first seen: verification starts
  std::optional<Timestamp> first_red_at;  ///< starts the fix-forward window
  std::optional<Timestamp> healthy_since; ///< green and rolled out since
  Timestamp updated_at{};

  std::vector<std::string> pushed_shas;       ///< oldest first; the last one is being verified
  std::vector<StageVerdict> verdicts;         ///< stages of the newest pushed SHA, as last read
  int fix_attempts = 0;                       ///< fix-forward turns started
  int turns = 0;                              ///< spend: agent turns started (initial + fixes)
  std::string last_turn_id;                   ///< turn the agent was last seen on
  bool turn_seen = false;                     ///< the agent was seen on the turn afk requested last
  std::optional<Timestamp> fix_turn_sent_at;  ///< when the current fix turn was requested
  std::vector<std::string> answered_requests; ///< approval / question ids afk answered

  std::string lease_holder; ///< which afk process holds the run right now
  std::optional<Timestamp> lease_expires;

  std::string outcome; ///< why the run reached its terminal phase (or last decision)

  bool operator==(const RunRecord&) const = default;
};

} // namespace afk
