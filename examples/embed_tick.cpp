// SPDX-License-Identifier: MIT
//
// Embedding afk's engine with adapters of one's own: a tool that keeps its issues in memory
// (say, a tracker afk has no adapter for) implements afk::TrackerClient, lends it to
// afk::run_tick with stand-ins for the other ports, and runs ticks. The first tick must
// choose the issue a trusted human made ready (not the one a bot labelled), claim it (afk's
// record comment, then the lock label) and dispatch it into T3; the second must only watch
// that run. Exits non-zero when the engine decides anything else.
//
// Only public <afk/...> headers; builds against an installed afk::afk.
#include <afk/config.hpp>
#include <afk/deploy.hpp>
#include <afk/engine.hpp>
#include <afk/error.hpp>
#include <afk/ids.hpp>
#include <afk/issue.hpp>
#include <afk/lifecycle.hpp>
#include <afk/log.hpp>
#include <afk/notify.hpp>
#include <afk/policy.hpp>
#include <afk/run.hpp>
#include <afk/t3.hpp>
#include <afk/time.hpp>
#include <afk/tracker.hpp>
#include <afk/worktree.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;

bool same_label(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
    };
    return lower(x) == lower(y);
  });
}

// ---- the embedder's own adapter: a tracker holding its issues in a std::map ---------------

class InMemoryTracker final : public afk::TrackerClient {
public:
  struct Issue {
    afk::TrackerIssue issue;
    std::vector<std::pair<std::string, afk::LabelEvent>> label_events; ///< (label, event)
  };

  /// `self` is the account afk acts as: comments it creates are by `self`.
  explicit InMemoryTracker(std::string self)
      : m_self(std::move(self)) {}

  void add(afk::TrackerIssue issue, const afk::LabelEvent& labelled) {
    const std::lock_guard lock(m_mutex);
    Issue stored{.issue = std::move(issue), .label_events = {}};
    for (const std::string& label : stored.issue.summary.labels) {
      stored.label_events.emplace_back(label, labelled);
    }
    const afk::IssueRef ref = stored.issue.summary.ref;
    m_issues.insert_or_assign(ref, std::move(stored));
  }
  void grant(const std::string& login, afk::Permission permission) {
    const std::lock_guard lock(m_mutex);
    m_permissions[login] = permission;
  }
  [[nodiscard]] std::vector<std::string> labels_of(const afk::IssueRef& ref) const {
    const std::lock_guard lock(m_mutex);
    return find(ref).issue.summary.labels;
  }
  [[nodiscard]] std::vector<afk::TrackerComment> all_comments(const afk::IssueRef& ref) const {
    const std::lock_guard lock(m_mutex);
    std::vector<afk::TrackerComment> out;
    for (const auto& [id, comment] : m_comments) {
      if (comment.first == ref) {
        out.push_back(comment.second);
      }
    }
    return out;
  }

