// SPDX-License-Identifier: MIT
// The Woodpecker stage against a strict loopback Woodpecker serving the shapes of its
// swagger (v3.17.0): repository lookup, then pipelines newest first, paged by page/perPage.
#include "support/loopback_server.hpp"

#include <afk/deploy.hpp>
#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/log.hpp>
#include <afk/time.hpp>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
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

constexpr std::string_view k_token = "wp-TOKEN-SECRET-88aa";
constexpr std::string_view k_sha = "9f2c4e1a7b3d5f60819a2b3c4d5e6f708192a3b4";
constexpr std::int64_t k_repo_id = 7;

std::string other_sha(std::int64_t n) {
  std::string sha = "0000000000000000000000000000000000000000";
  const std::string digits = std::to_string(n);
  sha.replace(sha.size() - digits.size(), digits.size(), digits);
  return sha;
}

// A pipeline as GET /api/repos/{repo_id}/pipelines lists it.
json pipeline(std::int64_t number, std::string_view commit, std::string_view status,
              std::string_view event = "push", std::string_view deploy_to = "") {
  const std::int64_t created = 1772366400 + number * 60;
  return {{"id", 1000 + number},
          {"number", number},
          {"author", "alice"},
          {"parent", 0},
          {"event", event},
          {"event_reason", json::array()},
          {"status", status},
          {"errors", json::array()},
          {"created", created},
          {"updated", created + 30},
          {"started", created + 5},
          {"finished", status == "running" || status == "pending" ? 0 : created + 120},
          {"deploy_to", deploy_to},
          {"deploy_task", ""},
          {"commit", commit},
          {"branch", "main"},
          {"ref", "refs/heads/main"},
          {"refspec", ""},
          {"title", ""},
          {"message", "Change " + std::to_string(number)},
          {"timestamp", created},
          {"sender", "alice"},
          {"author_avatar", "https://forge.example/avatars/alice"},
          {"author_email", "alice@example.com"},
          {"forge_url", "https://forge.example/acme/api/commit/" + std::string(commit)},
          {"reviewed_by", ""},
          {"reviewed", 0},
          {"changed_files", json::array({"src/main.cpp"})},
          {"variables", json::object()},
          {"pr_labels", json::array()},
          {"from_fork", false}};
}

json repo_json() {
  return {{"id", k_repo_id},
          {"forge_id", 1},
          {"forge_remote_id", "4411"},
          {"org_id", 3},
          {"owner", "acme"},
          {"name", "api"},
          {"full_name", "acme/api"},
          {"avatar_url", "https://forge.example/avatars/acme"},
          {"forge_url", "https://forge.example/acme/api"},
          {"clone_url", "https://forge.example/acme/api.git"},
          {"default_branch", "main"},
          {"private", false},
          {"trusted", {{"network", false}, {"security", false}, {"volumes", false}}},
          {"active", true},
          {"allow_pr", true},
          {"allow_deploy", true},
          {"config_file", ".woodpecker"}};
}

struct Seen {
  std::string path;
  std::string query;
};

class FakeWoodpecker {
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
  void forget() {
    const std::lock_guard lock(m_mutex);
    m_seen.clear();
  }

  std::vector<json> pipelines; ///< of acme/api, any order; served newest first
  int failures = 0;
  bool garbage = false;
  std::chrono::milliseconds delay{0};

private:
  static void text(httplib::Response& res, int status, std::string_view body) {
    res.status = status;
    res.set_content(std::string(body), "text/plain; charset=utf-8");
  }
  static std::optional<std::size_t> positive(const httplib::Request& req, const char* key) {
    if (!req.has_param(key)) {
      return std::nullopt;
    }
    const std::string value = req.get_param_value(key);
    if (value.empty() || value.size() > 6 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(value) == 0) {
      return std::nullopt;
    }
    return std::stoul(value);
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
      text(res, 401, "Unauthorized");
      return;
    }
    if (failures > 0) {
      --failures;
      text(res, 500, "Internal Server Error");
      return;
    }
    if (garbage) {
      text(res, 200, "<!doctype html><title>Woodpecker</title>");
      return;
    }
    if (req.method != "GET") {
      text(res, 405, "405 method not allowed");
      return;
    }
    if (path == "/api/repos/lookup/acme/api") {
      res.status = 200;
      res.set_content(repo_json().dump(), "application/json; charset=utf-8");
      return;
    }
    if (path.starts_with("/api/repos/lookup/")) {
      text(res, 404, "Not Found");
      return;
    }
    if (path == "/api/repos/" + std::to_string(k_repo_id) + "/pipelines") {
      const auto page = req.has_param("page") ? positive(req, "page") : std::size_t{1};
      const auto per_page = req.has_param("perPage") ? positive(req, "perPage") : std::size_t{50};
      if (!page || !per_page) {
        text(res, 400, "Error parsing pagination");
        return;
      }
      std::vector<json> sorted = pipelines;
      std::sort(sorted.begin(), sorted.end(),
                [](const json& a, const json& b) { return a["number"] > b["number"]; });
      const std::size_t size = std::min<std::size_t>(*per_page, 50);
      json slice = json::array();
      for (std::size_t i = (*page - 1) * size; i < std::min(sorted.size(), *page * size); ++i) {
        slice.push_back(sorted[i]);
      }
      res.status = 200;
      res.set_content(slice.dump(), "application/json; charset=utf-8");
      return;
    }
    text(res, 404, "404 page not found");
  }

  mutable std::mutex m_mutex;
  std::vector<Seen> m_seen;
  afk::test::LoopbackServer m_server{[this](const httplib::Request& req, httplib::Response& res) {
    const std::lock_guard lock(m_mutex);
    handle(req, res);
  }};
};

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] Timestamp now() const override {
    return *afk::parse_timestamp("2026-03-01T12:00:00Z");
  }
};

