// SPDX-License-Identifier: MIT
// The operator verbs (afk/operators.hpp): the tick's gates for one named issue, freezing and
// thawing a repository, and status from a dry-run tick.
#include <afk/error.hpp>
#include <afk/evidence.hpp>
#include <afk/ids.hpp>
#include <afk/operators.hpp>
#include <afk/prompt.hpp>
#include <afk/run_record.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <utility>

namespace afk {

namespace {

constexpr std::string_view k_record_marker = "<!-- afk:run ";
constexpr std::string_view k_reason_prefix = "- Reason: ";

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string short_ref(const IssueRef& ref) {
  return "#" + std::to_string(ref.number);
}

std::string join_refs(const std::vector<IssueRef>& refs) {
  std::string out;
  for (const IssueRef& ref : refs) {
    out += (out.empty() ? "" : ", ") + short_ref(ref);
  }
  return out;
}

// afk's newest valid record on the issue (highest attempt, oldest among equals, as the tick
// reads it); nullopt when there is none it can trust.
std::optional<RunRecord> latest_record(TrackerClient& tracker, const IssueRef& issue,
                                       std::string_view login) {
  std::optional<RunRecord> latest;
  for (const TrackerComment& comment : tracker.comments_by(issue, login, k_record_marker)) {
    DecodedRunRecord decoded = decode_run_record(comment.body, issue);
    if (auto* record = std::get_if<RunRecord>(&decoded)) {
      if (!latest || record->attempt > latest->attempt) {
        latest = std::move(*record);
      }
    }
  }
  return latest;
}

std::string default_branch_name(const Config& config, TrackerClient& tracker,
                                const RepoName& repo) {
  const auto overrides = config.repos.find(repo.canonical());
  if (overrides != config.repos.end() && overrides->second.default_branch) {
    return *overrides->second.default_branch;
  }
  return tracker.default_branch(repo);
}

bool is_tracking_issue(const TrackerIssue& issue, const Config& config, const RepoName& repo) {
  return equal_ignoring_case(issue.author, config.tracker.login) &&
         equal_ignoring_case(issue.summary.title, freeze_tracking_title(repo));
}

void log_notify_failure(Logger& log, const IssueRef& issue, const std::exception& error) {
  log.warn("notify_failed", {{"notify_event", std::string(to_string(Notification::Event::frozen))},
                             {"repo", issue.repo.full()},
                             {"issue", issue.to_string()},
                             {"error", error.what()}});
}

// ---- dispatch ------------------------------------------------------------------------------

class DispatchGates {
public:
  DispatchGates(const Config& config, EnginePorts& ports, const DispatchOverrides& overrides,
                DispatchResult& result)
      : m_config(config)
      , m_ports(ports)
      , m_overrides(overrides)
      , m_result(result) {}

