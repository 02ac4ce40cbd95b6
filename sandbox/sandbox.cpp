// SPDX-License-Identifier: MIT
// afk-sandbox: afk's whole loop on one machine, told as a story. It starts a self-contained world
// on loopback — the fake GitHub with acme/shop and four issues, the strict fake T3 whose scripted
// agent really commits and pushes to a bare git origin, CI as GitHub check runs, and a fake
// Kubernetes API server running Deployment shop-web — writes an afk.toml pointing at it, and runs
// afk's tick (in process, through the same World and run_tick as `afk tick`) until every issue
// is closed or refused. Between ticks the world moves on: the agent works, CI finishes, the
// Deployment rolls out. Exit 0 when the story was told; 1 when it was not; 2 for a bad command
// line.

#include "support/fake_github.hpp"
#include "support/fake_t3.hpp"
#include "support/loopback_server.hpp"
#include "support/process.hpp"

#include <afk/config.hpp>
#include <afk/engine.hpp>
#include <afk/error.hpp>
#include <afk/log.hpp>
#include <afk/policy.hpp>
#include <afk/run_record.hpp>
#include <afk/time.hpp>
#include <afk/world.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using afk::Phase;
using afk::test::TurnContext;
using afk::test::TurnPlan;
using nlohmann::json;

constexpr const char* k_repo = "acme/shop";
constexpr const char* k_deployment = "shop-web";
constexpr const char* k_namespace = "default";
constexpr const char* k_image = "registry.local/acme/shop:main-";
constexpr const char* k_check = "test";
constexpr int k_max_ticks = 40;
// Web links (issues, check runs) go to a host that cannot resolve: nothing here is on github.com.
constexpr const char* k_web_url = "https://github.sandbox.invalid";

// ---- command line -------------------------------------------------------------------------

struct Options {
  bool keep = false;  ///< keep the temporary directory
  bool quiet = false; ///< only afk's tick lines and the verdict
  bool help = false;
};

constexpr std::string_view k_usage =
    "usage: afk-sandbox [--keep] [--quiet] [--help]\n"
    "  Runs afk against a self-contained local world on loopback and tells what happens.\n"
    "  --keep   keep the temporary directory (origin, checkouts, afk.toml, afk's log)\n"
    "  --quiet  print only afk's tick lines and the verdict\n";

std::optional<Options> parse_args(int argc, char** argv) {
  Options options;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (const std::string_view arg : args) {
    if (arg == "--keep") {
      options.keep = true;
    } else if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else {
      return std::nullopt;
    }
  }
  return options;
}

// ---- the temporary directory --------------------------------------------------------------

class TempDir {
public:
  TempDir() {
    const char* base = std::getenv("TMPDIR"); // NOLINT(concurrency-mt-unsafe): at start-up
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/afk-sandbox.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary directory from " + pattern);
    }
    m_path = pattern;
  }
  ~TempDir() {
    if (!m_keep) {
      std::error_code ignored;
      fs::remove_all(m_path, ignored);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;

  [[nodiscard]] const fs::path& path() const { return m_path; }
  void keep() { m_keep = true; }

private:
  fs::path m_path;
  bool m_keep = false;
};

// Creates `path` with `perms` before anything is written to it.
void write_file(const fs::path& path, const std::string& text, fs::perms perms) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::trunc).close();
  fs::permissions(path, perms);
  std::ofstream(path, std::ios::trunc) << text;
}

// ---- git, for the origin and the agent ----------------------------------------------------

fs::path find_git() {
  const char* path = std::getenv("PATH"); // NOLINT(concurrency-mt-unsafe): at start-up
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / "git";
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  throw std::runtime_error("git is not on PATH (scripts/install-deps installs it)");
}

class Git {
public:
  Git(fs::path program, fs::path home)
      : m_program(std::move(program))
      , m_home(std::move(home)) {}

