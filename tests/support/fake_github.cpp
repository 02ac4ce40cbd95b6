// SPDX-License-Identifier: MIT
#include "support/fake_github.hpp"

#include "support/loopback_server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

namespace afk::test {

// Named rather than anonymous: FakeGitHub::State (declared in the header) holds these types.
namespace fake_github_detail {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using Time = std::chrono::system_clock::time_point;

constexpr std::string_view k_docs = "https://docs.github.com/rest";
constexpr std::string_view k_forbidden = "Resource not accessible by personal access token";
constexpr std::size_t k_max_body_chars = 65536; // GitHub's limit for issue and comment bodies
constexpr std::size_t k_max_label_chars = 50;

// --- small pure helpers ------------------------------------------------------------------------

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return text;
}

bool iequals(const std::string& a, const std::string& b) {
  return lower(a) == lower(b);
}

std::string format_time(Time when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02d-%02dT%02d:%02d:%02dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return buffer.data();
}

bool is_hex_sha(const std::string& text) {
  return (text.size() == 40 || text.size() == 64) &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<std::int64_t> parse_number(const std::string& text) {
  if (text.empty() || text.size() > 15 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(text);
}

std::size_t utf8_length(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
  }));
}

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string encode_segment(const std::string& text) {
  constexpr std::string_view k_hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[byte >> 4U];
      out += k_hex[byte & 0x0FU];
    }
  }
  return out;
}

