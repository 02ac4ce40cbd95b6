// SPDX-License-Identifier: MIT
// The stateful fake GitHub, driven by afk's own GitHub adapters over the real curl transport
// (every TrackerClient method and the checks stage, with state round trips), and by raw HTTP
// for the wire details afk does not look at (error bodies, Location, Link, strictness).
#include "support/fake_github.hpp"

#include <afk/deploy.hpp>
#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/log.hpp>
#include <afk/time.hpp>
#include <afk/tracker.hpp>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afk::BlockerEvidence;
using afk::ErrorKind;
using afk::IssueRef;
using afk::LabelerEvidence;
using afk::Permission;
using afk::RepoName;
using afk::Verdict;
using afk::test::FakeGitHub;
using afk::test::FakeGitHubOptions;
using nlohmann::json;

constexpr std::string_view k_token = "ghp-WORLD-SECRET-93a1";
constexpr std::string_view k_sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
constexpr std::string_view k_other_sha = "0123456789abcdef0123456789abcdef01234567";
const std::string k_repo = "acme/api";

RepoName repo(std::string_view text) {
  return *RepoName::parse(text);
}

IssueRef ref(std::int64_t number, std::string_view in = "acme/api") {
  return IssueRef{repo(in), number};
}

afk::Timestamp time_of(std::string_view text) {
  return *afk::parse_timestamp(text);
}

// The world's clock: stands still until a test moves it.
struct WorldClock {
  std::atomic<std::int64_t> seconds{time_of("2026-03-01T10:00:00Z").time_since_epoch().count()};
  void advance(std::chrono::seconds by) { seconds += by.count(); }
  [[nodiscard]] std::chrono::system_clock::time_point now() const {
    return std::chrono::system_clock::time_point(std::chrono::seconds(seconds.load()));
  }
};

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] afk::Timestamp now() const override { return time_of("2026-03-01T12:00:00Z"); }
};

class FakeGitHubTest : public ::testing::Test {
protected:
  explicit FakeGitHubTest(std::size_t per_page_cap = 100, bool dependencies_api = true)
      : m_github(FakeGitHubOptions{.token = std::string(k_token),
                                   .per_page_cap = per_page_cap,
                                   .dependencies_api = dependencies_api,
                                   .now = [this] {
                                     return m_world.now();
                                   }}) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() /
            ("afk-fake-github-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
    std::ofstream(m_dir / "token") << k_token << "\n";
    m_config.api_url = m_github.url();
    m_config.token_file = m_dir / "token";
    m_transport = afk::make_curl_transport({});
    m_http = std::make_unique<afk::HttpClient>(*m_transport, afk::github_http_options(m_config),
                                               m_log, m_clock, [](std::chrono::milliseconds) {});
    m_tracker = afk::make_github_tracker(*m_http);
    m_github.add_repo(k_repo);
  }
  ~FakeGitHubTest() override { fs::remove_all(m_dir); }

  // Raw requests with GitHub's headers unless a test overrides them.
  httplib::Headers headers(std::string token = std::string(k_token)) const {
    return {{"Authorization", "Bearer " + token},
            {"Accept", "application/vnd.github+json"},
            {"X-GitHub-Api-Version", "2022-11-28"}};
  }
  httplib::Client raw() const {
    httplib::Client client(m_github.url());
    client.set_connection_timeout(5);
    return client;
  }

  template <class Call> static ErrorKind kind_of(Call call) {
    try {
      call();
    } catch (const afk::Error& error) {
      return error.kind();
    }
    ADD_FAILURE() << "no afk::Error thrown";
    return ErrorKind::permanent;
  }

  static std::vector<std::int64_t> numbers(const std::vector<afk::TrackerIssue>& issues) {
    std::vector<std::int64_t> out;
    for (const auto& issue : issues) {
      out.push_back(issue.summary.ref.number);
    }
    return out;
  }

  WorldClock m_world;
  FakeGitHub m_github;
  fs::path m_dir;
  afk::TrackerConfig m_config;
  afk::NullLogger m_log;
  FixedClock m_clock;
  std::unique_ptr<afk::HttpTransport> m_transport;
  std::unique_ptr<afk::HttpClient> m_http;
  std::unique_ptr<afk::TrackerClient> m_tracker;
};

// ---- the tracker, end to end
// ---------------------------------------------------------------------

