// SPDX-License-Identifier: MIT
#pragma once

/// The run lifecycle as a pure function: given a run's record and the evidence gathered
/// this tick (T3 thread liveness, commits found in git, CI/deploy verdicts for the newest
/// pushed SHA), decide the next record and the actions the engine must take. No I/O, no
/// clock: `now` is part of the evidence. Unknown evidence always means "wait", never
/// "done"; terminal verdicts come only from external evidence (git, CI, rollout), never
/// from the agent's own account.

#include "afk/run.hpp"
#include "afk/time.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

/// What to do when the agent waits on a human (an approval or a question).
enum class HumanPolicy {
  escalate, ///< hand the issue back to a human (ready-for-human)
  proceed,  ///< decline approvals, answer questions "proceed on your best judgement"
};

[[nodiscard]] std::string_view to_string(HumanPolicy policy) noexcept;
[[nodiscard]] std::optional<HumanPolicy> human_policy_from_string(std::string_view text) noexcept;

/// The limits a run lives within (config section [limits]).
struct LifecycleLimits {
  int fix_forward_attempts = 5;                          ///< follow-up turns after a post-push red
  Seconds fix_forward_window = std::chrono::minutes(60); ///< since the first red
  Seconds pre_push_deadline = std::chrono::hours(2);     ///< from claim to first push
  Seconds stall_timeout = std::chrono::minutes(20);      ///< no agent activity while busy
  Seconds start_timeout = std::chrono::minutes(10);      ///< turn sent, agent never seen
  Seconds verify_deadline = std::chrono::hours(2);       ///< a pushed SHA stays pending this long
  Seconds healthy_for = std::chrono::minutes(10);        ///< green + rolled out for this long
  int budget_turns = 8;                                  ///< agent turns per run, all kinds
  Seconds budget_time = std::chrono::hours(6); ///< wall time from claim, while nothing is pushed
  HumanPolicy on_waiting_human = HumanPolicy::escalate;
  bool operator==(const LifecycleLimits&) const = default;
};

/// The agent's liveness as derived from T3's read model (see t3 client).
enum class AgentState {
  unknown,          ///< could not read T3, or values we do not know: wait
  not_visible,      ///< turn sent, but neither session nor turn shows it yet
  busy,             ///< session starting/running
  waiting_on_human, ///< pending approvals or user input
  idle,             ///< turn completed, session not busy
  failed,           ///< session error, turn error, or the turn failed to start
  interrupted,      ///< turn interrupted or session stopped
  gone,             ///< the thread was deleted or never existed
};

[[nodiscard]] std::string_view to_string(AgentState state) noexcept;

/// An approval or question the agent is waiting on.
struct PendingRequest {
  enum class Kind { approval, user_input };
  std::string id;
  Kind kind = Kind::approval;
  std::vector<std::string> questions; ///< user input only: the question ids/texts
  bool operator==(const PendingRequest&) const = default;
};

struct AgentEvidence {
  AgentState state = AgentState::unknown;
  std::string turn_id;                    ///< the turn the state belongs to, if any
  std::optional<Timestamp> last_activity; ///< newest sign of life from the agent
  std::vector<PendingRequest> pending;
  std::string error; ///< lastError / failure activity text
};

/// The verdict for one SHA, folded over its stages in order (a red or pending stage
/// short-circuits the ones after it).
struct ShaVerdict {
  std::string sha;
  Verdict verdict = Verdict::unknown;
  std::vector<StageVerdict> stages;
};

/// Everything the lifecycle may look at, gathered by the engine this tick. An absent
/// optional means "not gathered or could not be read" and is treated as unknown.
struct RunEvidence {
  Timestamp now{};
  AgentEvidence agent;
  /// Commits on the default branch since the run's base attributed to the run, oldest
  /// first.
  std::optional<std::vector<std::string>> pushed_shas;
  /// Verdict for the newest pushed SHA (must equal pushed_shas->back() to be used).
  std::optional<ShaVerdict> verdict;
};

/// What the engine must do. Several may apply in one step; the engine performs them in
/// the order given and writes the record only after all succeeded, so a failure (or a
/// crash) leaves the old record and the next tick repeats the same step with the same
/// deterministic ids, which T3 and the tracker apply once.
enum class RunAction {
  dispatch,       ///< prepare the worktree, send project/thread create and the first turn
  start_fix_turn, ///< follow-up turn on the same thread with the failing stages' detail
  answer_pending, ///< answer `RunStep::to_answer` by the human policy
  interrupt,      ///< interrupt the agent's turn (it is being escalated or frozen)
  close_issue,    ///< healthy long enough: close with a summary, drop the lock
  escalate,       ///< drop the lock, add ready-for-human, keep the worktree, doorbell
  freeze,         ///< keep broken state, record forensics, freeze the repo, page
};

[[nodiscard]] std::string_view to_string(RunAction action) noexcept;

struct RunStep {
  RunRecord record; ///< the record to write back (unchanged if nothing happened)
  std::vector<RunAction> actions;
  std::vector<PendingRequest> to_answer;
  std::string reason; ///< one line for logs and the comment: why this step
  /// True when the record differs from the input in a way worth writing back.
  [[nodiscard]] bool changed_from(const RunRecord& before) const { return record != before; }
};

/// Advances one run by one tick. Terminal records come back unchanged with no actions.
[[nodiscard]] RunStep advance_run(const RunRecord& record, const RunEvidence& evidence,
                                  const LifecycleLimits& limits);

/// The record as the tick that sent fix turn `record.turns + 1` would have written it, had
/// it lived: one more turn, one more fix-forward attempt, phase fixing, the fix turn dated
/// `now`, and the first red too when unknown. A tick that dies between sending a fix turn and
/// recording it leaves the record one turn behind T3; the engine calls this when afk's own message
/// for that turn is on the thread, before the evidence is judged, so the attempt counts
/// against the fix-forward budget even when the world has moved on (the fix already green).
[[nodiscard]] RunRecord account_for_unrecorded_fix_turn(RunRecord record, Timestamp now);

} // namespace afk
