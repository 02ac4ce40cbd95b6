// SPDX-License-Identifier: MIT
// Misbehaving servers (issue 9): afk's real libcurl transport, HttpClient and adapters
// against the fake GitHub and the fake T3 behind a fault-injecting proxy
// (tests/support/fault_proxy.hpp) that adds latency, resets connections, cuts bodies short,
// answers 5xx storms and 429s, drips its answers and falls silent. Each fault must end in the
// right afk::Error kind with a message naming the request (never a token), in a retry where
// the contract allows one — and never a repeated POST it does not — and within the time the
// transport's timeout or the deadline allows. The tick-level tests run whole ticks (World
// and run_tick, as `afk tick` does) while T3 or the tracker misbehaves.
#include "support/capturing_logger.hpp"
#include "support/caught.hpp"
#include "support/fake_github.hpp"
#include "support/fake_t3.hpp"
#include "support/fault_proxy.hpp"
#include "support/world_fixture.hpp"

#include <afk/config.hpp>
#include <afk/engine.hpp>
#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/ids.hpp>
#include <afk/log.hpp>
#include <afk/t3.hpp>
#include <afk/time.hpp>
#include <afk/tracker.hpp>
#include <afk/world.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afk::ErrorKind;
using afk::test::Fault;
using afk::test::FaultProxy;
using afk::test::FaultRule;
using afk::test::k_repo;
using std::chrono::milliseconds;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Faults injected over the whole binary, by kind: printed at the end for the record.
class FaultTally : public testing::Environment {
public:
  static void add(const FaultProxy& proxy) {
    const std::lock_guard lock(mutex());
    for (const Fault fault : k_faults) {
      counts()[std::string(afk::test::to_string(fault))] += proxy.injected(fault);
    }
  }
  void TearDown() override {
    const std::lock_guard lock(mutex());
    std::cout << "faults injected:";
    for (const auto& [kind, count] : counts()) {
      std::cout << ' ' << kind << '=' << count;
    }
    std::cout << '\n';
  }

private:
  static constexpr std::array k_faults{
      Fault::latency,      Fault::reset_before, Fault::reset_mid, Fault::truncated_body,
      Fault::server_error, Fault::rate_limited, Fault::slow_drip, Fault::silence};
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, std::size_t>& counts() {
    static std::map<std::string, std::size_t> c;
    return c;
  }
};

[[maybe_unused]] testing::Environment* const k_tally =
    testing::AddGlobalTestEnvironment(new FaultTally);

std::string field(const afk::LogRecord& record, std::string_view key) {
  for (const auto& f : record.fields) {
    if (f.key == key) {
      return f.value;
    }
  }
  return "(absent)";
}

class Stopwatch {
public:
  [[nodiscard]] milliseconds elapsed() const {
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - m_start);
  }

private:
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

afk::RetryPolicy quick_retry(int max_attempts = 4) {
  afk::RetryPolicy retry;
  retry.max_attempts = max_attempts;
  retry.initial_backoff = 20ms;
  retry.max_backoff = 100ms;
  retry.max_wait = 60s;
  return retry;
}

// What a client under test is built with.
struct ClientSetup {
  afk::RetryPolicy retry = quick_retry();
  afk::CurlOptions curl;
  afk::Deadline deadline;
};

