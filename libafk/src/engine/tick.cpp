// SPDX-License-Identifier: MIT
// The tick (afk/engine.hpp): gather evidence, let the pure core decide, act, write back.
#include "detail/failpoint.hpp"

#include <afk/engine.hpp>
#include <afk/error.hpp>
#include <afk/evidence.hpp>
#include <afk/ids.hpp>
#include <afk/parallel.hpp>
#include <afk/prompt.hpp>
#include <afk/run_record.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <utility>

namespace afk {

namespace {

constexpr std::string_view k_record_marker = "<!-- afk:run ";
constexpr int k_max_evidence_rounds = 16;
constexpr std::size_t k_max_comment_authors = 20;

bool has_label(const IssueSummary& issue, std::string_view label) {
  const auto lower = [](std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
      return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return text;
  };
  return std::any_of(issue.labels.begin(), issue.labels.end(),
                     [&](const std::string& l) { return lower(l) == lower(std::string(label)); });
}

std::string join_actions(const std::vector<RunAction>& actions) {
  std::string out;
  for (const RunAction action : actions) {
    out += (out.empty() ? "" : ",") + std::string(to_string(action));
  }
  return out;
}

// afk's record on an issue: the valid block with the highest attempt (the oldest comment
// among equals: two ticks racing a claim both write attempt 1, and the first one counts).
struct FoundRecord {
  std::int64_t comment_id = 0;
  std::optional<RunRecord> record;
  std::string problem; ///< a block afk wrote but cannot trust, when there is no valid one
};

FoundRecord find_record(TrackerClient& tracker, const IssueRef& issue, std::string_view login) {
  FoundRecord found;
  for (const TrackerComment& comment : tracker.comments_by(issue, login, k_record_marker)) {
    DecodedRunRecord decoded = decode_run_record(comment.body, issue);
    if (auto* record = std::get_if<RunRecord>(&decoded)) {
      if (!found.record || record->attempt > found.record->attempt) {
        found.record = std::move(*record);
        found.comment_id = comment.id;
      }
    } else if (const auto* invalid = std::get_if<InvalidRunRecord>(&decoded)) {
      found.problem = "afk's record comment " + std::to_string(comment.id) +
                      " cannot be trusted: " + invalid->reason;
    }
  }
  if (found.record) {
    found.problem.clear();
  }
  return found;
}

class Tick {
public:
  Tick(const Config& config, EnginePorts& ports, const TickOptions& options)
      : m_config(config)
      , m_ports(ports)
      , m_options(options)
      , m_preamble(options.preamble.empty() ? std::string(default_preamble()) : options.preamble) {}

  RepoReport repo(const RepoName& repo) {
    RepoReport report{.repo = repo};
    if (out_of_time(report, "not processed")) {
      return report;
    }
    try {
      process(repo, report);
    } catch (const Error& error) {
      report.error = error.what();
      m_ports.log.error("repo_failed", {{"repo", repo.full()},
                                        {"kind", std::string(to_string(error.kind()))},
                                        {"error", error.what()}});
    } catch (const std::exception& error) {
      report.error = std::string("internal error: ") + error.what();
      m_ports.log.error("repo_failed", {{"repo", repo.full()}, {"error", report.error}});
    }
    return report;
  }

  // afk dispatch: claim and dispatch one issue the caller has judged.
  RunReport dispatch_now(const TrackerIssue& issue) {
    RepoReport scratch{.repo = issue.summary.ref.repo};
    auto run = claim(issue, scratch);
    if (run) {
      return std::move(*run);
    }
    RunReport refused{.issue = issue.summary.ref};
    refused.error = scratch.problems.empty() ? "not dispatched" : scratch.problems.front();
    return refused;
  }