std::string reason_phrase(int status) {
  static const std::map<int, std::string> k_phrases = {
      {400, "Bad Request"},         {401, "Bad credentials"}, {403, "Forbidden"},
      {404, "Not Found"},           {409, "Conflict"},        {422, "Validation Failed"},
      {429, "Too Many Requests"},   {500, "Server Error"},    {502, "Bad Gateway"},
      {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
  const auto found = k_phrases.find(status);
  return found == k_phrases.end() ? "Error" : found->second;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto next = std::min(text.find(separator, pos), text.size());
    out.push_back(text.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

int permission_rank(const std::string& level) {
  static const std::map<std::string, int> k_ranks = {{"none", 0},  {"read", 1},     {"triage", 2},
                                                     {"write", 3}, {"maintain", 4}, {"admin", 5}};
  const auto found = k_ranks.find(level);
  return found == k_ranks.end() ? -1 : found->second;
}

// The permission endpoint's "permission" folds maintain into write and triage into read.
std::string folded_permission(const std::string& level) {
  if (level == "maintain") {
    return "write";
  }
  if (level == "triage") {
    return "read";
  }
  return level;
}

bool valid_branch_name(const std::string& name) {
  return !name.empty() && name.find("..") == std::string::npos && name.front() != '/' &&
         name.back() != '/' && name.find("//") == std::string::npos &&
         std::none_of(name.begin(), name.end(), [](char c) {
           return static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == ' ' || c == '~' ||
                  c == '^' || c == ':' || c == '?' || c == '*' || c == '[';
         });
}

// --- the git directory a repository mirrors ------------------------------------------------------

std::optional<std::string> read_ref(const fs::path& git_dir, const std::string& ref,
                                    int depth = 0) {
  if (depth > 5) {
    return std::nullopt;
  }
  if (std::ifstream loose(git_dir / ref); loose) {
    std::string line;
    std::getline(loose, line);
    if (line.starts_with("ref: ")) {
      return read_ref(git_dir, line.substr(5), depth + 1);
    }
    if (is_hex_sha(line)) {
      return line;
    }
  }
  std::ifstream packed(git_dir / "packed-refs");
  std::string line;
  while (std::getline(packed, line)) {
    if (line.empty() || line.front() == '#' || line.front() == '^') {
      continue;
    }
    const auto space = line.find(' ');
    if (space != std::string::npos && line.substr(space + 1) == ref &&
        is_hex_sha(line.substr(0, space))) {
      return line.substr(0, space);
    }
  }
  return std::nullopt;
}

std::uint32_t big_endian(const std::string& data, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value = (value << 8U) | static_cast<unsigned char>(data[at + i]);
  }
  return value;
}

// Whether a version-2 pack index (SHA-1) lists `sha`.
bool pack_index_has(const fs::path& idx, const std::string& sha) {
  std::ifstream in(idx, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr std::size_t k_names = 8 + 256 * 4;
  if (sha.size() != 40 || data.size() < k_names || data.compare(0, 4, "\377tOc") != 0 ||
      big_endian(data, 4) != 2) {
    return false;
  }
  std::string raw;
  for (std::size_t i = 0; i < sha.size(); i += 2) {
    raw += static_cast<char>(std::stoi(sha.substr(i, 2), nullptr, 16));
  }
  const auto first = static_cast<unsigned char>(raw[0]);
  std::size_t low = first == 0 ? 0 : big_endian(data, 8 + (first - 1U) * 4);
  std::size_t high = big_endian(data, 8 + first * 4U);
  if (data.size() < k_names + high * 20) {
    return false;
  }
  while (low < high) {
    const std::size_t mid = (low + high) / 2;
    const int order = data.compare(k_names + mid * 20, 20, raw);
    if (order == 0) {
      return true;
    }
    if (order < 0) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  return false;
}

bool git_has_object(const fs::path& git_dir, const std::string& sha) {
  std::error_code ec;
  if (fs::is_regular_file(git_dir / "objects" / sha.substr(0, 2) / sha.substr(2), ec)) {
    return true;
  }
  for (fs::directory_iterator it(git_dir / "objects" / "pack", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() == ".idx" && pack_index_has(it->path(), sha)) {
      return true;
    }
  }
  return false;
}

// --- the world -----------------------------------------------------------------------------------

struct User {
  std::int64_t id = 0;
  std::string login, type;
};

struct Label {
  std::int64_t id = 0;
  std::string name, color;
};

struct Event {
  std::int64_t id = 0;
  std::string event, actor, label, app_slug, state_reason;
  Time at;
};

struct Issue {
  std::int64_t id = 0, number = 0;
  std::string title, body, state = "open", state_reason, author;
  std::vector<std::string> labels; // keys of Repo::labels
  bool pull = false;
  Time created, updated;
  std::optional<Time> closed_at;
  std::string closed_by;
  std::vector<Event> events;
  std::vector<std::pair<std::string, std::int64_t>> blocked_by; // repo key, number
};

struct Comment {
  std::int64_t id = 0, issue = 0;
  std::string author, body;
  Time created, updated;
};

struct CheckRun {
  std::int64_t id = 0, suite = 0;
  std::string sha, name, status, conclusion;
  Time started;
  std::optional<Time> completed;
};

struct CommitStatus {
  std::int64_t id = 0;
  std::string sha, context, state, target_url;
  Time at;
};

struct Repo {
  std::int64_t id = 0;
  std::string full_name, default_branch;
  std::map<std::string, Label> labels; // by lower-case name
  std::map<std::int64_t, Issue> issues;
  std::map<std::int64_t, Comment> comments;
  std::map<std::string, std::string> permissions; // lower-case login → level
  std::map<std::string, std::string> branches;
  std::set<std::string> commits;
  std::vector<CheckRun> runs;
  std::vector<CommitStatus> statuses;
  std::map<std::string, std::int64_t> suites; // sha → check suite id
  std::optional<fs::path> git_dir;
  std::int64_t next_number = 1;
};

struct Fault {
  std::string prefix;
  int status = 500;
  int count = 0;
};

// A request on its way through the routes: an answer is an exception-free early return.
struct Call {
  Call(const httplib::Request& request, httplib::Response& response)
      : req(request)
      , res(response) {}
  const httplib::Request& req;
  httplib::Response& res;
  Repo* repo = nullptr;
  std::vector<std::string> rest;      // decoded segments after the repository
  std::string link_base;              // /repositories/{id}/… as Link headers name it
  std::vector<std::string> raw_query; // key=value pairs as sent
  std::map<std::string, std::string> params;
  Json body;
};

} // namespace fake_github_detail

using namespace fake_github_detail; // NOLINT(google-build-using-namespace)

struct FakeGitHub::State {
  FakeGitHubOptions options;

  mutable std::mutex mutex;          // guards everything below
  std::map<std::string, Repo> repos; // by lower-case full name
  std::map<std::string, User> users; // by lower-case login
  std::int64_t next_id = 1000;
  Time clock{};
  std::vector<Received> received;
  std::vector<Fault> faults;
  std::chrono::milliseconds delay{0};
  std::string base;

  std::unique_ptr<LoopbackServer> server; // last: stopped first

  // ---- time and ids ----

  Time stamp() {
    const Time now = options.now ? options.now() : std::chrono::system_clock::now();
    const Time whole_seconds = std::chrono::floor<std::chrono::seconds>(now);
    clock = std::max(clock, whole_seconds);
    return clock;
  }
  // A moment strictly after `previous`, so that an edit is always visible.
  Time stamp_after(Time previous) {
    clock = std::max(stamp(), previous + std::chrono::seconds(1));
    return clock;
  }
  std::int64_t id() { return next_id++; }

  // ---- lookups for world building (throwing) ----

  Repo& repo(const std::string& full_name) {
    const auto found = repos.find(lower(full_name));
    if (found == repos.end()) {
      throw std::invalid_argument("fake GitHub: no repository " + full_name);
    }
    return found->second;
  }
  Issue& issue(Repo& r, std::int64_t number) {
    const auto found = r.issues.find(number);
    if (found == r.issues.end()) {
      throw std::invalid_argument("fake GitHub: no issue " + r.full_name + "#" +
                                  std::to_string(number));
    }
    return found->second;
  }

  User& user(const std::string& login, bool bot = false) {
    auto& entry = users[lower(login)];
    if (entry.id == 0) {
      entry = User{id(), login, bot || lower(login).ends_with("[bot]") ? "Bot" : "User"};
    } else if (bot) {
      entry.type = "Bot";
    }
    return entry;
  }

  std::string permission_of(const Repo& r, const std::string& login) const {
    const auto found = r.permissions.find(lower(login));
    if (found != r.permissions.end()) {
      return found->second;
    }
    return iequals(login, options.login) ? "write" : "";
  }
  bool token_may(const Repo& r, const std::string& level) const {
    return permission_rank(permission_of(r, options.login)) >= permission_rank(level);
  }

  // ---- mutations shared by world building and the API ----

  std::string ensure_label(Repo& r, const std::string& name) {
    const std::string key = lower(name);
    if (!r.labels.contains(key)) {
      r.labels[key] = Label{id(), name, "ededed"};
    }
    return key;
  }
  void add_event(Issue& issue, std::string event, const std::string& actor, std::string label = {},
                 std::string app_slug = {}) {
    issue.events.push_back(Event{id(), std::move(event), actor, std::move(label),
                                 std::move(app_slug), issue.state_reason, stamp()});
  }
  void apply_label(Repo& r, Issue& issue, const std::string& name, const std::string& actor,
                   const std::string& app_slug = {}) {
    const std::string key = ensure_label(r, name);
    if (std::find(issue.labels.begin(), issue.labels.end(), key) != issue.labels.end()) {
      return;
    }
    issue.labels.push_back(key);
    add_event(issue, "labeled", actor, r.labels[key].name, app_slug);
    issue.updated = stamp();
  }
  bool drop_label(Repo& r, Issue& issue, const std::string& name, const std::string& actor) {
    const auto found = std::find(issue.labels.begin(), issue.labels.end(), lower(name));
    if (found == issue.labels.end()) {
      return false;
    }
    const std::string shown = r.labels[*found].name;
    issue.labels.erase(found);
    add_event(issue, "unlabeled", actor, shown);
    issue.updated = stamp();
    return true;
  }
  void set_state(Issue& issue, const std::string& state, const std::string& reason,
                 const std::string& actor) {
    if (issue.state == state) {
      if (state == "closed" && !reason.empty()) {
        issue.state_reason = reason;
      }
      return;
    }
    issue.state = state;
    issue.state_reason = state == "closed" ? (reason.empty() ? "completed" : reason) : "reopened";
    issue.closed_at = state == "closed" ? std::optional<Time>(stamp()) : std::nullopt;
    issue.closed_by = state == "closed" ? actor : "";
    add_event(issue, state == "closed" ? "closed" : "reopened", actor);
    issue.updated = stamp();
  }
  Issue& new_issue(Repo& r, const std::string& title, const std::string& body,
                   const std::string& author, bool pull) {
    Issue& issue = r.issues[r.next_number];
    issue.id = id();
    issue.number = r.next_number++;
    issue.title = title;
    issue.body = body;
    issue.author = author;
    issue.pull = pull;
    issue.created = issue.updated = stamp();
    (void)user(author);
    return issue;
  }
  std::int64_t new_comment(Repo& r, Issue& issue, const std::string& author,
                           const std::string& body) {
    const std::int64_t comment_id = id();
    const Time at = stamp();
    r.comments[comment_id] = Comment{comment_id, issue.number, author, body, at, at};
    issue.updated = at;
    (void)user(author);
    return comment_id;
  }

  // ---- git ----

  std::optional<std::string> branch_head(const Repo& r, const std::string& branch) const {
    if (!valid_branch_name(branch)) {
      return std::nullopt;
    }
    if (r.git_dir) {
      if (auto sha = read_ref(*r.git_dir, "refs/heads/" + branch)) {
        return sha;
      }
    }
    const auto found = r.branches.find(branch);
    return found == r.branches.end() ? std::nullopt : std::optional(found->second);
  }
  // A ref GitHub can resolve: a branch, or a commit it knows.
  std::optional<std::string> resolve_commit(const Repo& r, const std::string& ref) const {
    if (auto head = branch_head(r, ref)) {
      return head;
    }
    if (!is_hex_sha(ref)) {
      return std::nullopt;
    }
    const bool known = r.commits.contains(ref) || (r.git_dir && git_has_object(*r.git_dir, ref)) ||
                       std::any_of(r.branches.begin(), r.branches.end(),
                                   [&](const auto& branch) { return branch.second == ref; });
    return known ? std::optional(ref) : std::nullopt;
  }

  // ---- JSON in GitHub's shapes ----

  std::string api(const Repo& r) const { return base + "/repos/" + r.full_name; }
  std::string web(const Repo& r) const { return options.web_url + "/" + r.full_name; }

  Json user_json(const std::string& login) {
    const User& u = user(login);
    return {
        {"login", u.login},
        {"id", u.id},
        {"node_id", "U_kgDO" + std::to_string(u.id)},
        {"avatar_url", "https://avatars.githubusercontent.com/u/" + std::to_string(u.id) + "?v=4"},
        {"gravatar_id", ""},
        {"url", base + "/users/" + u.login},
        {"html_url", options.web_url + "/" + u.login},
        {"type", u.type},
        {"site_admin", false}};
  }

  Json label_json(const Repo& r, const std::string& key) const {
    const Label& label = r.labels.at(key);
    return {{"id", label.id},
            {"node_id", "LA_kwDO" + std::to_string(label.id)},
            {"url", api(r) + "/labels/" + encode_segment(label.name)},
            {"name", label.name},
            {"color", label.color},
            {"default", false},
            {"description", nullptr}};
  }

  Json labels_json(const Repo& r, const Issue& issue) const {
    Json out = Json::array();
    for (const auto& key : issue.labels) {
      out.push_back(label_json(r, key));
    }
    return out;
  }

  static Json optional_time(const std::optional<Time>& at) {
    return at ? Json(format_time(*at)) : Json(nullptr);
  }

  Json issue_json(const Repo& r, const Issue& issue) {
    const std::string url = api(r) + "/issues/" + std::to_string(issue.number);
    const auto comment_count =
        std::count_if(r.comments.begin(), r.comments.end(),
                      [&](const auto& c) { return c.second.issue == issue.number; });
    Json out = {
        {"url", url},
        {"repository_url", api(r)},
        {"labels_url", url + "/labels{/name}"},
        {"comments_url", url + "/comments"},
        {"events_url", url + "/events"},
        {"html_url", web(r) + (issue.pull ? "/pull/" : "/issues/") + std::to_string(issue.number)},
        {"id", issue.id},
        {"node_id", (issue.pull ? "PR_kwDO" : "I_kwDO") + std::to_string(issue.id)},
        {"number", issue.number},
        {"title", issue.title},
        {"user", user_json(issue.author)},
        {"labels", labels_json(r, issue)},
        {"state", issue.state},
        {"locked", false},
        {"assignee", nullptr},
        {"assignees", Json::array()},
        {"milestone", nullptr},
        {"comments", comment_count},
        {"created_at", format_time(issue.created)},
        {"updated_at", format_time(issue.updated)},
        {"closed_at", optional_time(issue.closed_at)},
        {"author_association",
         permission_rank(permission_of(r, issue.author)) >= 3 ? "MEMBER" : "NONE"},
        {"active_lock_reason", nullptr},
        {"body", issue.body.empty() ? Json(nullptr) : Json(issue.body)},
        {"closed_by", issue.closed_by.empty() ? Json(nullptr) : user_json(issue.closed_by)},
        {"timeline_url", url + "/timeline"},
        {"performed_via_github_app", nullptr},
        {"state_reason", issue.state_reason.empty() ? Json(nullptr) : Json(issue.state_reason)},
    };
    if (issue.pull) {
      const std::string pull = web(r) + "/pull/" + std::to_string(issue.number);
      out["draft"] = false;
      out["pull_request"] = {{"url", api(r) + "/pulls/" + std::to_string(issue.number)},
                             {"html_url", pull},
                             {"diff_url", pull + ".diff"},
                             {"patch_url", pull + ".patch"},
                             {"merged_at", nullptr}};
    }
    return out;
  }

  Json app_json(const std::string& slug) {
    const User& owner = user("github");
    return {{"id", 15368},
            {"slug", slug},
            {"node_id", "MDM6QXBwMTUzNjg="},
            {"owner", user_json(owner.login)},
            {"name", slug},
            {"description", ""},
            {"external_url", options.web_url + "/apps/" + slug},
            {"html_url", options.web_url + "/apps/" + slug},
            {"created_at", "2018-07-30T09:30:17Z"},
            {"updated_at", "2019-12-10T19:04:12Z"},
            {"permissions", {{"issues", "write"}, {"checks", "write"}}},
            {"events", Json::array()}};
  }

  Json event_json(const Repo& r, const Event& event) {
    Json out = {{"id", event.id},
                {"node_id", "LE_lADO" + std::to_string(event.id)},
                {"url", api(r) + "/issues/events/" + std::to_string(event.id)},
                {"actor", user_json(event.actor)},
                {"event", event.event},
                {"commit_id", nullptr},
                {"commit_url", nullptr},
                {"created_at", format_time(event.at)}};
    if (!event.label.empty()) {
      const auto found = r.labels.find(lower(event.label));
      out["label"] = {{"name", event.label},
                      {"color", found == r.labels.end() ? "ededed" : found->second.color}};
    }
    if (event.event == "closed" || event.event == "reopened") {
      out["state_reason"] = event.state_reason.empty() ? Json(nullptr) : Json(event.state_reason);
    }
    out["performed_via_github_app"] =
        event.app_slug.empty() ? Json(nullptr) : app_json(event.app_slug);
    return out;
  }

  Json comment_json(const Repo& r, const Comment& comment) {
    const std::string id_text = std::to_string(comment.id);
    return {{"id", comment.id},
            {"node_id", "IC_kwDO" + id_text},
            {"url", api(r) + "/issues/comments/" + id_text},
            {"html_url",
             web(r) + "/issues/" + std::to_string(comment.issue) + "#issuecomment-" + id_text},
            {"body", comment.body},
            {"user", user_json(comment.author)},
            {"created_at", format_time(comment.created)},
            {"updated_at", format_time(comment.updated)},
            {"issue_url", api(r) + "/issues/" + std::to_string(comment.issue)},
            {"author_association",
             permission_rank(permission_of(r, comment.author)) >= 3 ? "MEMBER" : "NONE"},
            {"performed_via_github_app", nullptr}};
  }

  Json check_run_json(const Repo& r, const CheckRun& run) {
    const std::string id_text = std::to_string(run.id);
    return {
        {"id", run.id},
        {"name", run.name},
        {"node_id", "CR_kwDO" + id_text},
        {"head_sha", run.sha},
        {"external_id", ""},
        {"url", api(r) + "/check-runs/" + id_text},
        {"html_url", web(r) + "/runs/" + id_text},
        {"details_url", web(r) + "/actions/runs/" + std::to_string(run.suite) + "/job/" + id_text},
        {"status", run.status},
        {"conclusion", run.conclusion.empty() ? Json(nullptr) : Json(run.conclusion)},
        {"started_at", format_time(run.started)},
        {"completed_at", optional_time(run.completed)},
        {"output",
         {{"title", nullptr},
          {"summary", nullptr},
          {"text", nullptr},
          {"annotations_count", 0},
          {"annotations_url", api(r) + "/check-runs/" + id_text + "/annotations"}}},
        {"check_suite", {{"id", run.suite}}},
        {"app", app_json("github-actions")},
        {"pull_requests", Json::array()}};
  }

  Json status_json(const Repo& r, const CommitStatus& status) const {
    return {{"url", api(r) + "/statuses/" + status.sha},
            {"avatar_url", "https://avatars.githubusercontent.com/oa/4808?v=4"},
            {"id", status.id},
            {"node_id", "SC_kwDO" + std::to_string(status.id)},
            {"state", status.state},
            {"description", "Build " + status.state},
            {"target_url", status.target_url.empty() ? Json(nullptr) : Json(status.target_url)},
            {"context", status.context},
            {"created_at", format_time(status.at)},
            {"updated_at", format_time(status.at)}};
  }

  Json permission_json(const std::string& login, const std::string& level) {
    Json who = user_json(login);
    const int rank = permission_rank(level);
    who["permissions"] = {{"admin", rank >= 5},
                          {"maintain", rank >= 4},
                          {"push", rank >= 3},
                          {"triage", rank >= 2},
                          {"pull", rank >= 1}};
    who["role_name"] = level;
    return {
        {"permission", folded_permission(level)}, {"role_name", level}, {"user", std::move(who)}};
  }

  // ---- answers ----

  void reply(httplib::Response& res, int status, const Json& body) const {
    res.status = status;
    res.set_header("X-GitHub-Api-Version-Selected", options.api_version);
    res.set_header("X-GitHub-Media-Type", "github.v3; format=json");
    res.set_header("X-GitHub-Request-Id", "FAKE:" + std::to_string(received.size() + 1));
    res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace),
                    "application/json; charset=utf-8");
  }
  void error(httplib::Response& res, int status, const std::string& message) const {
    reply(
        res, status,
        {{"message", message}, {"documentation_url", k_docs}, {"status", std::to_string(status)}});
  }
  void not_found(httplib::Response& res) const { error(res, 404, "Not Found"); }
  void forbidden(httplib::Response& res) const { error(res, 403, std::string(k_forbidden)); }
  // A body that does not match the endpoint's schema.
  void invalid_request(httplib::Response& res, const std::string& detail) const {
    error(res, 422, "Invalid request.\n\n" + detail);
  }
  // A body that matches the schema but not the rules.
  void validation_failed(httplib::Response& res, const std::string& resource,
                         const std::string& field, const std::string& code,
                         const std::string& message = {}) const {
    Json item = {{"resource", resource}, {"code", code}, {"field", field}};
    if (!message.empty()) {
      item["message"] = message;
    }
    reply(res, 422,
          {{"message", "Validation Failed"},
           {"errors", Json::array({item})},
           {"documentation_url", k_docs},
           {"status", "422"}});
  }

  // One page of `items` with GitHub's Link header; `wrap` turns the page into the body.
  void page(Call& call, const std::vector<Json>& items,
            const std::function<Json(Json)>& wrap = {}) const {
    std::size_t per_page = 30;
    std::size_t index = 1;
    if (const auto it = call.params.find("per_page"); it != call.params.end()) {
      if (const auto n = parse_number(it->second); n && *n > 0) {
        per_page = static_cast<std::size_t>(*n);
      }
    }
    if (const auto it = call.params.find("page"); it != call.params.end()) {
      if (const auto n = parse_number(it->second); n && *n > 0) {
        index = static_cast<std::size_t>(*n);
      }
    }
    per_page = std::min({per_page, options.per_page_cap, std::size_t{100}});
    const std::size_t last = std::max<std::size_t>(1, (items.size() + per_page - 1) / per_page);
    Json slice = Json::array();
    for (std::size_t i = (index - 1) * per_page; i < std::min(items.size(), index * per_page);
         ++i) {
      slice.push_back(items[i]);
    }
    std::string kept;
    for (const auto& pair : call.raw_query) {
      if (!pair.starts_with("page=")) {
        kept += pair + "&";
      }
    }
    std::string links;
    const auto add = [&](std::size_t n, std::string_view rel) {
      links += (links.empty() ? "" : ", ") + std::string("<") + base + call.link_base + "?" + kept +
               "page=" + std::to_string(n) + ">; rel=\"" + std::string(rel) + "\"";
    };
    if (index > 1) {
      add(std::min(index - 1, last), "prev");
    }
    if (index < last) {
      add(index + 1, "next");
      add(last, "last");
    }
    if (index > 1) {
      add(1, "first");
    }
    if (!links.empty()) {
      call.res.set_header("Link", links);
    }
    reply(call.res, 200, wrap ? wrap(std::move(slice)) : slice);
  }

  // ---- serving ----

  void serve(const httplib::Request& req, httplib::Response& res) {
    std::chrono::milliseconds wait{0};
    {
      const std::lock_guard lock(mutex);
      wait = delay;
    }
    if (wait > std::chrono::milliseconds(0)) {
      std::this_thread::sleep_for(wait);
    }
    const std::lock_guard lock(mutex);
    answer(req, res);
    received.push_back(Received{
        req.method, req.target, req.body, res.status, {req.headers.begin(), req.headers.end()}});
  }

  void answer(const httplib::Request& req, httplib::Response& res) {
    const std::string path = req.target.substr(0, req.target.find('?'));
    for (auto fault = faults.begin(); fault != faults.end(); ++fault) {
      if (path.starts_with(fault->prefix)) {
        const int status = fault->status;
        if (--fault->count <= 0) {
          faults.erase(fault);
        }
        error(res, status, reason_phrase(status));
        return;
      }
    }
    const std::string authorization = req.get_header_value("Authorization");
    if (authorization.empty()) {
      error(res, 401, "Requires authentication");
      return;
    }
    if (authorization != "Bearer " + options.token && authorization != "token " + options.token) {
      error(res, 401, "Bad credentials");
      return;
    }
    if (const std::string accept = req.get_header_value("Accept"); accept != options.accept) {
      error(res, 415,
            "Unsupported 'Accept' header: \"" + accept + "\". This server accepts \"" +
                options.accept + "\".");
      return;
    }
    if (!req.has_header("X-GitHub-Api-Version")) {
      if (options.require_api_version) {
        error(res, 400,
              "The \"X-GitHub-Api-Version\" request header is missing. The following versions are "
              "currently supported: \"" +
                  options.api_version + "\".");
        return;
      }
    } else if (const std::string version = req.get_header_value("X-GitHub-Api-Version");
               version != options.api_version) {
      error(res, 400,
            "The version you specified in the \"X-GitHub-Api-Version\" request header, \"" +
                version +
                "\", is not a supported version. The following versions are currently "
                "supported: \"" +
                options.api_version + "\".");
      return;
    }

    Call call{req, res};
    if (req.method == "POST" || req.method == "PATCH" || req.method == "PUT") {
      call.body = req.body.empty() ? Json::object() : Json::parse(req.body, nullptr, false);
      if (call.body.is_discarded()) {
        error(res, 400, "Problems parsing JSON");
        return;
      }
    }
    if (const auto q = req.target.find('?'); q != std::string::npos) {
      for (const auto& pair : split(req.target.substr(q + 1), '&')) {
        if (pair.empty()) {
          continue;
        }
        call.raw_query.push_back(pair);
        const auto eq = pair.find('=');
        call.params[httplib::detail::decode_url(pair.substr(0, eq), true)] =
            eq == std::string::npos ? "" : httplib::detail::decode_url(pair.substr(eq + 1), true);
      }
    }
    std::vector<std::string> raw = split(path.size() > 1 ? path.substr(1) : "", '/');
    std::size_t rest_at = 0;
    if (raw.size() >= 3 && raw[0] == "repos") {
      const std::string key = lower(httplib::detail::decode_url(raw[1], false) + "/" +
                                    httplib::detail::decode_url(raw[2], false));
      const auto found = repos.find(key);
      call.repo = found == repos.end() ? nullptr : &found->second;
      rest_at = 3;
    } else if (raw.size() >= 2 && raw[0] == "repositories") {
      const auto wanted = parse_number(raw[1]);
      for (auto& [key, r] : repos) {
        if (wanted && r.id == *wanted) {
          call.repo = &r;
        }
      }
      rest_at = 2;
    }
    if (call.repo != nullptr && raw.size() == rest_at && req.method == "GET") {
      repo_route(call);
      return;
    }
    if (call.repo == nullptr || raw.size() <= rest_at) {
      not_found(res);
      return;
    }
    call.link_base = "/repositories/" + std::to_string(call.repo->id);
    for (std::size_t i = rest_at; i < raw.size(); ++i) {
      call.link_base += "/" + raw[i];
      call.rest.push_back(httplib::detail::decode_url(raw[i], false));
    }
    route(call);
  }

  void route(Call& call) {
    const auto& s = call.rest;
    const std::string& m = call.req.method;
    if (s[0] == "issues") {
      issues_route(call);
    } else if (s[0] == "collaborators" && s.size() == 3 && s[2] == "permission" && m == "GET") {
      const std::string level = permission_of(*call.repo, s[1]);
      if (level.empty()) {
        not_found(call.res);
      } else {
        reply(
            call.res, 200,
            permission_json(users.contains(lower(s[1])) ? users[lower(s[1])].login : s[1], level));
      }
    } else if (s[0] == "branches" && s.size() >= 2 && m == "GET") {
      branch_route(call);
    } else if (s[0] == "commits" && s.size() == 3 && m == "GET" &&
               (s[2] == "check-runs" || s[2] == "status")) {
      const auto sha = resolve_commit(*call.repo, s[1]);
      if (!sha) {
        error(call.res, 422, "No commit found for SHA: " + s[1]);
        return;
      }
      s[2] == "check-runs" ? check_runs_route(call, *sha) : combined_status_route(call, *sha);
    } else {
      not_found(call.res);
    }
  }

  // GET /repos/{o}/{r}: the repository, with the fields afk reads (default_branch).
  void repo_route(Call& call) {
    const Repo& r = *call.repo;
    const auto slash = r.full_name.find('/');
    reply(call.res, 200,
          {{"id", r.id},
           {"node_id", "R_kgDO" + std::to_string(r.id)},
           {"name", r.full_name.substr(slash + 1)},
           {"full_name", r.full_name},
           {"private", false},
           {"owner", {{"login", r.full_name.substr(0, slash)}, {"type", "Organization"}}},
           {"html_url", web(r)},
           {"url", api(r)},
           {"default_branch", r.default_branch},
           {"has_issues", true}});
  }

  void branch_route(Call& call) {
    std::string name;
    for (std::size_t i = 1; i < call.rest.size(); ++i) {
      name += (i > 1 ? "/" : "") + call.rest[i];
    }
    const Repo& r = *call.repo;
    const auto sha = branch_head(r, name);
    if (!sha) {
      error(call.res, 404, "Branch not found");
      return;
    }
    const std::string commit_url = api(r) + "/commits/" + *sha;
    reply(call.res, 200,
          {{"name", name},
           {"commit",
            {{"sha", *sha},
             {"node_id", "C_kwDO" + sha->substr(0, 12)},
             {"url", commit_url},
             {"html_url", web(r) + "/commit/" + *sha},
             {"comments_url", commit_url + "/comments"}}},
           {"_links", {{"self", api(r) + "/branches/" + name}, {"html", web(r) + "/tree/" + name}}},
           {"protected", false},
           {"protection",
            {{"enabled", false},
             {"required_status_checks",
              {{"enforcement_level", "off"},
               {"contexts", Json::array()},
               {"checks", Json::array()}}}}},
           {"protection_url", api(r) + "/branches/" + name + "/protection"}});
  }

  void check_runs_route(Call& call, const std::string& sha) {
    const std::string filter = call.params.contains("filter") ? call.params["filter"] : "latest";
    if (filter != "latest" && filter != "all") {
      invalid_request(call.res,
                      "For 'filter', \"" + filter + "\" is not one of [\"latest\", \"all\"].");
      return;
    }
    const Repo& r = *call.repo;
    std::map<std::tuple<std::int64_t, std::string>, std::int64_t> newest;
    for (const auto& run : r.runs) {
      if (run.sha == sha) {
        auto& slot = newest[{run.suite, run.name}];
        slot = std::max(slot, run.id);
      }
    }
    std::vector<Json> items;
    for (auto run = r.runs.rbegin(); run != r.runs.rend(); ++run) {
      const bool wanted =
          run->sha == sha && (filter == "all" || newest[{run->suite, run->name}] == run->id) &&
          (!call.params.contains("check_name") || call.params["check_name"] == run->name) &&
          (!call.params.contains("status") || call.params["status"] == run->status);
      if (wanted) {
        items.push_back(check_run_json(r, *run));
      }
    }
    const std::size_t total = items.size();
    page(call, items, [total](Json slice) {
      return Json{{"total_count", total}, {"check_runs", std::move(slice)}};
    });
  }

  void combined_status_route(Call& call, const std::string& sha) {
    const Repo& r = *call.repo;
    std::vector<std::string> contexts;
    std::map<std::string, const CommitStatus*> newest;
    for (const auto& status : r.statuses) {
      if (status.sha == sha) {
        if (!newest.contains(status.context)) {
          contexts.push_back(status.context);
        }
        newest[status.context] = &status;
      }
    }
    // GitHub's combined state: failure on any error or failure, pending on any pending or with
    // no status at all, success otherwise.
    std::string state = contexts.empty() ? "pending" : "success";
    std::vector<Json> items;
    for (const auto& context : contexts) {
      const CommitStatus& status = *newest[context];
      if (status.state == "failure" || status.state == "error") {
        state = "failure";
      } else if (status.state == "pending" && state != "failure") {
        state = "pending";
      }
      items.push_back(status_json(r, status));
    }
    const std::size_t total = items.size();
    const Json repository = {{"id", r.id},
                             {"node_id", "R_kgDO" + std::to_string(r.id)},
                             {"name", r.full_name.substr(r.full_name.find('/') + 1)},
                             {"full_name", r.full_name},
                             {"private", false},
                             {"url", api(r)},
                             {"html_url", web(r)}};
    const std::string url = api(r) + "/commits/" + sha;
    page(call, items, [&](Json slice) {
      return Json{{"state", state},        {"statuses", std::move(slice)}, {"sha", sha},
                  {"total_count", total},  {"repository", repository},     {"commit_url", url},
                  {"url", url + "/status"}};
    });
  }

  // Label names from an add-labels body: {"labels":[…]} or […], each a name or {"name":…}.
  std::optional<std::vector<std::string>> label_names(Call& call) const {
    const Json& list =
        call.body.is_object() && call.body.contains("labels") ? call.body["labels"] : call.body;
    if (!list.is_array()) {
      invalid_request(call.res, "For 'properties/labels', " + list.dump() + " is not an array.");
      return std::nullopt;
    }
    if (list.empty()) {
      invalid_request(call.res, "For 'properties/labels', [] has fewer than 1 items.");
      return std::nullopt;
    }
    std::vector<std::string> names;
    for (const Json& item : list) {
      const Json& name = item.is_object() && item.contains("name") ? item["name"] : item;
      if (!name.is_string()) {
        invalid_request(call.res, "For 'items', " + item.dump() + " is not a string.");
        return std::nullopt;
      }
      const std::string text = name.get<std::string>();
      if (text.empty() || utf8_length(text) > k_max_label_chars) {
        validation_failed(call.res, "Label", "name", "invalid");
        return std::nullopt;
      }
      names.push_back(text);
    }
    return names;
  }

  void issues_route(Call& call) {
    const auto& s = call.rest;
    const std::string& m = call.req.method;
    Repo& r = *call.repo;
    if (s.size() == 1 && m == "GET") {
      list_issues(call);
      return;
    }
    if (s.size() == 1 && m == "POST") {
      create_issue(call);
      return;
    }
    if (s.size() == 3 && s[1] == "comments") {
      comment_route(call);
      return;
    }
    const auto number = s.size() >= 2 ? parse_number(s[1]) : std::nullopt;
    if (!number || !r.issues.contains(*number)) {
      not_found(call.res);
      return;
    }
    Issue& issue = r.issues[*number];
    if (s.size() == 2 && m == "GET") {
      reply(call.res, 200, issue_json(r, issue));
    } else if (s.size() == 2 && m == "PATCH") {
      patch_issue(call, issue);
    } else if (s.size() == 3 && s[2] == "events" && m == "GET") {
      std::vector<Json> items;
      for (const auto& event : issue.events) {
        items.push_back(event_json(r, event));
      }
      page(call, items);
    } else if (s.size() == 3 && s[2] == "comments" && m == "GET") {
      std::vector<Json> items;
      for (const auto& [id, comment] : r.comments) {
        if (comment.issue == issue.number) {
          items.push_back(comment_json(r, comment));
        }
      }
      page(call, items);
    } else if (s.size() == 3 && s[2] == "comments" && m == "POST") {
      create_comment(call, issue);
    } else if (s.size() == 3 && s[2] == "labels" && m == "GET") {
      reply(call.res, 200, labels_json(r, issue));
    } else if (s.size() == 3 && s[2] == "labels" && m == "POST") {
      const auto names = label_names(call);
      if (!names) {
        return;
      }
      if (!token_may(r, "triage")) {
        forbidden(call.res);
        return;
      }
      for (const auto& name : *names) {
        apply_label(r, issue, name, options.login);
      }
      reply(call.res, 200, labels_json(r, issue));
    } else if (s.size() == 4 && s[2] == "labels" && m == "DELETE") {
      if (!token_may(r, "triage")) {
        forbidden(call.res);
        return;
      }
      if (!drop_label(r, issue, s[3], options.login)) {
        error(call.res, 404, "Label does not exist");
        return;
      }
      reply(call.res, 200, labels_json(r, issue));
    } else if (s.size() == 4 && s[2] == "dependencies" && s[3] == "blocked_by" && m == "GET" &&
               options.dependencies_api) {
      std::vector<Json> items;
      for (const auto& [repo_key, n] : issue.blocked_by) {
        Repo& blocker_repo = repos.at(repo_key);
        items.push_back(issue_json(blocker_repo, blocker_repo.issues.at(n)));
      }
      page(call, items);
    } else {
      not_found(call.res);
    }
  }

  void list_issues(Call& call) {
    const std::string state = call.params.contains("state") ? call.params["state"] : "open";
    const std::string sort = call.params.contains("sort") ? call.params["sort"] : "created";
    const std::string direction =
        call.params.contains("direction") ? call.params["direction"] : "desc";
    if (state != "open" && state != "closed" && state != "all") {
      invalid_request(call.res, "For 'state', \"" + state +
                                    "\" is not one of [\"open\", \"closed\", \"all\"].");
      return;
    }
    if ((sort != "created" && sort != "updated" && sort != "comments") ||
        (direction != "asc" && direction != "desc")) {
      invalid_request(call.res, "For 'sort' and 'direction', \"" + sort + "\" \"" + direction +
                                    "\" is not a supported order.");
      return;
    }
    std::vector<std::string> wanted;
    if (call.params.contains("labels") && !call.params["labels"].empty()) {
      for (const auto& name : split(call.params["labels"], ',')) {
        wanted.push_back(lower(name));
      }
    }
    Repo& r = *call.repo;
    std::vector<const Issue*> chosen;
    for (const auto& [n, issue] : r.issues) {
      const bool labelled = std::all_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
        return std::find(issue.labels.begin(), issue.labels.end(), w) != issue.labels.end();
      });
      if (labelled && (state == "all" || issue.state == state)) {
        chosen.push_back(&issue);
      }
    }
    const auto comment_count = [&](const Issue* issue) {
      return std::count_if(r.comments.begin(), r.comments.end(),
                           [&](const auto& c) { return c.second.issue == issue->number; });
    };
    std::stable_sort(chosen.begin(), chosen.end(), [&](const Issue* a, const Issue* b) {
      const auto key = [&](const Issue* i) {
        const std::int64_t primary =
            sort == "updated"    ? static_cast<std::int64_t>(i->updated.time_since_epoch().count())
            : sort == "comments" ? static_cast<std::int64_t>(comment_count(i))
                                 : static_cast<std::int64_t>(i->created.time_since_epoch().count());
        return std::make_tuple(primary, i->number);
      };
      return direction == "asc" ? key(a) < key(b) : key(b) < key(a);
    });
    std::vector<Json> items;
    for (const Issue* issue : chosen) {
      items.push_back(issue_json(r, *issue));
    }
    page(call, items);
  }

  // Reads an optional string member; answers 422 and returns false for another type.
  bool string_member(Call& call, const std::string& key, std::optional<std::string>& out,
                     bool nullable = false) const {
    if (!call.body.contains(key)) {
      return true;
    }
    const Json& value = call.body[key];
    if (value.is_string()) {
      out = value.get<std::string>();
      return true;
    }
    if (nullable && value.is_null()) {
      out = "";
      return true;
    }
    invalid_request(call.res, "For 'properties/" + key + "', " + value.dump() + " is not a string" +
                                  (nullable ? " or null." : "."));
    return false;
  }

  void create_issue(Call& call) {
    Repo& r = *call.repo;
    if (!call.body.is_object()) {
      invalid_request(call.res, "For 'anyOf/0', " + call.body.dump() + " is not an object.");
      return;
    }
    if (!call.body.contains("title")) {
      invalid_request(call.res, "\"title\" wasn't supplied.");
      return;
    }
    const Json& title_value = call.body["title"];
    if (!title_value.is_string() && !title_value.is_number_integer()) {
      invalid_request(call.res, "For 'properties/title', " + title_value.dump() +
                                    " is not a string or integer.");
      return;
    }
    const std::string title =
        title_value.is_string() ? title_value.get<std::string>() : title_value.dump();
    std::optional<std::string> body;
    if (!string_member(call, "body", body, true)) {
      return;
    }
    std::vector<std::string> labels;
    if (call.body.contains("labels")) {
      const auto names = call.body["labels"].empty() && call.body["labels"].is_array()
                             ? std::optional<std::vector<std::string>>(std::vector<std::string>{})
                             : label_names(call);
      if (!names) {
        return;
      }
      labels = *names;
    }
    if (title.empty()) {
      validation_failed(call.res, "Issue", "title", "missing_field");
      return;
    }
    if (body && utf8_length(*body) > k_max_body_chars) {
      validation_failed(call.res, "Issue", "body", "custom",
                        "body is too long (maximum is 65536 characters)");
      return;
    }
    if (!token_may(r, "read")) {
      forbidden(call.res);
      return;
    }
    Issue& issue = new_issue(r, title, body.value_or(""), options.login, false);
    // GitHub silently drops the labels of someone who may not set them.
    if (token_may(r, "triage")) {
      for (const auto& label : labels) {
        apply_label(r, issue, label, options.login);
      }
    }
    const std::string location = api(r) + "/issues/" + std::to_string(issue.number);
    call.res.set_header("Location", location);
    reply(call.res, 201, issue_json(r, issue));
  }

  void patch_issue(Call& call, Issue& issue) {
    Repo& r = *call.repo;
    if (!call.body.is_object()) {
      invalid_request(call.res, "For 'anyOf/0', " + call.body.dump() + " is not an object.");
      return;
    }
    std::optional<std::string> title, body, state, reason;
    if (!string_member(call, "title", title) || !string_member(call, "body", body, true) ||
        !string_member(call, "state", state) ||
        !string_member(call, "state_reason", reason, true)) {
      return;
    }
    if (state && *state != "open" && *state != "closed") {
      invalid_request(call.res, "For 'properties/state', \"" + *state +
                                    "\" is not one of [\"open\", \"closed\"].");
      return;
    }
    static const std::set<std::string> k_reasons = {"", "completed", "not_planned", "reopened",
                                                    "duplicate"};
    if (reason && !k_reasons.contains(*reason)) {
      invalid_request(call.res, "For 'properties/state_reason', \"" + *reason +
                                    "\" is not one of [\"completed\", \"not_planned\", "
                                    "\"duplicate\", \"reopened\", null].");
      return;
    }
    std::optional<std::vector<std::string>> labels;
    if (call.body.contains("labels")) {
      labels = call.body["labels"].is_array() && call.body["labels"].empty()
                   ? std::optional<std::vector<std::string>>(std::vector<std::string>{})
                   : label_names(call);
      if (!labels) {
        return;
      }
    }
    if (title && title->empty()) {
      validation_failed(call.res, "Issue", "title", "missing_field");
      return;
    }
    const bool author = iequals(issue.author, options.login);
    if ((!token_may(r, "triage") && !author) || (labels && !token_may(r, "triage"))) {
      forbidden(call.res);
      return;
    }
    if (title && *title != issue.title) {
      issue.title = *title;
      issue.updated = stamp();
    }
    if (body && *body != issue.body) {
      issue.body = *body;
      issue.updated = stamp();
    }
    if (labels) {
      for (const auto& key : std::vector<std::string>(issue.labels)) {
        const bool kept = std::any_of(labels->begin(), labels->end(),
                                      [&](const std::string& name) { return lower(name) == key; });
        if (!kept) {
          (void)drop_label(r, issue, key, options.login);
        }
      }
      for (const auto& name : *labels) {
        apply_label(r, issue, name, options.login);
      }
    }
    if (state) {
      set_state(issue, *state, reason.value_or(""), options.login);
    }
    reply(call.res, 200, issue_json(r, issue));
  }

  bool comment_body(Call& call, std::string& out) const {
    if (!call.body.is_object() || !call.body.contains("body")) {
      invalid_request(call.res, "\"body\" wasn't supplied.");
      return false;
    }
    if (!call.body["body"].is_string()) {
      invalid_request(call.res,
                      "For 'properties/body', " + call.body["body"].dump() + " is not a string.");
      return false;
    }
    out = call.body["body"].get<std::string>();
    if (out.empty()) {
      validation_failed(call.res, "IssueComment", "body", "missing_field");
      return false;
    }
    if (utf8_length(out) > k_max_body_chars) {
      validation_failed(call.res, "IssueComment", "body", "custom",
                        "body is too long (maximum is 65536 characters)");
      return false;
    }
    return true;
  }

  void create_comment(Call& call, Issue& issue) {
    Repo& r = *call.repo;
    std::string body;
    if (!comment_body(call, body)) {
      return;
    }
    if (!token_may(r, "read")) {
      forbidden(call.res);
      return;
    }
    const std::int64_t comment_id = new_comment(r, issue, options.login, body);
    call.res.set_header("Location", api(r) + "/issues/comments/" + std::to_string(comment_id));
    reply(call.res, 201, comment_json(r, r.comments[comment_id]));
  }

  void comment_route(Call& call) {
    Repo& r = *call.repo;
    const auto comment_id = parse_number(call.rest[2]);
    if (!comment_id || !r.comments.contains(*comment_id)) {
      not_found(call.res);
      return;
    }
    Comment& comment = r.comments[*comment_id];
    if (call.req.method == "GET") {
      reply(call.res, 200, comment_json(r, comment));
      return;
    }
    if (call.req.method != "PATCH") {
      not_found(call.res);
      return;
    }
    std::string body;
    if (!comment_body(call, body)) {
      return;
    }
    // Stricter than GitHub, where a writer may edit anyone's comment: afk must only ever edit
    // its own.
    if (!iequals(comment.author, options.login)) {
      forbidden(call.res);
      return;
    }
    comment.body = body;
    comment.updated = stamp_after(comment.updated);
    r.issues[comment.issue].updated = comment.updated;
    reply(call.res, 200, comment_json(r, comment));
  }
};