// Real transport, real client; fakes behind a fault proxy. Every error message and log field
// is checked for the tokens at the end of each test.
class Faults : public testing::Test {
protected:
  static void SetUpTestSuite() {
    ::setenv("no_proxy", "*", 1);
    ::setenv("NO_PROXY", "*", 1);
  }

  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() / ("afk-faults-" + std::to_string(::getpid()) + info->name());
    fs::create_directories(m_dir);
  }

  void TearDown() override {
    for (const std::string& message : m_messages) {
      for (const std::string& token : m_tokens) {
        EXPECT_FALSE(contains(message, token)) << message;
      }
    }
    for (const auto& record : m_log.records()) {
      for (const auto& field : record.fields) {
        for (const std::string& token : m_tokens) {
          EXPECT_FALSE(contains(field.value, token)) << record.event << ' ' << field.key;
        }
      }
    }
    fs::remove_all(m_dir);
  }

  fs::path token_file(const std::string& name, const std::string& token) {
    m_tokens.push_back(token);
    const fs::path path = m_dir / name;
    std::ofstream(path) << token << '\n';
    return path;
  }

  afk::HttpClient& client(afk::HttpClientOptions options, const ClientSetup& setup) {
    options.retry = setup.retry;
    options.deadline = setup.deadline;
    m_transports.push_back(afk::make_curl_transport(setup.curl));
    m_clients.push_back(std::make_unique<afk::HttpClient>(
        *m_transports.back(), std::move(options), m_log, m_clock,
        [this](milliseconds wait) {
          {
            const std::lock_guard lock(m_mutex);
            m_waits.push_back(wait);
          }
          if (m_really_sleep) {
            std::this_thread::sleep_for(wait);
          }
        },
        7));
    return *m_clients.back();
  }

  // Runs `call`, which must throw afk::Error, and keeps the message for the token check.
  template <class F> afk::Error failure(F&& call) {
    afk::Error error = afk::test::caught(std::forward<F>(call));
    m_messages.emplace_back(error.what());
    return error;
  }

  [[nodiscard]] std::vector<afk::LogRecord> retries() const { return m_log.named("http_retry"); }

  [[nodiscard]] std::vector<milliseconds> waits() const {
    const std::lock_guard lock(m_mutex);
    return m_waits;
  }

  fs::path m_dir;
  afk::test::CapturingLogger m_log;
  afk::SystemClock m_clock;
  bool m_really_sleep = true;
  std::vector<std::string> m_tokens;
  std::vector<std::string> m_messages;
  mutable std::mutex m_mutex;
  std::vector<milliseconds> m_waits;
  std::vector<std::unique_ptr<afk::HttpTransport>> m_transports;
  std::vector<std::unique_ptr<afk::HttpClient>> m_clients;
};

// ---- the GitHub tracker -------------------------------------------------------------------

class TrackerFaults : public Faults {
protected:
  void SetUp() override {
    Faults::SetUp();
    m_github.add_repo("acme/web");
    m_github.set_permission("acme/web", "alice", "write");
    m_number = m_github.open_issue("acme/web", "Add a health endpoint", "GET /healthz",
                                   {"ready-for-agent"});
    (void)m_github.add_comment("acme/web", m_number, "alice", "Please also log it.");
    (void)m_github.add_comment("acme/web", m_number, "bob", "+1");
    m_token = token_file("gh-token", m_github.options().token);
  }
  void TearDown() override {
    FaultTally::add(m_proxy);
    Faults::TearDown();
  }

  std::unique_ptr<afk::TrackerClient> tracker(const ClientSetup& setup = {}) {
    afk::TrackerConfig config;
    config.api_url = m_proxy.url();
    config.token_file = m_token;
    return afk::make_github_tracker(client(afk::github_http_options(config), setup));
  }

  [[nodiscard]] std::string issue_url() const {
    return m_proxy.url() + "/repos/acme/web/issues/" + std::to_string(m_number);
  }

  // Requests the fake GitHub itself received with this method and path prefix.
  [[nodiscard]] int upstream(const std::string& method, const std::string& prefix) const {
    int n = 0;
    for (const auto& request : m_github.requests()) {
      n += request.method == method && request.target.starts_with(prefix) ? 1 : 0;
    }
    return n;
  }

  afk::test::FakeGitHub m_github;
  FaultProxy m_proxy{m_github.url()};
  fs::path m_token;
  std::int64_t m_number = 0;
  afk::RepoName m_repo = *afk::RepoName::parse("acme/web");
  afk::IssueRef m_issue{m_repo, 0};
};

TEST_F(TrackerFaults, latency_under_the_timeout_only_slows_the_answer) {
  m_proxy.add(
      {.fault = Fault::latency, .method = "GET", .path_prefix = "/repos/acme/web", .delay = 150ms});
  ClientSetup setup;
  setup.curl.total_timeout = 2s;
  auto github = tracker(setup);
  const Stopwatch watch;
  EXPECT_EQ(github->default_branch(m_repo), "main");
  EXPECT_GE(watch.elapsed(), 150ms);
  EXPECT_EQ(m_proxy.injected(Fault::latency), 1U);
  EXPECT_EQ(m_proxy.requests().size(), 1U);
  EXPECT_TRUE(retries().empty());
}