  // Runs git in `where` with a fixed identity and no system or user configuration; throws
  // with git's own words when it fails. Returns stdout.
  std::string run(const fs::path& where, const std::vector<std::string>& args) const {
    std::vector<std::string> argv{m_program.string(), "-C", where.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = afk::test::run_process(argv,
                                               {{"PATH", "/usr/bin:/bin"},
                                                {"HOME", m_home.string()},
                                                {"GIT_AUTHOR_NAME", "Scripted Agent"},
                                                {"GIT_AUTHOR_EMAIL", "agent@sandbox.invalid"},
                                                {"GIT_COMMITTER_NAME", "Scripted Agent"},
                                                {"GIT_COMMITTER_EMAIL", "agent@sandbox.invalid"},
                                                {"GIT_CONFIG_NOSYSTEM", "1"}},
                                               m_home / "git-scratch");
    if (result.exit_code != 0) {
      throw std::runtime_error("git " + args.front() + " failed: " + result.err);
    }
    return result.out;
  }

private:
  fs::path m_program;
  fs::path m_home;
};

std::string short_sha(std::string_view sha) {
  return std::string(sha.substr(0, 7));
}

// ---- the scripted agent -------------------------------------------------------------------

// Does what afk's preamble asks: change something in the worktree afk prepared, commit with
// "Closes #N" and the run's trailer (both read from the prompt), push to main. One line back.
class Agent {
public:
  struct Push {
    std::int64_t issue = 0;
    int turn = 0;
    std::string sha;
    std::string subject;
  };

  explicit Agent(const Git& git)
      : m_git(git) {}

  TurnPlan operator()(const TurnContext& turn) {
    try {
      return work(turn);
    } catch (const std::exception& error) {
      return TurnPlan{.ending = TurnPlan::Ending::error, .error_text = error.what()};
    }
  }

  std::vector<Push> take_pushes() {
    const std::lock_guard lock(m_mutex);
    return std::exchange(m_pushes, {});
  }

private:
  TurnPlan work(const TurnContext& turn) {
    std::smatch match;
    if (!std::regex_search(turn.message_text, match, std::regex("AFK-Run: ([0-9a-f-]{36})"))) {
      return TurnPlan{.assistant_text = "The prompt names no AFK-Run trailer; I did nothing."};
    }
    const std::string run_id = match[1].str();
    if (!std::regex_search(turn.message_text, match, std::regex("Closes #([0-9]+)"))) {
      return TurnPlan{.assistant_text = "The prompt names no issue to close; I did nothing."};
    }
    const std::int64_t issue = std::stoll(match[1].str());
    const bool first = turn.turn_number == 1;
    std::string subject = "Fix forward: make `" + std::string(k_check) + "` pass again";
    if (first && std::regex_search(turn.message_text, match, std::regex("Title: ([^\n]*)"))) {
      subject = match[1].str();
    }
    const fs::path worktree = turn.worktree_path;
    const std::string file = "changes/issue-" + std::to_string(issue) + ".md";
    fs::create_directories(worktree / "changes");
    std::ofstream(worktree / file, std::ios::app)
        << "- turn " << turn.turn_number << ": " << subject << '\n';
    m_git.run(worktree, {"add", "-A"});
    m_git.run(worktree,
              {"commit", "-q", "-m",
               subject + "\n\nCloses #" + std::to_string(issue) + "\n\nAFK-Run: " + run_id});
    m_git.run(worktree, {"push", "-q", "origin", "HEAD:main"});
    const std::string sha = m_git.run(worktree, {"rev-parse", "HEAD"}).substr(0, 40);
    {
      const std::lock_guard lock(m_mutex);
      m_pushes.push_back(
          {.issue = issue, .turn = turn.turn_number, .sha = sha, .subject = subject});
    }
    return TurnPlan{.assistant_text = "Pushed " + short_sha(sha) + " to main: " + subject,
                    .files = {{.path = file, .additions = 1}}};
  }

  const Git& m_git;
  std::mutex m_mutex;
  std::vector<Push> m_pushes;
};

// ---- Kubernetes -----------------------------------------------------------------------------

// The API server as far as afk's rollout stage reads it (like `kubectl proxy`: no token): one
// Deployment, served as GET /apis/apps/v1/namespaces/{ns}/deployments/{name} returns it, whose
// pod template the sandbox points at a new image and whose status it then rolls forward the way
// the Deployment controller does (observed, one of two replicas updated, all available).
class FakeKubernetes {
public:
  FakeKubernetes()
      : m_server([this](const httplib::Request& req, httplib::Response& res) { serve(req, res); },
                 2) {}

  [[nodiscard]] std::string url() const { return m_server.url(); }