// --- FakeGitHub
// ------------------------------------------------------------------------------------

FakeGitHub::FakeGitHub(FakeGitHubOptions options)
    : m_state(std::make_unique<State>()) {
  m_state->options = std::move(options);
  (void)m_state->user(m_state->options.login, m_state->options.login_type == "Bot");
  State* state = m_state.get();
  m_state->server = std::make_unique<LoopbackServer>(
      [state](const httplib::Request& req, httplib::Response& res) { state->serve(req, res); },
      m_state->options.threads);
  const std::lock_guard lock(m_state->mutex);
  m_state->base = m_state->server->url();
}

FakeGitHub::~FakeGitHub() {
  m_state->server.reset();
}

std::string FakeGitHub::url() const {
  return m_state->server->url();
}

const FakeGitHubOptions& FakeGitHub::options() const {
  return m_state->options;
}

void FakeGitHub::add_repo(const std::string& full_name, std::string default_branch) {
  const auto slash = full_name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == full_name.size() ||
      full_name.find('/', slash + 1) != std::string::npos) {
    throw std::invalid_argument("fake GitHub: not owner/name: " + full_name);
  }
  const std::lock_guard lock(m_state->mutex);
  if (m_state->repos.contains(lower(full_name))) {
    throw std::invalid_argument("fake GitHub: repository exists: " + full_name);
  }
  Repo& r = m_state->repos[lower(full_name)];
  r.id = m_state->id();
  r.full_name = full_name;
  r.default_branch = std::move(default_branch);
}