TEST_F(FakeGitHubTest, ListsOpenLabelledIssuesWithoutPullRequests) {
  const auto first =
      m_github.open_issue(k_repo, "First", "Do the first thing", {"ready-for-agent"});
  m_world.advance(60s);
  const auto second = m_github.open_issue(k_repo, "Second", "", {"Ready-For-Agent", "bug"}, "bob");
  (void)m_github.open_pull_request(k_repo, "A pull request", {"ready-for-agent"});
  const auto closed = m_github.open_issue(k_repo, "Closed", "x", {"ready-for-agent"});
  m_github.close_issue(k_repo, closed);
  (void)m_github.open_issue(k_repo, "Unlabelled", "x", {});

  const auto issues = m_tracker->list_open_issues(repo(k_repo), "ready-for-agent");
  // GitHub lists newest first.
  EXPECT_EQ(numbers(issues), (std::vector<std::int64_t>{second, first}));
  ASSERT_EQ(issues.size(), 2U);
  EXPECT_EQ(issues[0].summary.title, "Second");
  EXPECT_EQ(issues[0].summary.labels, (std::vector<std::string>{"ready-for-agent", "bug"}))
      << "a label keeps the spelling the repository first gave it";
  EXPECT_EQ(issues[0].author, "bob");
  EXPECT_EQ(issues[0].body, "");
  EXPECT_EQ(issues[1].body, "Do the first thing");
  EXPECT_EQ(issues[1].summary.created_at, time_of("2026-03-01T10:00:00Z"));
  EXPECT_EQ(issues[0].summary.created_at, time_of("2026-03-01T10:01:00Z"));

  const auto got = m_tracker->get_issue(ref(closed));
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->open);
  EXPECT_FALSE(m_tracker->get_issue(ref(3)).has_value()) << "#3 is a pull request";
  EXPECT_FALSE(m_tracker->get_issue(ref(99)).has_value());
}

class FakeGitHubPagingTest : public FakeGitHubTest {
protected:
  FakeGitHubPagingTest()
      : FakeGitHubTest(40) {}
};

TEST_F(FakeGitHubPagingTest, PagesThroughMoreThanAHundredIssuesByLink) {
  for (int n = 1; n <= 130; ++n) {
    if (n % 26 == 0) {
      (void)m_github.open_pull_request(k_repo, "PR " + std::to_string(n), {"ready-for-agent"});
    } else {
      (void)m_github.open_issue(k_repo, "Issue " + std::to_string(n), "", {"ready-for-agent"});
    }
  }
  m_github.clear_requests();
  const auto issues = m_tracker->list_open_issues(repo(k_repo), "ready-for-agent");
  EXPECT_EQ(issues.size(), 125U);
  std::vector<std::int64_t> expected;
  for (std::int64_t n = 130; n >= 1; --n) {
    if (n % 26 != 0) {
      expected.push_back(n);
    }
  }
  EXPECT_EQ(numbers(issues), expected) << "every page once, newest first";

  // afk asked for 100 a page; the cap made it 40: four pages, the later ones where GitHub's
  // Link header points (/repositories/{id}/…).
  const auto seen = m_github.requests();
  ASSERT_EQ(seen.size(), 4U);
  EXPECT_EQ(seen[0].target,
            "/repos/acme/api/issues?state=open&labels=ready-for-agent&per_page=100");
  const std::regex later(
      R"(/repositories/\d+/issues\?state=open&labels=ready-for-agent&per_page=100&page=(\d))");
  for (std::size_t i = 1; i < seen.size(); ++i) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(seen[i].target, match, later)) << seen[i].target;
    EXPECT_EQ(match[1], std::to_string(i + 1));
    EXPECT_EQ(seen[i].status, 200);
  }
}