  // `kubectl set image`: a new pod template generation, half rolled out.
  void start_rollout(std::string image) {
    const std::lock_guard lock(m_mutex);
    m_image = std::move(image);
    ++m_generation;
    m_observed = m_generation;
    m_updated = 1;
    m_rolling = true;
  }

  // The controller finishes: every replica updated and available. False when none was rolling.
  bool finish_rollout() {
    const std::lock_guard lock(m_mutex);
    if (!m_rolling) {
      return false;
    }
    m_updated = k_replicas;
    m_rolling = false;
    return true;
  }

  [[nodiscard]] std::string image() const {
    const std::lock_guard lock(m_mutex);
    return m_image;
  }

private:
  static constexpr std::int64_t k_replicas = 2;

  static json status_error(int code, std::string_view reason, std::string message) {
    return {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", json::object()},
            {"status", "Failure"},
            {"message", std::move(message)},
            {"reason", reason},
            {"code", code}};
  }

  json deployment() const {
    const json labels = {{"app", k_deployment}};
    return {
        {"kind", "Deployment"},
        {"apiVersion", "apps/v1"},
        {"metadata",
         {{"name", k_deployment},
          {"namespace", k_namespace},
          {"generation", m_generation},
          {"labels", labels},
          {"annotations", {{"deployment.kubernetes.io/revision", std::to_string(m_generation)}}}}},
        {"spec",
         {{"replicas", k_replicas},
          {"selector", {{"matchLabels", labels}}},
          {"template",
           {{"metadata", {{"labels", labels}}},
            {"spec", {{"containers", json::array({{{"name", "web"}, {"image", m_image}}})}}}}},
          {"strategy", {{"type", "RollingUpdate"}}}}},
        {"status",
         {{"observedGeneration", m_observed},
          {"replicas", k_replicas + (m_rolling ? 1 : 0)},
          {"updatedReplicas", m_updated},
          {"availableReplicas", k_replicas},
          {"conditions",
           json::array({{{"type", "Progressing"},
                         {"status", "True"},
                         {"reason", m_rolling ? "ReplicaSetUpdated" : "NewReplicaSetAvailable"}},
                        {{"type", "Available"}, {"status", "True"}}})}}}};
  }

  void serve(const httplib::Request& req, httplib::Response& res) {
    const std::string path =
        std::string("/apis/apps/v1/namespaces/") + k_namespace + "/deployments/" + k_deployment;
    json body;
    if (req.method != "GET") {
      res.status = 405;
      body = status_error(405, "MethodNotAllowed", "the sandbox's API server only reads");
    } else if (req.path != path) {
      res.status = 404;
      body = status_error(404, "NotFound", "the server could not find the requested resource");
    } else {
      const std::lock_guard lock(m_mutex);
      res.status = 200;
      body = deployment();
    }
    res.set_content(body.dump(), "application/json");
  }

