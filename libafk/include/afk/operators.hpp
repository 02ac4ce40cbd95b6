// SPDX-License-Identifier: MIT
#pragma once

/// The operator verbs over the engine (../shared/design/architecture.md, "Operators"):
/// dispatch one issue now through the tick's gates, freeze and thaw a repository, and explain
/// per repository and issue what is running and why the rest is not. Each reads and writes
/// only through EnginePorts, like the tick; none checks whether afk is armed (the CLI decides
/// which verb may run disarmed: freeze and status may, dispatch and thaw may not).
///
/// A repository is frozen while any of its open issues carries labels.frozen: a run frozen by
/// the lifecycle or by freeze_repo, or afk's tracking issue ("afk: owner/repo is frozen",
/// opened by tracker.login) when nothing was in flight. Every tick sees that label; nothing is
/// dispatched there until thaw_repo (or a person) removes it.

#include "afk/config.hpp"
#include "afk/engine.hpp"
#include "afk/issue.hpp"
#include "afk/policy.hpp"
#include "afk/run.hpp"
#include "afk/time.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

// ---- afk dispatch ----------------------------------------------------------------------------

/// Gates the operator chose to skip. Frozen, locked, in flight and ready-for-human have no
/// override: thaw, wait, or relabel first.
struct DispatchOverrides {
  bool ignore_blockers = false;  ///< WaitReason::blocked
  bool ignore_red_main = false;  ///< WaitReason::default_branch_red
  bool skip_label_check = false; ///< not_ready and untrusted_labeler: the operator vouches
};

struct DispatchResult {
  enum class Outcome {
    dispatched,     ///< claimed and dispatched (or a claimed run resumed); `run` says how
    would_dispatch, ///< dry run: every gate passed or was overridden; nothing was changed
    refused,        ///< a gate refused: `refusals` says which, nothing was changed
    not_runnable,   ///< not an issue afk may run at all: `detail` says why
    failed,         ///< dispatching started but failed: `run.error`; the next tick resumes
  };
  Outcome outcome = Outcome::refused;
  IssueRef issue;
  std::string detail; ///< one line: why, for not_runnable and failed
  /// Every gate that refused that the operator did not override, in the tick's order. The
  /// hard gates (in flight, frozen, locked, ready-for-human) stop the checking; the
  /// overridable ones (not ready, default branch red, labeller, blockers) are all reported,
  /// so one refusal names every flag needed.
  std::vector<IssueVerdict> refusals;
  std::vector<IssueVerdict> overridden; ///< gates that refused but were overridden
  std::optional<RunReport> run;         ///< for dispatched and failed
};

[[nodiscard]] std::string_view to_string(DispatchResult::Outcome outcome) noexcept;

/// `afk dispatch owner/repo#N`: applies the tick's gates to one named issue, then
/// dispatch_now(). Refuses without a request when the repository is not allowlisted; then
/// reads the issue (not_runnable when it does not exist, is a pull request or is closed), the
/// repository's afk-labelled issues (in flight, frozen, locked), the default branch's verdict
/// (unreadable is unknown, which does not block, as in the tick) and the candidate evidence
/// (gather_candidate_evidence, judged by judge_candidate). When every gate passed or was
/// overridden and this is not a dry run, each overridden gate is logged at warn as
/// `dispatch_override` (repo, issue, reason, detail, holder) and recorded in a comment on the
/// issue by afk before the claim. `options.dry_run` stops before anything is written. Throws
/// what the tracker throws while gathering (nothing has been written then).
[[nodiscard]] DispatchResult dispatch_issue(const Config& config, EnginePorts& ports,
                                            const TickOptions& options, const IssueRef& issue,
                                            const DispatchOverrides& overrides);

// ---- afk freeze / afk thaw -------------------------------------------------------------------

/// "afk: owner/repo is frozen": the title of the issue freeze_repo opens when nothing is in
/// flight, and by which thaw_repo recognises it.
[[nodiscard]] std::string freeze_tracking_title(const RepoName& repo);

struct FreezeResult {
  RepoName repo;
  bool already_frozen = false; ///< frozen before, nothing in flight: nothing was changed
  std::vector<RunReport> runs; ///< the runs frozen (freeze_run's reports; error when failed)
  std::optional<IssueRef> tracking_issue; ///< the issue opened to mark the repo frozen
  std::vector<IssueRef> frozen_by;        ///< open issues carrying labels.frozen before
  /// The run(s) could not be frozen (e.g. T3 unreachable for the interrupt): the repository
  /// is still marked frozen by a tracking issue so no new dispatch happens, but the agent
  /// may still be working. Retry; the message names the run.
  [[nodiscard]] bool failed() const;
};