TEST_F(FakeGitHubPagingTest, LinkHeaderNamesNextLastPrevAndFirst) {
  for (int n = 1; n <= 100; ++n) {
    (void)m_github.open_issue(k_repo, "Issue", "", {"x"});
  }
  auto client = raw();
  const auto middle = client.Get("/repos/acme/api/issues?labels=x&per_page=500&page=2", headers());
  ASSERT_TRUE(middle);
  EXPECT_EQ(middle->status, 200);
  EXPECT_EQ(json::parse(middle->body).size(), 40U) << "per_page is capped";
  const std::string base = m_github.url() + "/repositories/";
  const std::regex link("<" + base +
                        R"((\d+)/issues\?labels=x&per_page=500&page=1>; rel="prev", )" + "<" +
                        base + R"(\1/issues\?labels=x&per_page=500&page=3>; rel="next", )" + "<" +
                        base + R"(\1/issues\?labels=x&per_page=500&page=3>; rel="last", )" + "<" +
                        base + R"(\1/issues\?labels=x&per_page=500&page=1>; rel="first")");
  EXPECT_TRUE(std::regex_match(middle->get_header_value("Link"), link))
      << middle->get_header_value("Link");

  const auto last = client.Get("/repos/acme/api/issues?labels=x&per_page=40&page=3", headers());
  ASSERT_TRUE(last);
  EXPECT_EQ(json::parse(last->body).size(), 20U);
  EXPECT_EQ(last->get_header_value("Link").find("rel=\"next\""), std::string::npos);
}

TEST_F(FakeGitHubTest, AddsAndRemovesLabelsAndRecordsWhoDidIt) {
  const auto n = m_github.open_issue(k_repo, "Work", "body", {});
  m_world.advance(5min);
  m_tracker->add_label(ref(n), "afk:working");
  m_tracker->add_label(ref(n), "afk:working"); // idempotent

  const auto listed = m_tracker->list_open_issues(repo(k_repo), "afk:working");
  ASSERT_EQ(numbers(listed), (std::vector<std::int64_t>{n}));
  EXPECT_EQ(listed[0].summary.labels, (std::vector<std::string>{"afk:working"}));
  const auto event = m_tracker->last_labeled(ref(n), "AFK:WORKING");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->login, "afk-bot");
  EXPECT_EQ(event->actor, LabelerEvidence::Actor::human) << "the token's user is a User";
  EXPECT_EQ(event->at, time_of("2026-03-01T10:05:00Z"));

  m_tracker->remove_label(ref(n), "afk:working");
  EXPECT_TRUE(m_github.issue(k_repo, n)->labels.empty());
  EXPECT_TRUE(m_tracker->list_open_issues(repo(k_repo), "afk:working").empty());
  EXPECT_NO_THROW(m_tracker->remove_label(ref(n), "afk:working")) << "absent is not an error";

  const auto events = m_github.events(k_repo, n);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].event, "labeled");
  EXPECT_EQ(events[1].event, "unlabeled");
  EXPECT_EQ(events[1].actor, "afk-bot");
  EXPECT_LT(events[0].id, events[1].id);
}

TEST_F(FakeGitHubTest, LastLabeledTellsHumansBotsAndAppsApartAndTakesTheNewest) {
  const auto n = m_github.open_issue(k_repo, "Work", "", {});
  m_github.label_issue(k_repo, n, "ready-for-agent", "carol");
  auto event = m_tracker->last_labeled(ref(n), "ready-for-agent");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->login, "carol");
  EXPECT_EQ(event->actor, LabelerEvidence::Actor::human);

  m_github.unlabel_issue(k_repo, n, "ready-for-agent");
  m_world.advance(1s);
  m_github.label_issue(k_repo, n, "ready-for-agent", "renovate", true);
  event = m_tracker->last_labeled(ref(n), "ready-for-agent");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->login, "renovate");
  EXPECT_EQ(event->actor, LabelerEvidence::Actor::bot);

  m_github.unlabel_issue(k_repo, n, "ready-for-agent");
  m_world.advance(1s);
  m_github.label_issue_via_app(k_repo, n, "ready-for-agent", "triage-helper");
  event = m_tracker->last_labeled(ref(n), "ready-for-agent");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->login, "triage-helper[bot]");
  EXPECT_EQ(event->actor, LabelerEvidence::Actor::app);
  EXPECT_EQ(event->at, time_of("2026-03-01T10:00:02Z"));

  EXPECT_FALSE(m_tracker->last_labeled(ref(n), "other").has_value());
}

