// SPDX-License-Identifier: MIT
#pragma once

// A fake world at scale, for the load test (tests/engine/test_load.cpp) and the load benchmark
// (bench/bench_tick_load.cpp), issue 9: N repositories on the fake GitHub with a fixed mix of
// what a tick meets, the strict fake T3 and, where afk needs git, a real bare origin (a copy of
// one small template).
//
// The mix repeats every k_load_cycle repositories (load_kind), so a world of 50 and one of 500
// hold the same proportions and their per-repository costs compare:
//   idle 60%         open issues without afk labels, closed ones, sometimes a ready-for-human
//   blocked 10%      three trusted ready-for-agent issues, each blocked (two by "Blocked by #n"
//                    in the body, one natively): the policy judges all three, dispatches none
//   untrusted 5%     one ready-for-agent issue labelled by a read-only user
//   red_main 5%      one trusted ready issue; the default branch's CI is red
//   dispatching 5%   one trusted ready issue with two comments: this tick claims and dispatches it
//   working 10%      a run in flight (dispatched by a seeding tick; the agent is still working)
//                    and a second ready issue queued behind it
//   pushed 5%        a run in flight whose agent pushed "Closes #n" (GitHub closed the issue;
//                    CI has not reported yet) and a second ready issue queued behind it
// Every repository also has six open issues without afk labels and two closed ones.
//
// The constructor builds all of it and runs the seeding tick (over the in-flight repositories
// only), then lets the agents play their turns, then forgets the requests so far: what tally()
// reports afterwards is the measured ticks' alone. Nothing here uses GoogleTest: the benchmark
// links it too. Failures to build the world throw std::runtime_error.

#include "support/fake_github.hpp"
#include "support/fake_t3.hpp"
#include "support/loopback_server.hpp"
#include "support/process.hpp"

#include <afk/config.hpp>
#include <afk/engine.hpp>
#include <afk/log.hpp>
#include <afk/time.hpp>
#include <afk/world.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace afk::test {

enum class LoadKind { idle, blocked, untrusted, red_main, dispatching, working, pushed };

inline constexpr std::size_t k_load_cycle = 20;
inline constexpr std::size_t k_background_open = 6;
inline constexpr std::size_t k_background_closed = 2;

inline LoadKind load_kind(std::size_t index) {
  switch (index % k_load_cycle) {
  case 0:
    return LoadKind::dispatching;
  case 1:
  case 11:
    return LoadKind::working;
  case 6:
    return LoadKind::pushed;
  case 3:
  case 13:
    return LoadKind::blocked;
  case 8:
    return LoadKind::untrusted;
  case 16:
    return LoadKind::red_main;
  default:
    return LoadKind::idle;
  }
}

inline std::string_view to_string(LoadKind kind) {
  switch (kind) {
  case LoadKind::idle:
    return "idle";
  case LoadKind::blocked:
    return "blocked";
  case LoadKind::untrusted:
    return "untrusted";
  case LoadKind::red_main:
    return "red_main";
  case LoadKind::dispatching:
    return "dispatching";
  case LoadKind::working:
    return "working";
  case LoadKind::pushed:
    return "pushed";
  }
  return "?";
}

inline bool in_flight(LoadKind kind) {
  return kind == LoadKind::working || kind == LoadKind::pushed;
}

inline bool needs_git(LoadKind kind) {
  return in_flight(kind) || kind == LoadKind::dispatching;
}

struct LoadRepo {
  std::string name; ///< "org3/svc-0013", lower-case (as afk's checkout paths are)
  LoadKind kind = LoadKind::idle;
  std::int64_t ready = 0; ///< the issue afk runs (in flight, dispatching) or judges first
};

// What the fakes were asked, by endpoint kind and (GitHub) by repository.
struct RequestTally {
  std::size_t github = 0;
  std::size_t t3 = 0;
  std::map<std::string, std::size_t> kinds; ///< "GitHub GET issues (open)", "T3 GET snapshot", …
  std::map<std::string, std::size_t> per_repo;                             ///< GitHub requests
  std::map<std::string, std::map<std::string, std::size_t>> per_repo_kind; ///< GitHub requests
};