TEST_F(TrackerFaults, latency_past_the_timeout_is_retried_and_then_succeeds) {
  m_proxy.add({.fault = Fault::latency, .path_prefix = "/repos/acme/web", .delay = 1500ms});
  ClientSetup setup;
  setup.curl.total_timeout = 250ms;
  auto github = tracker(setup);
  const Stopwatch watch;
  EXPECT_EQ(github->default_branch(m_repo), "main");
  EXPECT_LT(watch.elapsed(), 5 * (250ms + 100ms));
  EXPECT_EQ(m_proxy.injected(Fault::latency), 1U);
  EXPECT_EQ(m_proxy.requests().size(), 2U);
  const auto logged = retries();
  ASSERT_EQ(logged.size(), 1U);
  EXPECT_TRUE(contains(field(logged[0], "error"), "Timeout")) << field(logged[0], "error");
}

TEST_F(TrackerFaults, resets_before_the_answer_are_retried_for_a_read) {
  m_proxy.add({.fault = Fault::reset_before,
               .method = "GET",
               .path_prefix = "/repos/acme/web/issues",
               .count = 2});
  auto github = tracker();
  const auto issues = github->list_open_issues(m_repo, "ready-for-agent");
  ASSERT_EQ(issues.size(), 1U);
  EXPECT_EQ(issues[0].summary.ref.number, m_number);
  EXPECT_EQ(m_proxy.injected(Fault::reset_before), 2U);
  EXPECT_EQ(m_proxy.requests().size(), 3U);
  EXPECT_EQ(upstream("GET", "/repos/acme/web/issues"), 1) << "the resets never reached it";
  EXPECT_EQ(retries().size(), 2U);
}

TEST_F(TrackerFaults, a_reset_in_the_middle_of_the_answer_is_retried_for_a_read) {
  const std::string comments = "/repos/acme/web/issues/" + std::to_string(m_number) + "/comments";
  m_proxy.add({.fault = Fault::reset_mid, .method = "GET", .path_prefix = comments});
  auto github = tracker();
  const auto read = github->comments({m_repo, m_number});
  ASSERT_EQ(read.size(), 2U);
  EXPECT_EQ(read[0].body, "Please also log it.");
  EXPECT_EQ(m_proxy.injected(Fault::reset_mid), 1U);
  EXPECT_EQ(upstream("GET", comments), 2);
}

TEST_F(TrackerFaults, a_truncated_body_is_retried_and_a_lasting_one_fails_cleanly) {
  m_proxy.add({.fault = Fault::truncated_body, .path_prefix = "/repos/acme/web"});
  auto github = tracker();
  EXPECT_EQ(github->default_branch(m_repo), "main");
  EXPECT_EQ(m_proxy.injected(Fault::truncated_body), 1U);

  m_proxy.add({.fault = Fault::truncated_body,
               .path_prefix = "/repos/acme/web/issues/",
               .count = FaultRule::always});
  const auto e = failure([&] { (void)github->get_issue({m_repo, m_number}); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + issue_url() + ": ")) << e.what();
  EXPECT_TRUE(contains(e.what(), "gave up after 4 attempts")) << e.what();
  EXPECT_EQ(m_proxy.injected(Fault::truncated_body), 5U);
}

