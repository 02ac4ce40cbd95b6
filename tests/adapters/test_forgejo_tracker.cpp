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
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
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

constexpr std::string_view k_token = "fj-SECRET-4c2a91";
constexpr std::string_view k_sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
// Forgejo's ROOT_URL, from which it builds Link targets: not the address afk talks to.
constexpr std::string_view k_root_url = "https://forgejo.example/";

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

// api.User
json user(std::string_view login, std::int64_t id = 7) {
  return {{"id", id},
          {"login", login},
          {"login_name", ""},
          {"source_id", 0},
          {"full_name", ""},
          {"email", std::string(login) + "@noreply.forgejo.example"},
          {"avatar_url", "https://forgejo.example/avatars/" + std::string(login)},
          {"html_url", "https://forgejo.example/" + std::string(login)},
          {"language", ""},
          {"is_admin", false},
          {"last_login", "0001-01-01T00:00:00Z"},
          {"created", "2024-01-01T00:00:00+01:00"},
          {"restricted", false},
          {"active", false},
          {"prohibit_login", false},
          {"location", ""},
          {"website", ""},
          {"description", ""},
          {"visibility", "public"},
          {"followers_count", 0},
          {"following_count", 0},
          {"starred_repos_count", 0},
          {"username", login}};
}

// api.Label
json label_object(std::int64_t id, std::string_view name) {
  return {{"id", id},
          {"name", name},
          {"exclusive", false},
          {"is_archived", false},
          {"color", "e11d21"},
          {"description", ""},
          {"url", "https://forgejo.example/api/v1/repos/acme/api/labels/" + std::to_string(id)}};
}

// api.Issue; `labels` are label objects.
json issue_json(std::string_view repo_full, std::int64_t number, std::string_view title,
                json labels, std::string_view state = "open") {
  const std::string full(repo_full);
  const auto slash = full.find('/');
  return {
      {"id", 1000 + number},
      {"url", "https://forgejo.example/api/v1/repos/" + full + "/issues/" + std::to_string(number)},
      {"html_url", "https://forgejo.example/" + full + "/issues/" + std::to_string(number)},
      {"number", number},
      {"user", user("octocat")},
      {"original_author", ""},
      {"original_author_id", 0},
      {"title", title},
      {"body", "Body of #" + std::to_string(number)},
      {"ref", ""},
      {"assets", json::array()},
      {"labels", std::move(labels)},
      {"milestone", nullptr},
      {"assignee", nullptr},
      {"assignees", nullptr},
      {"state", state},
      {"is_locked", false},
      {"comments", 0},
      {"created_at", "2026-01-0" + std::to_string(1 + number % 9) + "T11:00:00+01:00"},
      {"updated_at", "2026-01-10T10:00:00Z"},
      {"closed_at", nullptr},
      {"due_date", nullptr},
      {"pull_request", nullptr},
      {"repository",
       {{"id", 1},
        {"name", full.substr(slash + 1)},
        {"owner", full.substr(0, slash)},
        {"full_name", full}}},
      {"pin_order", 0}};
}

json pull_json(std::int64_t number, json labels) {
  json pr = issue_json("acme/api", number, "A pull request", std::move(labels));
  pr["pull_request"] = {
      {"merged", false},
      {"merged_at", nullptr},
      {"draft", false},
      {"html_url", "https://forgejo.example/acme/api/pulls/" + std::to_string(number)}};
  return pr;
}

// api.TimelineComment of type "label": body "1" when added, "" when removed.
json label_event(std::int64_t id, bool added, json label, json actor, std::string_view at) {
  return {
      {"id", id},
      {"type", "label"},
      {"html_url", "https://forgejo.example/acme/api/issues/7#issuecomment-" + std::to_string(id)},
      {"pull_request_url", ""},
      {"issue_url", "https://forgejo.example/acme/api/issues/7"},
      {"user", std::move(actor)},
      {"body", added ? "1" : ""},
      {"created_at", at},
      {"updated_at", at},
      {"old_project_id", 0},
      {"project_id", 0},
      {"old_title", ""},
      {"new_title", ""},
      {"old_ref", ""},
      {"new_ref", ""},
      {"ref_issue", nullptr},
      {"ref_comment", nullptr},
      {"ref_action", ""},
      {"ref_commit_sha", ""},
      {"review_id", 0},
      {"label", std::move(label)},
      {"assignee", nullptr},
      {"assignee_team", nullptr},
      {"resolve_doer", nullptr},
      {"dependent_issue", nullptr}};
}

// api.Comment
json comment_json(std::int64_t id, std::string_view login, std::string_view body,
                  std::string_view updated_at = "2026-01-05T09:30:00Z") {
  return {
      {"id", id},
      {"html_url", "https://forgejo.example/acme/api/issues/7#issuecomment-" + std::to_string(id)},
      {"pull_request_url", ""},
      {"issue_url", "https://forgejo.example/acme/api/issues/7"},
      {"user", user(login)},
      {"original_author", ""},
      {"original_author_id", 0},
      {"body", body},
      {"assets", json::array()},
      {"created_at", "2026-01-05T09:00:00Z"},
      {"updated_at", updated_at}};
}

struct Seen {
  std::string method;
  std::string path;  ///< as sent, still percent-encoded, without /api/v1
  std::string query; ///< as sent
  std::string body;
};

// Forgejo's API v1 for the repository acme/api (and the organisation acme), as far as the
// tracker uses it: strict about the token and request bodies, with Forgejo's statuses,
// error bodies and its uneven paging headers.
class FakeForgejo {
public:
  FakeForgejo() = default;
  FakeForgejo(const FakeForgejo&) = delete;
  FakeForgejo& operator=(const FakeForgejo&) = delete;

