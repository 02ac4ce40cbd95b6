// SPDX-License-Identifier: MIT
#include "support/loopback_server.hpp"

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
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
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
using afk::Timestamp;
using nlohmann::json;

constexpr std::string_view k_token = "ghp-SECRET-7d1e0b";
constexpr std::string_view k_api_version = "2022-11-28";
constexpr std::string_view k_docs = "https://docs.github.com/rest";
constexpr std::string_view k_sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

RepoName repo(std::string_view text) {
  return *RepoName::parse(text);
}

IssueRef issue(std::int64_t number) {
  return IssueRef{repo("acme/api"), number};
}

Timestamp time_of(std::string_view text) {
  return *afk::parse_timestamp(text);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

json user(std::string_view login, std::string_view type = "User") {
  return {{"login", login},
          {"id", 583231},
          {"node_id", "MDQ6VXNlcjU4MzIzMQ=="},
          {"avatar_url", "https://avatars.githubusercontent.com/u/583231?v=4"},
          {"url", "https://api.github.com/users/" + std::string(login)},
          {"html_url", "https://github.com/" + std::string(login)},
          {"type", type},
          {"site_admin", false}};
}

json label_object(std::string_view name) {
  return {{"id", 208045946},
          {"node_id", "MDU6TGFiZWwyMDgwNDU5NDY="},
          {"url", "https://api.github.com/repos/acme/api/labels/" + std::string(name)},
          {"name", name},
          {"description", nullptr},
          {"color", "f29513"},
          {"default", false}};
}

json issue_json(std::string_view repo_full, std::int64_t number, std::string_view title,
                const std::vector<std::string>& labels, std::string_view state = "open") {
  json names = json::array();
  for (const auto& name : labels) {
    names.push_back(label_object(name));
  }
  const std::string api = "https://api.github.com/repos/" + std::string(repo_full);
  return {{"id", 1000000 + number},
          {"node_id", "I_kwDOAbCdEf" + std::to_string(number)},
          {"url", api + "/issues/" + std::to_string(number)},
          {"repository_url", api},
          {"html_url",
           "https://github.com/" + std::string(repo_full) + "/issues/" + std::to_string(number)},
          {"number", number},
          {"state", state},
          {"state_reason", nullptr},
          {"title", title},
          {"body", "Body of #" + std::to_string(number)},
          {"user", user("octocat")},
          {"labels", names},
          {"assignees", json::array()},
          {"locked", false},
          {"comments", 0},
          {"created_at", "2026-01-0" + std::to_string(1 + number % 9) + "T10:00:00Z"},
          {"updated_at", "2026-01-10T10:00:00Z"},
          {"closed_at", nullptr},
          {"author_association", "MEMBER"}};
}

json pull_json(std::int64_t number, const std::vector<std::string>& labels) {
  json pr = issue_json("acme/api", number, "A pull request", labels);
  pr["pull_request"] = {
      {"url", "https://api.github.com/repos/acme/api/pulls/" + std::to_string(number)},
      {"html_url", "https://github.com/acme/api/pull/" + std::to_string(number)},
      {"diff_url", "https://github.com/acme/api/pull/" + std::to_string(number) + ".diff"},
      {"patch_url", "https://github.com/acme/api/pull/" + std::to_string(number) + ".patch"},
      {"merged_at", nullptr}};
  return pr;
}

json app_json() {
  return {{"id", 1},
          {"slug", "afk-helper"},
          {"node_id", "MDExOkludGVncmF0aW9uMQ=="},
          {"owner", user("acme", "Organization")},
          {"name", "afk helper"},
          {"created_at", "2024-01-01T00:00:00Z"},
          {"updated_at", "2024-01-01T00:00:00Z"},
          {"permissions", {{"issues", "write"}}},
          {"events", json::array({"issues"})}};
}

json event_json(std::int64_t id, std::string_view kind, std::string_view label, json actor,
                std::string_view at, json app = nullptr) {
  return {{"id", id},
          {"node_id", "LE_lADOAbCd" + std::to_string(id)},
          {"url", "https://api.github.com/repos/acme/api/issues/events/" + std::to_string(id)},
          {"actor", std::move(actor)},
          {"event", kind},
          {"commit_id", nullptr},
          {"commit_url", nullptr},
          {"created_at", at},
          {"label", {{"name", label}, {"color", "0e8a16"}}},
          {"performed_via_github_app", std::move(app)}};
}

json comment_json(std::int64_t id, std::string_view login, std::string_view body,
                  std::string_view updated_at = "2026-01-05T09:30:00Z") {
  return {{"id", id},
          {"node_id", "IC_kwDOAbCd" + std::to_string(id)},
          {"url", "https://api.github.com/repos/acme/api/issues/comments/" + std::to_string(id)},
          {"html_url", "https://github.com/acme/api/issues/7#issuecomment-" + std::to_string(id)},
          {"body", body},
          {"user", user(login, lower(std::string(login)).ends_with("[bot]") ? "Bot" : "User")},
          {"created_at", "2026-01-05T09:00:00Z"},
          {"updated_at", updated_at},
          {"issue_url", "https://api.github.com/repos/acme/api/issues/7"},
          {"author_association", "MEMBER"}};
}

json permission_json(std::string_view permission, std::optional<std::string_view> role) {
  json body = {{"permission", permission}, {"user", user("alice")}};
  if (role) {
    body["role_name"] = *role;
  }
  return body;
}

struct Seen {
  std::string method;
  std::string path;  ///< as sent, still percent-encoded
  std::string query; ///< as sent
  std::string body;
};

// GitHub's REST API for the one repository acme/api, as far as the tracker uses it: strict
// about headers and request bodies, with GitHub's statuses, error bodies and Link paging.
class FakeGitHub {
public:
  FakeGitHub() = default;
  FakeGitHub(const FakeGitHub&) = delete;
  FakeGitHub& operator=(const FakeGitHub&) = delete;

  [[nodiscard]] std::string url() const { return m_server.url(); }

  [[nodiscard]] std::vector<Seen> seen() const {
    const std::lock_guard lock(m_mutex);
    return m_seen;
  }
  void forget() {
    const std::lock_guard lock(m_mutex);
    m_seen.clear();
  }

  // Test set-up; the server thread reads these under the same mutex.
  template <class Edit> void edit(Edit edit) {
    const std::lock_guard lock(m_mutex);
    edit(*this);
  }

  std::map<std::int64_t, json> issues; ///< issues and pull requests of acme/api
  std::map<std::int64_t, json> events;
  std::map<std::int64_t, json> comments;
  std::map<std::int64_t, json> blocked_by; ///< absent: 404, as without the feature
  std::map<std::string, json> permissions; ///< by lower-case login; absent: 404
  std::map<std::string, std::string> branches;
  std::string default_branch = "main";
  std::size_t page_cap = 100;          ///< GitHub's maximum per_page
  std::map<std::string, int> failures; ///< raw path → how many 500s to answer first
  std::set<std::string> garbage;       ///< raw paths answered with a body that is not JSON
  std::int64_t next_comment_id = 900;

private:
  static void reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json; charset=utf-8");
  }
  static void error(httplib::Response& res, int status, std::string_view message) {
    reply(res, status, {{"message", message}, {"documentation_url", k_docs}});
  }
  static void not_found(httplib::Response& res) { error(res, 404, "Not Found"); }
  static void invalid(httplib::Response& res, std::string_view field) {
    reply(
        res, 422,
        {{"message", "Validation Failed"},
         {"errors", json::array({{{"resource", "Issue"}, {"code", "invalid"}, {"field", field}}})},
         {"documentation_url", k_docs}});
  }

  static std::vector<std::string> segments(std::string_view path) {
    std::vector<std::string> out;
    std::size_t pos = 1;
    while (pos <= path.size()) {
      const auto slash = std::min(path.find('/', pos), path.size());
      out.push_back(httplib::detail::decode_url(std::string(path.substr(pos, slash - pos)), false));
      pos = slash + 1;
    }
    return out;
  }

  static std::optional<std::int64_t> number(const std::string& text) {
    if (text.empty() || text.size() > 12 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    return std::stoll(text);
  }

  static bool has_label(const json& issue, std::string_view name) {
    return std::any_of(issue["labels"].begin(), issue["labels"].end(), [&](const json& label) {
      return lower(label["name"].get<std::string>()) == lower(std::string(name));
    });
  }

  // One page of `items` with GitHub's Link header (next/last, prev/first where they apply).
  void page(const httplib::Request& req, httplib::Response& res, const std::string& path,
            const std::string& query, const json& items) const {
    std::size_t per_page = 30;
    std::size_t index = 1;
    std::string kept; // the query without page=, as GitHub repeats it in its links
    std::size_t pos = 0;
    while (pos <= query.size() && !query.empty()) {
      const auto amp = std::min(query.find('&', pos), query.size());
      const std::string pair = query.substr(pos, amp - pos);
      if (pair.starts_with("per_page=")) {
        per_page = std::stoul(pair.substr(9));
      }
      if (pair.starts_with("page=")) {
        index = std::stoul(pair.substr(5));
      } else {
        kept += (kept.empty() ? "" : "&") + pair;
      }
      pos = amp + 1;
    }
    per_page = std::min(per_page, page_cap);
    const std::size_t count = items.size();
    const std::size_t last = std::max<std::size_t>(1, (count + per_page - 1) / per_page);
    json slice = json::array();
    for (std::size_t i = (index - 1) * per_page; i < std::min(count, index * per_page); ++i) {
      slice.push_back(items[i]);
    }
    const auto link = [&](std::size_t n, std::string_view rel) {
      return "<http://" + req.get_header_value("Host") + path + "?" + kept +
             "&page=" + std::to_string(n) + ">; rel=\"" + std::string(rel) + "\"";
    };
    std::string links;
    const auto add = [&](std::size_t n, std::string_view rel) {
      links += (links.empty() ? "" : ", ") + link(n, rel);
    };
    if (index > 1) {
      add(index - 1, "prev");
    }
    if (index < last) {
      add(index + 1, "next");
      add(last, "last");
    }
    if (index > 1) {
      add(1, "first");
    }
    if (!links.empty()) {
      res.set_header("Link", links);
    }
    reply(res, 200, slice);
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    const std::string raw_path = req.target.substr(0, req.target.find('?'));
    const std::string query = req.target.find('?') == std::string::npos
                                  ? ""
                                  : req.target.substr(req.target.find('?') + 1);
    m_seen.push_back({req.method, raw_path, query, req.body});

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
    if (auto failure = failures.find(raw_path); failure != failures.end() && failure->second > 0) {
      --failure->second;
      error(res, 500, "Server Error");
      return;
    }
    if (garbage.contains(raw_path)) {
      res.status = 200;
      res.set_content("<html>\x1b[31mupstream\x1b[0m oops", "application/json");
      return;
    }
    json body;
    if (req.method == "POST" || req.method == "PATCH") {
      body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) {
        error(res, 400, "Problems parsing JSON");
        return;
      }
    }
    const auto s = segments(raw_path);
    if (s.size() == 3 && s[0] == "repos" && lower(s[1]) == "acme" && lower(s[2]) == "api" &&
        req.method == "GET") {
      reply(res, 200,
            {{"id", 1296269},
             {"name", "api"},
             {"full_name", "acme/api"},
             {"private", false},
             {"default_branch", default_branch},
             {"html_url", "https://github.com/acme/api"}});
      return;
    }
    if (s.size() < 4 || s[0] != "repos" || lower(s[1]) != "acme" || lower(s[2]) != "api") {
      not_found(res);
      return;
    }
    const std::string& m = req.method;
    if (s[3] == "issues") {
      issues_route(req, res, s, m, raw_path, query, body);
    } else if (s[3] == "collaborators" && s.size() == 6 && s[5] == "permission" && m == "GET") {
      const auto found = permissions.find(lower(s[4]));
      found == permissions.end() ? not_found(res) : reply(res, 200, found->second);
    } else if (s[3] == "branches" && s.size() == 5 && m == "GET") {
      const auto found = branches.find(s[4]);
      if (found == branches.end()) {
        error(res, 404, "Branch not found");
      } else {
        reply(res, 200,
              {{"name", found->first},
               {"commit",
                {{"sha", found->second},
                 {"node_id", "C_kwDOAbCd"},
                 {"url", "https://api.github.com/repos/acme/api/commits/" + found->second}}},
               {"protected", false},
               {"_links", {{"html", "https://github.com/acme/api/tree/" + found->first}}}});
      }
    } else {
      not_found(res);
    }
  }

  void issues_route(const httplib::Request& req, httplib::Response& res,
                    const std::vector<std::string>& s, const std::string& m,
                    const std::string& raw_path, const std::string& query, const json& body) {
    if (s.size() == 4 && m == "GET") {
      const std::string wanted = req.get_param_value("labels");
      json items = json::array();
      for (const auto& [n, item] : issues) {
        bool all = item["state"] == req.get_param_value("state");
        for (std::size_t pos = 0; pos <= wanted.size() && !wanted.empty();) {
          const auto comma = std::min(wanted.find(',', pos), wanted.size());
          all = all && has_label(item, wanted.substr(pos, comma - pos));
          pos = comma + 1;
        }
        if (all) {
          items.push_back(item);
        }
      }
      page(req, res, raw_path, query, items);
      return;
    }
    if (s.size() == 4 && m == "POST") {
      if (!body.contains("title") || !body["title"].is_string() || body["title"] == "" ||
          (body.contains("body") && !body["body"].is_string()) ||
          (body.contains("labels") && !body["labels"].is_array())) {
        invalid(res, "title");
        return;
      }
      const std::int64_t n = issues.empty() ? 1 : issues.rbegin()->first + 1;
      std::vector<std::string> labels;
      for (const auto& label : body.value("labels", json::array())) {
        labels.push_back(label.get<std::string>());
      }
      issues[n] = issue_json("acme/api", n, body["title"].get<std::string>(), labels);
      issues[n]["body"] = body.value("body", "");
      reply(res, 201, issues[n]);
      return;
    }
    if (s.size() == 6 && s[4] == "comments" && m == "PATCH") {
      const auto id = number(s[5]);
      if (!body.contains("body") || !body["body"].is_string()) {
        invalid(res, "body");
        return;
      }
      for (auto& [n, list] : comments) {
        for (auto& comment : list) {
          if (id && comment["id"] == *id) {
            comment["body"] = body["body"];
            comment["updated_at"] = "2026-02-01T00:00:00Z";
            reply(res, 200, comment);
            return;
          }
        }
      }
      not_found(res);
      return;
    }
    const auto n = number(s[4]);
    if (!n || !issues.contains(*n)) {
      not_found(res);
      return;
    }
    json& item = issues[*n];
    if (s.size() == 5 && m == "GET") {
      reply(res, 200, item);
    } else if (s.size() == 5 && m == "PATCH") {
      const auto state = body.find("state");
      if (state != body.end() && *state != "open" && *state != "closed") {
        invalid(res, "state");
        return;
      }
      if (state != body.end()) {
        item["state"] = *state;
        item["state_reason"] = body.value("state_reason", json(nullptr));
      }
      reply(res, 200, item);
    } else if (s.size() == 6 && s[5] == "events" && m == "GET") {
      page(req, res, raw_path, query, events.contains(*n) ? events[*n] : json::array());
    } else if (s.size() == 6 && s[5] == "comments" && m == "GET") {
      page(req, res, raw_path, query, comments.contains(*n) ? comments[*n] : json::array());
    } else if (s.size() == 6 && s[5] == "comments" && m == "POST") {
      if (!body.contains("body") || !body["body"].is_string()) {
        invalid(res, "body");
        return;
      }
      json comment = comment_json(next_comment_id++, "afk-bot", body["body"].get<std::string>());
      comments[*n].push_back(comment);
      reply(res, 201, comment);
    } else if (s.size() == 6 && s[5] == "labels" && m == "POST") {
      if (!body.contains("labels") || !body["labels"].is_array() || body["labels"].empty() ||
          !std::all_of(body["labels"].begin(), body["labels"].end(),
                       [](const json& l) { return l.is_string(); })) {
        invalid(res, "labels");
        return;
      }
      for (const auto& label : body["labels"]) {
        if (!has_label(item, label.get<std::string>())) {
          item["labels"].push_back(label_object(label.get<std::string>()));
        }
      }
      reply(res, 200, item["labels"]);
    } else if (s.size() == 7 && s[5] == "labels" && m == "DELETE") {
      json& labels = item["labels"];
      const auto found = std::find_if(labels.begin(), labels.end(), [&](const json& label) {
        return lower(label["name"].get<std::string>()) == lower(s[6]);
      });
      if (found == labels.end()) {
        error(res, 404, "Label does not exist");
        return;
      }
      labels.erase(found);
      reply(res, 200, labels);
    } else if (s.size() == 7 && s[5] == "dependencies" && s[6] == "blocked_by" && m == "GET") {
      if (!blocked_by.contains(*n)) {
        not_found(res);
        return;
      }
      page(req, res, raw_path, query, blocked_by[*n]);
    } else {
      not_found(res);
    }
  }

  mutable std::mutex m_mutex;
  std::vector<Seen> m_seen;
  // Last, so it stops serving before the state its route reads is destroyed.
  afk::test::LoopbackServer m_server{[this](const httplib::Request& req, httplib::Response& res) {
    const std::lock_guard lock(m_mutex);
    handle(req, res);
  }};
};

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] Timestamp now() const override { return time_of("2026-03-01T00:00:00Z"); }
};