TEST_F(TrackerFaults, a_5xx_storm_on_reads_is_ridden_out_and_a_lasting_one_fails_cleanly) {
  m_proxy.add({.fault = Fault::server_error,
               .method = "GET",
               .path_prefix = "/repos/acme/web/issues",
               .count = 3,
               .status = 502});
  auto github = tracker();
  EXPECT_EQ(github->list_open_issues(m_repo, "ready-for-agent").size(), 1U);
  EXPECT_EQ(m_proxy.injected(Fault::server_error), 3U);
  EXPECT_EQ(retries().size(), 3U);

  m_proxy.add({.fault = Fault::server_error,
               .path_prefix = "/repos/acme/web/collaborators",
               .count = FaultRule::always,
               .status = 503});
  const auto e = failure([&] { (void)github->permission(m_repo, "alice"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + m_proxy.url() +
                                     "/repos/acme/web/collaborators/alice/permission: server "
                                     "error (503) after 4 attempts"))
      << e.what();
  EXPECT_EQ(m_proxy.injected(Fault::server_error), 7U);
  EXPECT_EQ(upstream("GET", "/repos/acme/web/collaborators"), 0);
}

TEST_F(TrackerFaults, a_post_whose_answer_is_lost_is_never_repeated) {
  const std::string path = "/repos/acme/web/issues/" + std::to_string(m_number) + "/comments";
  const std::vector<FaultRule> faults{
      {.fault = Fault::reset_before, .method = "POST", .path_prefix = path, .forward = true},
      {.fault = Fault::server_error,
       .method = "POST",
       .path_prefix = path,
       .forward = true,
       .status = 500},
      {.fault = Fault::reset_mid, .method = "POST", .path_prefix = path},
      {.fault = Fault::truncated_body, .method = "POST", .path_prefix = path},
  };
  auto github = tracker();
  int posted = 0;
  for (const FaultRule& fault : faults) {
    SCOPED_TRACE(std::string(afk::test::to_string(fault.fault)));
    m_proxy.add(fault);
    const auto e = failure([&] {
      (void)github->create_comment({m_repo, m_number}, "afk record " + std::to_string(posted));
    });
    ++posted;
    EXPECT_EQ(e.kind(), ErrorKind::transient);
    EXPECT_TRUE(contains(e.what(), "POST " + issue_url() + "/comments")) << e.what();
    EXPECT_EQ(upstream("POST", path), posted) << "the POST reached GitHub exactly once";
    EXPECT_EQ(m_github.comments("acme/web", m_number).size(), 2U + static_cast<unsigned>(posted));
  }
  EXPECT_TRUE(retries().empty());
  EXPECT_EQ(m_proxy.injected_total(), faults.size());
}

TEST_F(TrackerFaults, a_429_is_waited_out_as_retry_after_says_up_to_max_wait) {
  m_really_sleep = false;
  m_proxy.add({.fault = Fault::rate_limited,
               .method = "GET",
               .path_prefix = "/repos/acme/web",
               .retry_after = "2"});
  auto github = tracker();
  EXPECT_EQ(github->default_branch(m_repo), "main");
  EXPECT_EQ(waits(), std::vector<milliseconds>{2000ms});
  EXPECT_EQ(upstream("GET", "/repos/acme/web"), 1);

  m_proxy.add({.fault = Fault::rate_limited,
               .path_prefix = "/repos/acme/web",
               .count = FaultRule::always,
               .retry_after = "120"});
  ClientSetup patient;
  patient.retry.max_wait = 60s;
  auto limited = tracker(patient);
  const auto e = failure([&] { (void)limited->default_branch(m_repo); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + m_proxy.url() + "/repos/acme/web: rate limited until"))
      << e.what();
  EXPECT_EQ(waits().size(), 1U) << "a wait past max_wait is not made";
  EXPECT_EQ(m_proxy.injected(Fault::rate_limited), 2U);
  EXPECT_EQ(upstream("GET", "/repos/acme/web"), 1);
}

TEST_F(TrackerFaults, a_slow_drip_within_the_timeout_arrives_whole) {
  m_proxy.add({.fault = Fault::slow_drip,
               .path_prefix = "/repos/acme/web/issues",
               .delay = 2ms,
               .drip_bytes = 64});
  auto github = tracker();
  const auto issues = github->list_open_issues(m_repo, "ready-for-agent");
  ASSERT_EQ(issues.size(), 1U);
  EXPECT_EQ(issues[0].summary.title, "Add a health endpoint");
  EXPECT_EQ(m_proxy.injected(Fault::slow_drip), 1U);
  EXPECT_TRUE(retries().empty());
}

TEST_F(TrackerFaults, a_slow_drip_is_cut_off_by_the_transports_total_timeout) {
  // About 25 ms a byte: the answer would take many seconds.
  m_proxy.add({.fault = Fault::slow_drip,
               .path_prefix = "/repos/acme/web",
               .count = FaultRule::always,
               .delay = 25ms});
  ClientSetup setup;
  setup.retry = quick_retry(1);
  setup.curl.total_timeout = 300ms;
  auto github = tracker(setup);
  const Stopwatch watch;
  const auto e = failure([&] { (void)github->default_branch(m_repo); });
  EXPECT_LT(watch.elapsed(), 5 * 300ms);
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + m_proxy.url() + "/repos/acme/web: Timeout")) << e.what();
  EXPECT_EQ(m_proxy.injected(Fault::slow_drip), 1U);
}