  // afk freeze: end a run now, keeping its broken state for a person.
  RunReport freeze_now(const TrackerIssue& issue, std::string_view reason) {
    const IssueRef& ref = issue.summary.ref;
    RunReport report{.issue = ref};
    try {
      FoundRecord found = find_record(m_ports.tracker, ref, m_config.tracker.login);
      if (!found.record) {
        report.error =
            found.problem.empty() ? "no afk record on " + ref.to_string() : found.problem;
        return report;
      }
      const RunRecord before = *found.record;
      report.run_id = before.run_id;
      report.before = before.phase;
      report.after = before.phase;
      if (is_terminal(before.phase)) {
        report.error = ref.to_string() + " has no run in flight (" +
                       std::string(to_string(before.phase)) + ")";
        return report;
      }
      RunEvidence evidence = gather(before, default_branch(ref.repo));
      RunStep step{.record = before};
      if (evidence.agent.state == AgentState::busy ||
          evidence.agent.state == AgentState::waiting_on_human) {
        report.actions.push_back(RunAction::interrupt);
        // Best effort: an unreachable T3 must not keep the run alive; the forensics say so.
        if (!m_options.dry_run) {
          try {
            (void)m_ports.t3.interrupt_turn(
                derive_command_id(ref, before.attempt, "operator-freeze"), before.thread_id);
          } catch (const Error& error) {
            evidence.agent.error = "the interrupt failed: " + std::string(error.what());
          }
        }
      }
      step.actions.push_back(RunAction::freeze);
      step.record.phase = Phase::frozen;
      step.record.outcome = "frozen by an operator: " + one_line(reason, 300);
      step.reason = step.record.outcome;
      report.actions.push_back(RunAction::freeze);
      report.reason = step.reason;
      report.after = Phase::frozen;
      if (!m_options.dry_run) {
        act(issue, found.comment_id, before, step, default_branch(ref.repo), evidence);
      }
    } catch (const Error& error) {
      report.error = error.what();
    }
    log_run(report);
    return report;
  }

  [[nodiscard]] bool deadline_passed() const { return m_deadline_passed.load(); }

private:
  // ---- one repository -------------------------------------------------------------------

  // Whether the tick's deadline has passed; if so, says in `report` what was left undone.
  bool out_of_time(RepoReport& report, const std::string& left) {
    if (!m_options.deadline.expired()) {
      return false;
    }
    m_deadline_passed = true;
    report.deferred = left;
    m_ports.log.warn("tick_deadline", {{"repo", report.repo.full()}, {"left", std::string(left)}});
    return true;
  }

  void process(const RepoName& repo, RepoReport& report) {
    const LabelNames& labels = m_config.labels;
    std::map<std::int64_t, TrackerIssue> issues;
    for (const std::string& label :
         {labels.ready, labels.in_progress, labels.human, labels.frozen}) {
      for (TrackerIssue& issue : m_ports.tracker.list_open_issues(repo, label)) {
        const std::int64_t number = issue.summary.ref.number;
        issues.insert_or_assign(number, std::move(issue));
      }
    }
    // A tracker closes an issue when a commit saying "Closes #N" reaches the default branch:
    // before afk has verified it. Such a run is still afk's to watch.
    for (TrackerIssue& issue : m_ports.tracker.list_closed_issues(repo, labels.in_progress)) {
      const std::int64_t number = issue.summary.ref.number;
      issues.insert_or_assign(number, std::move(issue));
    }
    report.frozen = std::any_of(issues.begin(), issues.end(), [&](const auto& entry) {
      return has_label(entry.second.summary, labels.frozen);
    });

    std::vector<std::int64_t> in_flight;
    for (auto& [number, issue] : issues) {
      if (!has_label(issue.summary, labels.in_progress)) {
        continue;
      }
      if (out_of_time(report, issue.summary.ref.to_string() + " and later runs not watched")) {
        return;
      }
      FoundRecord found = find_record(m_ports.tracker, issue.summary.ref, m_config.tracker.login);
      if (!found.record) {
        // Locked by a label afk cannot account for: keep the lock, ask a person.
        in_flight.push_back(number);
        report.problems.push_back(issue.summary.ref.to_string() + " carries " + labels.in_progress +
                                  " but " +
                                  (found.problem.empty() ? "has no afk record" : found.problem));
        continue;
      }
      if (is_terminal(found.record->phase)) {
        // A crash (or a failure) between writing a terminal record and its side effects.
        if (!m_options.dry_run) {
          finish(issue, *found.record);
        }
        continue;
      }
      report.runs.push_back(watch(issue, found));
      const RunReport& run = report.runs.back();
      if (!is_terminal(run.after) || !run.error.empty()) {
        in_flight.push_back(number); // a run that ended this tick frees the repo now
      }
    }

    RepoSnapshot snapshot{.repo = repo, .frozen = report.frozen, .in_flight = in_flight};
    for (const auto& [number, issue] : issues) {
      if (issue.open) {
        snapshot.issues.push_back(issue.summary);
      }
    }
    // The red-main gate costs four requests; only an issue that could be dispatched needs it.
    const bool waiting =
        std::any_of(snapshot.issues.begin(), snapshot.issues.end(), [&](const IssueSummary& issue) {
          return has_label(issue, labels.ready) && !has_label(issue, labels.human);
        });
    if (in_flight.empty() && !report.frozen && waiting) {
      report.default_branch = default_branch_verdict(repo);
      snapshot.default_branch = report.default_branch;
    }
    const DispatchRules rules{.labels = labels,
                              .trusted_permission = m_config.tracker.trusted_permission,
                              .self_login = m_config.tracker.login};
    std::map<IssueRef, CandidateEvidence> evidence;
    RepoDecision decision;
    for (int round = 0; round < k_max_evidence_rounds; ++round) {
      decision = decide_dispatch(snapshot, evidence, rules);
      if (!decision.needs_evidence) {
        break;
      }
      const TrackerIssue& candidate = issues.at(decision.needs_evidence->number);
      evidence[*decision.needs_evidence] =
          gather_candidate_evidence(m_ports.tracker, candidate, labels);
    }
    report.queue = decision.verdicts;
    if (decision.chosen && !m_options.dry_run) {
      if (out_of_time(report, decision.chosen->to_string() + " not dispatched")) {
        return;
      }
      const TrackerIssue& chosen = issues.at(decision.chosen->number);
      if (auto run = claim(chosen, report)) {
        report.dispatched = chosen.summary.ref;
        report.runs.push_back(std::move(*run));
      }
    } else if (decision.chosen) {
      report.dispatched = decision.chosen;
    }
  }