  std::vector<afk::TrackerIssue> list_open_issues(const afk::RepoName& repo,
                                                  std::string_view label) override {
    const std::lock_guard lock(m_mutex);
    std::vector<afk::TrackerIssue> out;
    for (const auto& [ref, stored] : m_issues) {
      if (ref.repo == repo && stored.issue.open && stored.issue.summary.has_label(label)) {
        out.push_back(stored.issue);
      }
    }
    return out;
  }
  std::vector<afk::TrackerIssue> list_closed_issues(const afk::RepoName& repo,
                                                    std::string_view label) override {
    const std::lock_guard lock(m_mutex);
    std::vector<afk::TrackerIssue> out;
    for (const auto& [ref, stored] : m_issues) {
      if (ref.repo == repo && !stored.issue.open && stored.issue.summary.has_label(label)) {
        out.push_back(stored.issue);
      }
    }
    return out;
  }
  std::optional<afk::TrackerIssue> get_issue(const afk::IssueRef& ref) override {
    const std::lock_guard lock(m_mutex);
    const auto found = m_issues.find(ref);
    return found == m_issues.end() ? std::nullopt : std::optional(found->second.issue);
  }
  std::optional<afk::LabelEvent> last_labeled(const afk::IssueRef& ref,
                                              std::string_view label) override {
    const std::lock_guard lock(m_mutex);
    const auto& events = find(ref).label_events;
    for (auto event = events.rbegin(); event != events.rend(); ++event) {
      if (same_label(event->first, label)) {
        return event->second;
      }
    }
    return std::nullopt;
  }
  afk::Permission permission(const afk::RepoName& /*repo*/, std::string_view login) override {
    const std::lock_guard lock(m_mutex);
    const auto found = m_permissions.find(std::string(login));
    return found == m_permissions.end() ? afk::Permission::none : found->second;
  }
  std::vector<afk::BlockerEvidence> native_blockers(const afk::IssueRef& /*ref*/) override {
    return {}; // this tracker has no native dependencies; "Blocked by" in bodies still works
  }
  void add_label(const afk::IssueRef& ref, std::string_view label) override {
    const std::lock_guard lock(m_mutex);
    Issue& stored = find(ref);
    if (!stored.issue.summary.has_label(label)) {
      stored.issue.summary.labels.emplace_back(label);
      stored.label_events.emplace_back(
          std::string(label),
          afk::LabelEvent{.login = m_self, .actor = afk::LabelerEvidence::Actor::bot, .at = {}});
    }
  }
  void remove_label(const afk::IssueRef& ref, std::string_view label) override {
    const std::lock_guard lock(m_mutex);
    auto& labels = find(ref).issue.summary.labels;
    std::erase_if(labels, [&](const std::string& l) { return same_label(l, label); });
  }
  std::vector<afk::TrackerComment> comments_by(const afk::IssueRef& ref, std::string_view author,
                                               std::string_view marker) override {
    const std::lock_guard lock(m_mutex);
    std::vector<afk::TrackerComment> out;
    for (const auto& [id, comment] : m_comments) {
      if (comment.first == ref && same_label(comment.second.author, author) &&
          comment.second.body.find(marker) != std::string::npos) {
        out.push_back(comment.second);
      }
    }
    return out;
  }
  std::vector<afk::TrackerComment> comments(const afk::IssueRef& ref) override {
    const std::lock_guard lock(m_mutex);
    std::vector<afk::TrackerComment> out;
    for (const auto& [id, comment] : m_comments) {
      if (comment.first == ref) {
        out.push_back(comment.second);
      }
    }
    return out;
  }
  std::int64_t create_comment(const afk::IssueRef& ref, std::string_view body) override {
    const std::lock_guard lock(m_mutex);
    (void)find(ref);
    const std::int64_t id = ++m_last_comment_id;
    m_comments.emplace(id, std::pair(ref, afk::TrackerComment{.id = id,
                                                              .author = m_self,
                                                              .body = std::string(body),
                                                              .updated_at = {}}));
    return id;
  }
  void edit_comment(const afk::RepoName& repo, std::int64_t id, std::string_view body) override {
    const std::lock_guard lock(m_mutex);
    const auto found = m_comments.find(id);
    if (found == m_comments.end() || found->second.first.repo != repo) {
      throw afk::Error(afk::ErrorKind::permanent,
                       "no comment " + std::to_string(id) + " in " + repo.full());
    }
    found->second.second.body = std::string(body);
  }
  void close_issue(const afk::IssueRef& ref) override {
    const std::lock_guard lock(m_mutex);
    find(ref).issue.open = false;
  }
  void reopen_issue(const afk::IssueRef& ref) override {
    const std::lock_guard lock(m_mutex);
    find(ref).issue.open = true;
  }
  afk::IssueRef open_issue(const afk::RepoName& repo, std::string_view title, std::string_view body,
                           const std::vector<std::string>& labels) override {
    const std::lock_guard lock(m_mutex);
    std::int64_t number = 1;
    for (const auto& [ref, stored] : m_issues) {
      number = ref.repo == repo ? std::max(number, ref.number + 1) : number;
    }
    const afk::IssueRef ref{.repo = repo, .number = number};
    m_issues.insert_or_assign(ref, Issue{.issue = {.summary = {.ref = ref,
                                                               .title = std::string(title),
                                                               .labels = labels,
                                                               .created_at = {}},
                                                   .body = std::string(body),
                                                   .open = true,
                                                   .author = m_self},
                                         .label_events = {}});
    return ref;
  }
  std::string default_branch(const afk::RepoName& /*repo*/) override { return "main"; }
  std::optional<std::string> branch_head(const afk::RepoName& /*repo*/,
                                         std::string_view branch) override {
    return branch == "main" ? std::optional<std::string>(k_main_head) : std::nullopt;
  }

  static constexpr std::string_view k_main_head = "1111111111111111111111111111111111111111";

private:
  Issue& find(const afk::IssueRef& ref) {
    const auto found = m_issues.find(ref);
    if (found == m_issues.end()) {
      throw afk::Error(afk::ErrorKind::permanent, ref.to_string() + " does not exist");
    }
    return found->second;
  }
  [[nodiscard]] const Issue& find(const afk::IssueRef& ref) const {
    const auto found = m_issues.find(ref);
    if (found == m_issues.end()) {
      throw afk::Error(afk::ErrorKind::permanent, ref.to_string() + " does not exist");
    }
    return found->second;
  }