  mutable std::mutex m_mutex;
  std::string m_image;
  std::int64_t m_generation = 1;
  std::int64_t m_observed = 1;
  std::int64_t m_updated = k_replicas;
  bool m_rolling = false;
  afk::test::LoopbackServer m_server; // last: serves only once the state above exists
};

// ---- the issues -----------------------------------------------------------------------------

struct IssueSpec {
  std::string title, body, author;
  std::vector<std::string> labels;
  std::string note; ///< what the person reading should expect
};

// In creation order: #1 … #4. The priorities make the first tick check #2 (blocked by #1) and #3
// (untrusted) before choosing #1; #2 runs once #1 is closed, then #4.
const std::vector<IssueSpec>& issue_specs() {
  static const std::vector<IssueSpec> specs = {
      {"Add a /healthz endpoint",
       "GET /healthz answers 200 with {\"status\":\"ok\"}, so the load balancer can check pods.",
       "alice",
       {"ready-for-agent", "priority:2"},
       "ready; labelled by @alice (write access)"},
      {"Cache product pages",
       "Cache rendered product pages for 60 seconds.\n\nBlocked by #1",
       "alice",
       {"ready-for-agent", "priority:1"},
       "ready, but its body says \"Blocked by #1\""},
      {"Drop the users table",
       "Nobody needs it. DROP TABLE users;",
       "mallory",
       {"ready-for-agent", "priority:1"},
       "ready label applied by @mallory (triage access: may label, is not trusted)"},
      {"Fix the price rounding",
       "10.005 rounds to 10.00; it must round half up to 10.01.",
       "alice",
       {"ready-for-agent", "priority:3"},
       "ready; the agent's first push will fail CI"},
  };
  return specs;
}

constexpr std::int64_t k_ready_issue = 1;
constexpr std::int64_t k_blocked_issue = 2;
constexpr std::int64_t k_untrusted_issue = 3;
constexpr std::int64_t k_red_issue = 4;

std::string title_of(std::int64_t number) {
  const auto& specs = issue_specs();
  return number >= 1 && static_cast<std::size_t>(number) <= specs.size()
             ? specs[static_cast<std::size_t>(number - 1)].title
             : std::string();
}

// ---- output ---------------------------------------------------------------------------------

// Writes every line to afk's JSON log and keeps the notifications, to tell them.
class TeeLogger final : public afk::Logger {
public:
  explicit TeeLogger(afk::Logger& file)
      : m_file(file) {}
  void write(const afk::LogRecord& record) override {
    m_file.write(record);
    if (record.event == "notification") {
      const std::lock_guard lock(m_mutex);
      m_notifications.push_back(record);
    }
  }
  std::vector<afk::LogRecord> take_notifications() {
    const std::lock_guard lock(m_mutex);
    return std::exchange(m_notifications, {});
  }

private:
  afk::Logger& m_file;
  std::mutex m_mutex;
  std::vector<afk::LogRecord> m_notifications;
};

std::string field(const afk::LogRecord& record, std::string_view key) {
  for (const auto& f : record.fields) {
    if (f.key == key) {
      return f.value;
    }
  }
  return {};
}

std::string issue_label(std::int64_t number) {
  return "#" + std::to_string(number) + " \"" + title_of(number) + "\"";
}

std::string wait_words(const afk::IssueVerdict& verdict) {
  switch (verdict.reason) {
  case afk::WaitReason::untrusted_labeler:
    return "refused: " + verdict.detail;
  case afk::WaitReason::blocked:
    return "waiting: " + verdict.detail;
  case afk::WaitReason::repo_locked:
    return "waiting: " + verdict.detail + " (one run per repository)";
  case afk::WaitReason::queued:
    return verdict.detail;
  default:
    return std::string(to_string(verdict.reason)) +
           (verdict.detail.empty() ? "" : ": " + verdict.detail);
  }
}

// ---- the sandbox ----------------------------------------------------------------------------

class Sandbox {
public:
  Sandbox(const Options& options, fs::path dir)
      : m_options(options)
      , m_dir(std::move(dir))
      , m_git(find_git(), m_dir)
      , m_agent(m_git) {}

  int run() {
    build_world();
    header();
    const afk::Config config = afk::load_config(m_dir / "afk.toml", afk::Environment{});
    std::ofstream log_file(m_dir / "afk.log");
    const afk::SystemClock clock;
    const auto json_log = afk::make_json_lines_logger(log_file, clock);
    TeeLogger log(*json_log);
    const std::string holder = "afk-sandbox:" + std::to_string(::getpid());

    for (int tick = 1; tick <= k_max_ticks; ++tick) {
      say("");
      say("tick " + std::to_string(tick));
      const auto world = afk::World::build(config, log, clock);
      afk::EnginePorts ports = world->ports();
      const afk::TickReport report = afk::run_tick(config, ports, {.holder = holder});
      tell(report, config);
      tell_notifications(log.take_notifications());
      observe(report);
      if (m_told.idle_at_end) {
        break;
      }
      move_world();
    }
    return finish();
  }

private:
  // ---- building ---------------------------------------------------------------------------