  // The default branch head's verdict, for the red-main gate. Unreadable reads as unknown,
  // which does not block (only red does).
  Verdict default_branch_verdict(const RepoName& repo) {
    try {
      const auto head = m_ports.tracker.branch_head(repo, default_branch(repo));
      if (!head) {
        return Verdict::unknown;
      }
      return m_ports.deploy.verdict(repo, *head, m_ports.clock.now()).verdict;
    } catch (const Error& error) {
      m_ports.log.warn("default_branch_unreadable",
                       {{"repo", repo.full()}, {"error", error.what()}});
      return Verdict::unknown;
    }
  }

  // The override, else the tracker's answer, read once per repository per tick.
  std::string default_branch(const RepoName& repo) {
    const auto overrides = m_config.repos.find(repo.canonical());
    if (overrides != m_config.repos.end() && overrides->second.default_branch) {
      return *overrides->second.default_branch;
    }
    {
      const std::lock_guard lock(m_branches_mutex);
      if (const auto known = m_branches.find(repo.canonical()); known != m_branches.end()) {
        return known->second;
      }
    }
    std::string branch = m_ports.tracker.default_branch(repo);
    const std::lock_guard lock(m_branches_mutex);
    return m_branches.emplace(repo.canonical(), std::move(branch)).first->second;
  }

  // ---- claiming ---------------------------------------------------------------------------

  std::optional<RunReport> claim(const TrackerIssue& issue, RepoReport& report) {
    const IssueRef& ref = issue.summary.ref;
    FoundRecord found = find_record(m_ports.tracker, ref, m_config.tracker.login);
    if (!found.record && !found.problem.empty()) {
      report.problems.push_back(ref.to_string() + ": not dispatched: " + found.problem);
      return std::nullopt;
    }
    if (found.record && !is_terminal(found.record->phase)) {
      // Claimed by a tick that crashed before the lock label: resume that run.
      if (!m_options.dry_run) {
        lock(ref);
      }
      return watch(issue, found);
    }
    const Timestamp now = m_ports.clock.now();
    const int attempt = found.record ? found.record->attempt + 1 : 1;
    if (m_options.dry_run) {
      return RunReport{.issue = ref,
                       .run_id = derive_run_id(ref, attempt),
                       .before = Phase::claimed,
                       .after = Phase::dispatched,
                       .actions = {RunAction::dispatch},
                       .reason = "would claim and dispatch attempt " + std::to_string(attempt)};
    }
    RunRecord record{.run_id = derive_run_id(ref, attempt),
                     .issue = ref,
                     .attempt = attempt,
                     .phase = Phase::claimed,
                     .project_id = derive_project_id(ref.repo),
                     .thread_id = derive_thread_id(ref, attempt),
                     .claimed_at = now,
                     .updated_at = now,
                     .lease_holder = m_options.holder};
    write_record(ref, found.comment_id, record);
    detail::failpoint("claim.recorded");
    lock(ref);
    detail::failpoint("claim.locked");
    m_ports.log.info("dispatched", {{"repo", ref.repo.full()},
                                    {"issue", ref.to_string()},
                                    {"run", record.run_id},
                                    {"attempt", std::to_string(attempt)}});
    found.record = std::move(record);
    return watch(issue, found);
  }