/// `afk freeze owner/repo`: every open issue carrying labels.in_progress whose newest afk
/// record is not terminal is frozen with freeze_run() (agent interrupted, forensics in the
/// record comment, frozen + ready-for-human labels, lock dropped, page). When no run was
/// frozen (none in flight, or freezing failed) and the repository is not frozen already, a
/// tracking issue titled freeze_tracking_title(repo) is opened carrying labels.frozen, with
/// the reason, who (options.holder) and when, and how to thaw; then a `frozen` notification
/// pages (a notifier that throws is logged as `notify_failed`, never fatal). Idempotent: a
/// frozen repository with nothing in flight is left as it is (`already_frozen`). Does not
/// check the allowlist: an emergency stop must always be possible. Throws what the tracker
/// throws while listing (nothing has been written then) or opening the tracking issue.
[[nodiscard]] FreezeResult freeze_repo(const Config& config, EnginePorts& ports,
                                       const TickOptions& options, const RepoName& repo,
                                       std::string_view reason);

struct ThawResult {
  RepoName repo;
  std::vector<IssueRef> unlabelled; ///< labels.frozen removed (ready-for-human kept)
  std::vector<IssueRef> closed;     ///< afk's tracking issues, closed with a comment
  [[nodiscard]] bool was_frozen() const { return !unlabelled.empty(); }
};

/// `afk thaw owner/repo`: removes labels.frozen from every open issue carrying it, and
/// comments on and closes afk's own tracking issues (opened by tracker.login with
/// freeze_tracking_title). Runs that ended escalated or frozen keep ready-for-human: a
/// person re-labels them to retry. Nothing to thaw is not an error (empty result). Throws
/// what the tracker throws; a thaw interrupted part way is finished by running it again.
[[nodiscard]] ThawResult thaw_repo(const Config& config, EnginePorts& ports,
                                   const TickOptions& options, const RepoName& repo);

// ---- afk status ------------------------------------------------------------------------------

/// A run in flight as its record tells it (what the tick's report does not carry).
struct RunDetails {
  int attempt = 0;
  Timestamp claimed_at{};
  Timestamp updated_at{};
  std::string thread_url; ///< deep link to the T3 thread
  std::string lease_holder;
  std::string branch;
  std::vector<std::string> pushed_shas;
};

/// An open issue carrying labels.frozen, and why (its afk record's outcome, else its title).
struct FrozenBy {
  IssueRef issue;
  std::string title;
  std::string why;
};

struct RepoStatus {
  RepoReport report; ///< from a dry-run tick: runs (phase now and next), queue, problems
  std::vector<std::optional<RunDetails>> details; ///< one per report.runs; nullopt: unreadable
  std::vector<FrozenBy> frozen_by;
};

struct StatusReport {
  bool armed = false;
  std::string disarmed_reason; ///< Config::disarmed_reason() when not armed
  Timestamp at{};
  std::vector<RepoStatus> repos; ///< allowlist order; empty when disarmed
  /// Repositories that could not be read.
  [[nodiscard]] std::size_t failures() const;
};

/// `afk status`: a dry-run tick (run_tick with dry_run: it reads the tracker, T3, git and the
/// deploy stages, and writes nothing), plus each run's record details and the issues that
/// freeze each repository. When afk is disarmed, no I/O at all: only `disarmed_reason`.
[[nodiscard]] StatusReport status(const Config& config, EnginePorts& ports);

/// The report as one JSON object with stable keys: armed, disarmed_reason, at, repos[] {repo,
/// frozen, frozen_by[] {issue, title, why}, default_branch, runs[] {issue, run_id, phase,
/// next, actions[], reason, error, attempt, claimed_at, updated_at, thread_url, lease_holder,
/// branch, pushed_shas[]}, queue[] {issue, reason (to_string(WaitReason)), detail},
/// problems[], error}. Run details absent from the record are null. Ends without a newline.
[[nodiscard]] std::string render_status_json(const StatusReport& report);

/// The report for a person: one block per repository (lock, frozen and why, default branch,
/// queue with each issue's reason, problems).
[[nodiscard]] std::string render_status_text(const StatusReport& report);

} // namespace afk
