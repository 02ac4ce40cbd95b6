// SPDX-License-Identifier: MIT
// The GitHub checks stage against a strict loopback GitHub serving check runs and the
// combined commit status in the shapes of GitHub's REST description, with Link paging.
#include "support/loopback_server.hpp"

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

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afk::StageType;
using afk::Timestamp;
using afk::Verdict;
using nlohmann::json;

constexpr std::string_view k_token = "ghp-CHECKS-SECRET-51f0";
constexpr std::string_view k_api_version = "2022-11-28";
constexpr std::string_view k_docs = "https://docs.github.com/rest";
constexpr std::string_view k_sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

Timestamp time_of(std::string_view text) {
  return *afk::parse_timestamp(text);
}

json app_json() {
  return {{"id", 15368},
          {"slug", "github-actions"},
          {"node_id", "MDM6QXBwMTUzNjg="},
          {"owner", {{"login", "github"}, {"id", 9919}, {"type", "Organization"}}},
          {"name", "GitHub Actions"},
          {"description", "Automate your workflow from idea to production"},
          {"external_url", "https://help.github.com/en/actions"},
          {"html_url", "https://github.com/apps/github-actions"},
          {"created_at", "2018-07-30T09:30:17Z"},
          {"updated_at", "2019-12-10T19:04:12Z"},
          {"permissions", {{"checks", "write"}}},
          {"events", json::array({"check_run"})}};
}

// A check run as GET /repos/{o}/{r}/commits/{ref}/check-runs lists it.
json check_run(std::int64_t id, std::string_view name, std::string_view status,
               std::optional<std::string_view> conclusion, std::int64_t suite = 5) {
  const bool done = status == "completed";
  return {{"id", id},
          {"head_sha", k_sha},
          {"node_id", "CR_kwDOAbCd" + std::to_string(id)},
          {"external_id", ""},
          {"url", "https://api.github.com/repos/acme/api/check-runs/" + std::to_string(id)},
          {"html_url", "https://github.com/acme/api/runs/" + std::to_string(id)},
          {"details_url", "https://github.com/acme/api/actions/runs/99/job/" + std::to_string(id)},
          {"status", status},
          {"conclusion", conclusion ? json(*conclusion) : json(nullptr)},
          {"started_at", "2026-03-01T11:50:00Z"},
          {"completed_at", done ? json("2026-03-01T11:55:00Z") : json(nullptr)},
          {"output",
           {{"title", nullptr},
            {"summary", nullptr},
            {"text", nullptr},
            {"annotations_count", 0},
            {"annotations_url", "https://api.github.com/repos/acme/api/check-runs/" +
                                    std::to_string(id) + "/annotations"}}},
          {"name", name},
          {"check_suite", {{"id", suite}}},
          {"app", app_json()},
          {"pull_requests", json::array()}};
}

// A status as the combined status lists it.
json commit_status(std::string_view context, std::string_view state) {
  return {{"url", "https://api.github.com/repos/acme/api/statuses/" + std::string(k_sha)},
          {"avatar_url", "https://avatars.githubusercontent.com/oa/4808?v=4"},
          {"id", 1},
          {"node_id", "SC_kwDOAbCd"},
          {"state", state},
          {"description", "Build " + std::string(state)},
          {"target_url", "https://ci.example.com/build/" + std::string(context)},
          {"context", context},
          {"created_at", "2026-03-01T11:51:00Z"},
          {"updated_at", "2026-03-01T11:52:00Z"}};
}

struct Seen {
  std::string path;
  std::string query;
};

// GitHub's checks and statuses for acme/api: strict about headers, paged with Link, with
// GitHub's error bodies.
class FakeGitHub {
public:
  [[nodiscard]] std::string url() const { return m_server.url(); }

  template <class Edit> void edit(Edit edit) {
    const std::lock_guard lock(m_mutex);
    edit(*this);
  }
  [[nodiscard]] std::vector<Seen> seen() const {
    const std::lock_guard lock(m_mutex);
    return m_seen;
  }