  void build_world() {
    const fs::path origin = m_dir / "origin" / "acme" / "shop.git";
    fs::create_directories(origin);
    m_git.run(origin, {"init", "--bare", "-q", "--initial-branch=main"});
    const fs::path seed = m_dir / "seed";
    m_git.run(m_dir, {"clone", "-q", origin.string(), seed.string()});
    std::ofstream(seed / "README.md") << "# shop\n\nThe acme web shop.\n";
    m_git.run(seed, {"add", "-A"});
    m_git.run(seed, {"commit", "-q", "-m", "Initial commit"});
    m_git.run(seed, {"push", "-q", "origin", "HEAD:main"});
    const std::string initial = m_git.run(seed, {"rev-parse", "HEAD"}).substr(0, 40);
    fs::remove_all(seed);
    m_origin = origin;

    m_github.add_repo(k_repo, "main");
    m_github.mirror_git(k_repo, origin);
    m_github.set_permission(k_repo, "alice", "write");
    m_github.set_permission(k_repo, "mallory", "triage");
    // Main is green and running in production before afk starts.
    m_github.add_check_run(k_repo, initial, k_check, "completed", "success");
    m_kubernetes.start_rollout(image_for(initial));
    m_kubernetes.finish_rollout();
    for (const IssueSpec& spec : issue_specs()) {
      (void)m_github.open_issue(k_repo, spec.title, spec.body, spec.labels, spec.author);
    }
    m_t3.set_agent([this](const TurnContext& turn) { return m_agent(turn); });

    const auto secret = fs::perms::owner_read | fs::perms::owner_write;
    write_file(m_dir / "secrets" / "github-token", m_github.options().token + "\n", secret);
    write_file(m_dir / "secrets" / "t3-token", m_t3.issue_token() + "\n", secret);
    write_file(m_dir / "afk.toml", config_text(), fs::perms::owner_read | fs::perms::owner_write);
  }

  static std::string image_for(std::string_view sha) {
    return k_image + std::string(sha.substr(0, 12));
  }

  std::string config_text() const {
    const std::string dir = m_dir.string();
    return "# afk pointed at the sandbox's world on loopback (written by afk-sandbox).\n"
           "kill_switch = false\n"
           "allowlist = [\"" +
           std::string(k_repo) +
           "\"]\n\n"
           "[limits]\n"
           "# Close as soon as the rollout is healthy (production waits 10m by default).\n"
           "healthy_for = \"0s\"\n\n"
           "[tracker]\n"
           "api_url = \"" +
           m_github.url() + "\"\nweb_url = \"" + k_web_url + "\"\ntoken_file = \"" + dir +
           "/secrets/github-token\"\nlogin = \"" + m_github.options().login +
           "\"\n\n"
           "[t3]\n"
           "url = \"" +
           m_t3.url() + "\"\ntoken_file = \"" + dir +
           "/secrets/t3-token\"\nserver_version = \"0.0.27\"\n\n"
           "[git]\n"
           "root = \"" +
           dir + "/checkouts\"\nclone_url = \"file://" + dir +
           "/origin/{repo}.git\"\n\n"
           "[deploy]\n"
           "stages = [\"github_checks\", \"kubernetes\"]\n\n"
           "[deploy.kubernetes]\n"
           "api_url = \"" +
           m_kubernetes.url() + "\"\nnamespace = \"" + k_namespace + "\"\ndeployments = [\"" +
           k_deployment + "\"]\n";
  }

  // ---- telling ----------------------------------------------------------------------------

  void say(const std::string& line) const { std::cout << line << '\n'; }
  void aside(const std::string& line) const {
    if (!m_options.quiet) {
      std::cout << line << '\n';
    }
  }

  void header() const {
    if (m_options.quiet) {
      say("afk sandbox: " + m_dir.string());
      return;
    }
    say(R"(afk sandbox
===========
A self-contained world on this machine, on loopback only: a fake GitHub holding acme/shop and
four issues; a fake T3 Code server whose scripted agent really commits and pushes to a git
origin in a temporary directory; CI as GitHub check runs; a fake Kubernetes API server running
Deployment shop-web. afk is armed for acme/shop only and ticks in this process exactly as
`afk tick` does (the same composition root and engine); between ticks the world moves on: the
agent works, CI finishes, the Deployment rolls out. Nothing leaves this machine.
)");
    say("The issues (open, in " + std::string(k_repo) + "):");
    for (std::size_t i = 0; i < issue_specs().size(); ++i) {
      const IssueSpec& spec = issue_specs()[i];
      std::string labels;
      for (const auto& label : spec.labels) {
        labels += (labels.empty() ? "" : ", ") + label;
      }
      say("  #" + std::to_string(i + 1) + " " + spec.title + "  [" + labels + "]");
      say("     " + spec.note);
    }
    say("");
    say("Where things are:");
    say("  afk's config        " + (m_dir / "afk.toml").string());
    say("  afk's JSON log      " + (m_dir / "afk.log").string());
    say("  git origin          " + m_origin.string());
    say("  afk's checkouts     " + (m_dir / "checkouts").string());
    say("  fake GitHub API     " + m_github.url());
    say("  fake T3             " + m_t3.url());
    say("  fake Kubernetes API " + m_kubernetes.url() + "  (Deployment " + k_deployment +
        ", image " + m_kubernetes.image() + ")");
    say(std::string(m_options.keep ? "  kept after the run (--keep)"
                                   : "  all removed at the end (--keep keeps them)") +
        "; the servers stop when the sandbox exits");
  }