  [[nodiscard]] std::string url() const { return m_server.url() + "/api/v1"; }

  [[nodiscard]] std::vector<Seen> seen() const {
    const std::lock_guard lock(m_mutex);
    return m_seen;
  }
  void forget() {
    const std::lock_guard lock(m_mutex);
    m_seen.clear();
  }

  template <class Edit> void edit(Edit edit) {
    const std::lock_guard lock(m_mutex);
    edit(*this);
  }

  [[nodiscard]] json label(std::string_view name) const {
    for (const auto& [id, l] : labels) {
      if (l["name"] == name) {
        return l;
      }
    }
    for (const auto& [id, l] : org_labels) {
      if (l["name"] == name) {
        return l;
      }
    }
    throw std::runtime_error("test bug: no label " + std::string(name));
  }
  [[nodiscard]] json labels_of(const std::vector<std::string>& names) const {
    json out = json::array();
    for (const auto& name : names) {
      out.push_back(label(name));
    }
    return out;
  }

  std::map<std::int64_t, json> issues; ///< issues and pull requests of acme/api
  std::map<std::int64_t, json> labels; ///< repository labels by id
  std::map<std::int64_t, json> org_labels;
  std::map<std::int64_t, json> timeline;
  std::map<std::int64_t, json> comments;
  std::map<std::int64_t, json> dependencies; ///< blockers of an issue
  bool dependencies_enabled = true;
  std::map<std::string, std::string> permissions; ///< by lower-case login; absent: 404
  std::map<std::string, std::string> branches;
  std::string default_branch = "main";
  std::size_t page_cap = 50;     ///< [api] MAX_RESPONSE_ITEMS
  std::set<std::string> garbage; ///< raw paths answered with a body that is not JSON
  std::int64_t next_comment_id = 900;

private:
  static void reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json;charset=utf-8");
  }
  static void not_found(httplib::Response& res) {
    reply(res, 404,
          {{"errors", nullptr},
           {"message", "The target couldn't be found."},
           {"url", "https://forgejo.example/api/swagger"}});
  }
  static void invalid(httplib::Response& res, std::string_view message) {
    reply(res, 422, {{"message", message}, {"url", "https://forgejo.example/api/swagger"}});
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
    return issue["labels"].is_array() &&
           std::any_of(issue["labels"].begin(), issue["labels"].end(), [&](const json& label) {
             return lower(label["name"].get<std::string>()) == lower(std::string(name));
           });
  }

  enum class Headers { link_and_total, total, page_total, none };

  // One page (page=, limit= as Forgejo reads them) with the headers that endpoint sends.
  void page(const httplib::Request& req, httplib::Response& res, const std::string& path,
            const json& items, Headers headers) const {
    const std::size_t index =
        req.has_param("page") ? std::max<std::size_t>(1, std::stoul(req.get_param_value("page")))
                              : 1;
    std::size_t limit = req.has_param("limit") ? std::stoul(req.get_param_value("limit")) : 30;
    limit = std::min(limit == 0 ? 30 : limit, page_cap);
    json slice = json::array();
    for (std::size_t i = (index - 1) * limit; i < std::min(items.size(), index * limit); ++i) {
      slice.push_back(items[i]);
    }
    if (headers == Headers::link_and_total) {
      const std::size_t last = std::max<std::size_t>(1, (items.size() + limit - 1) / limit);
      std::string links;
      const auto add = [&](std::size_t n, std::string_view rel) {
        links += std::string(links.empty() ? "" : ",") + "<" + std::string(k_root_url) + "api/v1" +
                 path + "?limit=" + std::to_string(limit) + "&page=" + std::to_string(n) +
                 ">; rel=\"" + std::string(rel) + "\"";
      };
      if (index < last) {
        add(index + 1, "next");
        add(last, "last");
      }
      if (index > 1) {
        add(1, "first");
        add(index - 1, "prev");
      }
      if (!links.empty()) {
        res.set_header("Link", links);
      }
    }
    if (headers == Headers::link_and_total || headers == Headers::total) {
      res.set_header("X-Total-Count", std::to_string(items.size()));
    }
    if (headers == Headers::page_total) {
      res.set_header("X-Total-Count", std::to_string(slice.size()));
    }
    reply(res, 200, slice);
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    std::string raw_path = req.target.substr(0, req.target.find('?'));
    const std::string query = req.target.find('?') == std::string::npos
                                  ? ""
                                  : req.target.substr(req.target.find('?') + 1);
    if (!raw_path.starts_with("/api/v1/")) {
      res.status = 404;
      res.set_content("404 page not found", "text/plain");
      return;
    }
    raw_path = raw_path.substr(7);
    m_seen.push_back({req.method, raw_path, query, req.body});

    if (req.get_header_value("Authorization") != "token " + std::string(k_token)) {
      reply(res, 401,
            {{"message", "token is required"}, {"url", "https://forgejo.example/api/swagger"}});
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
        invalid(res, "[]: invalid character");
        return;
      }
    }
    const auto s = segments(raw_path);
    const std::string& m = req.method;
    if (s.size() == 3 && s[0] == "orgs" && lower(s[1]) == "acme" && s[2] == "labels" &&
        m == "GET") {
      json items = json::array();
      for (const auto& [id, l] : org_labels) {
        items.push_back(l);
      }
      page(req, res, raw_path, items, Headers::total);
      return;
    }
    if (s.size() == 3 && s[0] == "repos" && lower(s[1]) == "acme" && lower(s[2]) == "api" &&
        m == "GET") {
      reply(res, 200,
            {{"id", 7},
             {"name", "api"},
             {"full_name", "acme/api"},
             {"private", false},
             {"default_branch", default_branch},
             {"html_url", "https://forgejo.example/acme/api"}});
      return;
    }
    if (s.size() < 4 || s[0] != "repos" || lower(s[1]) != "acme" || lower(s[2]) != "api") {
      not_found(res);
      return;
    }
    if (s[3] == "issues") {
      issues_route(req, res, s, m, raw_path, body);
    } else if (s[3] == "labels" && s.size() == 4 && m == "GET") {
      json items = json::array();
      for (const auto& [id, l] : labels) {
        items.push_back(l);
      }
      page(req, res, raw_path, items, Headers::total);
    } else if (s[3] == "collaborators" && s.size() == 6 && s[5] == "permission" && m == "GET") {
      const auto found = permissions.find(lower(s[4]));
      if (found == permissions.end()) {
        not_found(res);
      } else {
        reply(res, 200,
              {{"permission", found->second}, {"role_name", found->second}, {"user", user(s[4])}});
      }
    } else if (s[3] == "branches" && s.size() >= 5 && m == "GET") {
      std::string name = s[4];
      for (std::size_t i = 5; i < s.size(); ++i) {
        name += "/" + s[i];
      }
      const auto found = branches.find(name);
      if (found == branches.end()) {
        not_found(res);
      } else {
        reply(res, 200,
              {{"name", found->first},
               {"commit",
                {{"id", found->second},
                 {"message", "Fix things\n"},
                 {"url", "https://forgejo.example/acme/api/commit/" + found->second},
                 {"author", {{"name", "A"}, {"email", "a@example.com"}, {"username", "a"}}},
                 {"committer", {{"name", "A"}, {"email", "a@example.com"}, {"username", "a"}}},
                 {"verification", nullptr},
                 {"timestamp", "2026-01-01T00:00:00Z"},
                 {"added", nullptr},
                 {"removed", nullptr},
                 {"modified", nullptr}}},
               {"protected", false},
               {"required_approvals", 0},
               {"enable_status_check", false},
               {"status_check_contexts", json::array()},
               {"user_can_push", true},
               {"user_can_merge", true},
               {"effective_branch_protection_name", ""}});
      }
    } else {
      not_found(res);
    }
  }

  void issues_route(const httplib::Request& req, httplib::Response& res,
                    const std::vector<std::string>& s, const std::string& m,
                    const std::string& raw_path, const json& body) {
    if (s.size() == 4 && m == "GET") {
      const std::string wanted = req.get_param_value("labels");
      const std::string type = req.get_param_value("type");
      json items = json::array();
      for (const auto& [n, item] : issues) {
        bool all = item["state"] == req.get_param_value("state");
        if (type == "issues" && !item["pull_request"].is_null()) {
          all = false;
        }
        for (std::size_t pos = 0; pos <= wanted.size() && !wanted.empty();) {
          const auto comma = std::min(wanted.find(',', pos), wanted.size());
          all = all && has_label(item, wanted.substr(pos, comma - pos));
          pos = comma + 1;
        }
        if (all) {
          items.push_back(item);
        }
      }
      page(req, res, raw_path, items, Headers::link_and_total);
      return;
    }
    if (s.size() == 4 && m == "POST") {
      if (!body.contains("title") || !body["title"].is_string() || body["title"] == "" ||
          (body.contains("body") && !body["body"].is_string()) ||
          (body.contains("labels") && !body["labels"].is_array())) {
        invalid(res, "[Title]: Required");
        return;
      }
      json issue_labels = json::array();
      for (const auto& id : body.value("labels", json::array())) {
        if (!id.is_number_integer()) {
          invalid(res, "[]: cannot unmarshal string into Go value of type int64");
          return;
        }
        if (labels.contains(id.get<std::int64_t>())) {
          issue_labels.push_back(labels[id.get<std::int64_t>()]);
        } else if (org_labels.contains(id.get<std::int64_t>())) {
          issue_labels.push_back(org_labels[id.get<std::int64_t>()]);
        } else {
          invalid(res, "label does not exist [id: " + id.dump() + "]");
          return;
        }
      }
      const std::int64_t n = issues.empty() ? 1 : issues.rbegin()->first + 1;
      issues[n] = issue_json("acme/api", n, body["title"].get<std::string>(), issue_labels);
      issues[n]["body"] = body.value("body", "");
      reply(res, 201, issues[n]);
      return;
    }
    if (s.size() == 6 && s[4] == "comments" && m == "PATCH") {
      const auto id = number(s[5]);
      if (!body.contains("body") || !body["body"].is_string()) {
        invalid(res, "[Body]: Required");
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
        invalid(res, "[State]: invalid");
        return;
      }
      if (state != body.end()) {
        item["state"] = *state;
      }
      reply(res, 201, item); // Forgejo answers an edit with 201
    } else if (s.size() == 6 && s[5] == "timeline" && m == "GET") {
      page(req, res, raw_path, timeline.contains(*n) ? timeline[*n] : json::array(),
           Headers::page_total);
    } else if (s.size() == 6 && s[5] == "comments" && m == "GET") {
      // Not paginated: every comment, whatever page= says.
      const json all = comments.contains(*n) ? comments[*n] : json::array();
      res.set_header("X-Total-Count", std::to_string(all.size()));
      reply(res, 200, all);
    } else if (s.size() == 6 && s[5] == "comments" && m == "POST") {
      if (!body.contains("body") || !body["body"].is_string()) {
        invalid(res, "[Body]: Required");
        return;
      }
      json comment = comment_json(next_comment_id++, "afk-bot", body["body"].get<std::string>());
      comments[*n].push_back(comment);
      reply(res, 201, comment);
    } else if (s.size() == 6 && s[5] == "labels" && m == "POST") {
      if (!body.contains("labels") || !body["labels"].is_array()) {
        invalid(res, "[Labels]: Required");
        return;
      }
      for (const auto& id : body["labels"]) {
        if (!id.is_number_integer()) {
          invalid(res, "[]: cannot unmarshal string into Go value of type int64");
          return;
        }
        const auto found = labels.find(id.get<std::int64_t>());
        const auto org = org_labels.find(id.get<std::int64_t>());
        if (found == labels.end() && org == org_labels.end()) {
          invalid(res, "label does not exist [id: " + id.dump() + "]");
          return;
        }
        const json& l = found != labels.end() ? found->second : org->second;
        if (item["labels"].is_null()) {
          item["labels"] = json::array();
        }
        if (!has_label(item, l["name"].get<std::string>())) {
          item["labels"].push_back(l);
        }
      }
      reply(res, 200, item["labels"]);
    } else if (s.size() == 7 && s[5] == "labels" && m == "DELETE") {
      const auto id = number(s[6]);
      if (!id || (!labels.contains(*id) && !org_labels.contains(*id))) {
        invalid(res, "label does not exist");
        return;
      }
      json& list = item["labels"];
      const auto found = std::find_if(list.begin(), list.end(),
                                      [&](const json& label) { return label["id"] == *id; });
      if (found != list.end()) {
        list.erase(found);
      }
      res.status = 204;
    } else if (s.size() == 6 && s[5] == "dependencies" && m == "GET") {
      if (!dependencies_enabled) {
        not_found(res);
        return;
      }
      page(req, res, raw_path, dependencies.contains(*n) ? dependencies[*n] : json::array(),
           Headers::none);
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

class ForgejoTrackerTest : public ::testing::Test {
protected:
  ForgejoTrackerTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() /
            ("afk-forgejo-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::create_directories(m_dir);
    std::ofstream(m_dir / "token") << k_token << "\n";
    m_config.kind = afk::TrackerKind::forgejo;
    m_config.api_url = m_forgejo.url();
    m_config.token_file = m_dir / "token";
    m_transport = afk::make_curl_transport({});
    m_http = std::make_unique<afk::HttpClient>(*m_transport, afk::forgejo_http_options(m_config),
                                               m_log, m_clock, [](std::chrono::milliseconds) {});
    m_tracker = afk::make_forgejo_tracker(*m_http);
    m_forgejo.edit([](FakeForgejo& fj) {
      fj.labels[11] = label_object(11, "ready-for-agent");
      fj.labels[12] = label_object(12, "agent-in-progress");
      fj.labels[13] = label_object(13, "bug");
      fj.labels[14] = label_object(14, "priority:2");
      fj.labels[15] = label_object(15, "Ready: for agent");
      fj.org_labels[31] = label_object(31, "afk-frozen");
    });
  }
  ~ForgejoTrackerTest() override { fs::remove_all(m_dir); }

  template <class Call> static ErrorKind kind_of(Call call) {
    try {
      call();
    } catch (const afk::Error& error) {
      return error.kind();
    }
    ADD_FAILURE() << "no afk::Error thrown";
    return ErrorKind::permanent;
  }

  FakeForgejo m_forgejo;
  fs::path m_dir;
  afk::TrackerConfig m_config;
  afk::NullLogger m_log;
  FixedClock m_clock;
  std::unique_ptr<afk::HttpTransport> m_transport;
  std::unique_ptr<afk::HttpClient> m_http;
  std::unique_ptr<afk::TrackerClient> m_tracker;
};

TEST_F(ForgejoTrackerTest, HttpOptionsUseTheTokenScheme) {
  const auto options = afk::forgejo_http_options(m_config);
  EXPECT_EQ(options.base_url, m_forgejo.url());
  EXPECT_EQ(options.token_file, m_dir / "token");
  EXPECT_EQ(options.auth_scheme, "token");
  EXPECT_EQ(options.default_headers, (afk::HttpHeaders{{"Accept", "application/json"}}));
}

TEST_F(ForgejoTrackerTest, FakeRejectsRequestsWithoutTheToken) {
  m_forgejo.edit([](FakeForgejo& fj) { fj.issues[1] = issue_json("acme/api", 1, "One", {}); });
  auto options = afk::forgejo_http_options(m_config);
  options.auth_scheme = "Bearer";
  afk::HttpClient bearer(*m_transport, options, m_log, m_clock, [](std::chrono::milliseconds) {});
  EXPECT_EQ(kind_of([&] { (void)afk::make_forgejo_tracker(bearer)->get_issue(issue(1)); }),
            ErrorKind::config);
  EXPECT_TRUE(m_tracker->get_issue(issue(1)).has_value());
}

TEST_F(ForgejoTrackerTest, ListsEveryPageByNumberAndSkipsPullRequests) {
  m_forgejo.edit([](FakeForgejo& fj) {
    for (std::int64_t n = 1; n <= 120; ++n) {
      fj.issues[n] = n % 40 == 0 ? pull_json(n, fj.labels_of({"ready-for-agent"}))
                                 : issue_json("acme/api", n, "Issue " + std::to_string(n),
                                              fj.labels_of({"ready-for-agent", "priority:2"}));
    }
    fj.issues[121] = issue_json("acme/api", 121, "Other label", fj.labels_of({"bug"}));
    fj.issues[122] =
        issue_json("acme/api", 122, "Closed", fj.labels_of({"ready-for-agent"}), "closed");
    fj.issues[7]["body"] = "";
    fj.issues[8]["user"] = user("Alice");
  });
  const auto issues = m_tracker->list_open_issues(repo("acme/api"), "ready-for-agent");

  ASSERT_EQ(issues.size(), 117U);
  EXPECT_EQ(issues.front().summary.ref, issue(1));
  EXPECT_EQ(issues.back().summary.ref, issue(119));
  EXPECT_TRUE(std::none_of(issues.begin(), issues.end(),
                           [](const auto& i) { return i.summary.ref.number % 40 == 0; }));
  const auto& first = issues.front();
  EXPECT_EQ(first.summary.title, "Issue 1");
  EXPECT_EQ(first.summary.labels, (std::vector<std::string>{"ready-for-agent", "priority:2"}));
  EXPECT_EQ(first.summary.created_at, time_of("2026-01-02T10:00:00Z"));
  EXPECT_EQ(first.body, "Body of #1");
  EXPECT_TRUE(first.open);
  EXPECT_EQ(first.author, "octocat");
  EXPECT_EQ(issues[6].body, "");
  EXPECT_EQ(issues[7].author, "Alice");

  // Three pages of 50, asked for by number: the Link targets name ROOT_URL, another origin.
  const auto seen = m_forgejo.seen();
  ASSERT_EQ(seen.size(), 3U);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].method, "GET");
    EXPECT_EQ(seen[i].path, "/repos/acme/api/issues");
    EXPECT_EQ(seen[i].query, "state=open&type=issues&labels=ready-for-agent&limit=50&page=" +
                                 std::to_string(i + 1));
  }
}

