// SPDX-License-Identifier: MIT
#include "adapters/tracker_json.hpp"

#include <afk/error.hpp>
#include <afk/tracker.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace afk {

namespace {

using namespace tracker_json; // NOLINT(google-build-using-namespace)

TrackerIssue read_issue(const Reader& in, const json& item, const RepoName& repo) {
  std::vector<std::string> labels;
  for (const json& label : in.array(in.member(item, "labels"), "\"labels\"")) {
    // The schema allows a bare name as well as a label object.
    labels.push_back(label.is_string() ? label.get<std::string>() : in.string(label, "name"));
  }
  return TrackerIssue{
      .summary = IssueSummary{.ref = IssueRef{repo, in.positive(item, "number")},
                              .title = in.string(item, "title"),
                              .labels = std::move(labels),
                              .created_at = in.timestamp(item, "created_at")},
      .body = in.string_or_empty(item, "body"),
      .open = in.string(item, "state") == "open",
      .author = in.login(item, "user"),
  };
}

// "https://api.github.com/repos/{owner}/{name}" (any prefix before /repos, as on GitHub
// Enterprise Server's /api/v3) → the repository it names.
std::optional<RepoName> repo_from_url(std::string_view url) {
  const auto name_slash = url.rfind('/');
  if (name_slash == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view head = url.substr(0, name_slash);
  const auto owner_slash = head.rfind('/');
  if (owner_slash == std::string_view::npos || !head.substr(0, owner_slash).ends_with("/repos")) {
    return std::nullopt;
  }
  return RepoName::parse(url.substr(owner_slash + 1));
}

bool is_commit_sha(std::string_view sha) {
  // SHA-1 or SHA-256 object names; afk hands them to git, so nothing else gets through.
  return (sha.size() == 40 || sha.size() == 64) && std::all_of(sha.begin(), sha.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Permission levels by name; a custom repository role or a name this build does not know
// gives nullopt.
std::optional<Permission> known_permission(const json& value) {
  return value.is_string() ? permission_from_string(value.get<std::string>()) : std::nullopt;
}

class GitHubTracker final : public TrackerClient {
public:
  explicit GitHubTracker(HttpClient& http)
      : m_http(http) {}

  std::vector<TrackerIssue> list_open_issues(const RepoName& repo,
                                             std::string_view label) override {
    return list_issues(repo, label, true);
  }

  std::vector<TrackerIssue> list_closed_issues(const RepoName& repo,
                                               std::string_view label) override {
    return list_issues(repo, label, false);
  }

  std::vector<TrackerIssue> list_issues(const RepoName& repo, std::string_view label, bool open) {
    const std::string path = repo_path(repo) + "/issues?state=" + (open ? "open" : "closed") +
                             "&labels=" + encode(label) + "&per_page=100";
    const Reader in(endpoint("GET", path));
    std::vector<TrackerIssue> issues;
    for (const std::string& page : m_http.get_pages(path)) {
      in.parse(page, [&](const json& doc) {
        for (const json& item : in.array(doc, "the response")) {
          if (item.contains("pull_request")) {
            continue;
          }
          TrackerIssue issue = read_issue(in, item, repo);
          // GitHub splits the labels filter at commas; checking here keeps the answer exact
          // for any label name.
          if (issue.open == open && issue.summary.has_label(label)) {
            issues.push_back(std::move(issue));
          }
        }
      });
    }
    return issues;
  }

  // A deleted issue answers 410 and a transferred one 301; HttpClient reports both as
  // Error{permanent}, which callers treat as unreadable rather than absent.
  std::optional<TrackerIssue> get_issue(const IssueRef& issue) override {
    const std::string path = issue_path(issue);
    const HttpResponse response = m_http.request("GET", path, {}, true);
    if (response.status == 404) {
      return std::nullopt;
    }
    const Reader in(endpoint("GET", path));
    return in.parse(response.body, [&](const json& doc) -> std::optional<TrackerIssue> {
      if (doc.is_object() && doc.contains("pull_request")) {
        return std::nullopt;
      }
      return read_issue(in, doc, issue.repo);
    });
  }

  std::optional<LabelEvent> last_labeled(const IssueRef& issue, std::string_view label) override {
    const std::string path = issue_path(issue) + "/events?per_page=100";
    const Reader in(endpoint("GET", path));
    std::optional<LabelEvent> last;
    for (const std::string& page : m_http.get_pages(path)) {
      in.parse(page, [&](const json& doc) {
        for (const json& event : in.array(doc, "the response")) {
          if (in.string(event, "event") != "labeled" ||
              !iequals(in.string(in.object(event, "label"), "name"), label)) {
            continue;
          }
          const json& actor = in.object(event, "actor");
          LabelEvent found{.login = in.string(actor, "login"),
                           .actor = LabelerEvidence::Actor::human,
                           .at = in.timestamp(event, "created_at")};
          if (has_non_null(event, "performed_via_github_app")) {
            found.actor = LabelerEvidence::Actor::app;
          } else if ((actor.contains("type") && in.string(actor, "type") == "Bot") ||
                     iends_with(found.login, "[bot]")) {
            found.actor = LabelerEvidence::Actor::bot;
          }
          // Events come oldest first; the later of two at the same second wins.
          if (!last || found.at >= last->at) {
            last = std::move(found);
          }
        }
      });
    }
    return last;
  }

  // role_name names the real role (maintain, triage) where "permission" folds them into
  // write and read. A custom role falls back to "permission", its base role; a level this
  // build does not know is Permission::none, so the unknown never grants trust.
  Permission permission(const RepoName& repo, std::string_view login) override {
    if (login.empty()) {
      return Permission::none;
    }
    const std::string path = repo_path(repo) + "/collaborators/" + encode(login) + "/permission";
    const HttpResponse response = m_http.request("GET", path, {}, true);
    if (response.status == 404) {
      return Permission::none;
    }
    const Reader in(endpoint("GET", path));
    return in.parse(response.body, [&](const json& doc) {
      const json& level = in.member(doc, "permission");
      if (!level.is_string()) {
        in.fail("\"permission\" is not a string");
      }
      const auto role = doc.find("role_name");
      if (role != doc.end()) {
        if (const auto known = known_permission(*role)) {
          return *known;
        }
      }
      return known_permission(level).value_or(Permission::none);
    });
  }

  // 404 means this GitHub has no issue dependencies (older GitHub Enterprise Server) or the
  // issue is gone: no native blockers either way.
  std::vector<BlockerEvidence> native_blockers(const IssueRef& issue) override {
    const std::string path = issue_path(issue) + "/dependencies/blocked_by?per_page=100";
    const HttpResponse first = m_http.request("GET", path, {}, true);
    if (first.status == 404) {
      return {};
    }
    // get_pages cannot tell 404 apart; it reads again from page one in the rare case of more
    // than one page.
    std::string links;
    for (const auto& [name, value] : first.headers) {
      if (iequals(name, "link")) {
        links += links.empty() ? value : ", " + value;
      }
    }
    const std::vector<std::string> pages =
        link_next(links) ? m_http.get_pages(path) : std::vector<std::string>{first.body};
    const Reader in(endpoint("GET", path));
    std::vector<BlockerEvidence> blockers;
    for (const std::string& page : pages) {
      in.parse(page, [&](const json& doc) {
        for (const json& item : in.array(doc, "the response")) {
          const auto repo = repo_from_url(in.string(item, "repository_url"));
          if (!repo) {
            in.fail("\"repository_url\" does not name a repository");
          }
          const std::string state = in.string(item, "state");
          blockers.push_back(BlockerEvidence{
              .ref = IssueRef{*repo, in.positive(item, "number")},
              .state = state == "open"     ? BlockerEvidence::State::open
                       : state == "closed" ? BlockerEvidence::State::closed
                                           : BlockerEvidence::State::unknown,
          });
        }
      });
    }
    return blockers;
  }

  void add_label(const IssueRef& issue, std::string_view label) override {
    const json body = {{"labels", json::array({std::string(label)})}};
    (void)m_http.request("POST", issue_path(issue) + "/labels", dump(body));
  }

  void remove_label(const IssueRef& issue, std::string_view label) override {
    (void)m_http.request("DELETE", issue_path(issue) + "/labels/" + encode(label), {}, true);
  }

  std::vector<TrackerComment> comments_by(const IssueRef& issue, std::string_view author,
                                          std::string_view marker) override {
    const std::string path = issue_path(issue) + "/comments?per_page=100";
    const Reader in(endpoint("GET", path));
    std::vector<TrackerComment> comments;
    for (const std::string& page : m_http.get_pages(path)) {
      in.parse(page, [&](const json& doc) {
        for (const json& item : in.array(doc, "the response")) {
          if (auto comment = comment_by(in, item, author, marker)) {
            comments.push_back(std::move(*comment));
          }
        }
      });
    }
    return comments;
  }

  std::vector<TrackerComment> comments(const IssueRef& issue) override {
    const std::string path = issue_path(issue) + "/comments?per_page=100";
    const Reader in(endpoint("GET", path));
    std::vector<TrackerComment> comments;
    for (const std::string& page : m_http.get_pages(path)) {
      in.parse(page, [&](const json& doc) {
        for (const json& item : in.array(doc, "the response")) {
          comments.push_back(read_comment(in, item));
        }
      });
    }
    return comments;
  }

  std::int64_t create_comment(const IssueRef& issue, std::string_view body) override {
    const std::string path = issue_path(issue) + "/comments";
    const HttpResponse response = m_http.request("POST", path, dump({{"body", std::string(body)}}));
    const Reader in(endpoint("POST", path));
    return in.parse(response.body, [&](const json& doc) { return in.positive(doc, "id"); });
  }

  void edit_comment(const RepoName& repo, std::int64_t comment_id, std::string_view body) override {
    (void)m_http.request("PATCH",
                         repo_path(repo) + "/issues/comments/" + std::to_string(comment_id),
                         dump({{"body", std::string(body)}}));
  }

  void close_issue(const IssueRef& issue) override {
    (void)m_http.request("PATCH", issue_path(issue),
                         dump({{"state", "closed"}, {"state_reason", "completed"}}));
  }

  void reopen_issue(const IssueRef& issue) override {
    (void)m_http.request("PATCH", issue_path(issue), dump({{"state", "open"}}));
  }

  IssueRef open_issue(const RepoName& repo, std::string_view title, std::string_view body,
                      const std::vector<std::string>& labels) override {
    const std::string path = repo_path(repo) + "/issues";
    const HttpResponse response = m_http.request(
        "POST", path,
        dump({{"title", std::string(title)}, {"body", std::string(body)}, {"labels", labels}}));
    const Reader in(endpoint("POST", path));
    return in.parse(response.body, [&](const json& doc) {
      return IssueRef{repo, in.positive(doc, "number")};
    });
  }

  std::string default_branch(const RepoName& repo) override {
    return read_default_branch(m_http, repo);
  }

  // A renamed branch answers 301, which HttpClient reports as Error{permanent}.
  std::optional<std::string> branch_head(const RepoName& repo, std::string_view branch) override {
    const std::string path = repo_path(repo) + "/branches/" + encode(branch);
    const HttpResponse response = m_http.request("GET", path, {}, true);
    if (response.status == 404) {
      return std::nullopt;
    }
    const Reader in(endpoint("GET", path));
    return in.parse(response.body, [&](const json& doc) -> std::optional<std::string> {
      std::string sha = in.string(in.object(doc, "commit"), "sha");
      if (!is_commit_sha(sha)) {
        in.fail("\"commit.sha\" is not a commit id");
      }
      return sha;
    });
  }

private:
  HttpClient& m_http;
};

} // namespace

HttpClientOptions github_http_options(const TrackerConfig& config) {
  HttpClientOptions options;
  options.base_url = config.api_url;
  options.token_file = config.token_file;
  options.auth_scheme = "Bearer";
  options.default_headers = {{"Accept", "application/vnd.github+json"},
                             {"X-GitHub-Api-Version", config.api_version}};
  return options;
}

std::unique_ptr<TrackerClient> make_github_tracker(HttpClient& http) {
  return std::make_unique<GitHubTracker>(http);
}

} // namespace afk