void FakeGitHub::set_permission(const std::string& repo, const std::string& login,
                                const std::string& permission) {
  if (permission_rank(permission) < 0 || login.empty()) {
    throw std::invalid_argument("fake GitHub: unknown permission " + permission);
  }
  const std::lock_guard lock(m_state->mutex);
  (void)m_state->user(login);
  m_state->repo(repo).permissions[lower(login)] = permission;
}

std::int64_t FakeGitHub::open_issue(const std::string& repo, const std::string& title,
                                    const std::string& body, const std::vector<std::string>& labels,
                                    const std::string& author) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  Issue& issue = m_state->new_issue(r, title, body, author, false);
  for (const auto& label : labels) {
    m_state->apply_label(r, issue, label, author);
  }
  return issue.number;
}

std::int64_t FakeGitHub::open_pull_request(const std::string& repo, const std::string& title,
                                           const std::vector<std::string>& labels,
                                           const std::string& author) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  Issue& issue = m_state->new_issue(r, title, "", author, true);
  for (const auto& label : labels) {
    m_state->apply_label(r, issue, label, author);
  }
  return issue.number;
}

void FakeGitHub::label_issue(const std::string& repo, std::int64_t number, const std::string& label,
                             const std::string& actor, bool actor_is_bot) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  (void)m_state->user(actor, actor_is_bot);
  m_state->apply_label(r, m_state->issue(r, number), label, actor);
}