class GitHubTrackerTest : public ::testing::Test {
protected:
  GitHubTrackerTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() /
            ("afk-github-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::create_directories(m_dir);
    std::ofstream(m_dir / "token") << k_token << "\n";
    m_config.api_url = m_github.url();
    m_config.token_file = m_dir / "token";
    m_transport = afk::make_curl_transport({});
    m_http = std::make_unique<afk::HttpClient>(*m_transport, afk::github_http_options(m_config),
                                               m_log, m_clock, [](std::chrono::milliseconds) {});
    m_tracker = afk::make_github_tracker(*m_http);
  }
  ~GitHubTrackerTest() override { fs::remove_all(m_dir); }

  // A client with other header options, to prove the fake is strict.
  std::unique_ptr<afk::HttpClient> client_with(afk::HttpClientOptions options) {
    return std::make_unique<afk::HttpClient>(*m_transport, std::move(options), m_log, m_clock,
                                             [](std::chrono::milliseconds) {});
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

  FakeGitHub m_github;
  fs::path m_dir;
  afk::TrackerConfig m_config;
  afk::NullLogger m_log;
  FixedClock m_clock;
  std::unique_ptr<afk::HttpTransport> m_transport;
  std::unique_ptr<afk::HttpClient> m_http;
  std::unique_ptr<afk::TrackerClient> m_tracker;
};

TEST_F(GitHubTrackerTest, HttpOptionsCarryGitHubsHeaders) {
  m_config.api_version = "2026-03-10";
  const auto options = afk::github_http_options(m_config);
  EXPECT_EQ(options.base_url, m_github.url());
  EXPECT_EQ(options.token_file, m_dir / "token");
  EXPECT_EQ(options.auth_scheme, "Bearer");
  EXPECT_EQ(options.default_headers, (afk::HttpHeaders{{"Accept", "application/vnd.github+json"},
                                                       {"X-GitHub-Api-Version", "2026-03-10"}}));
}

TEST_F(GitHubTrackerTest, FakeRejectsRequestsWithoutGitHubsHeaders) {
  m_github.edit([](FakeGitHub& gh) { gh.issues[1] = issue_json("acme/api", 1, "One", {}); });
  auto options = afk::github_http_options(m_config);
  options.token_file.clear();
  auto anonymous = client_with(options);
  EXPECT_EQ(kind_of([&] { (void)afk::make_github_tracker(*anonymous)->get_issue(issue(1)); }),
            ErrorKind::config);

  options = afk::github_http_options(m_config);
  options.default_headers = {{"Accept", "application/vnd.github+json"}};
  auto unversioned = client_with(options);
  EXPECT_EQ(kind_of([&] { (void)afk::make_github_tracker(*unversioned)->get_issue(issue(1)); }),
            ErrorKind::permanent);

  options.default_headers = {{"Accept", "application/json"},
                             {"X-GitHub-Api-Version", std::string(k_api_version)}};
  auto wrong_accept = client_with(options);
  EXPECT_EQ(kind_of([&] { (void)afk::make_github_tracker(*wrong_accept)->get_issue(issue(1)); }),
            ErrorKind::permanent);

  EXPECT_EQ(kind_of([&] {
              (void)m_http->request("POST", "/repos/acme/api/issues/1/labels",
                                    R"({"labels":"ready-for-agent"})");
            }),
            ErrorKind::conflict);
  EXPECT_TRUE(m_tracker->get_issue(issue(1)).has_value());
}

TEST_F(GitHubTrackerTest, ListsEveryPageAndSkipsPullRequests) {
  m_github.edit([](FakeGitHub& gh) {
    for (std::int64_t n = 1; n <= 250; ++n) {
      gh.issues[n] = n % 50 == 0 ? pull_json(n, {"ready-for-agent"})
                                 : issue_json("acme/api", n, "Issue " + std::to_string(n),
                                              {"ready-for-agent", "priority:2"});
    }
    gh.issues[251] = issue_json("acme/api", 251, "Other label", {"bug"});
    gh.issues[252] = issue_json("acme/api", 252, "Closed", {"ready-for-agent"}, "closed");
    gh.issues[7]["body"] = nullptr;
    gh.issues[8]["user"] = user("Alice");
  });
  const auto issues = m_tracker->list_open_issues(repo("acme/api"), "ready-for-agent");

  ASSERT_EQ(issues.size(), 245U);
  EXPECT_EQ(issues.front().summary.ref, issue(1));
  EXPECT_EQ(issues.back().summary.ref, issue(249));
  EXPECT_TRUE(std::none_of(issues.begin(), issues.end(),
                           [](const auto& i) { return i.summary.ref.number % 50 == 0; }));
  const auto& first = issues.front();
  EXPECT_EQ(first.summary.title, "Issue 1");
  EXPECT_EQ(first.summary.labels, (std::vector<std::string>{"ready-for-agent", "priority:2"}));
  EXPECT_EQ(first.summary.created_at, time_of("2026-01-02T10:00:00Z"));
  EXPECT_EQ(first.body, "Body of #1");
  EXPECT_TRUE(first.open);
  EXPECT_EQ(first.author, "octocat");
  EXPECT_EQ(issues[6].body, "");
  EXPECT_EQ(issues[7].author, "Alice");

  const auto seen = m_github.seen();
  ASSERT_EQ(seen.size(), 3U);
  for (const auto& request : seen) {
    EXPECT_EQ(request.method, "GET");
    EXPECT_EQ(request.path, "/repos/acme/api/issues");
    EXPECT_TRUE(request.query.starts_with("state=open&labels=ready-for-agent&per_page=100"))
        << request.query;
  }
  EXPECT_TRUE(seen[2].query.ends_with("&page=3"));
}

TEST_F(GitHubTrackerTest, ListEncodesLabelsWithSpacesAndColons) {
  m_github.edit([](FakeGitHub& gh) {
    gh.issues[3] = issue_json("acme/api", 3, "Spaced", {"Ready: for agent"});
    gh.issues[4] = issue_json("acme/api", 4, "Other", {"ready"});
  });
  const auto issues = m_tracker->list_open_issues(repo("acme/api"), "ready: for agent");
  ASSERT_EQ(issues.size(), 1U);
  EXPECT_EQ(issues[0].summary.ref, issue(3));
  EXPECT_EQ(m_github.seen().at(0).query, "state=open&labels=ready%3A%20for%20agent&per_page=100");
}

TEST_F(GitHubTrackerTest, ClosedIssuesCarryingALabelAreListedApart) {
  m_github.edit([](FakeGitHub& gh) {
    gh.issues[5] = issue_json("acme/api", 5, "Closed by a push", {"agent-in-progress"}, "closed");
    gh.issues[6] = issue_json("acme/api", 6, "Still open", {"agent-in-progress"});
    gh.issues[7] = issue_json("acme/api", 7, "Closed, done", {}, "closed");
  });
  const auto closed = m_tracker->list_closed_issues(repo("acme/api"), "agent-in-progress");
  ASSERT_EQ(closed.size(), 1U);
  EXPECT_EQ(closed[0].summary.ref, issue(5));
  EXPECT_FALSE(closed[0].open);
  EXPECT_EQ(m_github.seen().at(0).query, "state=closed&labels=agent-in-progress&per_page=100");
  const auto open = m_tracker->list_open_issues(repo("acme/api"), "agent-in-progress");
  ASSERT_EQ(open.size(), 1U);
  EXPECT_EQ(open[0].summary.ref, issue(6));
}

TEST_F(GitHubTrackerTest, GetIssueReadsOneIssueAndTreatsPullRequestsAndMissingAsAbsent) {
  m_github.edit([](FakeGitHub& gh) {
    gh.issues[5] = issue_json("acme/api", 5, "Closed one", {"bug"}, "closed");
    gh.issues[6] = pull_json(6, {});
  });
  const auto five = m_tracker->get_issue(issue(5));
  ASSERT_TRUE(five.has_value());
  EXPECT_FALSE(five->open);
  EXPECT_EQ(five->summary.title, "Closed one");
  EXPECT_EQ(five->summary.labels, std::vector<std::string>{"bug"});
  EXPECT_FALSE(m_tracker->get_issue(issue(6)).has_value());
  EXPECT_FALSE(m_tracker->get_issue(issue(404)).has_value());
  EXPECT_EQ(m_github.seen().at(0).path, "/repos/acme/api/issues/5");
}

TEST_F(GitHubTrackerTest, GarbageAndWrongShapesAreProtocolErrors) {
  m_github.edit([](FakeGitHub& gh) {
    gh.issues[5] = issue_json("acme/api", 5, "Five", {});
    gh.issues[6] = issue_json("acme/api", 6, "Six", {});
    gh.issues[6]["number"] = "six";
    gh.issues[7] = issue_json("acme/api", 7, "Seven", {});
    gh.issues[7]["created_at"] = "last tuesday";
    gh.garbage.insert("/repos/acme/api/issues/5");
  });
  try {
    (void)m_tracker->get_issue(issue(5));
    FAIL() << "garbage accepted";
  } catch (const afk::Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::protocol);
    const std::string what = error.what();
    EXPECT_NE(what.find("GET /repos/acme/api/issues/5"), std::string::npos) << what;
    EXPECT_EQ(what.find("upstream"), std::string::npos) << what;
    EXPECT_EQ(what.find('\x1b'), std::string::npos);
  }
  EXPECT_EQ(kind_of([&] { (void)m_tracker->get_issue(issue(6)); }), ErrorKind::protocol);
  EXPECT_EQ(kind_of([&] { (void)m_tracker->get_issue(issue(7)); }), ErrorKind::protocol);
}