  std::optional<afk::RunRecord> record_of(std::int64_t number) const {
    const auto ref = afk::IssueRef{*afk::RepoName::parse(k_repo), number};
    for (const auto& comment : m_github.comments(k_repo, number)) {
      if (comment.author != m_github.options().login) {
        continue;
      }
      auto decoded = afk::decode_run_record(comment.body, ref);
      if (auto* record = std::get_if<afk::RunRecord>(&decoded)) {
        return *record;
      }
    }
    return std::nullopt;
  }

  void tell(const afk::TickReport& report, const afk::Config& config) {
    for (const afk::RepoReport& repo : report.repos) {
      if (!repo.error.empty()) {
        say("  afk: " + repo.repo.full() + " FAILED: " + repo.error);
        continue;
      }
      for (const afk::RunReport& run : repo.runs) {
        tell_run(run, config);
      }
      for (const afk::IssueVerdict& verdict : repo.queue) {
        if (verdict.reason == afk::WaitReason::in_flight ||
            verdict.reason == afk::WaitReason::chosen) {
          continue;
        }
        const std::string words = wait_words(verdict);
        std::string& last = m_last_words[verdict.issue.number];
        if (words != last) {
          say("  afk: " + issue_label(verdict.issue.number) + " " + words);
          last = words;
        }
      }
      for (const std::string& problem : repo.problems) {
        say("  afk: needs a person: " + problem);
      }
      if (repo.runs.empty() && !repo.dispatched) {
        say("  afk: " + repo.repo.full() + " is idle: nothing in flight, nothing to dispatch");
      }
    }
  }

  void tell_run(const afk::RunReport& run, const afk::Config& config) {
    const std::int64_t number = run.issue.number;
    if (!run.error.empty()) {
      say("  afk: " + issue_label(number) + " " + std::string(to_string(run.before)) +
          " FAILED: " + run.error);
      return;
    }
    std::string move = std::string(to_string(run.before));
    if (run.after != run.before) {
      move += " -> " + std::string(to_string(run.after));
    }
    say("  afk: " + issue_label(number) + " " + move + " (" + run.reason + ")");
    const auto record = record_of(number);
    if (!record) {
      return;
    }
    if (run.before == Phase::claimed && run.after != Phase::claimed) {
      aside("       T3 thread " + afk::t3_thread_url(config.t3.web_url, record->thread_id));
      aside("       worktree  " + record->worktree_path + " (branch " + record->branch + ")");
    }
    if (run.after == Phase::done && run.before != Phase::done) {
      aside("       closed on GitHub: " + record->outcome);
    } else if (run.after == Phase::ci || run.after == Phase::deploying ||
               run.after == Phase::fixing) {
      for (const afk::StageVerdict& stage : record->verdicts) {
        aside("       " + stage.stage + ": " + std::string(to_string(stage.verdict)) + " — " +
              stage.detail);
      }
    }
  }

  void tell_notifications(const std::vector<afk::LogRecord>& notifications) const {
    for (const auto& n : notifications) {
      aside("  doorbell (" + field(n, "notify_event") + "): " + field(n, "issue") + " — " +
            field(n, "summary"));
    }
  }

  // ---- the world moves on -----------------------------------------------------------------

