// SPDX-License-Identifier: MIT
#pragma once

/// The engine: one stateless tick over the ports (../shared/design/architecture.md, "One
/// tick"). For each allowlisted repository, concurrently up to max_parallel_repos:
///  1. list the open issues carrying any afk label; find afk's record on each in-flight
///     issue (the one comment by tracker.login holding a valid `<!-- afk:run -->` block);
///  2. watch every in-flight run: read T3 (liveness of the turn afk asked for), git (the
///     commits the run pushed) and the deploy stages (the verdict of the newest pushed
///     SHA), let advance_run() decide, act, and write the record back;
///  3. if the repository is free (no run in flight, not frozen, default branch not red),
///     let decide_dispatch() choose at most one issue — the expensive trust and blocker
///     checks only for the candidate it names — then claim it (record, then the lock label)
///     and dispatch it (worktree, T3 project, thread, first turn).
///
/// Crash safety: every id sent to T3 derives from (issue, attempt, step), so repeating a
/// step after a failure or crash is applied once. Agent-facing actions run before the record
/// is written; a terminal record is written *before* its side effects (labels, closing,
/// notifying), and a later tick that finds a terminal record still holding the lock label
/// finishes them. A failure in one run or repository is reported and never stops the others.

#include "afk/config.hpp"
#include "afk/deploy.hpp"
#include "afk/issue.hpp"
#include "afk/lifecycle.hpp"
#include "afk/log.hpp"
#include "afk/notify.hpp"
#include "afk/policy.hpp"
#include "afk/run.hpp"
#include "afk/t3.hpp"
#include "afk/time.hpp"
#include "afk/tracker.hpp"
#include "afk/worktree.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

/// The ports one tick uses, borrowed; every one must be safe to call from several threads.
struct EnginePorts {
  TrackerClient& tracker;
  T3Client& t3;
  WorktreeManager& worktrees;
  DeployWatcher& deploy;
  Notifier& notifier;
  const Clock& clock;
  Logger& log;
};

struct TickOptions {
  /// Decide and report, but change nothing anywhere (reads still happen).
  bool dry_run = false;
  /// Who runs this tick (e.g. "host:pid"), written into records as the lease holder.
  std::string holder;
  /// The standing instructions for the agent, with placeholders (prompt.hpp); empty: the
  /// built-in default_preamble().
  std::string preamble;
  /// When the tick must stop (Config::tick_timeout from its start, for `afk tick`). Past it,
  /// repositories not yet begun are skipped, no run is watched and nothing is dispatched;
  /// each skipped repository's report says so. Work already begun is crash-safe, so the
  /// next tick finishes it. The adapters' requests carry the same deadline (World::build).
  Deadline deadline;
};

/// What one tick did with one run.
struct RunReport {
  IssueRef issue;
  std::string run_id;
  Phase before = Phase::claimed;
  Phase after = Phase::claimed;
  std::vector<RunAction> actions;
  std::string reason; ///< the lifecycle's one line
  std::string error;  ///< acting failed (the record was left as it was; next tick retries)
};

/// What one tick did and saw in one repository.
struct RepoReport {
  RepoName repo;
  bool frozen = false;
  /// Read only when a dispatch was possible: the repository free and not frozen, and an issue
  /// labelled ready (and not handed to a human); unknown otherwise.
  Verdict default_branch = Verdict::unknown;
  std::vector<RunReport> runs;
  std::vector<IssueVerdict> queue; ///< why each afk-labelled issue is or is not running
  std::optional<IssueRef> dispatched;
  std::vector<std::string> problems; ///< issues needing a person (an unreadable record, …)
  std::string error;                 ///< the repository could not be processed this tick
  /// What the tick's deadline left for the next tick ("" when nothing): not a failure.
  std::string deferred;
};

struct TickReport {
  std::vector<RepoReport> repos; ///< in allowlist order
  bool deadline_passed = false;  ///< some work was left for the next tick (TickOptions)
  /// Repositories that failed plus runs whose actions failed.
  [[nodiscard]] std::size_t failures() const;
};

/// One tick over `config.allowlist`. The caller checks that afk is armed; run_tick itself
/// never throws for a repository's or a run's failure (they are in the report and logged as
/// `repo_failed` / `run_failed`). Logs `run_step` (repo, issue, run, from, to, actions,
/// reason) for every run that moved or acted, and `dispatched` for a claimed issue.
[[nodiscard]] TickReport run_tick(const Config& config, EnginePorts& ports,
                                  const TickOptions& options);

/// Claims and dispatches `issue` now, exactly as a tick does once the policy chose it
/// (record, lock label, worktree, T3 project, thread, first turn) — for `afk dispatch`, which
/// applies the gates it means to first. A non-terminal record on the issue is resumed, not
/// claimed again; an unreadable record refuses (the report's error says why).
[[nodiscard]] RunReport dispatch_now(const Config& config, EnginePorts& ports,
                                     const TickOptions& options, const TrackerIssue& issue);

/// Freezes the run on `issue` now (`afk freeze`): interrupts the agent if it is working,
/// writes the record as frozen with `reason` and the forensics (thread, agent state, pushed
/// SHAs, stage verdicts, worktree HEAD and status), labels the issue frozen and
/// ready-for-human, drops the lock and notifies. The worktree is kept. The report's error
/// says why nothing was done (no record, no run in flight).
[[nodiscard]] RunReport freeze_run(const Config& config, EnginePorts& ports,
                                   const TickOptions& options, const TrackerIssue& issue,
                                   std::string_view reason);

/// The T3 messageId of turn `turn` (1 = the first) of a run: what liveness correlates on.
[[nodiscard]] std::string turn_message_id(const IssueRef& issue, int attempt, int turn);

/// The deep link to a thread in T3's web app: "<web_url>/<thread id>".
[[nodiscard]] std::string t3_thread_url(std::string_view web_url, std::string_view thread_id);

/// The issue's web page: "<web_url>/<owner>/<name>/issues/<n>".
[[nodiscard]] std::string issue_url(std::string_view web_url, const IssueRef& issue);

} // namespace afk