TEST_F(GitHubTrackerTest, ServerErrorOnAGetIsRetried) {
  m_github.edit([](FakeGitHub& gh) {
    gh.issues[5] = issue_json("acme/api", 5, "Five", {});
    gh.failures["/repos/acme/api/issues/5"] = 1;
  });
  EXPECT_TRUE(m_tracker->get_issue(issue(5)).has_value());
  EXPECT_EQ(m_github.seen().size(), 2U);
}

TEST_F(GitHubTrackerTest, LastLabeledIsTheLatestMatchingLabelEvent) {
  m_github.edit([](FakeGitHub& gh) {
    gh.page_cap = 2;
    gh.issues[7] = issue_json("acme/api", 7, "Relabelled", {"ready-for-agent"});
    gh.events[7] = json::array({
        event_json(1, "labeled", "ready-for-agent", user("alice"), "2026-01-01T10:00:00Z"),
        event_json(2, "unlabeled", "ready-for-agent", user("bob"), "2026-01-02T10:00:00Z"),
        event_json(3, "labeled", "bug", user("carol"), "2026-01-03T10:00:00Z"),
        event_json(4, "labeled", "Ready-For-Agent", user("dave"), "2026-01-04T10:00:00Z"),
        event_json(5, "unlabeled", "ready-for-agent", user("erin"), "2026-01-05T10:00:00Z"),
    });
    gh.events[7].push_back({{"id", 6},
                            {"event", "referenced"},
                            {"actor", user("frank")},
                            {"commit_id", k_sha},
                            {"created_at", "2026-01-06T10:00:00Z"},
                            {"performed_via_github_app", nullptr}});
  });
  const auto event = m_tracker->last_labeled(issue(7), "ready-for-agent");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->login, "dave");
  EXPECT_EQ(event->actor, LabelerEvidence::Actor::human);
  EXPECT_EQ(event->at, time_of("2026-01-04T10:00:00Z"));

  const auto seen = m_github.seen();
  ASSERT_EQ(seen.size(), 3U);
  EXPECT_EQ(seen[0].path, "/repos/acme/api/issues/7/events");
  EXPECT_EQ(seen[0].query, "per_page=100");
}