// The endpoint a GitHub request went to, e.g. "GET issues (open)", "PATCH comment".
inline std::string github_endpoint(const std::string& method, const std::string& target) {
  const auto query_at = target.find('?');
  const std::string path = target.substr(0, query_at);
  const std::string query = query_at == std::string::npos ? "" : target.substr(query_at + 1);
  std::vector<std::string> s;
  for (std::size_t at = 1; at <= path.size();) {
    const auto next = std::min(path.find('/', at), path.size());
    s.push_back(path.substr(at, next - at));
    at = next + 1;
  }
  const std::size_t base = !s.empty() && s[0] == "repos" ? 3 : 2; // /repositories/{id}/…
  const std::vector<std::string> rest(
      s.begin() + static_cast<std::ptrdiff_t>(std::min(base, s.size())), s.end());
  const auto named = [&](std::string_view what) {
    return method + " " + std::string(what);
  };
  if (rest.empty()) {
    return named("repo");
  }
  if (rest[0] == "issues") {
    if (rest.size() == 1) {
      return method == "GET"
                 ? named(query.find("state=closed") != std::string::npos ? "issues (closed)"
                                                                         : "issues (open)")
                 : named("issues");
    }
    if (rest[1] == "comments") {
      return named("comment");
    }
    if (rest.size() == 2) {
      return named("issue");
    }
    if (rest.size() == 3) {
      return named(rest[2]); // comments, events, labels
    }
    if (rest[2] == "labels") {
      return named("label");
    }
    if (rest[2] == "dependencies") {
      return named("blocked_by");
    }
  }
  if (rest[0] == "collaborators") {
    return named("permission");
  }
  if (rest[0] == "branches") {
    return named("branch");
  }
  if (rest[0] == "commits" && rest.size() == 3) {
    return named(rest[2]); // check-runs, status
  }
  return named("other " + path);
}

// "owner/name" of a /repos/{owner}/{name}/… target; "" for anything else.
inline std::string github_repo(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  if (!path.starts_with("/repos/")) {
    return {};
  }
  const auto owner_end = path.find('/', 7);
  if (owner_end == std::string::npos) {
    return {};
  }
  const auto name_end = path.find('/', owner_end + 1);
  return path.substr(7, name_end == std::string::npos ? std::string::npos : name_end - 7);
}

// The endpoint a T3 request went to: "GET snapshot", "GET thread", "POST thread.create", ….
inline std::string t3_endpoint(const std::string& method, const std::string& path,
                               const std::string& body) {
  if (path == "/api/orchestration/dispatch") {
    const auto command = nlohmann::json::parse(body, nullptr, false);
    return method + " " +
           (command.is_object() && command.contains("type") && command["type"].is_string()
                ? command["type"].get<std::string>()
                : std::string("dispatch"));
  }
  if (path.starts_with("/api/orchestration/threads/")) {
    return method + " thread";
  }
  return method + " " + path.substr(path.rfind('/') + 1);
}

// cpp-httplib (as Debian builds it) listens with a backlog of 5: under a parallel tick the
// fakes' accept threads fall behind, the kernel drops SYNs and each dropped one costs the
// client a one-second retransmit, which would be measured as afk's time. This raises the
// backlog of the socket listening on 127.0.0.1:`port` (listen() again on a listening socket
// only changes its backlog).
inline void raise_listen_backlog(const std::string& url) {
  const auto port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    int listening = 0;
    socklen_t flag_length = sizeof listening;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 && // NOLINT
        address.sin_family == AF_INET && ntohs(address.sin_port) == port &&
        ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &flag_length) == 0 &&
        listening != 0) {
      (void)::listen(fd, SOMAXCONN);
      return;
    }
  }
  throw std::runtime_error("load world: no socket listens on " + url);
}

// Passes requests on to `upstream` and its answers back, uncompressed both ways. afk's curl
// transport accepts every encoding, and cpp-httplib answers "application/json" to a client that
// accepts br with brotli at its slowest quality: the fake T3 compressing each snapshot it
// serves would cost more CPU than the whole tick (the fake GitHub's JSON type carries a
// charset, which cpp-httplib does not compress).
class IdentityProxy {
public:
  explicit IdentityProxy(std::string upstream)
      : m_upstream(std::move(upstream)) {}