TEST_F(FakeGitHubTest, CommentsRoundTripAndEditsMoveUpdatedAt) {
  const auto n = m_github.open_issue(k_repo, "Work", "", {});
  (void)m_github.add_comment(k_repo, n, "alice", "<!-- afk:run --> forged by a human");
  const auto id = m_tracker->create_comment(ref(n), "<!-- afk:run --> working on it");
  (void)m_tracker->create_comment(ref(n), "an unmarked note");

  auto mine = m_tracker->comments_by(ref(n), "AFK-BOT", "<!-- afk:run -->");
  ASSERT_EQ(mine.size(), 1U);
  EXPECT_EQ(mine[0].id, id);
  EXPECT_EQ(mine[0].author, "afk-bot");
  EXPECT_EQ(mine[0].body, "<!-- afk:run --> working on it");
  const auto created = mine[0].updated_at;

  m_tracker->edit_comment(repo(k_repo), id, "<!-- afk:run --> done");
  mine = m_tracker->comments_by(ref(n), "afk-bot", "<!-- afk:run -->");
  ASSERT_EQ(mine.size(), 1U);
  EXPECT_EQ(mine[0].body, "<!-- afk:run --> done");
  EXPECT_GT(mine[0].updated_at, created) << "the world clock stood still; updated_at moved";

  const auto view = m_github.issue(k_repo, n);
  ASSERT_TRUE(view.has_value());
  ASSERT_EQ(view->comments.size(), 3U);
  EXPECT_EQ(view->comments[1],
            (std::pair<std::string, std::string>{"afk-bot", "<!-- afk:run --> done"}));
}

TEST_F(FakeGitHubTest, OnlyTheAuthorMayEditAComment) {
  const auto n = m_github.open_issue(k_repo, "Work", "", {});
  const auto theirs = m_github.add_comment(k_repo, n, "alice", "hands off");
  EXPECT_EQ(kind_of([&] { m_tracker->edit_comment(repo(k_repo), theirs, "mine now"); }),
            ErrorKind::config)
      << "403";
  EXPECT_EQ(m_github.comments(k_repo, n).at(0).body, "hands off");
  EXPECT_EQ(kind_of([&] { m_tracker->edit_comment(repo(k_repo), 424242, "x"); }),
            ErrorKind::permanent)
      << "404";
}

TEST_F(FakeGitHubTest, ClosesReopensAndOpensIssues) {
  const auto n = m_github.open_issue(k_repo, "Work", "", {"ready-for-agent"});
  m_tracker->close_issue(ref(n));
  auto got = m_tracker->get_issue(ref(n));
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->open);
  EXPECT_EQ(m_github.issue(k_repo, n)->state_reason, "completed");
  EXPECT_TRUE(m_tracker->list_open_issues(repo(k_repo), "ready-for-agent").empty());

  m_tracker->reopen_issue(ref(n));
  got = m_tracker->get_issue(ref(n));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->open);
  EXPECT_EQ(m_github.issue(k_repo, n)->state_reason, "reopened");
  const auto events = m_github.events(k_repo, n);
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[1].event, "closed");
  EXPECT_EQ(events[2].event, "reopened");
  EXPECT_EQ(events[2].actor, "afk-bot");

  const auto opened =
      m_tracker->open_issue(repo(k_repo), "Follow-up", "Found while working", {"afk:follow-up"});
  EXPECT_EQ(opened.number, n + 1);
  const auto view = m_github.issue(k_repo, opened.number);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->author, "afk-bot");
  EXPECT_EQ(view->body, "Found while working");
  EXPECT_EQ(view->labels, (std::vector<std::string>{"afk:follow-up"}));
  EXPECT_EQ(numbers(m_tracker->list_open_issues(repo(k_repo), "afk:follow-up")),
            (std::vector<std::int64_t>{opened.number}));
}

TEST_F(FakeGitHubTest, PermissionsComeFromRoleNames) {
  const std::vector<std::pair<std::string, Permission>> cases = {
      {"admin", Permission::admin}, {"maintain", Permission::maintain},
      {"write", Permission::write}, {"triage", Permission::triage},
      {"read", Permission::read},   {"none", Permission::none}};
  for (const auto& [level, expected] : cases) {
    m_github.set_permission(k_repo, "user-" + level, level);
    EXPECT_EQ(m_tracker->permission(repo(k_repo), "User-" + level), expected) << level;
  }
  EXPECT_EQ(m_tracker->permission(repo(k_repo), "stranger"), Permission::none) << "404";
  EXPECT_EQ(m_tracker->permission(repo(k_repo), "afk-bot"), Permission::write);

  auto client = raw();
  const auto answer =
      client.Get("/repos/acme/api/collaborators/user-maintain/permission", headers());
  ASSERT_TRUE(answer);
  const auto body = json::parse(answer->body);
  EXPECT_EQ(body["permission"], "write") << "GitHub folds maintain into write";
  EXPECT_EQ(body["role_name"], "maintain");
  EXPECT_EQ(body["user"]["login"], "user-maintain");
}