  // The gates a tick applies, in its order: the issue to dispatch, or nullopt when one refused
  // (or the issue is not runnable).
  std::optional<TrackerIssue> judge() {
    const IssueRef& ref = m_result.issue;
    const LabelNames& labels = m_config.labels;
    if (!m_config.allowlisted(ref.repo)) {
      return unrunnable(ref.repo.full() + " is not in the allowlist");
    }
    std::optional<TrackerIssue> issue = m_ports.tracker.get_issue(ref);
    if (!issue) {
      return unrunnable("no issue " + ref.to_string() +
                        ": it does not exist, is a pull request, or the token cannot see it");
    }
    if (!issue->open) {
      return unrunnable(ref.to_string() + " is closed");
    }

    // Hard gates: no override.
    std::map<std::int64_t, TrackerIssue> listed;
    for (const std::string& label : {labels.in_progress, labels.frozen}) {
      for (TrackerIssue& other : m_ports.tracker.list_open_issues(ref.repo, label)) {
        const std::int64_t number = other.summary.ref.number;
        listed.insert_or_assign(number, std::move(other));
      }
    }
    // A run whose issue a "Closes #N" push closed still holds the repo.
    for (TrackerIssue& other : m_ports.tracker.list_closed_issues(ref.repo, labels.in_progress)) {
      const std::int64_t number = other.summary.ref.number;
      listed.insert_or_assign(number, std::move(other));
    }
    std::vector<IssueRef> frozen_by;
    std::vector<IssueRef> locked_by;
    for (const auto& [number, other] : listed) {
      if (other.summary.has_label(labels.frozen)) {
        frozen_by.push_back(other.summary.ref);
      }
      if (other.summary.has_label(labels.in_progress) && number != ref.number) {
        locked_by.push_back(other.summary.ref);
      }
    }
    if (issue->summary.has_label(labels.in_progress)) {
      hard(WaitReason::in_flight,
           "already has a run in progress (labelled " + labels.in_progress + "); see afk status");
    }
    if (!frozen_by.empty()) {
      hard(WaitReason::repo_frozen, "repo frozen by " + join_refs(frozen_by) + "; run afk thaw " +
                                        ref.repo.full() + " first");
    }
    if (!locked_by.empty()) {
      hard(WaitReason::repo_locked,
           "repo locked by " + join_refs(locked_by) + "; one run per repository at a time");
    }
    if (issue->summary.has_label(labels.human)) {
      hard(WaitReason::awaiting_human,
           "labelled " + labels.human + ": a person has it; remove that label to hand it back");
    }
    if (!m_result.refusals.empty()) {
      return std::nullopt;
    }

    // Overridable gates: all of them are reported.
    const bool ready = issue->summary.has_label(labels.ready);
    if (!ready) {
      gate(WaitReason::not_ready, "not labelled " + labels.ready, m_overrides.skip_label_check);
    }
    red_main_gate(ref.repo);
    const CandidateEvidence evidence =
        gather_candidate_evidence(m_ports.tracker, *issue, m_config.labels);
    const DispatchRules rules{.labels = labels,
                              .trusted_permission = m_config.tracker.trusted_permission,
                              .self_login = m_config.tracker.login};
    if (ready) {
      // The labeller alone: judge_candidate checks trust before blockers.
      if (auto untrusted = judge_candidate(ref, {.labeler = evidence.labeler}, rules)) {
        gate(untrusted->reason, untrusted->detail, m_overrides.skip_label_check);
      }
    }
    // The blockers alone, with a labeller that passes every trust check.
    DispatchRules blocker_rules = rules;
    blocker_rules.self_login.clear();
    const CandidateEvidence blockers_only{.labeler = {.login = "operator",
                                                      .actor = LabelerEvidence::Actor::human,
                                                      .permission = Permission::admin},
                                          .blockers = evidence.blockers,
                                          .unreadable_blockers = evidence.unreadable_blockers};
    if (auto blocked = judge_candidate(ref, blockers_only, blocker_rules)) {
      gate(blocked->reason, blocked->detail, m_overrides.ignore_blockers);
    }
    if (!m_result.refusals.empty()) {
      return std::nullopt;
    }
    return issue;
  }

private:
  std::optional<TrackerIssue> unrunnable(std::string detail) {
    m_result.outcome = DispatchResult::Outcome::not_runnable;
    m_result.detail = std::move(detail);
    return std::nullopt;
  }

  void hard(WaitReason reason, std::string detail) {
    m_result.refusals.push_back(
        {.issue = m_result.issue, .reason = reason, .detail = std::move(detail)});
  }

  void gate(WaitReason reason, std::string detail, bool overridden) {
    IssueVerdict verdict{.issue = m_result.issue, .reason = reason, .detail = std::move(detail)};
    (overridden ? m_result.overridden : m_result.refusals).push_back(std::move(verdict));
  }

  // The tick's red-main gate with the branch and SHA named. Unreadable reads as unknown,
  // which does not block (only red does).
  void red_main_gate(const RepoName& repo) {
    try {
      const std::string branch = default_branch_name(m_config, m_ports.tracker, repo);
      const auto head = m_ports.tracker.branch_head(repo, branch);
      if (!head) {
        return;
      }
      const ShaVerdict verdict = m_ports.deploy.verdict(repo, *head, m_ports.clock.now());
      if (verdict.verdict == Verdict::red) {
        std::string failing;
        for (const StageVerdict& stage : verdict.stages) {
          if (stage.verdict == Verdict::red) {
            failing +=
                (failing.empty() ? ": " : "; ") + stage.stage + " " + one_line(stage.detail, 200);
          }
        }
        gate(WaitReason::default_branch_red,
             "default branch " + branch + " is red at " + head->substr(0, 12) + failing,
             m_overrides.ignore_red_main);
      }
    } catch (const Error& error) {
      m_ports.log.warn("default_branch_unreadable",
                       {{"repo", repo.full()}, {"error", error.what()}});
    }
  }