class WoodpeckerTest : public ::testing::Test {
protected:
  WoodpeckerTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() /
            ("afk-woodpecker-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::create_directories(m_dir);
    std::ofstream(m_dir / "token") << k_token << "\n";
    m_config.url = m_fake.url();
    m_config.token_file = m_dir / "token";
    m_transport = afk::make_curl_transport({.total_timeout = 400ms});
    auto options = afk::woodpecker_http_options(m_config);
    options.retry.max_attempts = 2;
    m_http = std::make_unique<afk::HttpClient>(*m_transport, options, m_log, m_clock,
                                               [](std::chrono::milliseconds) {});
  }
  ~WoodpeckerTest() override { fs::remove_all(m_dir); }

  afk::ShaVerdict verdict(std::size_t max_pages = 5) {
    afk::DeployStages stages;
    stages[StageType::woodpecker] = afk::make_woodpecker_stage(
        *m_http, {.web_url = "https://ci.example", .max_pages = max_pages, .per_page = 50});
    afk::RepoDeploySettings settings{.stages = {StageType::woodpecker}};
    const auto watcher = afk::make_deploy_watcher(
        std::move(stages), [settings](const afk::RepoName&) { return settings; }, m_clock, m_log);
    return watcher->verdict(*afk::RepoName::parse("acme/api"), k_sha, m_clock.now());
  }

  void pipelines(std::vector<json> list) {
    m_fake.edit([&](FakeWoodpecker& wp) { wp.pipelines = std::move(list); });
  }
  // `count` pipelines of other commits numbered from `first` up.
  static std::vector<json> others(std::int64_t first, std::int64_t count) {
    std::vector<json> list;
    for (std::int64_t n = first; n < first + count; ++n) {
      list.push_back(pipeline(n, other_sha(n), "success"));
    }
    return list;
  }

  FakeWoodpecker m_fake;
  fs::path m_dir;
  afk::WoodpeckerConfig m_config;
  afk::NullLogger m_log;
  FixedClock m_clock;
  std::unique_ptr<afk::HttpTransport> m_transport;
  std::unique_ptr<afk::HttpClient> m_http;
};

TEST_F(WoodpeckerTest, HttpOptionsUseTheTokenFileAndJson) {
  const auto options = afk::woodpecker_http_options(m_config);
  EXPECT_EQ(options.base_url, m_fake.url());
  EXPECT_EQ(options.token_file, m_dir / "token");
  EXPECT_EQ(options.auth_scheme, "Bearer");
  EXPECT_EQ(options.default_headers, (afk::HttpHeaders{{"Accept", "application/json"}}));
}

TEST_F(WoodpeckerTest, WrongTokenIsUnknown) {
  pipelines({pipeline(1, k_sha, "success")});
  std::ofstream(m_dir / "token") << "nope\n";
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("401"), std::string::npos) << v.stages[0].detail;
  std::ofstream(m_dir / "token") << k_token << "\n";
  EXPECT_EQ(verdict().verdict, Verdict::green);
}

TEST_F(WoodpeckerTest, MapsEveryStatusValueFromTheWire) {
  const std::vector<std::pair<std::string, Verdict>> rows = {
      {"skipped", Verdict::green}, {"pending", Verdict::pending}, {"running", Verdict::pending},
      {"success", Verdict::green}, {"failure", Verdict::red},     {"killed", Verdict::red},
      {"canceled", Verdict::red},  {"error", Verdict::red},       {"blocked", Verdict::pending},
      {"declined", Verdict::red},  {"created", Verdict::pending}, {"zombie", Verdict::unknown}};
  for (const auto& [status, expected] : rows) {
    pipelines({pipeline(3, other_sha(3), "failure"), pipeline(2, k_sha, status),
               pipeline(1, other_sha(1), "success")});
    const auto v = verdict();
    EXPECT_EQ(v.verdict, expected) << status;
    EXPECT_EQ(v.stages[0].detail,
              "pipeline #2 push (" + status + ") https://ci.example/repos/7/pipeline/2");
    EXPECT_EQ(v.stages[0].url, "https://ci.example/repos/7/pipeline/2");
  }
}