  std::map<std::string, json> check_runs; ///< by SHA; a SHA absent from both maps is unknown
  std::map<std::string, json> statuses;
  std::size_t page_cap = 100;
  int failures = 0;                   ///< 500s to answer before anything else
  bool garbage = false;               ///< answer 200 with a body that is not JSON
  std::chrono::milliseconds delay{0}; ///< stall every answer this long

private:
  static void reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json; charset=utf-8");
  }
  static void error(httplib::Response& res, int status, std::string_view message) {
    reply(res, status, {{"message", message}, {"documentation_url", k_docs}});
  }

  // One page of `items`, wrapped by `wrap`, with GitHub's Link header.
  void page(const httplib::Request& req, httplib::Response& res, const std::string& path,
            const json& items, const std::function<json(json)>& wrap) const {
    std::size_t per_page = 30;
    std::size_t index = 1;
    std::string kept;
    for (const auto& [key, value] : req.params) {
      if (key == "per_page") {
        per_page = std::stoul(value);
      }
      if (key == "page") {
        index = std::stoul(value);
      } else {
        kept += (kept.empty() ? "" : "&") + key + "=" + value;
      }
    }
    per_page = std::min(per_page, page_cap);
    const std::size_t count = items.size();
    const std::size_t last = std::max<std::size_t>(1, (count + per_page - 1) / per_page);
    json slice = json::array();
    for (std::size_t i = (index - 1) * per_page; i < std::min(count, index * per_page); ++i) {
      slice.push_back(items[i]);
    }
    std::string links;
    const auto add = [&](std::size_t n, std::string_view rel) {
      links += (links.empty() ? "" : ", ") + std::string("<http://") +
               req.get_header_value("Host") + path + "?" + kept + "&page=" + std::to_string(n) +
               ">; rel=\"" + std::string(rel) + "\"";
    };
    if (index > 1) {
      add(index - 1, "prev");
    }
    if (index < last) {
      add(index + 1, "next");
      add(last, "last");
    }
    if (!links.empty()) {
      res.set_header("Link", links);
    }
    reply(res, 200, wrap(slice));
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    const std::string path = req.target.substr(0, req.target.find('?'));
    const std::string query = req.target.find('?') == std::string::npos
                                  ? ""
                                  : req.target.substr(req.target.find('?') + 1);
    m_seen.push_back({path, query});
    if (delay > 0ms) {
      std::this_thread::sleep_for(delay);
    }
    if (req.get_header_value("Authorization") != "Bearer " + std::string(k_token)) {
      error(res, 401, "Bad credentials");
      return;
    }
    if (req.get_header_value("Accept") != "application/vnd.github+json") {
      error(res, 415, "Unsupported 'Accept' header");
      return;
    }
    if (req.get_header_value("X-GitHub-Api-Version") != k_api_version) {
      error(res, 400, "Invalid API version provided");
      return;
    }
    if (req.method != "GET") {
      error(res, 404, "Not Found");
      return;
    }
    if (failures > 0) {
      --failures;
      error(res, 502, "Server Error");
      return;
    }
    if (garbage) {
      res.status = 200;
      res.set_content("<html>unicorn</html>", "text/html");
      return;
    }
    const std::string prefix = "/repos/acme/api/commits/";
    if (!path.starts_with(prefix)) {
      error(res, 404, "Not Found");
      return;
    }
    const std::string rest = path.substr(prefix.size());
    const std::string sha = rest.substr(0, rest.find('/'));
    const std::string what = rest.substr(sha.size());
    if (!check_runs.contains(sha) && !statuses.contains(sha)) {
      error(res, 422, "No commit found for SHA: " + sha);
      return;
    }
    if (what == "/check-runs") {
      const json runs = check_runs.contains(sha) ? check_runs[sha] : json::array();
      const std::size_t total = runs.size();
      page(req, res, path, runs, [total](json slice) {
        return json{{"total_count", total}, {"check_runs", std::move(slice)}};
      });
    } else if (what == "/status") {
      const json list = statuses.contains(sha) ? statuses[sha] : json::array();
      // GitHub's combined state: failure on any error/failure, pending on any pending or
      // with no status at all, success otherwise.
      std::string state = list.empty() ? "pending" : "success";
      for (const auto& s : list) {
        if (s["state"] == "failure" || s["state"] == "error") {
          state = "failure";
        } else if (s["state"] == "pending" && state != "failure") {
          state = "pending";
        }
      }
      const std::size_t total = list.size();
      page(req, res, path, list, [&, total](json slice) {
        return json{{"state", state},
                    {"statuses", std::move(slice)},
                    {"sha", sha},
                    {"total_count", total},
                    {"repository", {{"id", 1296269}, {"full_name", "acme/api"}}},
                    {"commit_url", "https://api.github.com/repos/acme/api/commits/" + sha},
                    {"url", "https://api.github.com/repos/acme/api/commits/" + sha + "/status"}};
      });
    } else {
      error(res, 404, "Not Found");
    }
  }

  mutable std::mutex m_mutex;
  std::vector<Seen> m_seen;
  afk::test::LoopbackServer m_server{[this](const httplib::Request& req, httplib::Response& res) {
    const std::lock_guard lock(m_mutex);
    handle(req, res);
  }};
};