TEST_F(GitHubTrackerTest, LastLabeledReportsBotsAndApps) {
  m_github.edit([](FakeGitHub& gh) {
    for (std::int64_t n = 8; n <= 13; ++n) {
      gh.issues[n] = issue_json("acme/api", n, "Labelled", {"ready-for-agent"});
    }
    gh.events[8] = json::array({event_json(
        1, "labeled", "ready-for-agent", user("dependabot[bot]", "Bot"), "2026-01-01T10:00:00Z")});
    gh.events[9] =
        json::array({event_json(2, "labeled", "ready-for-agent", user("afk-helper[bot]", "Bot"),
                                "2026-01-01T10:00:00Z", app_json())});
    gh.events[10] = json::array(
        {event_json(3, "labeled", "ready-for-agent", user("Robo"), "2026-01-01T10:00:00Z")});
    gh.events[10][0]["actor"]["type"] = "Bot";
    gh.events[11] =
        json::array({event_json(4, "labeled", "bug", user("alice"), "2026-01-01T10:00:00Z")});
    gh.events[12] =
        json::array({event_json(5, "labeled", "ready-for-agent", user("alice"), "yesterday")});
  });
  EXPECT_EQ(m_tracker->last_labeled(issue(8), "ready-for-agent")->actor,
            LabelerEvidence::Actor::bot);
  EXPECT_EQ(m_tracker->last_labeled(issue(9), "ready-for-agent")->actor,
            LabelerEvidence::Actor::app);
  EXPECT_EQ(m_tracker->last_labeled(issue(10), "ready-for-agent")->actor,
            LabelerEvidence::Actor::bot);
  EXPECT_FALSE(m_tracker->last_labeled(issue(11), "ready-for-agent").has_value());
  EXPECT_FALSE(m_tracker->last_labeled(issue(13), "ready-for-agent").has_value());
  EXPECT_EQ(kind_of([&] { (void)m_tracker->last_labeled(issue(12), "ready-for-agent"); }),
            ErrorKind::protocol);
}