TEST_F(TrackerFaults, a_slow_drip_is_cut_off_by_the_deadline_whatever_the_retries) {
  m_proxy.add({.fault = Fault::slow_drip,
               .path_prefix = "/repos/acme/web",
               .count = FaultRule::always,
               .delay = 25ms,
               .drip_bytes = 2});
  ClientSetup setup;
  setup.retry = quick_retry(10);
  setup.deadline = afk::Deadline::after(400ms); // the transport alone would allow 30 s
  auto github = tracker(setup);
  const Stopwatch watch;
  const auto e = failure([&] { (void)github->list_open_issues(m_repo, "ready-for-agent"); });
  EXPECT_LT(watch.elapsed(), 5 * 400ms);
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + m_proxy.url() + "/repos/acme/web/issues")) << e.what();
  EXPECT_FALSE(contains(e.what(), "?")) << "no query in the message: " << e.what();
  EXPECT_TRUE(contains(e.what(), "deadline")) << e.what();
  EXPECT_EQ(m_proxy.injected(Fault::slow_drip), 1U);
}

TEST_F(TrackerFaults, silence_is_cut_off_by_the_total_timeout_on_every_attempt) {
  m_proxy.add({.fault = Fault::silence, .count = FaultRule::always});
  ClientSetup setup;
  setup.retry = quick_retry(3);
  setup.curl.total_timeout = 200ms;
  auto github = tracker(setup);
  const Stopwatch watch;
  const auto e = failure([&] { (void)github->get_issue({m_repo, m_number}); });
  EXPECT_LT(watch.elapsed(), 5 * (3 * 200ms + 2 * 100ms));
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + issue_url() + ": Timeout")) << e.what();
  EXPECT_TRUE(contains(e.what(), "gave up after 3 attempts")) << e.what();
  EXPECT_EQ(m_proxy.injected(Fault::silence), 3U);
  EXPECT_EQ(m_proxy.forwarded(), 0U);
}

TEST_F(TrackerFaults, silence_is_cut_off_by_the_deadline) {
  m_proxy.add({.fault = Fault::silence, .count = FaultRule::always});
  ClientSetup setup;
  setup.retry = quick_retry(10);
  setup.deadline = afk::Deadline::after(400ms);
  auto github = tracker(setup);
  const Stopwatch watch;
  const auto e = failure([&] { (void)github->get_issue({m_repo, m_number}); });
  EXPECT_LT(watch.elapsed(), 5 * 400ms);
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + issue_url() + ": Timeout")) << e.what();
  // Cut at the deadline, or a hair before it with no time left for a retry.
  EXPECT_TRUE(contains(e.what(), "(1 attempt)")) << e.what();
  EXPECT_TRUE(contains(e.what(), "deadline")) << e.what();
  EXPECT_EQ(m_proxy.injected(Fault::silence), 1U);

  // Once the deadline has passed nothing is even tried.
  const auto late = failure([&] { (void)github->default_branch(m_repo); });
  EXPECT_TRUE(contains(late.what(), "the deadline passed before attempt 1")) << late.what();
  EXPECT_EQ(m_proxy.requests().size(), 1U);
}

// ---- the T3 client --------------------------------------------------------------------------

class T3Faults : public Faults {
protected:
  void SetUp() override {
    Faults::SetUp();
    fs::create_directories(m_dir / "checkout");
    fs::create_directories(m_dir / "worktree");
    m_token = token_file("t3-token", m_fake.issue_token());
  }
  void TearDown() override {
    FaultTally::add(m_proxy);
    Faults::TearDown();
  }

  afk::T3Client& t3(const ClientSetup& setup = {}) {
    afk::T3Config config;
    config.url = m_proxy.url();
    config.token_file = m_token;
    m_client =
        afk::make_t3_client(client(afk::t3_http_options(config), setup), m_log, m_clock,
                            std::string(afk::test::server_version(m_fake.options().version)));
    return *m_client;
  }

  // What the engine does to dispatch attempt 1 of acme/api#42: project, thread, first turn.
  void dispatch(afk::T3Client& client) {
    const afk::IssueRef issue{*afk::RepoName::parse("acme/api"), 42};
    const std::string project =
        client.ensure_project({.project_id = afk::derive_project_id(issue.repo),
                               .title = "acme/api",
                               .workspace_root = (m_dir / "checkout").string()});
    const std::string thread = afk::derive_thread_id(issue, 1);
    (void)client.create_thread({.command_id = afk::derive_command_id(issue, 1, "thread.create"),
                                .thread_id = thread,
                                .project_id = project,
                                .title = "acme/api#42: Add a health endpoint",
                                .branch = "afk/42-add-a-health-endpoint",
                                .worktree_path = (m_dir / "worktree").string()});
    (void)client.start_turn({.command_id = afk::derive_command_id(issue, 1, "turn.start:1"),
                             .thread_id = thread,
                             .message_id = afk::derive_command_id(issue, 1, "message:1"),
                             .text = "Implement issue #42"});
  }