class MovableClock final : public afk::Clock {
public:
  [[nodiscard]] Timestamp now() const override { return at; }
  Timestamp at = time_of("2026-03-01T12:00:00Z");
};

class GithubChecksTest : public ::testing::Test {
protected:
  GithubChecksTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() /
            ("afk-checks-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::create_directories(m_dir);
    std::ofstream(m_dir / "token") << k_token << "\n";
    m_config.api_url = m_github.url();
    m_config.token_file = m_dir / "token";
    m_transport = afk::make_curl_transport({.total_timeout = 400ms});
    auto options = afk::github_http_options(m_config);
    options.retry.max_attempts = 2;
    m_http = std::make_unique<afk::HttpClient>(*m_transport, options, m_log, m_clock,
                                               [](std::chrono::milliseconds) {});
    m_settings.stages = {StageType::github_checks};
    m_settings.missing_grace = 10min;
  }
  ~GithubChecksTest() override { fs::remove_all(m_dir); }

  std::unique_ptr<afk::DeployWatcher> watcher(afk::HttpClient& http) {
    afk::DeployStages stages;
    stages[StageType::github_checks] = afk::make_github_checks_stage(http, "https://github.com");
    return afk::make_deploy_watcher(
        std::move(stages), [this](const afk::RepoName&) { return m_settings; }, m_clock, m_log);
  }
  afk::ShaVerdict verdict(Timestamp pushed_at) {
    return watcher(*m_http)->verdict(*afk::RepoName::parse("acme/api"), k_sha, pushed_at);
  }
  afk::ShaVerdict verdict() { return verdict(m_clock.at - 2min); }

  void runs(json list) {
    m_github.edit([&](FakeGitHub& gh) { gh.check_runs[std::string(k_sha)] = std::move(list); });
  }
  void statuses(json list) {
    m_github.edit([&](FakeGitHub& gh) { gh.statuses[std::string(k_sha)] = std::move(list); });
  }

  FakeGitHub m_github;
  fs::path m_dir;
  afk::TrackerConfig m_config;
  afk::NullLogger m_log;
  MovableClock m_clock;
  afk::RepoDeploySettings m_settings;
  std::unique_ptr<afk::HttpTransport> m_transport;
  std::unique_ptr<afk::HttpClient> m_http;
};

TEST_F(GithubChecksTest, FakeRejectsWrongCredentialsAndTheStageIsUnknown) {
  runs(json::array({check_run(1, "build", "completed", "success")}));
  std::ofstream(m_dir / "token") << "ghp-wrong\n";
  const auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  ASSERT_EQ(v.stages.size(), 1U);
  EXPECT_NE(v.stages[0].detail.find("cannot read github_checks"), std::string::npos)
      << v.stages[0].detail;
  EXPECT_EQ(v.stages[0].detail.find("ghp-"), std::string::npos) << "no token in the detail";

  std::ofstream(m_dir / "token") << k_token << "\n";
  auto options = afk::github_http_options(m_config);
  options.default_headers = {{"Accept", "application/vnd.github+json"}};
  afk::HttpClient unversioned(*m_transport, options, m_log, m_clock,
                              [](std::chrono::milliseconds) {});
  EXPECT_EQ(
      watcher(unversioned)->verdict(*afk::RepoName::parse("acme/api"), k_sha, m_clock.at).verdict,
      Verdict::unknown);
  EXPECT_EQ(verdict().verdict, Verdict::green);
}