TEST_F(FakeGitHubTest, NativeBlockersAcrossRepositories) {
  m_github.add_repo("acme/lib");
  const auto blocked = m_github.open_issue(k_repo, "Blocked", "", {});
  const auto open_blocker = m_github.open_issue(k_repo, "Open blocker", "", {});
  const auto closed_blocker = m_github.open_issue("acme/lib", "Closed blocker", "", {});
  m_github.close_issue("acme/lib", closed_blocker);
  m_github.add_native_blocker(k_repo, blocked, k_repo, open_blocker);
  m_github.add_native_blocker(k_repo, blocked, "acme/lib", closed_blocker);

  EXPECT_EQ(
      m_tracker->native_blockers(ref(blocked)),
      (std::vector<BlockerEvidence>{
          {.ref = ref(open_blocker), .state = BlockerEvidence::State::open},
          {.ref = ref(closed_blocker, "acme/lib"), .state = BlockerEvidence::State::closed}}));
  EXPECT_TRUE(m_tracker->native_blockers(ref(open_blocker)).empty());
  EXPECT_TRUE(m_tracker->native_blockers(ref(77)).empty()) << "404";
}

class FakeGitHubWithoutDependenciesTest : public FakeGitHubTest {
protected:
  FakeGitHubWithoutDependenciesTest()
      : FakeGitHubTest(100, false) {}
};

TEST_F(FakeGitHubWithoutDependenciesTest, BlockedByAnswers404) {
  const auto blocked = m_github.open_issue(k_repo, "Blocked", "", {});
  const auto blocker = m_github.open_issue(k_repo, "Blocker", "", {});
  m_github.add_native_blocker(k_repo, blocked, k_repo, blocker);
  EXPECT_TRUE(m_tracker->native_blockers(ref(blocked)).empty());
  EXPECT_EQ(m_github.requests().back().status, 404);
}

TEST_F(FakeGitHubTest, BranchHeads) {
  m_github.set_branch_head(k_repo, "main", std::string(k_sha));
  m_github.set_branch_head(k_repo, "release/1.0", std::string(k_other_sha));
  EXPECT_EQ(m_tracker->branch_head(repo(k_repo), "main"), std::string(k_sha));
  EXPECT_EQ(m_tracker->branch_head(repo(k_repo), "release/1.0"), std::string(k_other_sha));
  EXPECT_EQ(m_tracker->branch_head(repo(k_repo), "gone"), std::nullopt);
}

TEST_F(FakeGitHubTest, DefaultBranchComesFromTheRepository) {
  EXPECT_EQ(m_tracker->default_branch(repo(k_repo)), "main");
  m_github.add_repo("acme/legacy", "master");
  EXPECT_EQ(m_tracker->default_branch(repo("acme/legacy")), "master");
  EXPECT_THROW((void)m_tracker->default_branch(repo("acme/none")), afk::Error);
}

TEST_F(FakeGitHubTest, WithoutTriageTheTokenCannotLabel) {
  const auto n = m_github.open_issue(k_repo, "Work", "", {});
  m_github.set_permission(k_repo, "afk-bot", "read");
  EXPECT_EQ(kind_of([&] { m_tracker->add_label(ref(n), "afk:working"); }), ErrorKind::config);
  EXPECT_EQ(kind_of([&] { m_tracker->close_issue(ref(n)); }), ErrorKind::config);
  const auto opened = m_tracker->open_issue(repo(k_repo), "Follow-up", "", {"afk:follow-up"});
  EXPECT_TRUE(m_github.issue(k_repo, opened.number)->labels.empty())
      << "GitHub drops the labels silently";
  EXPECT_NO_THROW((void)m_tracker->create_comment(ref(n), "still allowed"));
}

// ---- the checks stage
// -----------------------------------------------------------------------------

class FakeGitHubChecksTest : public FakeGitHubTest {
protected:
  Verdict verdict(std::string_view sha) {
    const auto stage = afk::make_github_checks_stage(*m_http, "https://github.com");
    afk::RepoDeploySettings settings;
    settings.stages = {afk::StageType::github_checks};
    settings.missing_grace = afk::Seconds(600);
    const afk::StageContext context{
        .now = m_clock.now(), .pushed_at = m_clock.now(), .settings = settings};
    return stage->check(repo(k_repo), sha, context).verdict;
  }
};