  [[nodiscard]] int dispatch_posts() const {
    int n = 0;
    for (const auto& request : m_fake.requests()) {
      n += request.method == "POST" && request.path == "/api/orchestration/dispatch" ? 1 : 0;
    }
    return n;
  }

  afk::test::FakeT3 m_fake;
  FaultProxy m_proxy{m_fake.url()};
  fs::path m_token;
  std::unique_ptr<afk::T3Client> m_client;
};

TEST_F(T3Faults, a_command_storm_is_retried_with_the_same_command_and_applied_once) {
  // Each of these reaches T3 and applies the command; only the answer is lost.
  m_proxy.add({.fault = Fault::server_error,
               .method = "POST",
               .path_prefix = "/api/orchestration/dispatch",
               .count = 2,
               .forward = true});
  m_proxy.add(
      {.fault = Fault::reset_mid, .method = "POST", .path_prefix = "/api/orchestration/dispatch"});
  m_proxy.add({.fault = Fault::reset_before,
               .method = "POST",
               .path_prefix = "/api/orchestration/dispatch",
               .forward = true});
  dispatch(t3(ClientSetup{.retry = quick_retry(6)}));
  EXPECT_EQ(m_proxy.injected_total(), 4U);
  EXPECT_EQ(m_fake.accepted_commands().size(), 3U)
      << "project.create, thread.create, thread.turn.start: each applied once";
  EXPECT_EQ(dispatch_posts(), 3 + 4) << "every lost answer was retried";
  const auto snapshot = nlohmann::json::parse(m_fake.snapshot_json());
  EXPECT_EQ(snapshot["threads"].size(), 1U);
  EXPECT_EQ(retries().size(), 4U);
}

TEST_F(T3Faults, a_lasting_storm_fails_as_transient_naming_the_command) {
  m_proxy.add({.fault = Fault::server_error,
               .method = "POST",
               .path_prefix = "/api/orchestration/dispatch",
               .count = FaultRule::always,
               .status = 502});
  auto& client = t3(ClientSetup{.retry = quick_retry(3)});
  const auto e = failure([&] { dispatch(client); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "T3 project.create: POST " + m_proxy.url() +
                                     "/api/orchestration/dispatch: server error (502) after 3 "
                                     "attempts"))
      << e.what();
  EXPECT_EQ(m_proxy.injected(Fault::server_error), 3U);
  EXPECT_TRUE(m_fake.accepted_commands().empty());
}

TEST_F(T3Faults, silence_from_t3_ends_at_the_deadline) {
  m_proxy.add({.fault = Fault::silence, .path_prefix = "/api/", .count = FaultRule::always});
  auto& client = t3(ClientSetup{.deadline = afk::Deadline::after(400ms)});
  const Stopwatch watch;
  const auto e = failure([&] { (void)client.snapshot(); });
  EXPECT_LT(watch.elapsed(), 5 * 400ms);
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + m_proxy.url() + "/api/orchestration/snapshot"))
      << e.what();
  EXPECT_TRUE(contains(e.what(), "deadline")) << e.what();
  EXPECT_EQ(m_proxy.injected(Fault::silence), 1U);
}

// ---- whole ticks ----------------------------------------------------------------------------

// The engine's world (fake GitHub, fake T3, a real bare origin, an agent that pushes) with
// both servers behind fault proxies; ticks run as `afk tick` runs them, with a deadline.
class TickFaults : public afk::test::WorldFixture {
protected:
  void TearDown() override {
    FaultTally::add(m_github_proxy);
    FaultTally::add(m_t3_proxy);
    WorldFixture::TearDown();
  }