void FakeGitHub::label_issue_via_app(const std::string& repo, std::int64_t number,
                                     const std::string& label, const std::string& app_slug,
                                     const std::string& on_behalf_of) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  const std::string actor = on_behalf_of.empty() ? app_slug + "[bot]" : on_behalf_of;
  (void)m_state->user(actor, on_behalf_of.empty());
  m_state->apply_label(r, m_state->issue(r, number), label, actor, app_slug);
}

void FakeGitHub::unlabel_issue(const std::string& repo, std::int64_t number,
                               const std::string& label, const std::string& actor) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  (void)m_state->drop_label(r, m_state->issue(r, number), label, actor);
}

void FakeGitHub::close_issue(const std::string& repo, std::int64_t number, const std::string& actor,
                             const std::string& state_reason) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  m_state->set_state(m_state->issue(r, number), "closed", state_reason, actor);
}

void FakeGitHub::reopen_issue(const std::string& repo, std::int64_t number,
                              const std::string& actor) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  m_state->set_state(m_state->issue(r, number), "open", "", actor);
}

std::int64_t FakeGitHub::add_comment(const std::string& repo, std::int64_t number,
                                     const std::string& author, const std::string& body) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  return m_state->new_comment(r, m_state->issue(r, number), author, body);
}

void FakeGitHub::edit_comment(const std::string& repo, std::int64_t id, const std::string& body) {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  const auto found = r.comments.find(id);
  if (found == r.comments.end()) {
    throw std::invalid_argument("fake GitHub: no comment " + std::to_string(id));
  }
  found->second.body = body;
  found->second.updated = m_state->stamp_after(found->second.updated);
  m_state->issue(r, found->second.issue).updated = found->second.updated;
}