  std::string m_self;
  mutable std::mutex m_mutex;
  std::map<afk::IssueRef, Issue> m_issues;
  std::map<std::string, afk::Permission> m_permissions;
  std::map<std::int64_t, std::pair<afk::IssueRef, afk::TrackerComment>> m_comments;
  std::int64_t m_last_comment_id = 0;
};

// ---- stand-ins for the other ports ------------------------------------------------------

/// A T3 that records what it is asked and shows each started turn's message in its thread.
class RecordingT3 final : public afk::T3Client {
public:
  std::vector<afk::T3ThreadSpec> threads() const {
    const std::lock_guard lock(m_mutex);
    return m_threads;
  }
  std::vector<afk::T3TurnSpec> turns() const {
    const std::lock_guard lock(m_mutex);
    return m_turns;
  }

  afk::T3Environment environment() override {
    return {.environment_id = "embedded",
            .label = "in memory",
            .server_version = "0.0.0",
            .protocol_version = 1};
  }
  afk::T3AuthSession auth_session() override {
    return {.authenticated = true,
            .scopes = {"orchestration:read", "orchestration:operate"},
            .expires_at = std::nullopt,
            .method = "embedded"};
  }
  afk::T3Snapshot snapshot() override {
    const std::lock_guard lock(m_mutex);
    afk::T3Snapshot out{.sequence = m_sequence, .projects = {}, .threads = {}};
    for (const std::string& id : m_projects) {
      out.projects.push_back({.id = id, .title = id, .workspace_root = "", .deleted_at = {}});
    }
    for (const afk::T3ThreadSpec& spec : m_threads) {
      out.threads.push_back(thread_of(spec));
    }
    return out;
  }
  afk::T3ThreadRead read_thread(std::string_view thread_id) override {
    const std::lock_guard lock(m_mutex);
    for (const afk::T3ThreadSpec& spec : m_threads) {
      if (spec.thread_id == thread_id) {
        return {.sequence = m_sequence, .thread = thread_of(spec)};
      }
    }
    return {.sequence = m_sequence, .thread = std::nullopt};
  }
  std::string ensure_project(const afk::T3ProjectSpec& spec) override {
    const std::lock_guard lock(m_mutex);
    m_projects.insert(spec.project_id);
    return spec.project_id;
  }
  std::int64_t create_thread(const afk::T3ThreadSpec& spec) override {
    const std::lock_guard lock(m_mutex);
    const bool known = std::any_of(m_threads.begin(), m_threads.end(),
                                   [&](const auto& t) { return t.thread_id == spec.thread_id; });
    if (!known) {
      m_threads.push_back(spec);
    }
    return ++m_sequence;
  }
  std::int64_t start_turn(const afk::T3TurnSpec& spec) override {
    const std::lock_guard lock(m_mutex);
    m_turns.push_back(spec);
    return ++m_sequence;
  }
  std::int64_t respond_approval(std::string_view, std::string_view, std::string_view,
                                afk::T3Decision) override {
    return command();
  }
  std::int64_t respond_user_input(std::string_view, std::string_view, std::string_view,
                                  const afk::T3Answers&) override {
    return command();
  }
  std::int64_t interrupt_turn(std::string_view, std::string_view) override { return command(); }
  std::int64_t stop_session(std::string_view, std::string_view) override { return command(); }
  std::int64_t archive_thread(std::string_view, std::string_view) override { return command(); }
  std::int64_t delete_thread(std::string_view, std::string_view) override { return command(); }

private:
  std::int64_t command() {
    const std::lock_guard lock(m_mutex);
    return ++m_sequence;
  }
  afk::T3Thread thread_of(const afk::T3ThreadSpec& spec) const {
    afk::T3Thread thread;
    thread.id = spec.thread_id;
    thread.project_id = spec.project_id;
    thread.title = spec.title;
    thread.runtime_mode = spec.runtime_mode;
    thread.interaction_mode = spec.interaction_mode;
    thread.branch = spec.branch;
    thread.worktree_path = spec.worktree_path;
    for (const afk::T3TurnSpec& turn : m_turns) {
      if (turn.thread_id == spec.thread_id) {
        afk::T3Message message;
        message.id = turn.message_id;
        message.role = afk::T3Role::user;
        message.text = turn.text;
        thread.messages.push_back(std::move(message));
      }
    }
    return thread;
  }