  static std::string replaced(std::string text, const std::string& from, const std::string& to) {
    for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
      text.replace(pos, from.size(), to);
      pos += to.size();
    }
    return text;
  }

  [[nodiscard]] afk::Config proxied_config() const {
    std::string text = config_text();
    text = replaced(text, "\"" + m_github.url() + "\"", "\"" + m_github_proxy.url() + "\"");
    text = replaced(text, "\"" + m_t3.url() + "\"", "\"" + m_t3_proxy.url() + "\"");
    return afk::parse_config(text, "faults.toml", {});
  }

  // One tick of at most `budget`, returning how long it took.
  afk::TickReport tick_within(milliseconds budget, milliseconds* took = nullptr) {
    const afk::Config config = proxied_config();
    const Stopwatch watch;
    const afk::Deadline deadline = afk::Deadline::after(budget);
    const auto world = afk::World::build(config, m_log, m_clock, deadline);
    afk::EnginePorts ports = world->ports();
    auto report = afk::run_tick(config, ports, {.holder = "test:1", .deadline = deadline});
    if (took != nullptr) {
      *took = watch.elapsed();
    }
    return report;
  }

  // A second allowlisted repository with its own bare origin, mirrored by the fake GitHub.
  void add_second_repo(const std::string& name) {
    const fs::path origin = m_dir / "origin" / (name + ".git");
    fs::create_directories(origin);
    git(origin, {"init", "--bare", "-q", "--initial-branch=main"});
    const fs::path seed = m_dir / ("seed-" + name.substr(name.find('/') + 1));
    git(m_dir, {"clone", "-q", m_origin.string(), seed.string()});
    git(seed, {"push", "-q", origin.string(), "HEAD:main"});
    m_github.add_repo(name, "main");
    m_github.mirror_git(name, origin);
    m_github.set_permission(name, "alice", "write");
    m_extra_allowlist += ", \"" + name + "\"";
  }

  [[nodiscard]] std::size_t record_comments(const std::string& repo, std::int64_t number) const {
    const auto comments = m_github.comments(repo, number);
    return static_cast<std::size_t>(std::count_if(
        comments.begin(), comments.end(), [](const auto& c) { return c.author == "afk-bot"; }));
  }

  [[nodiscard]] std::size_t accepted(const std::string& type) const {
    std::size_t n = 0;
    for (const std::string& body : m_t3.accepted_commands()) {
      n += nlohmann::json::parse(body).value("type", "") == type ? 1U : 0U;
    }
    return n;
  }

  [[nodiscard]] std::size_t live_threads() const {
    const auto snapshot = nlohmann::json::parse(m_t3.snapshot_json());
    std::size_t n = 0;
    for (const auto& thread : snapshot.at("threads")) {
      n += thread.value("deletedAt", nlohmann::json()).is_null() ? 1U : 0U;
    }
    return n;
  }

  FaultProxy m_github_proxy{m_github.url()};
  FaultProxy m_t3_proxy{m_t3.url()};
};

TEST_F(TickFaults,
       a_silent_tracker_for_one_repository_stops_at_the_deadline_and_the_other_goes_on) {
  add_second_repo("acme/api");
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "", {"ready-for-agent"}, "alice");
  const std::int64_t other =
      m_github.open_issue("acme/api", "Add a metrics endpoint", "", {"ready-for-agent"}, "alice");
  m_github_proxy.add(
      {.fault = Fault::silence, .path_prefix = "/repos/acme/web", .count = FaultRule::always});

  constexpr milliseconds budget = 2500ms;
  milliseconds took{0};
  const auto first = tick_within(budget, &took);
  EXPECT_LT(took, budget + 1500ms) << "the tick ends at its deadline";
  ASSERT_EQ(first.repos.size(), 2U);
  EXPECT_TRUE(contains(first.repos[0].error, "deadline")) << first.repos[0].error;
  EXPECT_FALSE(first.repos[0].dispatched.has_value());
  EXPECT_TRUE(first.repos[1].error.empty()) << first.repos[1].error;
  EXPECT_TRUE(first.repos[1].dispatched.has_value()) << "the other repository went on";
  EXPECT_GE(m_github_proxy.injected(Fault::silence), 1U);

  // The tracker answers again: the next ticks catch up, and no run is doubled.
  m_github_proxy.clear();
  const auto second = tick_within(30s);
  ASSERT_EQ(second.repos.size(), 2U);
  EXPECT_TRUE(second.repos[0].error.empty()) << second.repos[0].error;
  EXPECT_TRUE(second.repos[0].dispatched.has_value());
  EXPECT_FALSE(second.repos[1].dispatched.has_value());
  (void)tick_within(30s);
  EXPECT_EQ(record_comments(k_repo, m_issue), 1U);
  EXPECT_EQ(record_comments("acme/api", other), 1U);
  EXPECT_EQ(live_threads(), 2U);
  EXPECT_EQ(accepted("thread.create"), 2U);
  EXPECT_EQ(accepted("thread.turn.start"), 2U);
}