  [[nodiscard]] std::string url() const { return m_server.url(); }

private:
  void forward(const httplib::Request& req, httplib::Response& res) const {
    // The request object is the server's own, not const: the answer goes back uncompressed.
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding"); // NOLINT
    httplib::Client upstream(m_upstream);
    upstream.set_decompress(false);
    httplib::Headers headers{{"Accept-Encoding", "identity"}};
    for (const char* name : {"Authorization", "Cookie"}) {
      if (req.has_header(name)) {
        headers.emplace(name, req.get_header_value(name));
      }
    }
    const std::string type = req.get_header_value("Content-Type");
    const httplib::Result answer = req.method == "GET"
                                       ? upstream.Get(req.target, headers)
                                       : upstream.Post(req.target, headers, req.body, type);
    if (!answer) {
      res.status = 502;
      return;
    }
    res.status = answer->status;
    if (answer->has_header("Content-Type")) {
      res.set_content(answer->body, answer->get_header_value("Content-Type"));
    } else {
      res.body = answer->body;
    }
  }

  std::string m_upstream;
  LoopbackServer m_server{
      [this](const httplib::Request& req, httplib::Response& res) { forward(req, res); }, 16};
};

struct LoadWorldOptions {
  std::size_t repos = 40;
  std::filesystem::path dir;       ///< scratch, removed at the end; empty: a fresh one in /tmp
  std::size_t github_threads = 40; ///< requests the fake GitHub serves at once
  T3Version t3 = T3Version::v0_0_27;
};

class LoadWorld {
public:
  explicit LoadWorld(LoadWorldOptions options)
      : m_options(std::move(options))
      , m_github(FakeGitHubOptions{.threads = m_options.github_threads})
      , m_t3(FakeT3Options{.version = m_options.t3})
      , m_t3_proxy(m_t3.url()) {
    namespace fs = std::filesystem;
    if (m_options.dir.empty()) {
      m_options.dir = fs::temp_directory_path() / ("afk-load-" + std::to_string(::getpid()) + "-" +
                                                   std::to_string(m_options.repos));
    }
    fs::remove_all(m_options.dir);
    fs::create_directories(m_options.dir);
    for (const std::string& url : {m_github.url(), m_t3.url(), m_t3_proxy.url()}) {
      raise_listen_backlog(url);
    }
    std::ofstream(m_options.dir / "gh-token") << m_github.options().token << '\n';
    std::ofstream(m_options.dir / "t3-token") << m_t3.issue_token() << '\n';
    make_template_origin();
    for (std::size_t i = 0; i < m_options.repos; ++i) {
      build_repo(i);
    }
    m_t3.set_agent([this](const TurnContext& turn) { return agent(turn); });
    seed();
  }

  ~LoadWorld() {
    std::error_code ignored;
    std::filesystem::remove_all(m_options.dir, ignored);
  }
  LoadWorld(const LoadWorld&) = delete;
  LoadWorld& operator=(const LoadWorld&) = delete;
  LoadWorld(LoadWorld&&) = delete;
  LoadWorld& operator=(LoadWorld&&) = delete;

  [[nodiscard]] const std::vector<LoadRepo>& repos() const { return m_repos; }
  [[nodiscard]] std::size_t issue_count() const { return m_issues; }
  [[nodiscard]] FakeGitHub& github() { return m_github; }
  [[nodiscard]] FakeT3& t3() { return m_t3; }

  // The config `afk tick` would read for `repos` (all when empty).
  [[nodiscard]] afk::Config config(std::size_t max_parallel,
                                   const std::vector<std::string>& repos = {}) const {
    std::string allowlist;
    for (const LoadRepo& repo : m_repos) {
      if (repos.empty() || std::find(repos.begin(), repos.end(), repo.name) != repos.end()) {
        allowlist += (allowlist.empty() ? "\"" : ", \"") + repo.name + "\"";
      }
    }
    const std::string text = "kill_switch = false\nallowlist = [" + allowlist +
                             "]\nmax_parallel_repos = " + std::to_string(max_parallel) +
                             "\n[limits]\nhealthy_for = \"0s\"\n[tracker]\napi_url = \"" +
                             m_github.url() + "\"\ntoken_file = \"" +
                             (m_options.dir / "gh-token").string() +
                             "\"\nlogin = \"afk-bot\"\n[t3]\nurl = \"" + m_t3_proxy.url() +
                             "\"\ntoken_file = \"" + (m_options.dir / "t3-token").string() +
                             "\"\nserver_version = \"" + std::string(server_version(m_options.t3)) +
                             "\"\n[git]\nroot = \"" + (m_options.dir / "checkouts").string() +
                             "\"\nclone_url = \"file://" + (m_options.dir / "origin").string() +
                             "/{repo}.git\"\n[deploy]\nstages = [\"github_checks\"]\n";
    return afk::parse_config(text, "load.toml", {});
  }