TEST_F(ForgejoTrackerTest, ListFiltersPullRequestsEvenWhenTheServerDoesNot) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.issues[3] = issue_json("acme/api", 3, "Spaced", fj.labels_of({"Ready: for agent"}));
    fj.issues[4] = pull_json(4, fj.labels_of({"Ready: for agent"}));
    fj.issues[5] = issue_json("acme/api", 5, "No labels", nullptr);
  });
  const auto issues = m_tracker->list_open_issues(repo("acme/api"), "ready: for agent");
  ASSERT_EQ(issues.size(), 1U);
  EXPECT_EQ(issues[0].summary.ref, issue(3));
  EXPECT_EQ(m_forgejo.seen().at(0).query,
            "state=open&type=issues&labels=ready%3A%20for%20agent&limit=50&page=1");
  // An older server that ignores type=issues still never yields the pull request.
  m_forgejo.forget();
  const auto all = m_tracker->list_open_issues(repo("acme/api"), "Ready: for agent");
  EXPECT_EQ(all.size(), 1U);
}

TEST_F(ForgejoTrackerTest, GetIssueTreatsPullRequestsAndMissingAsAbsent) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.issues[5] = issue_json("acme/api", 5, "Closed one", fj.labels_of({"bug"}), "closed");
    fj.issues[6] = pull_json(6, json::array());
    fj.issues[8] = issue_json("acme/api", 8, "Unlabelled", nullptr);
  });
  const auto five = m_tracker->get_issue(issue(5));
  ASSERT_TRUE(five.has_value());
  EXPECT_FALSE(five->open);
  EXPECT_EQ(five->summary.title, "Closed one");
  EXPECT_EQ(five->summary.labels, std::vector<std::string>{"bug"});
  EXPECT_FALSE(m_tracker->get_issue(issue(6)).has_value());
  EXPECT_FALSE(m_tracker->get_issue(issue(404)).has_value());
  EXPECT_TRUE(m_tracker->get_issue(issue(8))->summary.labels.empty());
  EXPECT_EQ(m_forgejo.seen().at(0).path, "/repos/acme/api/issues/5");
}