  void lock(const IssueRef& issue) {
    m_ports.tracker.add_label(issue, m_config.labels.in_progress);
    detail::failpoint("claim.labelled");
    m_ports.tracker.remove_label(issue, m_config.labels.ready);
  }

  // ---- watching and acting ----------------------------------------------------------------

  RunReport watch(const TrackerIssue& issue, FoundRecord& found) {
    const RunRecord before = *found.record;
    RunReport report{.issue = before.issue,
                     .run_id = before.run_id,
                     .before = before.phase,
                     .after = before.phase};
    try {
      const std::string branch = default_branch(before.issue.repo);
      std::optional<T3ThreadRead> thread; // read once, for the catch-up and the evidence
      const RunRecord current = catch_up(before, thread);
      const RunEvidence evidence = gather(current, branch, thread);
      RunStep step = advance_run(current, evidence, m_config.limits);
      report.actions = step.actions;
      report.reason = step.reason;
      report.after = step.record.phase;
      if (!m_options.dry_run) {
        act(issue, found.comment_id, before, step, branch, evidence);
      }
    } catch (const Error& error) {
      report.error = error.what();
    } catch (const std::exception& error) {
      report.error = std::string("internal error: ") + error.what();
    }
    log_run(report);
    return report;
  }

  // `thread`: the record's thread as already read this tick, if it was.
  RunEvidence gather(const RunRecord& record, const std::string& default_branch,
                     const std::optional<T3ThreadRead>& thread = std::nullopt) {
    RunEvidence evidence{.now = m_ports.clock.now()};
    const std::string repo = record.issue.repo.full();
    if (record.phase != Phase::claimed) {
      try {
        const T3TurnWatch watch{
            .message_id = turn_message_id(record.issue, record.attempt, record.turns),
            .previous_turn_id = record.turn_seen ? std::string() : record.last_turn_id};
        evidence.agent =
            t3_agent_evidence(thread ? *thread : m_ports.t3.read_thread(record.thread_id), watch);
        detail::failpoint("watch.agent_read");
      } catch (const Error& error) {
        evidence.agent.state = AgentState::unknown;
        evidence.agent.error = error.what();
        m_ports.log.warn("t3_unreadable",
                         {{"repo", repo}, {"run", record.run_id}, {"error", error.what()}});
      }
    }
    if (!record.base_sha.empty()) {
      try {
        std::vector<std::string> shas;
        for (const PushedCommit& commit : m_ports.worktrees.pushed_commits({.issue = record.issue,
                                          .run_id = record.run_id,
                                          .base_sha = record.base_sha,
                                          .default_branch = default_branch})) {
          shas.push_back(commit.sha);
        }
        evidence.pushed_shas = std::move(shas);
        detail::failpoint("watch.pushes_read");
      } catch (const Error& error) {
        m_ports.log.warn("git_unreadable",
                         {{"repo", repo}, {"run", record.run_id}, {"error", error.what()}});
      }
    }
    std::string newest = record.pushed_shas.empty() ? std::string() : record.pushed_shas.back();
    if (evidence.pushed_shas && !evidence.pushed_shas->empty()) {
      newest = evidence.pushed_shas->back();
    }
    if (!newest.empty()) {
      // Verification of a SHA runs from when afk first saw it pushed.
      const bool seen = !record.pushed_shas.empty() && record.pushed_shas.back() == newest;
      const Timestamp pushed_at = seen && record.last_push_at ? *record.last_push_at : evidence.now;
      try {
        evidence.verdict = m_ports.deploy.verdict(record.issue.repo, newest, pushed_at);
        detail::failpoint("watch.verdict_read");
      } catch (const Error& error) {
        m_ports.log.warn("verdict_unreadable",
                         {{"repo", repo}, {"run", record.run_id}, {"error", error.what()}});
      }
    }
    return evidence;
  }