TEST_F(FakeGitHubChecksTest, RunsAndStatusesDecideTheVerdict) {
  const std::string sha(k_sha);
  m_github.add_commit(k_repo, sha);
  EXPECT_EQ(verdict(sha), Verdict::pending) << "nothing reported yet, within the grace";

  const auto build = m_github.add_check_run(k_repo, sha, "build", "queued");
  EXPECT_EQ(verdict(sha), Verdict::pending);
  m_github.update_check_run(k_repo, build, "completed", "failure");
  EXPECT_EQ(verdict(sha), Verdict::red);
  (void)m_github.add_check_run(k_repo, sha, "build", "completed", "success"); // a re-run
  EXPECT_EQ(verdict(sha), Verdict::green);

  m_github.set_commit_status(k_repo, sha, "ci/deploy", "pending");
  EXPECT_EQ(verdict(sha), Verdict::pending);
  m_github.set_commit_status(k_repo, sha, "ci/deploy", "failure");
  EXPECT_EQ(verdict(sha), Verdict::red);
  m_github.set_commit_status(k_repo, sha, "ci/deploy", "success");
  EXPECT_EQ(verdict(sha), Verdict::green);

  auto client = raw();
  const auto all =
      client.Get("/repos/acme/api/commits/" + sha + "/check-runs?filter=all", headers());
  ASSERT_TRUE(all);
  EXPECT_EQ(json::parse(all->body)["total_count"], 2);
  const auto combined = client.Get("/repos/acme/api/commits/" + sha + "/status", headers());
  ASSERT_TRUE(combined);
  const auto status = json::parse(combined->body);
  EXPECT_EQ(status["state"], "success");
  EXPECT_EQ(status["total_count"], 1) << "the newest status per context";
}

TEST_F(FakeGitHubChecksTest, AnUnknownCommitIs422) {
  EXPECT_THROW((void)verdict(k_other_sha), afk::Error);
  auto client = raw();
  const auto answer =
      client.Get("/repos/acme/api/commits/" + std::string(k_other_sha) + "/status", headers());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 422);
  EXPECT_EQ(json::parse(answer->body)["message"],
            "No commit found for SHA: " + std::string(k_other_sha));
}

// ---- a bare repository behind the fake
// -------------------------------------------------------------

std::string shell(const std::string& command) {
  std::array<char, 256> buffer{};
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    throw std::runtime_error("popen failed");
  }
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) {
    out += buffer.data();
  }
  if (::pclose(pipe) != 0) {
    throw std::runtime_error(command + ": " + out);
  }
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

TEST_F(FakeGitHubChecksTest, MirrorsABareRepositoryLooseAndPacked) {
  const fs::path bare = m_dir / "origin.git";
  const fs::path work = m_dir / "work";
  const std::string git =
      "git -c user.name=Agent -c user.email=agent@example.com -c init.defaultBranch=main ";
  shell(git + "init -q --bare " + bare.string());
  shell(git + "clone -q " + bare.string() + " " + work.string());
  shell("echo one > " + (work / "file").string());
  shell(git + "-C " + work.string() + " add file");
  shell(git + "-C " + work.string() + " commit -q -m one");
  shell(git + "-C " + work.string() + " push -q origin main");
  const std::string first = shell(git + "-C " + work.string() + " rev-parse HEAD");
  m_github.mirror_git(k_repo, bare);

  EXPECT_EQ(m_tracker->branch_head(repo(k_repo), "main"), first);
  EXPECT_EQ(verdict(first), Verdict::pending) << "a known commit without checks";

  shell("echo two > " + (work / "file").string());
  shell(git + "-C " + work.string() + " commit -q -am two");
  shell(git + "-C " + work.string() + " push -q origin main");
  const std::string second = shell(git + "-C " + work.string() + " rev-parse HEAD");
  shell(git + "-C " + bare.string() + " gc -q"); // packs objects and refs
  ASSERT_FALSE(fs::exists(bare / "refs/heads/main")) << "the ref is packed";

  EXPECT_EQ(m_tracker->branch_head(repo(k_repo), "main"), second);
  EXPECT_EQ(verdict(first), Verdict::pending) << "found in the pack index";
  EXPECT_THROW((void)verdict(k_other_sha), afk::Error);
}