TEST_F(GitHubTrackerTest, PermissionPrefersRoleName) {
  m_github.edit([](FakeGitHub& gh) {
    gh.permissions["admin"] = permission_json("admin", "admin");
    gh.permissions["maintainer"] = permission_json("write", "maintain");
    gh.permissions["writer"] = permission_json("write", "write");
    gh.permissions["triager"] = permission_json("read", "triage");
    gh.permissions["reader"] = permission_json("read", "read");
    gh.permissions["old-api"] = permission_json("write", std::nullopt);
    gh.permissions["custom"] = permission_json("write", "security-reviewer");
    gh.permissions["odd"] = permission_json("superuser", std::nullopt);
    gh.permissions["nobody"] = permission_json("none", std::nullopt);
  });
  const auto level = [&](std::string_view login) {
    return m_tracker->permission(repo("acme/api"), login);
  };
  EXPECT_EQ(level("admin"), Permission::admin);
  EXPECT_EQ(level("Maintainer"), Permission::maintain);
  EXPECT_EQ(level("writer"), Permission::write);
  EXPECT_EQ(level("triager"), Permission::triage);
  EXPECT_EQ(level("reader"), Permission::read);
  EXPECT_EQ(level("old-api"), Permission::write);
  EXPECT_EQ(level("custom"), Permission::write);
  EXPECT_EQ(level("odd"), Permission::none);
  EXPECT_EQ(level("nobody"), Permission::none);
  EXPECT_EQ(level("stranger"), Permission::none);
  EXPECT_EQ(m_github.seen().at(0).path, "/repos/acme/api/collaborators/admin/permission");
}