  void act(const TrackerIssue& issue, std::int64_t& comment_id, const RunRecord& before,
           RunStep& step, const std::string& default_branch, const RunEvidence& evidence) {
    RunRecord& record = step.record;
    // Agent-facing actions first: their ids derive from (issue, attempt, step), so a repeat
    // after a failure here is applied once by T3.
    for (const RunAction action : step.actions) {
      switch (action) {
      case RunAction::dispatch:
        dispatch(issue, record);
        break;
      case RunAction::start_fix_turn:
        fix_turn(record, default_branch);
        break;
      case RunAction::answer_pending:
        answer(record, step.to_answer);
        break;
      case RunAction::interrupt:
        (void)m_ports.t3.interrupt_turn(
            derive_command_id(record.issue, record.attempt,
                              "interrupt:" + std::to_string(record.turns)),
            record.thread_id);
        detail::failpoint("act.interrupted");
        break;
      case RunAction::close_issue:
      case RunAction::escalate:
      case RunAction::freeze:
        break; // after the record is written
      }
    }
    const bool ending = is_terminal(record.phase) && !is_terminal(before.phase);
    if (record != before) {
      record.updated_at = m_ports.clock.now();
      record.lease_holder = m_options.holder;
      std::string forensics;
      if (ending && record.phase == Phase::frozen) {
        forensics = freeze_forensics(record, evidence);
      }
      write_record(record.issue, comment_id, record, forensics);
      detail::failpoint("act.recorded");
    }
    if (ending) {
      finish(issue, record);
    }
  }

  // A tick that died after sending a fix turn and before recording it left the record one
  // turn behind T3. afk's own message for the next turn, on the run's thread (or on the fix
  // thread that would have replaced a deleted one), says so; the record catches up, so the
  // attempt counts and the agent's work on it is judged as that turn's.
  // `thread` receives the returned record's thread as read here (left empty if unread).
  RunRecord catch_up(const RunRecord& record, std::optional<T3ThreadRead>& thread) {
    if (record.phase == Phase::claimed || is_terminal(record.phase)) {
      return record; // a claimed run is dispatched again, with the same ids
    }
    const std::string next = turn_message_id(record.issue, record.attempt, record.turns + 1);
    const auto carries_next = [&](const T3ThreadRead& read) {
      return read.thread &&
             std::any_of(read.thread->messages.begin(), read.thread->messages.end(),
                         [&](const T3Message& message) { return message.id == next; });
    };
    const auto caught_up_on = [&](const std::string& thread_id) {
      RunRecord caught_up = account_for_unrecorded_fix_turn(record, m_ports.clock.now());
      if (thread_id != record.thread_id) {
        caught_up.thread_id = thread_id;
        caught_up.last_turn_id.clear(); // a new thread: no earlier turn to mistake for this one
      }
      m_ports.log.warn("record_caught_up", {{"repo", record.issue.repo.full()},
                                            {"issue", record.issue.to_string()},
                                            {"run", record.run_id},
                                            {"turn", std::to_string(caught_up.turns)}});
      return caught_up;
    };
    try {
      T3ThreadRead own = m_ports.t3.read_thread(record.thread_id);
      if (carries_next(own)) {
        thread = std::move(own);
        return caught_up_on(record.thread_id);
      }
      if (!own.thread) {
        const std::string fix_thread =
            derive_fix_thread_id(record.issue, record.attempt, record.fix_attempts + 1);
        T3ThreadRead fix = m_ports.t3.read_thread(fix_thread);
        if (carries_next(fix)) {
          thread = std::move(fix);
          return caught_up_on(fix_thread);
        }
      }
      thread = std::move(own);
      return record;
    } catch (const Error&) {
      return record; // T3 unreadable: gather says so and the lifecycle waits
    }
  }