TEST_F(ForgejoTrackerTest, GarbageAndWrongShapesAreProtocolErrors) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.issues[5] = issue_json("acme/api", 5, "Five", json::array());
    fj.issues[6] = issue_json("acme/api", 6, "Six", json::array());
    fj.issues[6]["number"] = "six";
    fj.issues[7] = issue_json("acme/api", 7, "Seven", json::array());
    fj.issues[7]["created_at"] = "last tuesday";
    fj.garbage.insert("/repos/acme/api/issues/5");
    fj.garbage.insert("/repos/acme/api/labels");
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
  EXPECT_EQ(kind_of([&] { m_tracker->add_label(issue(6), "bug"); }), ErrorKind::protocol);
}

TEST_F(ForgejoTrackerTest, LastLabeledIsTheLatestAddOfTheLabel) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.page_cap = 2;
    fj.issues[7] = issue_json("acme/api", 7, "Relabelled", fj.labels_of({"ready-for-agent"}));
    const json ready = fj.label("ready-for-agent");
    fj.timeline[7] = json::array({
        label_event(1, true, ready, user("alice"), "2026-01-01T10:00:00Z"),
        label_event(2, false, ready, user("bob"), "2026-01-02T10:00:00Z"),
        label_event(3, true, fj.label("bug"), user("carol"), "2026-01-03T10:00:00Z"),
        label_event(4, true, label_object(11, "Ready-For-Agent"), user("dave"),
                    "2026-01-04T11:00:00+01:00"),
        label_event(5, false, ready, user("erin"), "2026-01-05T10:00:00Z"),
        label_event(6, true, nullptr, user("frank"), "2026-01-06T10:00:00Z"),
    });
    json note = comment_json(7, "grace", "ready-for-agent please");
    note["type"] = "comment";
    note["label"] = nullptr;
    fj.timeline[7].push_back(note);
  });
  const auto event = m_tracker->last_labeled(issue(7), "ready-for-agent");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->login, "dave");
  EXPECT_EQ(event->actor, LabelerEvidence::Actor::human);
  EXPECT_EQ(event->at, time_of("2026-01-04T10:00:00Z"));

  // Seven events two a page, and the timeline's X-Total-Count counts one page only: pages
  // are read until one comes back empty.
  const auto seen = m_forgejo.seen();
  ASSERT_EQ(seen.size(), 5U);
  EXPECT_EQ(seen[0].path, "/repos/acme/api/issues/7/timeline");
  EXPECT_EQ(seen[0].query, "limit=50&page=1");
  EXPECT_EQ(seen[4].query, "limit=50&page=5");
}