  mutable std::mutex m_mutex;
  std::int64_t m_sequence = 0;
  std::set<std::string> m_projects;
  std::vector<afk::T3ThreadSpec> m_threads;
  std::vector<afk::T3TurnSpec> m_turns;
};

/// Worktrees that exist only as names: enough for a dispatch, nothing pushed yet.
class NamedWorktrees final : public afk::WorktreeManager {
public:
  afk::PreparedWorktree prepare(const afk::RunWorktreeSpec& spec) override {
    return {.branch = afk::run_branch_name("afk/", spec.issue.number, spec.issue_title),
            .path = "/srv/embedded/worktrees/" + spec.run_id,
            .base_sha = std::string(InMemoryTracker::k_main_head),
            .default_branch = spec.default_branch.value_or("main")};
  }
  std::vector<afk::PushedCommit> pushed_commits(const afk::PushedCommitsQuery&) override {
    return {};
  }
  std::optional<afk::WorktreeInspection> inspect(const afk::RepoName&, std::string_view) override {
    return std::nullopt;
  }
  bool remove(const afk::RepoName&, std::string_view) override { return false; }
  std::vector<afk::WorktreeEntry> list(const afk::RepoName&) override { return {}; }
  afk::PruneReport prune(const afk::RepoName&) override { return {}; }
  afk::RepoDiskUsage disk_usage(const afk::RepoName& repo) override { return {.repo = repo}; }
  std::vector<afk::EvictedWorktree> evict_to_budget(std::uint64_t,
                                                    const std::set<std::string>&) override {
    return {};
  }
};

/// Every SHA is green: the default branch does not block dispatching.
class GreenDeploys final : public afk::DeployWatcher {
public:
  afk::ShaVerdict verdict(const afk::RepoName&, std::string_view sha, afk::Timestamp) override {
    return {.sha = std::string(sha), .verdict = afk::Verdict::green, .stages = {}};
  }
};

class CountingNotifier final : public afk::Notifier {
public:
  void notify(const afk::Notification&) override {
    const std::lock_guard lock(m_mutex);
    ++m_count;
  }
  std::string_view name() const noexcept override { return "counting"; }
  int count() const {
    const std::lock_guard lock(m_mutex);
    return m_count;
  }

private:
  mutable std::mutex m_mutex;
  int m_count = 0;
};

// ---- the embedding program ----------------------------------------------------------------

// An embedder's own configuration, armed for one repository. The token files are never
// read here: every port that would use them is the embedder's own.
constexpr std::string_view k_config = R"(
kill_switch = false
allowlist = ["acme/widgets"]

[tracker]
login = "afk-embedded"
token_file = "/nonexistent/tracker-token"

[t3]
url = "http://127.0.0.1:3773"
token_file = "/nonexistent/t3-token"
)";

void print_report(const afk::TickReport& report) {
  for (const afk::RepoReport& repo : report.repos) {
    std::cout << repo.repo.full() << ": "
              << (repo.dispatched ? "dispatched " + repo.dispatched->to_string()
                                  : "dispatched nothing")
              << (repo.error.empty() ? "" : ", error: " + repo.error) << '\n';
    for (const afk::IssueVerdict& verdict : repo.queue) {
      std::cout << "  " << verdict.issue.to_string() << ": " << afk::to_string(verdict.reason)
                << (verdict.detail.empty() ? "" : " (" + verdict.detail + ")") << '\n';
    }
    for (const afk::RunReport& run : repo.runs) {
      std::cout << "  run " << run.issue.to_string() << ": " << afk::to_string(run.before) << " -> "
                << afk::to_string(run.after) << " (" << run.reason << ")"
                << (run.error.empty() ? "" : ", error: " + run.error) << '\n';
    }
  }
}