  void dispatch(const TrackerIssue& issue, RunRecord& record) {
    const RepoName& repo = record.issue.repo;
    const auto overrides = m_config.repos.find(repo.canonical());
    const PreparedWorktree worktree = m_ports.worktrees.prepare(
        {.issue = record.issue,
         .run_id = record.run_id,
         .issue_title = issue.summary.title,
         .default_branch =
             overrides != m_config.repos.end() ? overrides->second.default_branch : std::nullopt});
    record.branch = worktree.branch;
    record.worktree_path = worktree.path.string();
    record.base_sha = worktree.base_sha;
    detail::failpoint("dispatch.worktree");
    record.project_id = m_ports.t3.ensure_project(
        {.project_id = derive_project_id(repo),
         .title = repo.full(),
         .workspace_root = repo_layout(m_config.git.root, repo).checkout.string()});
    detail::failpoint("dispatch.project");
    open_thread(record, "thread.create",
                one_line(record.issue.to_string() + ": " + issue.summary.title, 200));
    detail::failpoint("dispatch.thread");
    const std::string preamble =
        render_preamble(m_preamble, {.issue = record.issue,
                                     .worktree = worktree.path.string(),
                                     .branch = worktree.branch,
                                     .default_branch = worktree.default_branch,
                                     .base_sha = worktree.base_sha,
                                     .run_id = record.run_id,
                                     .trailer = m_config.git.trailer});
    const std::string text =
        compose_issue_prompt(preamble,
                             {.issue = record.issue,
                              .title = issue.summary.title,
                              .body = issue.body,
                              .comments = comments_for_prompt(record.issue),
                              .url = issue_url(m_config.tracker.web_url, record.issue)},
                             k_prompt_max_bytes);
    start_turn(record, text);
    detail::failpoint("dispatch.turn");
  }

  // The issue's comments, each marked trusted when its author holds the trusted permission
  // now (compose_issue_prompt leaves the others out). afk's own comments are records, not
  // instructions; past k_max_comment_authors distinct authors, the rest count as untrusted.
  std::vector<PromptComment> comments_for_prompt(const IssueRef& issue) {
    const auto lower = [](std::string text) {
      std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      });
      return text;
    };
    std::map<std::string, bool> trusted;
    std::vector<PromptComment> out;
    for (TrackerComment& comment : m_ports.tracker.comments(issue)) {
      const std::string author = lower(comment.author);
      if (author.empty() || author == lower(m_config.tracker.login)) {
        continue;
      }
      auto known = trusted.find(author);
      if (known == trusted.end()) {
        const bool ask = trusted.size() < k_max_comment_authors;
        known =
            trusted
                .emplace(author, ask && m_ports.tracker.permission(issue.repo, comment.author) >=
                                            m_config.tracker.trusted_permission)
                .first;
      }
      out.push_back({.author = std::move(comment.author),
                     .body = std::move(comment.body),
                     .trusted = known->second});
    }
    return out;
  }

  // thread.create for the record's thread, in its worktree, with the configured model.
  void open_thread(const RunRecord& record, const std::string& step, const std::string& title) {
    (void)m_ports.t3.create_thread(
        {.command_id = derive_command_id(record.issue, record.attempt, step),
         .thread_id = record.thread_id,
         .project_id = record.project_id,
         .title = title,
         .model = {.instance_id = m_config.t3.model.instance_id, .model = m_config.t3.model.model},
         .runtime_mode = m_config.t3.runtime_mode,
         .branch = record.branch,
         .worktree_path = record.worktree_path});
  }

  void fix_turn(RunRecord& record, const std::string& default_branch) {
    if (!m_ports.t3.read_thread(record.thread_id).thread) {
      // The thread is gone (deleted in T3): fix forward on a new one, in the same worktree.
      record.thread_id = derive_fix_thread_id(record.issue, record.attempt, record.fix_attempts);
      record.last_turn_id.clear();
      open_thread(record, "thread.create:fix:" + std::to_string(record.fix_attempts),
                  record.issue.to_string() + ": fix-forward " +
                      std::to_string(record.fix_attempts));
      detail::failpoint("fix.thread_replaced");
      m_ports.log.warn("thread_replaced", {{"repo", record.issue.repo.full()},
                                           {"issue", record.issue.to_string()},
                                           {"run", record.run_id},
                                           {"thread", record.thread_id}});
    }
    const Seconds used =
        record.first_red_at ? m_ports.clock.now() - *record.first_red_at : Seconds{0};
    const std::string text = compose_fix_prompt(
        {.issue = record.issue,
         .sha = record.pushed_shas.empty() ? std::string() : record.pushed_shas.back(),
         .default_branch = default_branch,
         .stages = record.verdicts,
         .attempt = record.fix_attempts,
         .max_attempts = m_config.limits.fix_forward_attempts,
         .time_left = std::max(Seconds{0}, m_config.limits.fix_forward_window - used),
         .run_id = record.run_id,
         .trailer = m_config.git.trailer},
        k_prompt_max_bytes);
    start_turn(record, text);
    detail::failpoint("fix.turn");
  }

