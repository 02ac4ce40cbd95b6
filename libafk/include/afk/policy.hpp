// SPDX-License-Identifier: MIT
#pragma once

/// The dispatch policy as a pure function. For one repo it chooses at most one issue to
/// start, highest priority first (lowest "priority:N", unprioritised last), then oldest,
/// and gives every issue it did not choose a reason that `afk status` can print.
///
/// Expensive evidence (who applied the ready label and their live permission, the state
/// of each blocker) is asked for one candidate at a time: decide_dispatch() names the
/// next candidate that lacks evidence in `needs_evidence`; the engine gathers it and
/// calls again. At most `max_candidates_checked` candidates are examined per repo per
/// tick, so a tick never makes one expensive call per queued issue.

#include "afk/config.hpp"
#include "afk/issue.hpp"
#include "afk/run.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

/// Who last applied the ready label, from the issue's label events.
struct LabelerEvidence {
  enum class Actor { human, bot, app };
  std::optional<std::string> login; ///< nullopt: no label event found
  Actor actor = Actor::human;
  std::optional<Permission> permission; ///< live permission on the repo; nullopt: unreadable
  bool operator==(const LabelerEvidence&) const = default;
};

struct BlockerEvidence {
  enum class State { open, closed, unknown };
  IssueRef ref;
  State state = State::unknown; ///< unknown: missing or unreadable, which blocks
  bool operator==(const BlockerEvidence&) const = default;
};

/// The expensive facts about one candidate.
struct CandidateEvidence {
  LabelerEvidence labeler;
  std::vector<BlockerEvidence> blockers; ///< body "Blocked by" + native dependencies
  /// "Blocked by" clauses afk could not read (BlockedBy::unreadable): each one blocks.
  std::vector<std::string> unreadable_blockers;
};

/// The cheap facts about one repo, gathered by listing issues that carry afk labels.
struct RepoSnapshot {
  RepoName repo;
  std::vector<IssueSummary> issues; ///< open issues carrying any afk label
  bool frozen = false;              ///< the repo is frozen (afk freeze, or exhausted run)
  /// The default branch head's verdict; only red blocks dispatch (pending and unknown
  /// are normal right after a push).
  Verdict default_branch = Verdict::unknown;
  /// Issues whose afk record shows a run that is not terminal.
  std::vector<std::int64_t> in_flight;
};

struct DispatchRules {
  LabelNames labels;
  Permission trusted_permission = Permission::write;
  int max_candidates_checked = 3;
  /// afk's own tracker login: a ready label it applied is never trusted (the agent, or
  /// anything else holding afk's token, must not be able to start work for itself).
  std::string self_login;
  /// Non-empty when afk is disarmed ("kill switch on", "allowlist empty"): nothing runs.
  std::string disarmed_reason;
};

/// Why an issue is not (or is) running. Each has a stable name for `afk status --json`.
enum class WaitReason {
  chosen,             ///< this issue is dispatched now
  in_flight,          ///< this issue's run is in progress
  disarmed,           ///< kill switch on or allowlist empty
  repo_frozen,        ///< the repo is frozen
  repo_locked,        ///< another issue's run holds the repo
  default_branch_red, ///< the default branch is red
  not_ready,          ///< carries an afk label but not the ready label
  awaiting_human,     ///< carries the ready-for-human label
  untrusted_labeler,  ///< the ready label was not applied by a trusted human
  blocked,            ///< an open (or unreadable) blocker
  queued,             ///< eligible, behind a higher-priority or older issue
  not_checked,        ///< eligible so far; not examined this tick (check budget)
};

[[nodiscard]] std::string_view to_string(WaitReason reason) noexcept;

struct IssueVerdict {
  IssueRef issue;
  WaitReason reason = WaitReason::queued;
  std::string detail; ///< e.g. "repo locked by #12", "blocked by acme/api#7"
  bool operator==(const IssueVerdict&) const = default;
};

struct RepoDecision {
  std::optional<IssueRef> chosen;         ///< start this one now
  std::optional<IssueRef> needs_evidence; ///< gather CandidateEvidence for it and call again
  std::vector<IssueVerdict> verdicts;     ///< one per issue in the snapshot, in priority order
};

/// The candidates' order: priority, then creation time, then number.
[[nodiscard]] bool dispatch_order_before(const IssueSummary& a, const IssueSummary& b,
                                         std::string_view priority_prefix);

/// Why `evidence` does not make the issue trustworthy and unblocked; nullopt when it does.
/// Exposed for `afk dispatch`, which applies the same gates to one named issue.
[[nodiscard]] std::optional<IssueVerdict> judge_candidate(const IssueRef& issue,
                                                          const CandidateEvidence& evidence,
                                                          const DispatchRules& rules);

[[nodiscard]] RepoDecision decide_dispatch(const RepoSnapshot& snapshot,
                                           const std::map<IssueRef, CandidateEvidence>& evidence,
                                           const DispatchRules& rules);

} // namespace afk