void FakeGitHub::add_native_blocker(const std::string& repo, std::int64_t number,
                                    const std::string& blocker_repo, std::int64_t blocker_number) {
  const std::lock_guard lock(m_state->mutex);
  Repo& blocker = m_state->repo(blocker_repo);
  (void)m_state->issue(blocker, blocker_number);
  Repo& r = m_state->repo(repo);
  m_state->issue(r, number).blocked_by.emplace_back(lower(blocker_repo), blocker_number);
}

void FakeGitHub::set_branch_head(const std::string& repo, const std::string& branch,
                                 const std::string& sha) {
  if (!is_hex_sha(sha) || !valid_branch_name(branch)) {
    throw std::invalid_argument("fake GitHub: bad branch or SHA: " + branch + " " + sha);
  }
  const std::lock_guard lock(m_state->mutex);
  m_state->repo(repo).branches[branch] = sha;
}

void FakeGitHub::mirror_git(const std::string& repo, const std::filesystem::path& git_dir) {
  const std::lock_guard lock(m_state->mutex);
  m_state->repo(repo).git_dir = git_dir;
}

void FakeGitHub::add_commit(const std::string& repo, const std::string& sha) {
  if (!is_hex_sha(sha)) {
    throw std::invalid_argument("fake GitHub: not a commit SHA: " + sha);
  }
  const std::lock_guard lock(m_state->mutex);
  m_state->repo(repo).commits.insert(sha);
}