// ---- strictness and wire shapes
// --------------------------------------------------------------------

json error_body(std::string_view message, int status) {
  return {{"message", message},
          {"documentation_url", "https://docs.github.com/rest"},
          {"status", std::to_string(status)}};
}

TEST_F(FakeGitHubTest, RejectsWrongCredentialsAndHeaders) {
  (void)m_github.open_issue(k_repo, "Work", "", {});
  auto client = raw();

  auto answer = client.Get("/repos/acme/api/issues/1", headers("ghp-wrong"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 401);
  EXPECT_EQ(json::parse(answer->body), error_body("Bad credentials", 401));
  EXPECT_EQ(answer->get_header_value("Content-Type"), "application/json; charset=utf-8");

  auto h = headers();
  h.erase("Authorization");
  answer = client.Get("/repos/acme/api/issues/1", h);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 401);
  EXPECT_EQ(json::parse(answer->body)["message"], "Requires authentication");

  h = headers();
  h.erase("Authorization");
  h.emplace("Authorization", "token " + std::string(k_token));
  answer = client.Get("/repos/acme/api/issues/1", h);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << "GitHub takes the token scheme too";

  h = headers();
  h.erase("X-GitHub-Api-Version");
  answer = client.Get("/repos/acme/api/issues/1", h);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400);
  h.emplace("X-GitHub-Api-Version", "v3");
  answer = client.Get("/repos/acme/api/issues/1", h);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400);
  EXPECT_NE(json::parse(answer->body)["message"].get<std::string>().find(
                "\"v3\", is not a supported version"),
            std::string::npos);

  h = headers();
  h.erase("Accept");
  h.emplace("Accept", "text/html");
  answer = client.Get("/repos/acme/api/issues/1", h);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 415);

  // Through afk's client: 401 is a config error.
  std::ofstream(m_dir / "token") << "ghp-rotated-away\n";
  EXPECT_EQ(kind_of([&] { (void)m_tracker->get_issue(ref(1)); }), ErrorKind::config);
}