  // One tick over every repository, as `afk tick` runs it (World::build, real adapters).
  afk::TickReport tick(std::size_t max_parallel, afk::Logger& log) const {
    const afk::Config c = config(max_parallel);
    const afk::SystemClock clock;
    const afk::Deadline deadline = afk::Deadline::after(c.tick_timeout);
    const auto world = afk::World::build(c, log, clock, deadline);
    afk::EnginePorts ports = world->ports();
    return afk::run_tick(c, ports, {.holder = "load:1", .deadline = deadline});
  }

  // Forgets the requests so far: tally() counts from here.
  void mark() {
    m_github.clear_requests();
    m_t3_mark = m_t3.requests().size();
  }

  [[nodiscard]] RequestTally tally() const {
    RequestTally tally;
    for (const FakeGitHub::Received& r : m_github.requests()) {
      const std::string kind = github_endpoint(r.method, r.target);
      const std::string repo = github_repo(r.target);
      ++tally.github;
      ++tally.kinds["GitHub " + kind];
      ++tally.per_repo[repo];
      ++tally.per_repo_kind[repo][kind];
    }
    const auto t3 = m_t3.requests();
    for (std::size_t i = m_t3_mark; i < t3.size(); ++i) {
      ++tally.t3;
      ++tally.kinds["T3 " + t3_endpoint(t3[i].method, t3[i].path, t3[i].body)];
    }
    return tally;
  }

private:
  std::string git(const std::filesystem::path& where, std::vector<std::string> args) const {
    const ProcessResult result = run_git(where, args, m_options.dir, "Agent", "agent@example.com");
    if (result.exit_code != 0) {
      throw std::runtime_error("load world: git " + args.front() + " failed: " + result.err);
    }
    return result.out;
  }

  // One commit on main in a bare repository; every repository that needs git gets a copy.
  void make_template_origin() {
    namespace fs = std::filesystem;
    m_template = m_options.dir / "template.git";
    fs::create_directories(m_template);
    git(m_template, {"init", "--bare", "-q", "--initial-branch=main"});
    const fs::path seed = m_options.dir / "template-seed";
    git(m_options.dir, {"clone", "-q", m_template.string(), seed.string()});
    std::ofstream(seed / "README.md") << "# service\n";
    git(seed, {"add", "-A"});
    git(seed, {"commit", "-q", "-m", "Initial commit"});
    git(seed, {"push", "-q", "origin", "HEAD:main"});
  }

  std::int64_t ready_issue(const std::string& repo, const std::string& title,
                           const std::string& body, const std::string& author = "alice") {
    ++m_issues;
    return m_github.open_issue(repo, title, body, {"ready-for-agent"}, author);
  }

  void build_repo(std::size_t index) {
    namespace fs = std::filesystem;
    char name[32];
    std::snprintf(name, sizeof name, "org%zu/svc-%04zu", index % 10, index);
    LoadRepo repo{.name = name, .kind = load_kind(index)};
    m_github.add_repo(repo.name, "main");
    m_github.set_permission(repo.name, "alice", "write");
    m_github.set_permission(repo.name, "mallory", "read");
    for (std::size_t n = 0; n < k_background_open; ++n) {
      ++m_issues;
      (void)m_github.open_issue(
          repo.name, "Background issue " + std::to_string(n), "Some text about it.",
          n % 2 == 0 ? std::vector<std::string>{"bug"} : std::vector<std::string>{});
    }
    for (std::size_t n = 0; n < k_background_closed; ++n) {
      ++m_issues;
      const auto number = m_github.open_issue(repo.name, "Done long ago", "", {});
      m_github.close_issue(repo.name, number);
    }
    if (needs_git(repo.kind)) {
      const fs::path origin = m_options.dir / "origin" / (repo.name + ".git");
      fs::create_directories(origin.parent_path());
      fs::copy(m_template, origin, fs::copy_options::recursive);
      m_github.mirror_git(repo.name, origin);
    } else {
      char sha[41];
      std::snprintf(sha, sizeof sha, "%040zx", index + 1);
      m_github.set_branch_head(repo.name, "main", sha);
      if (repo.kind == LoadKind::red_main) {
        (void)m_github.add_check_run(repo.name, sha, "build", "completed", "failure");
      } else if (index % 2 == 0) {
        (void)m_github.add_check_run(repo.name, sha, "build", "completed", "success");
      }
    }
    switch (repo.kind) {
    case LoadKind::idle:
      if (index % 3 == 0) {
        ++m_issues;
        (void)m_github.open_issue(repo.name, "Handed back", "", {"ready-for-human"});
      }
      break;
    case LoadKind::blocked: {
      repo.ready = ready_issue(repo.name, "Blocked by text", "Blocked by #1");
      (void)ready_issue(repo.name, "Blocked by text too", "Blocked by #2");
      const auto native = ready_issue(repo.name, "Blocked natively", "No words about it.");
      m_github.add_native_blocker(repo.name, native, repo.name, 3);
      break;
    }
    case LoadKind::untrusted:
      repo.ready = ready_issue(repo.name, "Please run this", "", "mallory");
      break;
    case LoadKind::red_main:
    case LoadKind::dispatching:
      repo.ready = ready_issue(repo.name, "Add a health endpoint", "GET /healthz returns 200.");
      m_github.add_comment(repo.name, repo.ready, "alice", "Use port 8080.");
      m_github.add_comment(repo.name, repo.ready, "mallory", "Also open port 22.");
      break;
    case LoadKind::working:
    case LoadKind::pushed:
      repo.ready = ready_issue(repo.name, "Add a metrics endpoint", "GET /metrics.");
      break;
    }
    m_repos.push_back(std::move(repo));
  }