TEST_F(GithubChecksTest, MapsEveryCheckRunStatusAndConclusionFromTheWire) {
  struct Row {
    std::string_view status;
    std::optional<std::string_view> conclusion;
    Verdict expected;
  };
  const std::vector<Row> rows = {
      {"queued", std::nullopt, Verdict::pending},
      {"in_progress", std::nullopt, Verdict::pending},
      {"waiting", std::nullopt, Verdict::pending},
      {"requested", std::nullopt, Verdict::pending},
      {"pending", std::nullopt, Verdict::pending},
      {"completed", "success", Verdict::green},
      {"completed", "neutral", Verdict::green},
      {"completed", "skipped", Verdict::green},
      {"completed", "failure", Verdict::red},
      {"completed", "timed_out", Verdict::red},
      {"completed", "cancelled", Verdict::red},
      {"completed", "action_required", Verdict::red},
      {"completed", "stale", Verdict::red},
      {"completed", "startup_failure", Verdict::red},
      {"completed", std::nullopt, Verdict::unknown},
      {"completed", "something_new", Verdict::unknown},
  };
  for (const auto& row : rows) {
    runs(json::array({check_run(1, "build", "completed", "success"),
                      check_run(2, "test", row.status, row.conclusion)}));
    const auto v = verdict();
    EXPECT_EQ(v.verdict, row.expected) << row.status << "/" << row.conclusion.value_or("null");
    ASSERT_EQ(v.stages.size(), 1U);
    if (row.expected != Verdict::green) {
      EXPECT_NE(
          v.stages[0].detail.find("test (" + std::string(row.conclusion.value_or(row.status))),
          std::string::npos)
          << v.stages[0].detail;
      EXPECT_EQ(v.stages[0].url, "https://github.com/acme/api/runs/2");
    }
  }
}

TEST_F(GithubChecksTest, ReadsEveryPageOfCheckRuns) {
  json list = json::array();
  for (std::int64_t id = 1; id <= 250; ++id) {
    list.push_back(check_run(id, "job-" + std::to_string(id), "completed", "success"));
  }
  list[240] = check_run(241, "job-241", "completed", "failure");
  runs(list);
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.stages[0].detail, "failing: job-241 (failure) https://github.com/acme/api/runs/241");
  std::set<std::string> pages;
  for (const auto& seen : m_github.seen()) {
    if (seen.path.ends_with("/check-runs")) {
      pages.insert(seen.query);
    }
  }
  EXPECT_EQ(pages.size(), 3U);

  list[240] = check_run(241, "job-241", "completed", "success");
  runs(list);
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::green);
  EXPECT_EQ(v.stages[0].detail, "250 checks passed");
}

TEST_F(GithubChecksTest, CommitStatusesCountAcrossEveryPage) {
  m_github.edit([](FakeGitHub& gh) { gh.page_cap = 2; });
  runs(json::array());
  statuses(json::array({commit_status("ci/a", "success"), commit_status("ci/b", "success"),
                        commit_status("ci/c", "success"), commit_status("ci/d", "success"),
                        commit_status("ci/e", "error")}));
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.stages[0].detail, "failing: ci/e (error) https://ci.example.com/build/ci/e");

  for (const auto& [state, expected] : std::vector<std::pair<std::string, Verdict>>{
           {"failure", Verdict::red}, {"pending", Verdict::pending}, {"success", Verdict::green}}) {
    statuses(json::array({commit_status("ci/a", "success"), commit_status("ci/b", "success"),
                          commit_status("ci/c", "success"), commit_status("ci/d", "success"),
                          commit_status("ci/e", state)}));
    EXPECT_EQ(verdict().verdict, expected) << state;
  }
}

TEST_F(GithubChecksTest, NoChecksIsPendingThenMissingAfterTheGrace) {
  runs(json::array());
  statuses(json::array()); // GitHub says state "pending", total_count 0: nothing reported
  auto v = verdict(m_clock.at - 9min);
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.stages[0].detail, "no checks reported yet for 6dcb09b5b578");
  EXPECT_EQ(v.stages[0].url, "https://github.com/acme/api/commit/" + std::string(k_sha));
  v = verdict(m_clock.at - 10min);
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.stages[0].detail, "no checks reported for 6dcb09b5b578 within 10m");
}