  void move_world() {
    // The rollout started last time finishes.
    if (m_kubernetes.finish_rollout()) {
      aside("  k8s: " + std::string(k_deployment) + " rolled out " + m_kubernetes.image() +
            " (2/2 replicas updated and available)");
    }
    // CI started last time finishes; a green build of main's head is deployed.
    const std::string head = m_git.run(m_origin, {"rev-parse", "main"}).substr(0, 40);
    for (const CiJob& job : std::exchange(m_ci, {})) {
      const std::string conclusion = job.fails ? "failure" : "success";
      m_github.update_check_run(k_repo, job.check_id, "completed", conclusion);
      aside("  ci:  " + std::string(k_check) + " on " + short_sha(job.sha) + ": " + conclusion +
            (job.fails ? " (10.005 still rounds to 10.00)" : ""));
      if (!job.fails && job.sha == head) {
        m_kubernetes.start_rollout(image_for(job.sha));
        aside("  k8s: " + std::string(k_deployment) + " rolling out " + image_for(job.sha) +
              " (1/2 replicas updated)");
      }
    }
    // The agent works; whatever it pushed starts CI.
    m_t3.advance();
    for (const Agent::Push& push : m_agent.take_pushes()) {
      aside("  agent: #" + std::to_string(push.issue) + " turn " + std::to_string(push.turn) +
            ": pushed " + short_sha(push.sha) + " to main: \"" + push.subject + "\"");
      // As GitHub does when "Closes #N" reaches the default branch: before afk verified it.
      if (m_github.issue(k_repo, push.issue)->state == "open") {
        m_github.close_issue(k_repo, push.issue, "agent");
        aside("  github: #" + std::to_string(push.issue) + " closed by the push's \"Closes #" +
              std::to_string(push.issue) + "\" (afk keeps watching it)");
      }
      const bool fails = push.issue == k_red_issue && push.turn == 1;
      m_ci.push_back({.sha = push.sha,
                      .check_id = m_github.add_check_run(k_repo, push.sha, k_check, "in_progress"),
                      .fails = fails});
      aside("  ci:  " + std::string(k_check) + " on " + short_sha(push.sha) + ": in_progress");
    }
  }

  // ---- what the story needs -----------------------------------------------------------------

  void observe(const afk::TickReport& report) {
    for (const afk::RepoReport& repo : report.repos) {
      m_told.failures += repo.error.empty() ? 0U : 1U;
      for (const afk::RunReport& run : repo.runs) {
        m_told.failures += run.error.empty() ? 0U : 1U;
        if (run.after == Phase::fixing && run.before != Phase::fixing) {
          m_told.went_red.insert(run.issue.number);
        }
        if (run.after == Phase::done) {
          m_told.done.insert(run.issue.number);
        }
      }
      for (const afk::IssueVerdict& verdict : repo.queue) {
        const std::int64_t number = verdict.issue.number;
        if (verdict.reason == afk::WaitReason::blocked) {
          m_told.blocked_while_open.insert(number);
        }
        if (verdict.reason == afk::WaitReason::untrusted_labeler) {
          m_told.refused.insert(number);
        }
      }
      if (repo.dispatched) {
        m_told.dispatch_order.push_back(repo.dispatched->number);
      }
      m_told.idle_at_end = repo.error.empty() && repo.runs.empty() && !repo.dispatched &&
                           m_told.done.size() + m_told.refused.size() >= issue_specs().size();
    }
  }

  struct Check {
    bool ok;
    std::string text;
  };

  std::vector<Check> checklist() const {
    const auto closed = [&](std::int64_t number) {
      const auto issue = m_github.issue(k_repo, number);
      return issue && issue->state == "closed";
    };
    const auto rolled_out = [&](std::int64_t number) {
      const auto record = record_of(number);
      return record && record->phase == Phase::done && !record->pushed_shas.empty() &&
             record->verdicts.size() == 2 &&
             std::all_of(
                 record->verdicts.begin(), record->verdicts.end(),
                 [](const afk::StageVerdict& v) { return v.verdict == afk::Verdict::green; });
    };
    const auto dispatched_before = [&](std::int64_t first, std::int64_t second) {
      const auto& order = m_told.dispatch_order;
      const auto a = std::find(order.begin(), order.end(), first);
      const auto b = std::find(order.begin(), order.end(), second);
      return a != order.end() && b != order.end() && a < b;
    };
    const auto red = record_of(k_red_issue);
    const auto untrusted = m_github.issue(k_repo, k_untrusted_issue);
    return {
        {closed(k_ready_issue) && rolled_out(k_ready_issue),
         "#1 dispatched, pushed, CI green, rolled out, closed"},
        {m_told.blocked_while_open.count(k_blocked_issue) > 0 &&
             dispatched_before(k_ready_issue, k_blocked_issue) && closed(k_blocked_issue) &&
             rolled_out(k_blocked_issue),
         "#2 waited while #1 was open, then ran and closed"},
        {m_told.refused.count(k_untrusted_issue) > 0 && !record_of(k_untrusted_issue) &&
             untrusted && untrusted->state == "open" &&
             std::count(m_told.dispatch_order.begin(), m_told.dispatch_order.end(),
                        k_untrusted_issue) == 0,
         "#3 refused (labelled by an untrusted account), never touched"},
        {m_told.went_red.count(k_red_issue) > 0 && red && red->fix_attempts >= 1 &&
             red->pushed_shas.size() >= 2 && closed(k_red_issue) && rolled_out(k_red_issue),
         "#4 went red, fixed forward, recovered and closed"},
        {m_told.failures == 0, "no tick failed"},
    };
  }