namespace {

void check_run_values(const std::string& status, const std::string& conclusion) {
  static const std::set<std::string> k_statuses = {"queued",  "in_progress", "completed",
                                                   "waiting", "requested",   "pending"};
  static const std::set<std::string> k_conclusions = {"success",         "failure", "neutral",
                                                      "cancelled",       "skipped", "timed_out",
                                                      "action_required", "stale"};
  if (!k_statuses.contains(status) || (status == "completed") != !conclusion.empty() ||
      (!conclusion.empty() && !k_conclusions.contains(conclusion))) {
    throw std::invalid_argument("fake GitHub: check run " + status + "/" + conclusion);
  }
}

} // namespace

std::int64_t FakeGitHub::add_check_run(const std::string& repo, const std::string& sha,
                                       const std::string& name, const std::string& status,
                                       const std::string& conclusion) {
  check_run_values(status, conclusion);
  if (!is_hex_sha(sha)) {
    throw std::invalid_argument("fake GitHub: not a commit SHA: " + sha);
  }
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  r.commits.insert(sha);
  auto& suite = r.suites[sha];
  if (suite == 0) {
    suite = m_state->id();
  }
  CheckRun run{m_state->id(), suite, sha, name, status, conclusion, m_state->stamp(), std::nullopt};
  if (status == "completed") {
    run.completed = run.started;
  }
  r.runs.push_back(run);
  return run.id;
}