TEST_F(WoodpeckerTest, FindsTheCommitOnALaterPageAndStopsAfterIt) {
  auto list = others(1, 40);
  list.push_back(pipeline(41, k_sha, "failure"));
  list.push_back(pipeline(42, k_sha, "success", "deployment", "production"));
  for (auto& p : others(43, 100)) {
    list.push_back(std::move(p));
  }
  pipelines(list); // 142 pipelines: the commit's are numbers 41 and 42, on page 3
  const auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.stages[0].detail,
            "pipeline #41 push (failure) https://ci.example/repos/7/pipeline/41");
  const auto seen = m_fake.seen();
  ASSERT_EQ(seen.size(), 4U); // lookup + pages 1..3; page 3 is short
  EXPECT_EQ(seen[0].path, "/api/repos/lookup/acme/api");
  EXPECT_EQ(seen[3].query, "page=3&perPage=50");
}

TEST_F(WoodpeckerTest, StopsAtAPageWithoutMatchesOnceMatchesWereSeen) {
  auto list = others(1, 100); // pages 3 and 4 of the listing
  list.push_back(pipeline(101, k_sha, "success"));
  for (auto& p : others(102, 99)) {
    list.push_back(std::move(p)); // with #101: pages 1 and 2
  }
  pipelines(list);
  EXPECT_EQ(verdict().verdict, Verdict::green);
  EXPECT_EQ(m_fake.seen().size(), 4U) << "lookup, page 1, page 2 (the match), page 3 (none)";
}

TEST_F(WoodpeckerTest, ACommitBeyondThePageBoundIsPendingAndSaysSo) {
  auto list = std::vector<json>{pipeline(1, k_sha, "success")};
  for (auto& p : others(2, 150)) {
    list.push_back(std::move(p));
  }
  pipelines(list);
  const auto v = verdict(3);
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.stages[0].detail,
            "no Woodpecker pipeline for 9f2c4e1a7b3d yet (looked at the newest 150 pipelines)");
  EXPECT_EQ(m_fake.seen().size(), 4U);
}

TEST_F(WoodpeckerTest, NoPipelineYetIsPending) {
  pipelines(others(1, 3));
  const auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::pending);
  EXPECT_EQ(v.stages[0].detail,
            "no Woodpecker pipeline for 9f2c4e1a7b3d yet (looked at the newest 3 pipelines)");
}

TEST_F(WoodpeckerTest, RestartsReplaceAndDeploymentsCount) {
  pipelines({pipeline(5, k_sha, "failure"), pipeline(6, k_sha, "success")}); // #6 restarts #5
  EXPECT_EQ(verdict().verdict, Verdict::green);
  // Regression after green: the deployment pipeline for the same commit fails.
  pipelines({pipeline(5, k_sha, "failure"), pipeline(6, k_sha, "success"),
             pipeline(7, k_sha, "running", "deployment", "production")});
  EXPECT_EQ(verdict().verdict, Verdict::pending);
  pipelines({pipeline(5, k_sha, "failure"), pipeline(6, k_sha, "success"),
             pipeline(7, k_sha, "failure", "deployment", "production")});
  const auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::red);
  EXPECT_EQ(v.stages[0].detail,
            "pipeline #7 deployment to production (failure) https://ci.example/repos/7/pipeline/7");
}

TEST_F(WoodpeckerTest, UnknownRepositoryServerErrorsGarbageAndTimeoutsAreUnknown) {
  pipelines({pipeline(1, k_sha, "success")});
  m_fake.edit([](FakeWoodpecker& wp) { wp.failures = 2; });
  auto v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("500"), std::string::npos) << v.stages[0].detail;

  m_fake.edit([](FakeWoodpecker& wp) { wp.garbage = true; });
  EXPECT_EQ(verdict().verdict, Verdict::unknown);
  m_fake.edit([](FakeWoodpecker& wp) { wp.garbage = false; });

  m_fake.edit([](FakeWoodpecker& wp) { wp.delay = 700ms; });
  EXPECT_EQ(verdict().verdict, Verdict::unknown);
  m_fake.edit([](FakeWoodpecker& wp) { wp.delay = 0ms; });

  json broken = pipeline(1, k_sha, "success");
  broken.erase("status");
  pipelines({broken});
  v = verdict();
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("\"status\" is missing"), std::string::npos)
      << v.stages[0].detail;

  afk::DeployStages stages;
  stages[StageType::woodpecker] = afk::make_woodpecker_stage(*m_http, {.web_url = ""});
  const auto watcher = afk::make_deploy_watcher(
      std::move(stages),
      [](const afk::RepoName&) {
        return afk::RepoDeploySettings{.stages = {StageType::woodpecker}};
      },
      m_clock, m_log);
  v = watcher->verdict(*afk::RepoName::parse("acme/gone"), k_sha, m_clock.now());
  EXPECT_EQ(v.verdict, Verdict::unknown);
  EXPECT_NE(v.stages[0].detail.find("404"), std::string::npos) << v.stages[0].detail;
}

} // namespace