TEST_F(ForgejoTrackerTest, LastLabeledReportsBots) {
  m_forgejo.edit([](FakeForgejo& fj) {
    const json ready = fj.label("ready-for-agent");
    for (std::int64_t n = 8; n <= 14; ++n) {
      fj.issues[n] = issue_json("acme/api", n, "Labelled", fj.labels_of({"ready-for-agent"}));
    }
    fj.timeline[8] =
        json::array({label_event(1, true, ready, user("renovate[bot]"), "2026-01-01T10:00:00Z")});
    fj.timeline[9] = json::array(
        {label_event(2, true, ready, user("forgejo-actions", -2), "2026-01-01T10:00:00Z")});
    fj.timeline[10] =
        json::array({label_event(3, true, ready, user("Ghost", -1), "2026-01-01T10:00:00Z")});
    fj.timeline[11] =
        json::array({label_event(4, true, fj.label("bug"), user("alice"), "2026-01-01T10:00:00Z")});
    fj.timeline[12] = json::array({label_event(5, true, ready, user("alice"), "yesterday")});
    // The bot added it first; a human re-added it later: the last add wins.
    fj.timeline[14] = json::array({
        label_event(6, true, ready, user("renovate[bot]"), "2026-01-01T10:00:00Z"),
        label_event(7, false, ready, user("alice"), "2026-01-02T10:00:00Z"),
        label_event(8, true, ready, user("alice"), "2026-01-03T10:00:00Z"),
    });
  });
  const auto actor = [&](std::int64_t n) {
    return m_tracker->last_labeled(issue(n), "ready-for-agent")->actor;
  };
  EXPECT_EQ(actor(8), LabelerEvidence::Actor::bot);
  EXPECT_EQ(actor(9), LabelerEvidence::Actor::bot);
  EXPECT_EQ(actor(10), LabelerEvidence::Actor::bot);
  EXPECT_EQ(actor(14), LabelerEvidence::Actor::human);
  EXPECT_EQ(m_tracker->last_labeled(issue(14), "ready-for-agent")->login, "alice");
  EXPECT_FALSE(m_tracker->last_labeled(issue(11), "ready-for-agent").has_value());
  EXPECT_FALSE(m_tracker->last_labeled(issue(13), "ready-for-agent").has_value());
  EXPECT_FALSE(m_tracker->last_labeled(issue(404), "ready-for-agent").has_value());
  EXPECT_EQ(kind_of([&] { (void)m_tracker->last_labeled(issue(12), "ready-for-agent"); }),
            ErrorKind::protocol);
}