TEST_F(TickFaults, t3_losing_answers_then_falling_silent_never_yields_a_second_thread_or_turn) {
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "", {"ready-for-agent"}, "alice");
  // Every command reaches T3 and is applied, and every answer is lost.
  m_t3_proxy.add({.fault = Fault::reset_before,
                  .method = "POST",
                  .path_prefix = "/api/orchestration/dispatch",
                  .count = FaultRule::always,
                  .forward = true});
  milliseconds took{0};
  const auto first = tick_within(2000ms, &took);
  EXPECT_LT(took, 2000ms + 1500ms);
  ASSERT_EQ(first.repos.at(0).runs.size(), 1U);
  EXPECT_FALSE(first.repos[0].runs[0].error.empty());
  EXPECT_GE(m_t3_proxy.injected(Fault::reset_before), 1U);

  // Then T3 accepts connections and says nothing at all.
  m_t3_proxy.clear();
  m_t3_proxy.add({.fault = Fault::silence, .count = FaultRule::always});
  const auto second = tick_within(1500ms, &took);
  EXPECT_LT(took, 1500ms + 1500ms);
  ASSERT_EQ(second.repos.at(0).runs.size(), 1U);
  EXPECT_TRUE(contains(second.repos[0].runs[0].error, "deadline")) << second.repos[0].runs[0].error;
  EXPECT_GE(m_t3_proxy.injected(Fault::silence), 1U);

  // T3 recovers: the same run finishes dispatching, once.
  m_t3_proxy.clear();
  const auto third = tick_within(30s);
  ASSERT_EQ(third.repos.at(0).runs.size(), 1U);
  EXPECT_TRUE(third.repos[0].runs[0].error.empty()) << third.repos[0].runs[0].error;
  EXPECT_EQ(third.repos[0].runs[0].after, afk::Phase::dispatched);
  (void)tick_within(30s);
  EXPECT_EQ(record_comments(k_repo, m_issue), 1U);
  EXPECT_EQ(live_threads(), 1U);
  EXPECT_EQ(accepted("project.create"), 1U);
  EXPECT_EQ(accepted("thread.create"), 1U);
  EXPECT_EQ(accepted("thread.turn.start"), 1U);
  const auto run = record();
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->attempt, 1);
  EXPECT_TRUE(has(labels(), "agent-in-progress"));
  EXPECT_FALSE(has(labels(), "ready-for-agent"));
}

TEST_F(TickFaults, a_lost_record_comment_and_a_rate_limit_still_end_in_one_record) {
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "", {"ready-for-agent"}, "alice");
  // The claim's record comment is written, and its answer lost.
  m_github_proxy.add(
      {.fault = Fault::reset_before,
       .method = "POST",
       .path_prefix = "/repos/acme/web/issues/" + std::to_string(m_issue) + "/comments",
       .forward = true});
  const auto first = tick_within(10s);
  EXPECT_FALSE(first.repos.at(0).error.empty());
  EXPECT_EQ(record_comments(k_repo, m_issue), 1U);
  EXPECT_EQ(m_github_proxy.injected(Fault::reset_before), 1U);

  // The next tick is rate limited once, waits as asked, and resumes the same run.
  m_github_proxy.add({.fault = Fault::rate_limited,
                      .method = "GET",
                      .path_prefix = "/repos/acme/web/issues",
                      .retry_after = "1"});
  const auto second = tick_within(10s);
  EXPECT_EQ(m_github_proxy.injected(Fault::rate_limited), 1U);
  ASSERT_TRUE(second.repos.at(0).error.empty()) << second.repos[0].error;
  ASSERT_EQ(second.repos[0].runs.size(), 1U);
  EXPECT_TRUE(second.repos[0].runs[0].error.empty()) << second.repos[0].runs[0].error;
  (void)tick_within(10s);
  EXPECT_EQ(record_comments(k_repo, m_issue), 1U);
  EXPECT_EQ(live_threads(), 1U);
  EXPECT_EQ(accepted("thread.turn.start"), 1U);
  const auto run = record();
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->phase, afk::Phase::dispatched);
}

} // namespace