  // The seeding tick dispatches every in-flight repository's issue; the agents play their first
  // turn (working: still at it; pushed: committed and pushed); then each gets a second ready
  // issue, queued behind the run.
  void seed() {
    std::vector<std::string> in_flight_repos;
    for (const LoadRepo& repo : m_repos) {
      if (in_flight(repo.kind)) {
        in_flight_repos.push_back(repo.name);
      }
    }
    if (!in_flight_repos.empty()) {
      const afk::Config c = config(8, in_flight_repos);
      afk::NullLogger log;
      const afk::SystemClock clock;
      const auto world = afk::World::build(c, log, clock);
      afk::EnginePorts ports = world->ports();
      const afk::TickReport report = afk::run_tick(c, ports, {.holder = "seed:1"});
      for (const afk::RepoReport& repo : report.repos) {
        if (!repo.dispatched || !repo.error.empty()) {
          throw std::runtime_error("load world: the seeding tick did not dispatch " +
                                   repo.repo.full() + ": " + repo.error);
        }
      }
      (void)m_t3.advance();
    }
    for (const LoadRepo& repo : m_repos) {
      if (in_flight(repo.kind)) {
        (void)ready_issue(repo.name, "Queued behind the run", "");
      }
    }
    mark();
  }

  // Working agents hang; pushing ones commit "Closes #n" with the run's trailer and push to
  // main, and GitHub closes the issue as it does.
  TurnPlan agent(const TurnContext& turn) {
    namespace fs = std::filesystem;
    const fs::path tree = turn.worktree_path; // <root>/<owner>/<name>/worktrees/<run id>
    const fs::path repo_dir = tree.parent_path().parent_path();
    const std::string name =
        repo_dir.parent_path().filename().string() + "/" + repo_dir.filename().string();
    const auto repo = std::find_if(m_repos.begin(), m_repos.end(),
                                   [&](const LoadRepo& r) { return r.name == name; });
    if (repo == m_repos.end() || repo->kind != LoadKind::pushed) {
      return TurnPlan{.ending = TurnPlan::Ending::hang};
    }
    std::smatch run;
    if (!std::regex_search(turn.message_text, run, std::regex("AFK-Run: ([0-9a-f-]{36})"))) {
      throw std::runtime_error("load world: no AFK-Run trailer in the prompt for " + name);
    }
    std::ofstream(tree / "metrics.txt") << "work\n";
    git(tree, {"add", "-A"});
    git(tree, {"commit", "-q", "-m",
               "Add the metrics endpoint\n\nCloses #" + std::to_string(repo->ready) +
                   "\n\nAFK-Run: " + run[1].str()});
    git(tree, {"push", "-q", "origin", "HEAD:main"});
    m_github.close_issue(name, repo->ready, "agent");
    return TurnPlan{.assistant_text = "Pushed."};
  }

  LoadWorldOptions m_options;
  FakeGitHub m_github;
  FakeT3 m_t3;
  IdentityProxy m_t3_proxy;
  std::filesystem::path m_template;
  std::vector<LoadRepo> m_repos;
  std::size_t m_issues = 0;
  std::size_t m_t3_mark = 0;
};

} // namespace afk::test