TEST_F(GitHubTrackerTest, NativeBlockersCarryRepoAndState) {
  m_github.edit([](FakeGitHub& gh) {
    gh.issues[7] = issue_json("acme/api", 7, "Blocked", {});
    gh.issues[8] = issue_json("acme/api", 8, "No feature", {});
    gh.issues[9] = issue_json("acme/api", 9, "Many blockers", {});
    gh.blocked_by[7] = json::array({issue_json("acme/api", 3, "Open blocker", {}),
                                    issue_json("Acme/Infra", 12, "Cross repo", {}, "closed"),
                                    issue_json("acme/api", 4, "Weird", {}, "locked")});
    json many = json::array();
    for (std::int64_t n = 1; n <= 5; ++n) {
      many.push_back(issue_json("acme/api", 100 + n, "B", {}, "closed"));
    }
    gh.blocked_by[9] = many;
  });
  const auto blockers = m_tracker->native_blockers(issue(7));
  EXPECT_EQ(blockers, (std::vector<BlockerEvidence>{
                          {issue(3), BlockerEvidence::State::open},
                          {IssueRef{repo("acme/infra"), 12}, BlockerEvidence::State::closed},
                          {issue(4), BlockerEvidence::State::unknown},
                      }));
  EXPECT_EQ(blockers[1].ref.repo.full(), "Acme/Infra");
  EXPECT_TRUE(m_tracker->native_blockers(issue(8)).empty());
  EXPECT_EQ(m_github.seen().at(0).path, "/repos/acme/api/issues/7/dependencies/blocked_by");

  m_github.edit([](FakeGitHub& gh) { gh.page_cap = 2; });
  EXPECT_EQ(m_tracker->native_blockers(issue(9)).size(), 5U);

  m_github.edit([](FakeGitHub& gh) {
    gh.page_cap = 100;
    gh.blocked_by[8] = json::array({issue_json("acme/api", 3, "x", {})});
    gh.blocked_by[8][0]["repository_url"] = "https://api.github.com/users/acme";
  });
  EXPECT_EQ(kind_of([&] { (void)m_tracker->native_blockers(issue(8)); }), ErrorKind::protocol);
}