  void start_turn(const RunRecord& record, const std::string& text) {
    (void)m_ports.t3.start_turn(
        {.command_id = derive_command_id(record.issue, record.attempt,
                                         "turn.start:" + std::to_string(record.turns)),
         .thread_id = record.thread_id,
         .message_id = turn_message_id(record.issue, record.attempt, record.turns),
         .text = text,
         .runtime_mode = m_config.t3.runtime_mode});
  }

  // The human policy "proceed": decline what needs approving, answer every question.
  void answer(RunRecord& record, const std::vector<PendingRequest>& requests) {
    for (const PendingRequest& request : requests) {
      if (request.kind == PendingRequest::Kind::approval) {
        (void)m_ports.t3.respond_approval(
            derive_command_id(record.issue, record.attempt, "approval.respond:" + request.id),
            record.thread_id, request.id, T3Decision::decline);
      } else {
        T3Answers answers;
        for (const std::string& question : request.questions) {
          answers.emplace_back(question, "Nobody is available to answer. Proceed on your best "
                                         "judgement, and say what you assumed.");
        }
        (void)m_ports.t3.respond_user_input(
            derive_command_id(record.issue, record.attempt, "user-input.respond:" + request.id),
            record.thread_id, request.id, answers);
      }
      detail::failpoint("answer.sent");
    }
  }

  // What a person needs to pick up a frozen run, put into the record comment.
  std::string freeze_forensics(const RunRecord& record, const RunEvidence& evidence) {
    std::string text = "\n### Forensics (frozen)\n\n";
    text += "- T3 thread: " + t3_thread_url(m_config.t3.web_url, record.thread_id) + "\n";
    text += "- agent: " + std::string(to_string(evidence.agent.state));
    if (!evidence.agent.turn_id.empty()) {
      text += ", turn `" + one_line(evidence.agent.turn_id, 80) + "`";
    }
    if (!evidence.agent.error.empty()) {
      text += ", error: " + one_line(evidence.agent.error, 300);
    }
    text += "\n- pushed: " + std::to_string(record.pushed_shas.size()) + " commit(s)";
    if (!record.pushed_shas.empty()) {
      text += ", newest `" + record.pushed_shas.back() + "`";
    }
    text += "\n";
    for (const StageVerdict& stage : record.verdicts) {
      text += "- " + one_line(stage.stage, 40) + ": " + std::string(to_string(stage.verdict)) +
              " — " + one_line(stage.detail, 300) + "\n";
    }
    try {
      if (const auto tree = m_ports.worktrees.inspect(record.issue.repo, record.run_id)) {
        text += "- worktree " + record.worktree_path + ": HEAD `" + tree->head_sha + "` on `" +
                one_line(tree->branch, 100) + "`, " + std::to_string(tree->dirty_count) +
                " uncommitted change(s), " + std::to_string(tree->unpushed_count) +
                " unpushed commit(s)\n";
      } else {
        text += "- worktree: none\n";
      }
    } catch (const Error& error) {
      text += "- worktree: unreadable (" + one_line(error.what(), 200) + ")\n";
    }
    return text;
  }

  // Side effects of a terminal record. Each is idempotent, so a later tick repeats them all
  // when one failed or the process died (the lock label, removed last, says they are not
  // finished). The notification goes out before that last step: at least once, and twice
  // only when the unlock after it fails.
  void finish(const TrackerIssue& issue, const RunRecord& record) {
    const IssueRef& ref = record.issue;
    const LabelNames& labels = m_config.labels;
    Notification::Event event = Notification::Event::done;
    if (record.phase == Phase::done) {
      m_ports.tracker.close_issue(ref);
      detail::failpoint("finish.closed");
      (void)m_ports.worktrees.remove(ref.repo, record.run_id);
      detail::failpoint("finish.worktree_removed");
    } else {
      if (!issue.open) {
        // Closed by the push's "Closes #N", but not done: back to the people it concerns.
        m_ports.tracker.reopen_issue(ref);
        detail::failpoint("finish.reopened");
      }
      m_ports.tracker.add_label(ref, labels.human);
      event = Notification::Event::escalated;
      if (record.phase == Phase::frozen) {
        m_ports.tracker.add_label(ref, labels.frozen);
        event = Notification::Event::frozen;
      }
      detail::failpoint("finish.labelled");
    }
    m_ports.tracker.remove_label(ref, labels.ready);
    detail::failpoint("finish.ready_removed");
    m_ports.notifier.notify(
        {.event = event,
         .issue = ref,
         .title = issue.summary.title,
         .summary = record.pushed_shas.empty()
                        ? record.outcome
                        : record.outcome + " (" + record.pushed_shas.back().substr(0, 12) + ")",
         .issue_url = issue_url(m_config.tracker.web_url, ref),
         .thread_url = t3_thread_url(m_config.t3.web_url, record.thread_id),
         .run_id = record.run_id});
    detail::failpoint("finish.notified");
    m_ports.tracker.remove_label(ref, labels.in_progress);
    detail::failpoint("finish.unlocked");
  }