  const Config& m_config;
  EnginePorts& m_ports;
  const DispatchOverrides& m_overrides;
  DispatchResult& m_result;
};

std::string override_comment(const DispatchResult& result, const TickOptions& options,
                             Timestamp now) {
  std::string text = "afk dispatch by " + one_line(options.holder, 100) + " at " +
                     format_timestamp(now) + ", overriding:\n\n";
  for (const IssueVerdict& verdict : result.overridden) {
    text +=
        "- " + std::string(to_string(verdict.reason)) + ": " + one_line(verdict.detail, 300) + "\n";
  }
  return text;
}

// ---- freeze --------------------------------------------------------------------------------

std::string tracking_body(const Config& config, const RepoName& repo, const TickOptions& options,
                          std::string_view reason, Timestamp now,
                          const std::vector<RunReport>& failed) {
  const std::string label = config.labels.frozen;
  std::string body = "afk froze **" + repo.full() +
                     "**: nothing is dispatched here while any open issue carries the `" + label +
                     "` label.\n\n";
  body += std::string(k_reason_prefix) +
          (reason.empty() ? std::string("no reason given") : one_line(reason, 500)) + "\n";
  body += "- Frozen by: " + one_line(options.holder.empty() ? "afk" : options.holder, 100) +
          " at " + format_timestamp(now) + "\n";
  if (failed.empty()) {
    body += "- No run was in flight.\n";
  }
  for (const RunReport& run : failed) {
    body += "- The run on " + short_ref(run.issue) +
            " could NOT be frozen (its agent may still be working): " + one_line(run.error, 300) +
            "\n";
  }
  body += "\nTo thaw: `afk thaw " + repo.full() + "` removes `" + label +
          "` from every open issue here and closes this one (or remove the label by hand).\n";
  return body;
}

// ---- status --------------------------------------------------------------------------------

std::string why_frozen(const Config& config, EnginePorts& ports, const TrackerIssue& issue,
                       const RepoName& repo) {
  if (is_tracking_issue(issue, config, repo)) {
    const auto at = issue.body.find(k_reason_prefix);
    if (at != std::string::npos) {
      const auto start = at + k_reason_prefix.size();
      const auto end = issue.body.find('\n', start);
      return "frozen by an operator: " +
             one_line(issue.body.substr(start, end == std::string::npos ? end : end - start), 300);
    }
    return "frozen by an operator";
  }
  const auto record = latest_record(ports.tracker, issue.summary.ref, config.tracker.login);
  if (record && record->phase == Phase::frozen && !record->outcome.empty()) {
    return one_line(record->outcome, 300);
  }
  return "labelled " + config.labels.frozen;
}

nlohmann::ordered_json optional_time(Timestamp t, bool known) {
  return known ? nlohmann::ordered_json(format_timestamp(t)) : nlohmann::ordered_json(nullptr);
}

} // namespace

// ---- dispatch ------------------------------------------------------------------------------

std::string_view to_string(DispatchResult::Outcome outcome) noexcept {
  switch (outcome) {
  case DispatchResult::Outcome::dispatched:
    return "dispatched";
  case DispatchResult::Outcome::would_dispatch:
    return "would_dispatch";
  case DispatchResult::Outcome::refused:
    return "refused";
  case DispatchResult::Outcome::not_runnable:
    return "not_runnable";
  case DispatchResult::Outcome::failed:
    return "failed";
  }
  return "?";
}

DispatchResult dispatch_issue(const Config& config, EnginePorts& ports, const TickOptions& options,
                              const IssueRef& issue, const DispatchOverrides& overrides) {
  DispatchResult result{.issue = issue};
  const std::optional<TrackerIssue> target =
      DispatchGates(config, ports, overrides, result).judge();
  if (!target) {
    if (result.outcome != DispatchResult::Outcome::not_runnable) {
      result.outcome = DispatchResult::Outcome::refused;
    }
    std::string reasons;
    for (const IssueVerdict& verdict : result.refusals) {
      reasons += (reasons.empty() ? "" : ",") + std::string(to_string(verdict.reason));
    }
    ports.log.info("dispatch_refused", {{"repo", issue.repo.full()},
                                        {"issue", issue.to_string()},
                                        {"outcome", std::string(to_string(result.outcome))},
                                        {"reasons", reasons},
                                        {"detail", result.detail}});
    return result;
  }
  if (options.dry_run) {
    result.outcome = DispatchResult::Outcome::would_dispatch;
    return result;
  }
  for (const IssueVerdict& verdict : result.overridden) {
    ports.log.warn("dispatch_override", {{"repo", issue.repo.full()},
                                         {"issue", issue.to_string()},
                                         {"reason", std::string(to_string(verdict.reason))},
                                         {"detail", verdict.detail},
                                         {"holder", options.holder}});
  }
  if (!result.overridden.empty()) {
    (void)ports.tracker.create_comment(issue, override_comment(result, options, ports.clock.now()));
  }
  result.run = dispatch_now(config, ports, options, *target);
  if (result.run->error.empty()) {
    result.outcome = DispatchResult::Outcome::dispatched;
  } else {
    result.outcome = DispatchResult::Outcome::failed;
    result.detail = result.run->error;
  }
  return result;
}

// ---- freeze and thaw -----------------------------------------------------------------------

std::string freeze_tracking_title(const RepoName& repo) {
  return "afk: " + repo.full() + " is frozen";
}

bool FreezeResult::failed() const {
  return std::any_of(runs.begin(), runs.end(),
                     [](const RunReport& run) { return !run.error.empty(); });
}

FreezeResult freeze_repo(const Config& config, EnginePorts& ports, const TickOptions& options,
                         const RepoName& repo, std::string_view reason) {
  const LabelNames& labels = config.labels;
  FreezeResult result{.repo = repo};
  std::vector<TrackerIssue> locked = ports.tracker.list_open_issues(repo, labels.in_progress);
  // Including runs whose issue a "Closes #N" push closed before afk verified it.
  for (TrackerIssue& issue : ports.tracker.list_closed_issues(repo, labels.in_progress)) {
    locked.push_back(std::move(issue));
  }
  for (const TrackerIssue& issue : ports.tracker.list_open_issues(repo, labels.frozen)) {
    result.frozen_by.push_back(issue.summary.ref);
  }
  for (const TrackerIssue& issue : locked) {
    const auto record = latest_record(ports.tracker, issue.summary.ref, config.tracker.login);
    if (!record || is_terminal(record->phase)) {
      ports.log.warn("freeze_skipped", {{"repo", repo.full()},
                                        {"issue", issue.summary.ref.to_string()},
                                        {"why", record ? "its run has ended" : "no afk record"}});
      continue;
    }
    result.runs.push_back(freeze_run(config, ports, options, issue, reason));
  }
  const bool run_frozen = std::any_of(result.runs.begin(), result.runs.end(),
                                      [](const RunReport& run) { return run.error.empty(); });
  if (run_frozen || !result.frozen_by.empty()) {
    // A frozen run's issue carries the frozen label now; an already frozen repo stays so.
    result.already_frozen = result.runs.empty();
    ports.log.info("repo_frozen", {{"repo", repo.full()},
                                   {"runs", std::to_string(result.runs.size())},
                                   {"already", result.already_frozen ? "1" : "0"},
                                   {"holder", options.holder}});
    return result;
  }
  const std::string title = freeze_tracking_title(repo);
  if (options.dry_run) {
    return result;
  }
  std::vector<RunReport> failed;
  std::copy_if(result.runs.begin(), result.runs.end(), std::back_inserter(failed),
               [](const RunReport& run) { return !run.error.empty(); });
  result.tracking_issue = ports.tracker.open_issue(
      repo, title, tracking_body(config, repo, options, reason, ports.clock.now(), failed),
      {labels.frozen});
  ports.log.warn("repo_frozen", {{"repo", repo.full()},
                                 {"issue", result.tracking_issue->to_string()},
                                 {"holder", options.holder},
                                 {"reason", one_line(reason, 300)}});
  try {
    ports.notifier.notify(
        {.event = Notification::Event::frozen,
         .issue = *result.tracking_issue,
         .title = title,
         .summary = "frozen by " + options.holder + ": " +
                    (reason.empty() ? std::string("no reason given") : std::string(reason)),
         .issue_url = issue_url(config.tracker.web_url, *result.tracking_issue)});
  } catch (const std::exception& error) {
    log_notify_failure(ports.log, *result.tracking_issue, error);
  }
  return result;
}

ThawResult thaw_repo(const Config& config, EnginePorts& ports, const TickOptions& options,
                     const RepoName& repo) {
  const LabelNames& labels = config.labels;
  ThawResult result{.repo = repo};
  for (const TrackerIssue& issue : ports.tracker.list_open_issues(repo, labels.frozen)) {
    const IssueRef& ref = issue.summary.ref;
    const bool tracking = is_tracking_issue(issue, config, repo);
    if (!options.dry_run) {
      if (tracking) {
        // Closed first: a thaw that stops here has already unfrozen the repository.
        (void)ports.tracker.create_comment(
            ref, "Thawed by " + one_line(options.holder.empty() ? "afk" : options.holder, 100) +
                     " at " + format_timestamp(ports.clock.now()) + ".");
        ports.tracker.close_issue(ref);
      }
      ports.tracker.remove_label(ref, labels.frozen);
    }
    result.unlabelled.push_back(ref);
    if (tracking) {
      result.closed.push_back(ref);
    }
  }
  ports.log.info("repo_thawed", {{"repo", repo.full()},
                                 {"unlabelled", join_refs(result.unlabelled)},
                                 {"closed", join_refs(result.closed)},
                                 {"holder", options.holder}});
  return result;
}

// ---- status --------------------------------------------------------------------------------

std::size_t StatusReport::failures() const {
  return static_cast<std::size_t>(std::count_if(
      repos.begin(), repos.end(), [](const RepoStatus& r) { return !r.report.error.empty(); }));
}

StatusReport status(const Config& config, EnginePorts& ports) {
  StatusReport report{.armed = config.armed(),
                      .disarmed_reason = config.disarmed_reason(),
                      .at = ports.clock.now()};
  if (!report.armed) {
    return report;
  }
  TickOptions dry{.dry_run = true, .holder = "afk status"};
  TickReport tick = run_tick(config, ports, dry);
  for (RepoReport& repo : tick.repos) {
    RepoStatus entry{.report = std::move(repo)};
    const RepoName& name = entry.report.repo;
    for (const RunReport& run : entry.report.runs) {
      std::optional<RunDetails> details;
      try {
        if (const auto record = latest_record(ports.tracker, run.issue, config.tracker.login)) {
          details = RunDetails{.attempt = record->attempt,
                               .claimed_at = record->claimed_at,
                               .updated_at = record->updated_at,
                               .thread_url = t3_thread_url(config.t3.web_url, record->thread_id),
                               .lease_holder = record->lease_holder,
                               .branch = record->branch,
                               .pushed_shas = record->pushed_shas};
        }
      } catch (const Error& error) {
        entry.report.problems.push_back(run.issue.to_string() +
                                        ": record unreadable: " + error.what());
      }
      entry.details.push_back(std::move(details));
    }
    if (entry.report.frozen && entry.report.error.empty()) {
      try {
        for (const TrackerIssue& issue :
             ports.tracker.list_open_issues(name, config.labels.frozen)) {
          entry.frozen_by.push_back({.issue = issue.summary.ref,
                                     .title = one_line(issue.summary.title, 200),
                                     .why = why_frozen(config, ports, issue, name)});
        }
      } catch (const Error& error) {
        entry.report.problems.push_back("why frozen is unreadable: " + std::string(error.what()));
      }
    }
    report.repos.push_back(std::move(entry));
  }
  return report;
}

std::string render_status_json(const StatusReport& report) {
  using json = nlohmann::ordered_json;
  json repos = json::array();
  for (const RepoStatus& entry : report.repos) {
    const RepoReport& repo = entry.report;
    json runs = json::array();
    for (std::size_t i = 0; i < repo.runs.size(); ++i) {
      const RunReport& run = repo.runs[i];
      const std::optional<RunDetails>& details =
          i < entry.details.size() ? entry.details[i] : std::nullopt;
      json actions = json::array();
      for (const RunAction action : run.actions) {
        actions.push_back(std::string(to_string(action)));
      }
      runs.push_back({{"issue", run.issue.to_string()},
                      {"run_id", run.run_id},
                      {"phase", std::string(to_string(run.before))},
                      {"next", std::string(to_string(run.after))},
                      {"actions", actions},
                      {"reason", run.reason},
                      {"error", run.error},
                      {"attempt", details ? json(details->attempt) : json(nullptr)},
                      {"claimed_at", optional_time(details ? details->claimed_at : Timestamp{},
                                                   details.has_value())},
                      {"updated_at", optional_time(details ? details->updated_at : Timestamp{},
                                                   details.has_value())},
                      {"thread_url", details ? json(details->thread_url) : json(nullptr)},
                      {"lease_holder", details ? json(details->lease_holder) : json(nullptr)},
                      {"branch", details ? json(details->branch) : json(nullptr)},
                      {"pushed_shas", details ? json(details->pushed_shas) : json::array()}});
    }
    json queue = json::array();
    for (const IssueVerdict& verdict : repo.queue) {
      queue.push_back({{"issue", verdict.issue.to_string()},
                       {"reason", std::string(to_string(verdict.reason))},
                       {"detail", verdict.detail}});
    }
    json frozen_by = json::array();
    for (const FrozenBy& frozen : entry.frozen_by) {
      frozen_by.push_back(
          {{"issue", frozen.issue.to_string()}, {"title", frozen.title}, {"why", frozen.why}});
    }
    repos.push_back({{"repo", repo.repo.full()},
                     {"frozen", repo.frozen},
                     {"frozen_by", frozen_by},
                     {"default_branch", std::string(to_string(repo.default_branch))},
                     {"runs", runs},
                     {"queue", queue},
                     {"problems", repo.problems},
                     {"error", repo.error}});
  }
  const json doc{{"armed", report.armed},
                 {"disarmed_reason", report.disarmed_reason},
                 {"at", format_timestamp(report.at)},
                 {"repos", repos}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_status_text(const StatusReport& report) {
  std::ostringstream out;
  if (!report.armed) {
    out << "afk is disabled (" << report.disarmed_reason << "): nothing runs.\n";
    return out.str();
  }
  for (const RepoStatus& entry : report.repos) {
    const RepoReport& repo = entry.report;
    out << repo.repo.full() << ": ";
    if (!repo.error.empty()) {
      out << "UNREADABLE: " << repo.error << '\n';
      continue;
    }
    out << (repo.frozen ? "FROZEN" : repo.runs.empty() ? "idle" : "busy") << '\n';
    for (const FrozenBy& frozen : entry.frozen_by) {
      out << "  frozen by " << frozen.issue.to_string() << " (" << frozen.title
          << "): " << frozen.why << '\n';
    }
    if (repo.frozen) {
      out << "  thaw with: afk thaw " << repo.repo.full() << '\n';
    }
    for (std::size_t i = 0; i < repo.runs.size(); ++i) {
      const RunReport& run = repo.runs[i];
      out << "  lock: " << run.issue.to_string() << " run " << run.run_id << ", "
          << to_string(run.before);
      if (i < entry.details.size() && entry.details[i]) {
        const RunDetails& details = *entry.details[i];
        out << " (attempt " << details.attempt << ", claimed "
            << format_timestamp(details.claimed_at) << ", updated "
            << format_timestamp(details.updated_at) << ")\n";
        out << "    thread: " << details.thread_url << '\n';
        if (!details.pushed_shas.empty()) {
          out << "    pushed: " << details.pushed_shas.size() << " commit(s), newest "
              << details.pushed_shas.back() << '\n';
        }
      } else {
        out << '\n';
      }
      out << "    next tick: " << to_string(run.after);
      out << (run.error.empty() ? " (" + run.reason + ")" : " FAILED: " + run.error) << '\n';
    }
    if (!repo.frozen && repo.runs.empty()) {
      // The tick reads the default branch only when an issue is waiting to run.
      const bool waiting =
          std::any_of(repo.queue.begin(), repo.queue.end(), [](const IssueVerdict& verdict) {
            return verdict.reason != WaitReason::not_ready &&
                   verdict.reason != WaitReason::awaiting_human &&
                   verdict.reason != WaitReason::in_flight;
          });
      out << "  default branch: "
          << (!waiting ? std::string("not checked (nothing is waiting to run)")
              : repo.default_branch == Verdict::unknown
                  ? std::string("unknown (unreadable or no CI)")
                  : std::string(to_string(repo.default_branch)))
          << '\n';
    }
    if (repo.queue.empty()) {
      out << "  queue: empty\n";
    } else {
      out << "  queue:\n";
    }
    for (const IssueVerdict& verdict : repo.queue) {
      out << "    " << short_ref(verdict.issue) << ' '
          << (verdict.reason == WaitReason::chosen
                  ? std::string("next: the next tick dispatches it")
                  : std::string(to_string(verdict.reason)) + ": " + verdict.detail)
          << '\n';
    }
    for (const std::string& problem : repo.problems) {
      out << "  needs a person: " << problem << '\n';
    }
  }
  return out.str();
}

} // namespace afk