TEST_F(FakeGitHubTest, RejectsBadBodiesAsGitHubDoes) {
  const auto n = m_github.open_issue(k_repo, "Work", "", {});
  auto client = raw();
  const std::string labels = "/repos/acme/api/issues/" + std::to_string(n) + "/labels";

  auto answer = client.Post(labels, headers(), R"({"labels": [)", "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400);
  EXPECT_EQ(json::parse(answer->body), error_body("Problems parsing JSON", 400));

  answer = client.Post(labels, headers(), R"({"labels": "ready-for-agent"})", "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 422);
  EXPECT_TRUE(json::parse(answer->body)["message"].get<std::string>().starts_with(
      "Invalid request.\n\nFor 'properties/labels'"));

  answer = client.Post(labels, headers(), R"({"labels": [""]})", "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 422);
  auto body = json::parse(answer->body);
  EXPECT_EQ(body["message"], "Validation Failed");
  EXPECT_EQ(body["errors"],
            json::parse(R"([{"resource":"Label","code":"invalid","field":"name"}])"));

  answer = client.Post("/repos/acme/api/issues", headers(), R"({"title": ""})", "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 422);
  EXPECT_EQ(json::parse(answer->body)["errors"][0]["field"], "title");

  answer = client.Post("/repos/acme/api/issues/" + std::to_string(n) + "/comments", headers(),
                       R"({"body": 7})", "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 422);

  answer = client.Post("/repos/acme/api/issues/" + std::to_string(n) + "/comments", headers(),
                       json{{"body", std::string(65537, 'x')}}.dump(), "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 422) << "GitHub's 65536-character limit";

  answer = client.Patch("/repos/acme/api/issues/" + std::to_string(n), headers(),
                        R"({"state": "done"})", "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 422);

  answer = client.Delete(labels + "/never-there", headers());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 404);
  EXPECT_EQ(json::parse(answer->body), error_body("Label does not exist", 404));

  for (const std::string path : {"/repos/acme/nope/issues", "/repos/acme/api/pulls", "/user"}) {
    answer = client.Get(path, headers());
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 404) << path;
    EXPECT_EQ(json::parse(answer->body), error_body("Not Found", 404)) << path;
  }
  EXPECT_TRUE(m_github.issue(k_repo, n)->labels.empty()) << "nothing was applied";
}

TEST_F(FakeGitHubTest, CreatedCommentsAndLabelsHaveGitHubsShape) {
  const auto n = m_github.open_issue(k_repo, "Work", "", {});
  auto client = raw();
  const std::string issue = "/repos/acme/api/issues/" + std::to_string(n);

  auto answer =
      client.Post(issue + "/comments", headers(), R"({"body":"hello"})", "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 201);
  const auto comment = json::parse(answer->body);
  EXPECT_EQ(answer->get_header_value("Location"),
            m_github.url() + "/repos/acme/api/issues/comments/" +
                std::to_string(comment["id"].get<std::int64_t>()));
  EXPECT_EQ(comment["user"]["login"], "afk-bot");
  EXPECT_EQ(comment["user"]["type"], "User");
  EXPECT_EQ(comment["body"], "hello");
  EXPECT_EQ(comment["created_at"], "2026-03-01T10:00:00Z");
  EXPECT_EQ(comment["updated_at"], "2026-03-01T10:00:00Z");
  EXPECT_EQ(comment["html_url"], "https://github.com/acme/api/issues/" + std::to_string(n) +
                                     "#issuecomment-" +
                                     std::to_string(comment["id"].get<std::int64_t>()));

  answer = client.Post(issue + "/labels", headers(), R"(["bug", {"name": "Bug"}, "p1"])",
                       "application/json");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  const auto labels = json::parse(answer->body);
  ASSERT_EQ(labels.size(), 2U) << "label names ignore case";
  EXPECT_EQ(labels[0]["name"], "bug");
  EXPECT_TRUE(labels[0]["id"].is_number_integer());
  EXPECT_EQ(labels[1]["name"], "p1");

  answer = client.Get(issue + "/events", headers());
  ASSERT_TRUE(answer);
  const auto events = json::parse(answer->body);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_LT(events[0]["id"], events[1]["id"]);
  EXPECT_EQ(events[0]["actor"]["login"], "afk-bot");
  EXPECT_EQ(events[0]["label"]["name"], "bug");
  EXPECT_TRUE(events[0]["performed_via_github_app"].is_null());
  EXPECT_GT(comment["id"], 0);
  EXPECT_LT(comment["id"], events[0]["id"]) << "one id counter, increasing";
}

TEST_F(FakeGitHubTest, FaultsAreRetriedOrSurfaced) {
  const auto n = m_github.open_issue(k_repo, "Work", "", {"ready-for-agent"});
  m_github.fail_next("/repos/acme/api/issues", 502, 1);
  EXPECT_EQ(numbers(m_tracker->list_open_issues(repo(k_repo), "ready-for-agent")),
            (std::vector<std::int64_t>{n}));
  auto seen = m_github.requests();
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0].status, 502);
  EXPECT_EQ(seen[1].status, 200);

  m_github.fail_next("/repos/acme/api/issues/1", 503, 10);
  EXPECT_EQ(kind_of([&] { (void)m_tracker->get_issue(ref(n)); }), ErrorKind::transient);

  m_github.set_delay(60ms);
  const auto start = std::chrono::steady_clock::now();
  (void)m_tracker->permission(repo(k_repo), "afk-bot");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);
}

TEST_F(FakeGitHubTest, WorldBuildingRefusesWhatGitHubCannotHold) {
  EXPECT_THROW(m_github.add_repo("no-slash"), std::invalid_argument);
  EXPECT_THROW(m_github.add_repo(k_repo), std::invalid_argument);
  EXPECT_THROW((void)m_github.open_issue("acme/missing", "t", "b", {}), std::invalid_argument);
  EXPECT_THROW(m_github.label_issue(k_repo, 5, "x", "alice"), std::invalid_argument);
  EXPECT_THROW(m_github.set_permission(k_repo, "alice", "owner"), std::invalid_argument);
  EXPECT_THROW((void)m_github.add_check_run(k_repo, std::string(k_sha), "b", "completed"),
               std::invalid_argument);
  EXPECT_THROW((void)m_github.add_check_run(k_repo, "main", "b", "queued"), std::invalid_argument);
  EXPECT_THROW(m_github.set_commit_status(k_repo, std::string(k_sha), "c", "green"),
               std::invalid_argument);
  EXPECT_FALSE(m_github.issue(k_repo, 1).has_value());
}

} // namespace