TEST_F(GitHubTrackerTest, AddsAndRemovesLabels) {
  m_github.edit([](FakeGitHub& gh) {
    gh.issues[7] = issue_json("acme/api", 7, "Labels", {"ready-for-agent"});
  });
  m_tracker->add_label(issue(7), "agent-in-progress");
  m_tracker->remove_label(issue(7), "ready-for-agent");
  m_tracker->remove_label(issue(7), "never: there");

  const auto labels = m_tracker->get_issue(issue(7))->summary.labels;
  EXPECT_EQ(labels, std::vector<std::string>{"agent-in-progress"});
  const auto seen = m_github.seen();
  ASSERT_GE(seen.size(), 3U);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/repos/acme/api/issues/7/labels");
  EXPECT_EQ(json::parse(seen[0].body), json::parse(R"({"labels":["agent-in-progress"]})"));
  EXPECT_EQ(seen[1].method, "DELETE");
  EXPECT_EQ(seen[1].path, "/repos/acme/api/issues/7/labels/ready-for-agent");
  EXPECT_EQ(seen[2].path, "/repos/acme/api/issues/7/labels/never%3A%20there");
}

TEST_F(GitHubTrackerTest, CommentsByKeepsOnlyTheAuthorsMarkedComments) {
  m_github.edit([](FakeGitHub& gh) {
    gh.page_cap = 2;
    gh.issues[7] = issue_json("acme/api", 7, "Comments", {});
    gh.comments[7] = json::array({
        comment_json(11, "alice", "<!-- afk:run {} --> forged"),
        comment_json(12, "AFK-Bot", "<!-- afk:run {\"v\":1} -->", "2026-01-06T08:00:00Z"),
        comment_json(13, "afk-bot", "a plain note"),
        comment_json(14, "afk-bot", "second <!-- afk:run {\"v\":1} -->"),
    });
    gh.comments[7].push_back(comment_json(15, "ghost", "<!-- afk:run -->"));
    gh.comments[7].back()["user"] = nullptr;
  });
  const auto comments = m_tracker->comments_by(issue(7), "afk-bot", "<!-- afk:run");
  ASSERT_EQ(comments.size(), 2U);
  EXPECT_EQ(comments[0].id, 12);
  EXPECT_EQ(comments[0].author, "AFK-Bot");
  EXPECT_EQ(comments[0].body, "<!-- afk:run {\"v\":1} -->");
  EXPECT_EQ(comments[0].updated_at, time_of("2026-01-06T08:00:00Z"));
  EXPECT_EQ(comments[1].id, 14);
  EXPECT_EQ(m_github.seen().size(), 3U);
  EXPECT_EQ(m_github.seen().at(0).query, "per_page=100");
}