TEST_F(ForgejoTrackerTest, PermissionMapsForgejoLevels) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.permissions["owner"] = "owner";
    fj.permissions["admin"] = "admin";
    fj.permissions["writer"] = "write";
    fj.permissions["reader"] = "read";
    fj.permissions["nobody"] = "none";
    fj.permissions["odd"] = "superuser";
  });
  const auto level = [&](std::string_view login) {
    return m_tracker->permission(repo("acme/api"), login);
  };
  EXPECT_EQ(level("owner"), Permission::admin);
  EXPECT_EQ(level("Admin"), Permission::admin);
  EXPECT_EQ(level("writer"), Permission::write);
  EXPECT_EQ(level("reader"), Permission::read);
  EXPECT_EQ(level("nobody"), Permission::none);
  EXPECT_EQ(level("odd"), Permission::none);
  EXPECT_EQ(level("stranger"), Permission::none);
  EXPECT_EQ(level(""), Permission::none);
  EXPECT_EQ(m_forgejo.seen().at(0).path, "/repos/acme/api/collaborators/owner/permission");
}

TEST_F(ForgejoTrackerTest, NativeBlockersCarryRepoAndState) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.issues[7] = issue_json("acme/api", 7, "Blocked", json::array());
    fj.issues[8] = issue_json("acme/api", 8, "Free", json::array());
    fj.issues[9] = issue_json("acme/api", 9, "Many blockers", json::array());
    fj.dependencies[7] =
        json::array({issue_json("acme/api", 3, "Open blocker", json::array()),
                     issue_json("Acme/Infra", 12, "Cross repo", json::array(), "closed"),
                     issue_json("acme/api", 4, "Weird", json::array(), "locked")});
    json many = json::array();
    for (std::int64_t n = 1; n <= 5; ++n) {
      many.push_back(issue_json("acme/api", 100 + n, "B", json::array(), "closed"));
    }
    fj.dependencies[9] = many;
  });
  const auto blockers = m_tracker->native_blockers(issue(7));
  EXPECT_EQ(blockers, (std::vector<BlockerEvidence>{
                          {issue(3), BlockerEvidence::State::open},
                          {IssueRef{repo("acme/infra"), 12}, BlockerEvidence::State::closed},
                          {issue(4), BlockerEvidence::State::unknown},
                      }));
  EXPECT_EQ(blockers[1].ref.repo.full(), "Acme/Infra");
  EXPECT_TRUE(m_tracker->native_blockers(issue(8)).empty());
  EXPECT_TRUE(m_tracker->native_blockers(issue(404)).empty());
  EXPECT_EQ(m_forgejo.seen().at(0).path, "/repos/acme/api/issues/7/dependencies");
  EXPECT_EQ(m_forgejo.seen().at(0).query, "limit=50&page=1");

  m_forgejo.edit([](FakeForgejo& fj) { fj.page_cap = 2; });
  EXPECT_EQ(m_tracker->native_blockers(issue(9)).size(), 5U);

  m_forgejo.edit([](FakeForgejo& fj) {
    fj.page_cap = 50;
    fj.dependencies_enabled = false;
  });
  EXPECT_TRUE(m_tracker->native_blockers(issue(7)).empty());

  m_forgejo.edit([](FakeForgejo& fj) {
    fj.dependencies_enabled = true;
    fj.dependencies[8] = json::array({issue_json("acme/api", 3, "x", json::array())});
    fj.dependencies[8][0]["repository"]["full_name"] = "not a repo";
  });
  EXPECT_EQ(kind_of([&] { (void)m_tracker->native_blockers(issue(8)); }), ErrorKind::protocol);
}