void FakeGitHub::update_check_run(const std::string& repo, std::int64_t id,
                                  const std::string& status, const std::string& conclusion) {
  check_run_values(status, conclusion);
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  const auto run = std::find_if(r.runs.begin(), r.runs.end(),
                                [&](const CheckRun& candidate) { return candidate.id == id; });
  if (run == r.runs.end()) {
    throw std::invalid_argument("fake GitHub: no check run " + std::to_string(id));
  }
  run->status = status;
  run->conclusion = conclusion;
  run->completed = status == "completed" ? std::optional<Time>(m_state->stamp()) : std::nullopt;
}

void FakeGitHub::set_commit_status(const std::string& repo, const std::string& sha,
                                   const std::string& context, const std::string& state,
                                   const std::string& target_url) {
  static const std::set<std::string> k_states = {"pending", "success", "failure", "error"};
  if (!k_states.contains(state) || !is_hex_sha(sha) || context.empty()) {
    throw std::invalid_argument("fake GitHub: commit status " + context + "=" + state);
  }
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  r.commits.insert(sha);
  r.statuses.push_back(
      CommitStatus{m_state->id(), sha, context, state, target_url, m_state->stamp()});
}

std::optional<FakeGitHub::IssueView> FakeGitHub::issue(const std::string& repo,
                                                       std::int64_t number) const {
  const std::lock_guard lock(m_state->mutex);
  const auto r = m_state->repos.find(lower(repo));
  if (r == m_state->repos.end() || !r->second.issues.contains(number)) {
    return std::nullopt;
  }
  const Issue& found = r->second.issues.at(number);
  IssueView view{found.number, found.title, found.body, found.state, found.state_reason,
                 found.author, {},          {},         found.pull};
  for (const auto& key : found.labels) {
    view.labels.push_back(r->second.labels.at(key).name);
  }
  for (const auto& [id, comment] : r->second.comments) {
    if (comment.issue == number) {
      view.comments.emplace_back(comment.author, comment.body);
    }
  }
  return view;
}

std::vector<FakeGitHub::CommentView> FakeGitHub::comments(const std::string& repo,
                                                          std::int64_t number) const {
  const std::lock_guard lock(m_state->mutex);
  const Repo& r = m_state->repo(repo);
  std::vector<CommentView> out;
  for (const auto& [id, comment] : r.comments) {
    if (comment.issue == number) {
      out.push_back(CommentView{id, comment.author, comment.body, format_time(comment.created),
                                format_time(comment.updated)});
    }
  }
  return out;
}

std::vector<FakeGitHub::EventView> FakeGitHub::events(const std::string& repo,
                                                      std::int64_t number) const {
  const std::lock_guard lock(m_state->mutex);
  Repo& r = m_state->repo(repo);
  std::vector<EventView> out;
  for (const auto& event : m_state->issue(r, number).events) {
    out.push_back(
        EventView{event.id, event.event, event.actor, event.label, format_time(event.at)});
  }
  return out;
}

std::vector<FakeGitHub::Received> FakeGitHub::requests() const {
  const std::lock_guard lock(m_state->mutex);
  return m_state->received;
}

std::size_t FakeGitHub::request_count() const {
  const std::lock_guard lock(m_state->mutex);
  return m_state->received.size();
}

void FakeGitHub::clear_requests() {
  const std::lock_guard lock(m_state->mutex);
  m_state->received.clear();
}

void FakeGitHub::fail_next(const std::string& path_prefix, int status, int count) {
  const std::lock_guard lock(m_state->mutex);
  if (count > 0) {
    m_state->faults.push_back(Fault{path_prefix, status, count});
  }
}

void FakeGitHub::set_delay(std::chrono::milliseconds delay) {
  const std::lock_guard lock(m_state->mutex);
  m_state->delay = delay;
}

} // namespace afk::test