int run() {
  int failures = 0;
  const auto check = [&failures](bool ok, std::string_view what) {
    if (!ok) {
      std::cerr << "embed_tick: unexpected: " << what << '\n';
      ++failures;
    }
  };

  const afk::Config config = afk::parse_config(k_config, "embedded config", afk::Environment{});
  check(config.armed(), "the embedded config should arm afk");
  const auto repo = afk::RepoName::parse("acme/widgets").value();
  const afk::LabelNames& labels = config.labels;
  const afk::Timestamp day_one{std::chrono::sys_days{std::chrono::year{2026} / 1 / 5}};

  InMemoryTracker tracker(config.tracker.login);
  tracker.grant("alice", afk::Permission::maintain);
  const afk::LabelEvent by_alice{
      .login = "alice", .actor = afk::LabelerEvidence::Actor::human, .at = day_one};
  const afk::LabelEvent by_bot{
      .login = "triage-bot", .actor = afk::LabelerEvidence::Actor::bot, .at = day_one};
  const afk::IssueRef trusted{.repo = repo, .number = 1};
  const afk::IssueRef bot_labelled{.repo = repo, .number = 2};
  tracker.add({.summary = {.ref = trusted,
                           .title = "Add a --json flag to widgets list",
                           .labels = {labels.ready, labels.priority_prefix + "2"},
                           .created_at = day_one},
               .body = "Print the list as JSON when --json is given.",
               .open = true,
               .author = "alice"},
              by_alice);
  tracker.add({.summary = {.ref = bot_labelled,
                           .title = "Rename every widget",
                           .labels = {labels.ready, labels.priority_prefix + "1"},
                           .created_at = day_one + 1h},
               .body = "A bot thinks this is ready.",
               .open = true,
               .author = "triage-bot"},
              by_bot);

  RecordingT3 t3;
  NamedWorktrees worktrees;
  GreenDeploys deploys;
  CountingNotifier notifier;
  const afk::SystemClock clock;
  const auto log = afk::make_json_lines_logger(std::cerr, clock, afk::Level::info);
  afk::EnginePorts ports{.tracker = tracker,
                         .t3 = t3,
                         .worktrees = worktrees,
                         .deploy = deploys,
                         .notifier = notifier,
                         .clock = clock,
                         .log = *log};
  const afk::TickOptions options{.dry_run = false, .holder = "embed_tick", .preamble = ""};

  std::cout << "== tick 1\n";
  const afk::TickReport first = afk::run_tick(config, ports, options);
  print_report(first);
  check(first.failures() == 0, "the first tick should have no failures");
  check(first.repos.size() == 1 && first.repos[0].dispatched == trusted,
        "the first tick should dispatch acme/widgets#1");
  const auto waits = [&](const afk::IssueRef& issue) {
    return !first.repos.empty() &&
           std::any_of(first.repos[0].queue.begin(), first.repos[0].queue.end(),
                       [&](const afk::IssueVerdict& v) {
                         return v.issue == issue && v.reason != afk::WaitReason::chosen;
                       });
  };
  check(waits(bot_labelled), "#2, labelled by a bot, should wait");

  const auto locked = tracker.labels_of(trusted);
  check(std::count(locked.begin(), locked.end(), labels.in_progress) == 1 &&
            std::count(locked.begin(), locked.end(), labels.ready) == 0,
        "#1 should carry the lock label instead of the ready label");
  const auto comments = tracker.all_comments(trusted);
  check(comments.size() == 1 && comments[0].body.find("<!-- afk:run") != std::string::npos,
        "afk should have written exactly one run record on #1");
  const auto threads = t3.threads();
  const auto turns = t3.turns();
  check(threads.size() == 1 && threads[0].thread_id == afk::derive_thread_id(trusted, 1),
        "T3 should have one thread with the id derived from (#1, attempt 1)");
  check(turns.size() == 1 && turns[0].text.find("--json is given") != std::string::npos,
        "T3 should have one turn carrying #1's text");

  std::cout << "== tick 2\n";
  const afk::TickReport second = afk::run_tick(config, ports, options);
  print_report(second);
  check(second.failures() == 0, "the second tick should have no failures");
  check(second.repos.size() == 1 && !second.repos[0].dispatched &&
            second.repos[0].runs.size() == 1 && second.repos[0].runs[0].issue == trusted,
        "the second tick should only watch #1's run");
  check(t3.threads().size() == 1 && t3.turns().size() == 1 &&
            tracker.all_comments(trusted).size() == 1,
        "watching should start no second thread, turn or record");
  check(notifier.count() == 0, "nothing should have been notified");

  if (!threads.empty()) {
    std::cout << "T3 thread " << threads[0].thread_id << " on branch " << threads[0].branch << '\n';
  }
  std::cout << (failures == 0 ? "embed_tick: ok" : "embed_tick: FAILED") << '\n';
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

} // namespace

int main() {
  try {
    return run();
  } catch (const afk::Error& e) {
    std::cerr << "embed_tick: " << afk::to_string(e.kind()) << " error: " << e.what() << '\n';
  } catch (const std::exception& e) {
    std::cerr << "embed_tick: " << e.what() << '\n';
  }
  return EXIT_FAILURE;
}