TEST_F(ForgejoTrackerTest, AddsAndRemovesLabelsById) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.page_cap = 2; // the repository's five labels come in three pages
    fj.issues[7] = issue_json("acme/api", 7, "Labels", fj.labels_of({"ready-for-agent"}));
  });
  m_tracker->add_label(issue(7), "Agent-In-Progress");
  m_tracker->add_label(issue(7), "afk-frozen"); // an organisation label
  m_tracker->remove_label(issue(7), "ready-for-agent");
  m_tracker->remove_label(issue(7), "never: there");
  m_tracker->remove_label(issue(404), "bug");

  const auto labels = m_tracker->get_issue(issue(7))->summary.labels;
  EXPECT_EQ(labels, (std::vector<std::string>{"agent-in-progress", "afk-frozen"}));
  const auto seen = m_forgejo.seen();
  std::vector<Seen> writes;
  std::copy_if(seen.begin(), seen.end(), std::back_inserter(writes),
               [](const Seen& s) { return s.method != "GET"; });
  ASSERT_EQ(writes.size(), 3U);
  EXPECT_EQ(writes[0].method, "POST");
  EXPECT_EQ(writes[0].path, "/repos/acme/api/issues/7/labels");
  EXPECT_EQ(json::parse(writes[0].body), json::parse(R"({"labels":[12]})"));
  EXPECT_EQ(json::parse(writes[1].body), json::parse(R"({"labels":[31]})"));
  EXPECT_EQ(writes[2].method, "DELETE");
  EXPECT_EQ(writes[2].path, "/repos/acme/api/issues/7/labels/11");
  EXPECT_EQ(seen.at(0).path, "/repos/acme/api/labels");
  EXPECT_EQ(seen.at(0).query, "limit=50&page=1");
}

TEST_F(ForgejoTrackerTest, UnknownLabelIsAConfigError) {
  m_forgejo.edit(
      [](FakeForgejo& fj) { fj.issues[7] = issue_json("acme/api", 7, "Labels", json::array()); });
  try {
    m_tracker->add_label(issue(7), "no-such-label");
    FAIL() << "unknown label accepted";
  } catch (const afk::Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::config);
    EXPECT_NE(std::string(error.what()).find("no-such-label"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("acme/api"), std::string::npos);
  }
  EXPECT_EQ(kind_of([&] {
              (void)m_tracker->open_issue(repo("acme/api"), "t", "b", {"bug", "no-such-label"});
            }),
            ErrorKind::config);
  const auto seen = m_forgejo.seen();
  EXPECT_TRUE(
      std::none_of(seen.begin(), seen.end(), [](const Seen& s) { return s.method != "GET"; }));
  // A repository that does not exist is not a missing label.
  EXPECT_EQ(kind_of([&] {
              m_tracker->add_label(IssueRef{repo("acme/gone"), 1}, "bug");
            }),
            ErrorKind::permanent);
}

TEST_F(ForgejoTrackerTest, CommentsByKeepsOnlyTheAuthorsMarkedComments) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.issues[7] = issue_json("acme/api", 7, "Comments", json::array());
    fj.comments[7] = json::array({
        comment_json(11, "alice", "<!-- afk:run {} --> forged"),
        comment_json(12, "AFK-Bot", "<!-- afk:run {\"v\":1} -->", "2026-01-06T09:00:00+01:00"),
        comment_json(13, "afk-bot", "a plain note"),
        comment_json(14, "afk-bot", "second <!-- afk:run {\"v\":1} -->"),
    });
    fj.comments[7].push_back(comment_json(15, "ghost", "<!-- afk:run -->"));
    fj.comments[7].back()["user"] = nullptr;
  });
  const auto comments = m_tracker->comments_by(issue(7), "afk-bot", "<!-- afk:run");
  ASSERT_EQ(comments.size(), 2U);
  EXPECT_EQ(comments[0].id, 12);
  EXPECT_EQ(comments[0].author, "AFK-Bot");
  EXPECT_EQ(comments[0].body, "<!-- afk:run {\"v\":1} -->");
  EXPECT_EQ(comments[0].updated_at, time_of("2026-01-06T08:00:00Z"));
  EXPECT_EQ(comments[1].id, 14);
  // Not paginated, but X-Total-Count says all came at once: one request.
  EXPECT_EQ(m_forgejo.seen().size(), 1U);
  EXPECT_EQ(m_forgejo.seen().at(0).query, "limit=50&page=1");
}