TEST_F(GithubChecksTest, TheNewestRunOfACheckCounts) {
  // A failed job re-run green in the same check suite: GitHub may list both.
  runs(json::array({check_run(30, "test", "completed", "success"),
                    check_run(10, "test", "completed", "failure")}));
  EXPECT_EQ(verdict().verdict, Verdict::green);
  // A green job re-run and now failing.
  runs(json::array({check_run(10, "test", "completed", "success"),
                    check_run(30, "test", "completed", "failure")}));
  EXPECT_EQ(verdict().verdict, Verdict::red);
  // Two workflows with a job of the same name are two checks.
  runs(json::array({check_run(10, "build", "completed", "success", 5),
                    check_run(11, "build", "completed", "failure", 6)}));
  EXPECT_EQ(verdict().verdict, Verdict::red);
}

TEST_F(GithubChecksTest, OnlyRequiredChecksCount) {
  m_settings.required_checks = {"build", "ci/deploy-gate"};
  runs(json::array({check_run(1, "build", "completed", "success"),
                    check_run(2, "optional-lint", "completed", "failure")}));
  statuses(json::array());
  auto v = verdict(m_clock.at - 1min);
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.stages[0].detail, "not reported yet: ci/deploy-gate");
  v = verdict(m_clock.at - 30min);
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.stages[0].detail, "missing: ci/deploy-gate");

  statuses(json::array({commit_status("ci/deploy-gate", "success")}));
  v = verdict(m_clock.at - 30min);
  EXPECT_EQ(v.verdict, Verdict::green);
  EXPECT_EQ(v.stages[0].detail, "2 checks passed");
}

TEST_F(GithubChecksTest, RegressesWhenACheckFailsAfterBeingGreen) {
  runs(json::array({check_run(1, "build", "completed", "success")}));
  EXPECT_EQ(verdict().verdict, Verdict::green);
  // Someone re-runs the suite; the new attempt fails.
  runs(json::array({check_run(1, "build", "completed", "success"),
                    check_run(2, "build", "in_progress", std::nullopt)}));
  EXPECT_EQ(verdict().verdict, Verdict::pending);
  runs(json::array({check_run(1, "build", "completed", "success"),
                    check_run(2, "build", "completed", "timed_out")}));
  EXPECT_EQ(verdict().verdict, Verdict::red);
}

TEST_F(GithubChecksTest, ServerErrorsGarbageTimeoutsAndUnknownCommitsAreUnknown) {
  runs(json::array({check_run(1, "build", "completed", "success")}));
  m_github.edit([](FakeGitHub& gh) { gh.failures = 2; }); // both attempts fail
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("502"), std::string::npos) << v.stages[0].detail;

  m_github.edit([](FakeGitHub& gh) { gh.failures = 1; }); // the retry succeeds
  EXPECT_EQ(verdict().verdict, Verdict::green);

  m_github.edit([](FakeGitHub& gh) { gh.garbage = true; });
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("not valid JSON"), std::string::npos) << v.stages[0].detail;
  m_github.edit([](FakeGitHub& gh) { gh.garbage = false; });

  m_github.edit([](FakeGitHub& gh) { gh.delay = 700ms; });
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  m_github.edit([](FakeGitHub& gh) { gh.delay = 0ms; });

  m_github.edit([](FakeGitHub& gh) { gh.check_runs.clear(); });
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown) << "422 No commit found for SHA";
  EXPECT_NE(v.stages[0].detail.find("422"), std::string::npos) << v.stages[0].detail;
}

TEST_F(GithubChecksTest, WrongShapesAreUnknownNotGreen) {
  json broken = check_run(1, "build", "completed", "success");
  broken.erase("name");
  runs(json::array({broken}));
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("\"name\" is missing"), std::string::npos)
      << v.stages[0].detail;

  broken = check_run(1, "build", "completed", "success");
  broken["status"] = 3;
  runs(json::array({broken}));
  EXPECT_EQ(verdict().verdict, Verdict::unknown);
}

TEST_F(GithubChecksTest, RefusesAShaThatIsNotACommitId) {
  const auto stage = afk::make_github_checks_stage(*m_http, "https://github.com");
  const afk::StageContext context{
      .now = m_clock.at, .pushed_at = m_clock.at, .settings = m_settings};
  EXPECT_THROW((void)stage->check(*afk::RepoName::parse("acme/api"), "../../x", context),
               afk::Error);
  EXPECT_TRUE(m_github.seen().empty());
}

} // namespace