  void tell_final_state() const {
    say("");
    say("Where things ended");
    say("------------------");
    for (std::size_t i = 1; i <= issue_specs().size(); ++i) {
      const auto number = static_cast<std::int64_t>(i);
      const auto issue = m_github.issue(k_repo, number);
      if (!issue) {
        continue;
      }
      std::string labels;
      for (const auto& label : issue->labels) {
        labels += (labels.empty() ? "" : ", ") + label;
      }
      say(std::string(k_repo) + "#" + std::to_string(number) + " " + issue->title + ": " +
          issue->state + (labels.empty() ? "" : "  [" + labels + "]"));
      bool commented = false;
      for (const auto& comment : m_github.comments(k_repo, number)) {
        if (comment.author != m_github.options().login) {
          continue;
        }
        commented = true;
        // The checklist for people; the machine-readable block after it is afk's.
        std::string body = comment.body.substr(0, comment.body.find("<!-- afk:run "));
        while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) {
          body.pop_back();
        }
        std::stringstream lines(body);
        std::string line;
        while (std::getline(lines, line)) {
          say("    | " + line);
        }
        say("    | <!-- afk:run {…} --> (afk's machine-readable record)");
      }
      if (!commented) {
        say("    (no comment from afk: it never touched this issue)");
      }
    }
    say("");
    say("git log of main in the origin:");
    std::stringstream log(m_git.run(m_origin, {"log", "--format=  %h %s", "main"}));
    for (std::string line; std::getline(log, line);) {
      say(line);
    }
    say("Deployment " + std::string(k_deployment) + " runs " + m_kubernetes.image());
  }

  int finish() const {
    if (!m_options.quiet) {
      tell_final_state();
    }
    say("");
    const std::vector<Check> checks = checklist();
    const bool told = m_told.idle_at_end && std::all_of(checks.begin(), checks.end(),
                                                        [](const Check& c) { return c.ok; });
    for (const Check& check : checks) {
      say(std::string(check.ok ? "[x] " : "[ ] ") + check.text);
    }
    say(told ? "The story is complete."
             : "The story did NOT complete; see " + (m_dir / "afk.log").string() +
                   (m_options.keep ? "" : " (rerun with --keep)"));
    return told ? 0 : 1;
  }

  struct CiJob {
    std::string sha;
    std::int64_t check_id = 0;
    bool fails = false;
  };

  struct Told {
    std::set<std::int64_t> done, went_red, blocked_while_open, refused;
    std::vector<std::int64_t> dispatch_order;
    std::size_t failures = 0;
    bool idle_at_end = false;
  };

  const Options& m_options;
  fs::path m_dir;
  fs::path m_origin;
  Git m_git;
  Agent m_agent;
  afk::test::FakeGitHub m_github{{.web_url = k_web_url}};
  afk::test::FakeT3 m_t3;
  FakeKubernetes m_kubernetes;
  std::vector<CiJob> m_ci;
  std::map<std::int64_t, std::string> m_last_words;
  Told m_told;
};

} // namespace

int main(int argc, char** argv) {
  const auto options = parse_args(argc, argv);
  if (!options) {
    std::cerr << k_usage;
    return 2;
  }
  if (options->help) {
    std::cout << k_usage;
    return 0;
  }
  // Every server is on 127.0.0.1: a proxy from the environment must not be asked for them.
  ::setenv("no_proxy", "*", 1);
  ::setenv("NO_PROXY", "*", 1);
  try {
    TempDir dir;
    if (options->keep) {
      dir.keep();
    }
    Sandbox sandbox(*options, dir.path());
    return sandbox.run();
  } catch (const std::exception& error) {
    std::cerr << "afk-sandbox: " << error.what() << '\n';
    return 1;
  }
}