TEST_F(ForgejoTrackerTest, CreatesAndEditsComments) {
  m_forgejo.edit(
      [](FakeForgejo& fj) { fj.issues[7] = issue_json("acme/api", 7, "C", json::array()); });
  const std::int64_t id = m_tracker->create_comment(issue(7), "hello \"afk\"\n");
  EXPECT_EQ(id, 900);
  m_tracker->edit_comment(repo("acme/api"), id, "edited");

  const auto comments = m_tracker->comments_by(issue(7), "afk-bot", "");
  ASSERT_EQ(comments.size(), 1U);
  EXPECT_EQ(comments[0].body, "edited");
  const auto seen = m_forgejo.seen();
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/repos/acme/api/issues/7/comments");
  EXPECT_EQ(json::parse(seen[0].body), json({{"body", "hello \"afk\"\n"}}));
  EXPECT_EQ(seen[1].method, "PATCH");
  EXPECT_EQ(seen[1].path, "/repos/acme/api/issues/comments/900");
  EXPECT_EQ(json::parse(seen[1].body), json({{"body", "edited"}}));

  EXPECT_EQ(kind_of([&] { m_tracker->edit_comment(repo("acme/api"), 12345, "x"); }),
            ErrorKind::permanent);
  EXPECT_EQ(kind_of([&] { (void)m_tracker->create_comment(issue(99), "x"); }),
            ErrorKind::permanent);
}

TEST_F(ForgejoTrackerTest, ClosesAndReopensIssues) {
  m_forgejo.edit(
      [](FakeForgejo& fj) { fj.issues[7] = issue_json("acme/api", 7, "C", json::array()); });
  m_tracker->close_issue(issue(7));
  EXPECT_FALSE(m_tracker->get_issue(issue(7))->open);
  m_tracker->reopen_issue(issue(7));
  EXPECT_TRUE(m_tracker->get_issue(issue(7))->open);

  const auto seen = m_forgejo.seen();
  EXPECT_EQ(seen[0].method, "PATCH");
  EXPECT_EQ(seen[0].path, "/repos/acme/api/issues/7");
  EXPECT_EQ(json::parse(seen[0].body), json({{"state", "closed"}}));
  EXPECT_EQ(json::parse(seen[2].body), json({{"state", "open"}}));
  EXPECT_EQ(kind_of([&] { m_tracker->close_issue(issue(99)); }), ErrorKind::permanent);
}

TEST_F(ForgejoTrackerTest, OpensIssuesWithLabelIds) {
  m_forgejo.edit(
      [](FakeForgejo& fj) { fj.issues[41] = issue_json("acme/api", 41, "Old", json::array()); });
  const IssueRef opened =
      m_tracker->open_issue(repo("acme/api"), "afk: main is red", "details", {"afk-frozen", "BUG"});
  EXPECT_EQ(opened, issue(42));
  const auto created = m_tracker->get_issue(opened);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->summary.title, "afk: main is red");
  EXPECT_EQ(created->body, "details");
  EXPECT_EQ(created->summary.labels, (std::vector<std::string>{"afk-frozen", "bug"}));
  const auto seen = m_forgejo.seen();
  const auto post =
      std::find_if(seen.begin(), seen.end(), [](const Seen& s) { return s.method == "POST"; });
  ASSERT_NE(post, seen.end());
  EXPECT_EQ(post->path, "/repos/acme/api/issues");
  EXPECT_EQ(json::parse(post->body), json({{"title", "afk: main is red"},
                                           {"body", "details"},
                                           {"labels", json::array({31, 13})}}));
  EXPECT_EQ(kind_of([&] { (void)m_tracker->open_issue(repo("acme/api"), "", "b", {}); }),
            ErrorKind::conflict);
}

TEST_F(ForgejoTrackerTest, BranchHeadReadsTheCommitId) {
  m_forgejo.edit([](FakeForgejo& fj) {
    fj.branches["main"] = std::string(k_sha);
    fj.branches["release/1.x"] = std::string(k_sha);
    fj.branches["broken"] = "HEAD~1; rm -rf /";
  });
  EXPECT_EQ(m_tracker->branch_head(repo("acme/api"), "main"), std::string(k_sha));
  EXPECT_EQ(m_tracker->branch_head(repo("acme/api"), "release/1.x"), std::string(k_sha));
  EXPECT_FALSE(m_tracker->branch_head(repo("acme/api"), "gone").has_value());
  EXPECT_EQ(kind_of([&] { (void)m_tracker->branch_head(repo("acme/api"), "broken"); }),
            ErrorKind::protocol);
  const auto seen = m_forgejo.seen();
  EXPECT_EQ(seen[0].path, "/repos/acme/api/branches/main");
  EXPECT_EQ(seen[1].path, "/repos/acme/api/branches/release/1.x");
}

TEST_F(ForgejoTrackerTest, DefaultBranch) {
  m_forgejo.edit([](FakeForgejo& fj) { fj.default_branch = "trunk"; });
  EXPECT_EQ(m_tracker->default_branch(repo("acme/api")), "trunk");
  EXPECT_EQ(m_forgejo.seen().at(0).path, "/repos/acme/api");
  EXPECT_EQ(kind_of([&] { (void)m_tracker->default_branch(repo("acme/gone")); }),
            ErrorKind::permanent);
}

} // namespace