  void write_record(const IssueRef& issue, std::int64_t& comment_id, const RunRecord& record,
                    const std::string& forensics = {}) {
    std::string body =
        render_run_comment(record, t3_thread_url(m_config.t3.web_url, record.thread_id));
    if (!forensics.empty()) {
      const auto block = body.rfind(k_record_marker);
      body.insert(block == std::string::npos ? body.size() : block, forensics + "\n");
    }
    if (comment_id == 0) {
      comment_id = m_ports.tracker.create_comment(issue, body);
    } else {
      m_ports.tracker.edit_comment(issue.repo, comment_id, body);
    }
  }

  void log_run(const RunReport& report) {
    if (!report.error.empty()) {
      m_ports.log.error(
          "run_failed",
          {{"repo", report.issue.repo.full()},
           {"issue", report.issue.to_string()},
           {"run", report.run_id},
           {"phase", std::string(to_string(report.before))},
           {"actions", report.actions.empty() ? std::string("none") : join_actions(report.actions)},
           {"error", report.error}});
      return;
    }
    if (report.before == report.after && report.actions.empty()) {
      m_ports.log.debug("run_step", {{"repo", report.issue.repo.full()},
                                     {"issue", report.issue.to_string()},
                                     {"run", report.run_id},
                                     {"phase", std::string(to_string(report.after))},
                                     {"reason", report.reason}});
      return;
    }
    m_ports.log.info("run_step", {{"repo", report.issue.repo.full()},
                                  {"issue", report.issue.to_string()},
                                  {"run", report.run_id},
                                  {"from", std::string(to_string(report.before))},
                                  {"to", std::string(to_string(report.after))},
                                  {"actions", join_actions(report.actions)},
                                  {"reason", report.reason}});
  }

  const Config& m_config;
  EnginePorts& m_ports;
  const TickOptions& m_options;
  std::string m_preamble;
  std::atomic<bool> m_deadline_passed{false};
  std::mutex m_branches_mutex;
  std::map<std::string, std::string> m_branches; ///< default branch by RepoName::canonical()
};

} // namespace

std::size_t TickReport::failures() const {
  std::size_t count = 0;
  for (const RepoReport& repo : repos) {
    count += repo.error.empty() ? 0U : 1U;
    count += static_cast<std::size_t>(std::count_if(
        repo.runs.begin(), repo.runs.end(), [](const RunReport& r) { return !r.error.empty(); }));
  }
  return count;
}

TickReport run_tick(const Config& config, EnginePorts& ports, const TickOptions& options) {
  std::vector<std::optional<RepoReport>> done(config.allowlist.size());
  Tick tick(config, ports, options);
  for_each_bounded(config.allowlist.size(), config.max_parallel_repos,
                   [&](std::size_t i) { done[i] = tick.repo(config.allowlist[i]); });
  TickReport report;
  report.deadline_passed = tick.deadline_passed();
  for (auto& repo : done) {
    report.repos.push_back(std::move(*repo));
  }
  return report;
}

RunReport dispatch_now(const Config& config, EnginePorts& ports, const TickOptions& options,
                       const TrackerIssue& issue) {
  return Tick(config, ports, options).dispatch_now(issue);
}

RunReport freeze_run(const Config& config, EnginePorts& ports, const TickOptions& options,
                     const TrackerIssue& issue, std::string_view reason) {
  return Tick(config, ports, options).freeze_now(issue, reason);
}

std::string turn_message_id(const IssueRef& issue, int attempt, int turn) {
  return derive_command_id(issue, attempt, "message:" + std::to_string(turn));
}

std::string t3_thread_url(std::string_view web_url, std::string_view thread_id) {
  std::string base(web_url);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base + '/' + std::string(thread_id);
}

std::string issue_url(std::string_view web_url, const IssueRef& issue) {
  std::string base(web_url);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base + '/' + issue.repo.full() + "/issues/" + std::to_string(issue.number);
}

} // namespace afk