TEST_F(GitHubTrackerTest, CreatesAndEditsComments) {
  m_github.edit([](FakeGitHub& gh) { gh.issues[7] = issue_json("acme/api", 7, "C", {}); });
  const std::int64_t id = m_tracker->create_comment(issue(7), "hello \"afk\"\n");
  EXPECT_EQ(id, 900);
  m_tracker->edit_comment(repo("acme/api"), id, "edited");

  const auto comments = m_tracker->comments_by(issue(7), "afk-bot", "");
  ASSERT_EQ(comments.size(), 1U);
  EXPECT_EQ(comments[0].body, "edited");
  const auto seen = m_github.seen();
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/repos/acme/api/issues/7/comments");
  EXPECT_EQ(json::parse(seen[0].body), json({{"body", "hello \"afk\"\n"}}));
  EXPECT_EQ(seen[1].method, "PATCH");
  EXPECT_EQ(seen[1].path, "/repos/acme/api/issues/comments/900");
  EXPECT_EQ(json::parse(seen[1].body), json({{"body", "edited"}}));

  EXPECT_EQ(kind_of([&] { m_tracker->edit_comment(repo("acme/api"), 12345, "x"); }),
            ErrorKind::permanent);
}

TEST_F(GitHubTrackerTest, ClosesAndReopensIssues) {
  m_github.edit([](FakeGitHub& gh) { gh.issues[7] = issue_json("acme/api", 7, "C", {}); });
  m_tracker->close_issue(issue(7));
  EXPECT_FALSE(m_tracker->get_issue(issue(7))->open);
  m_tracker->reopen_issue(issue(7));
  EXPECT_TRUE(m_tracker->get_issue(issue(7))->open);

  const auto seen = m_github.seen();
  EXPECT_EQ(seen[0].method, "PATCH");
  EXPECT_EQ(seen[0].path, "/repos/acme/api/issues/7");
  EXPECT_EQ(json::parse(seen[0].body), json({{"state", "closed"}, {"state_reason", "completed"}}));
  EXPECT_EQ(json::parse(seen[2].body), json({{"state", "open"}}));
  EXPECT_EQ(kind_of([&] { m_tracker->close_issue(issue(99)); }), ErrorKind::permanent);
}

TEST_F(GitHubTrackerTest, OpensIssues) {
  m_github.edit([](FakeGitHub& gh) { gh.issues[41] = issue_json("acme/api", 41, "Old", {}); });
  const IssueRef opened =
      m_tracker->open_issue(repo("acme/api"), "afk: main is red", "details", {"afk-frozen", "p1"});
  EXPECT_EQ(opened, issue(42));
  const auto created = m_tracker->get_issue(opened);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->summary.title, "afk: main is red");
  EXPECT_EQ(created->body, "details");
  const auto seen = m_github.seen();
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/repos/acme/api/issues");
  EXPECT_EQ(json::parse(seen[0].body), json({{"title", "afk: main is red"},
                                             {"body", "details"},
                                             {"labels", json::array({"afk-frozen", "p1"})}}));
}

TEST_F(GitHubTrackerTest, ValidationFailureIsAConflict) {
  m_github.edit([](FakeGitHub& gh) {
    gh.issues[7] = issue_json("acme/api", 7, "C", {});
    gh.failures["/repos/acme/api/issues/7/comments"] = 1;
  });
  // POST is not retried: the comment may have been written before the 500.
  EXPECT_EQ(kind_of([&] { (void)m_tracker->create_comment(issue(7), "x"); }), ErrorKind::transient);
  EXPECT_EQ(m_github.seen().size(), 1U);
  EXPECT_EQ(kind_of([&] { (void)m_tracker->open_issue(repo("acme/api"), "", "b", {}); }),
            ErrorKind::conflict);
}

TEST_F(GitHubTrackerTest, BranchHead) {
  m_github.edit([](FakeGitHub& gh) {
    gh.branches["main"] = std::string(k_sha);
    gh.branches["release/1.x"] = std::string(k_sha);
    gh.branches["broken"] = "HEAD~1; rm -rf /";
  });
  EXPECT_EQ(m_tracker->branch_head(repo("acme/api"), "main"), std::string(k_sha));
  EXPECT_EQ(m_tracker->branch_head(repo("acme/api"), "release/1.x"), std::string(k_sha));
  EXPECT_FALSE(m_tracker->branch_head(repo("acme/api"), "gone").has_value());
  EXPECT_EQ(kind_of([&] { (void)m_tracker->branch_head(repo("acme/api"), "broken"); }),
            ErrorKind::protocol);
  const auto seen = m_github.seen();
  EXPECT_EQ(seen[0].path, "/repos/acme/api/branches/main");
  EXPECT_EQ(seen[1].path, "/repos/acme/api/branches/release%2F1.x");
}

TEST_F(GitHubTrackerTest, DefaultBranch) {
  m_github.edit([](FakeGitHub& gh) { gh.default_branch = "trunk"; });
  EXPECT_EQ(m_tracker->default_branch(repo("acme/api")), "trunk");
  EXPECT_EQ(m_github.seen().at(0).path, "/repos/acme/api");
  m_github.edit([](FakeGitHub& gh) { gh.default_branch = ""; });
  EXPECT_EQ(kind_of([&] { (void)m_tracker->default_branch(repo("acme/api")); }),
            ErrorKind::protocol);
  EXPECT_EQ(kind_of([&] { (void)m_tracker->default_branch(repo("acme/gone")); }),
            ErrorKind::permanent);
}

} // namespace
