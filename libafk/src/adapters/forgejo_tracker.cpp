// SPDX-License-Identifier: MIT
#include "adapters/tracker_json.hpp"

#include <afk/error.hpp>
#include <afk/tracker.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>

namespace afk {

namespace {

using namespace tracker_json; // NOLINT(google-build-using-namespace)

// Forgejo and Gitea cap a page at [api] MAX_RESPONSE_ITEMS, 50 by default.
constexpr std::string_view k_page_size = "50";
constexpr std::size_t k_max_pages = 100;

// A branch name keeps its slashes: Forgejo routes /branches/* as a wildcard, and older
// versions do not decode %2F inside it.
std::string encode_branch(std::string_view branch) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const auto slash = branch.find('/', pos);
    out += encode(branch.substr(pos, slash == std::string_view::npos ? slash : slash - pos));
    if (slash == std::string_view::npos) {
      return out;
    }
    out += '/';
    pos = slash + 1;
  }
}

TrackerIssue read_issue(const Reader& in, const json& item, const RepoName& repo) {
  std::vector<std::string> labels;
  const json& list = in.member(item, "labels");
  if (!list.is_null()) { // Forgejo sends null rather than [] for an issue without labels
    for (const json& label : in.array(list, "\"labels\"")) {
      labels.push_back(in.string(label, "name"));
    }
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

bool is_commit_sha(std::string_view sha) {
  // SHA-1 or SHA-256 object names; afk hands them to git, so nothing else gets through.
  return (sha.size() == 40 || sha.size() == 64) && std::all_of(sha.begin(), sha.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Forgejo's own automation: the Actions user (id -2), the ghost of a deleted account (-1),
// and the conventional "[bot]" suffix. None of them is a human.
bool is_bot(const Reader& in, const json& user, std::string_view login) {
  if (iends_with(login, "[bot]") || iequals(login, "forgejo-actions") ||
      iequals(login, "gitea-actions")) {
    return true;
  }
  return user.contains("id") && in.integer(user, "id") < 0;
}

std::optional<std::uint64_t> count_header(const HttpResponse& response) {
  const auto value = response.header("x-total-count");
  if (!value || value->empty() || value->size() > 18 ||
      !std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoull(*value);
}

// How a list endpoint says it has more pages. Forgejo is not uniform: the issue list sends
// Link headers, labels only X-Total-Count, the timeline an X-Total-Count of the page alone.
enum class Paging {
  headers,     ///< Link rel="next" when sent, else X-Total-Count when sent, else until empty
  until_empty, ///< ask for the next page until one comes back empty
};

class ForgejoTracker final : public TrackerClient {
public:
  explicit ForgejoTracker(HttpClient& http)
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
                             "&type=issues&labels=" + encode(label) +
                             "&limit=" + std::string(k_page_size);
    const Reader in(endpoint("GET", path));
    std::vector<TrackerIssue> issues;
    in.guard(*pages(path, Paging::headers, false), [&](const json& items) {
      for (const json& item : items) {
        if (has_non_null(item, "pull_request")) {
          continue;
        }
        TrackerIssue issue = read_issue(in, item, repo);
        // Forgejo splits the labels filter at commas; checking here keeps the answer exact
        // for any label name.
        if (issue.open == open && issue.summary.has_label(label)) {
          issues.push_back(std::move(issue));
        }
      }
    });
    return issues;
  }

  std::optional<TrackerIssue> get_issue(const IssueRef& issue) override {
    const std::string path = issue_path(issue);
    const HttpResponse response = m_http.request("GET", path, {}, true);
    if (response.status == 404) {
      return std::nullopt;
    }
    const Reader in(endpoint("GET", path));
    return in.parse(response.body, [&](const json& doc) -> std::optional<TrackerIssue> {
      if (doc.is_object() && has_non_null(doc, "pull_request")) {
        return std::nullopt;
      }
      return read_issue(in, doc, issue.repo);
    });
  }

  // The timeline holds a comment of type "label" for each change: body "1" when the label
  // was added, "" when it was removed; its label is null once the label itself is deleted.
  std::optional<LabelEvent> last_labeled(const IssueRef& issue, std::string_view label) override {
    const std::string path = issue_path(issue) + "/timeline?limit=" + std::string(k_page_size);
    const Reader in(endpoint("GET", path));
    std::optional<LabelEvent> last;
    const auto items = pages(path, Paging::until_empty, true);
    if (!items) {
      return std::nullopt;
    }
    in.guard(*items, [&](const json& events) {
      for (const json& event : events) {
        if (event.is_null() || in.string(event, "type") != "label" ||
            in.string_or_empty(event, "body") != "1" || !has_non_null(event, "label") ||
            !iequals(in.string(in.object(event, "label"), "name"), label)) {
          continue;
        }
        const json& user = in.object(event, "user");
        LabelEvent found{.login = in.string(user, "login"),
                         .actor = LabelerEvidence::Actor::human,
                         .at = in.timestamp(event, "created_at")};
        if (is_bot(in, user, found.login)) {
          found.actor = LabelerEvidence::Actor::bot;
        }
        // Events come oldest first; the later of two at the same second wins.
        if (!last || found.at >= last->at) {
          last = std::move(found);
        }
      }
    });
    return last;
  }

  // Forgejo answers for any existing user ("read" on a public repository, "none" on a private
  // one) and 404 for a login that does not exist. "owner" is the owner of a user's repository.
  // A level this build does not know is Permission::none, so the unknown never grants trust.
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
      const std::string level = in.string(doc, "permission");
      if (level == "owner") {
        return Permission::admin;
      }
      return permission_from_string(level).value_or(Permission::none);
    });
  }

  // 404 means dependencies are disabled for the repository or the issue is gone: no native
  // blockers either way. Each blocker names its repository, which may be another one.
  std::vector<BlockerEvidence> native_blockers(const IssueRef& issue) override {
    const std::string path = issue_path(issue) + "/dependencies?limit=" + std::string(k_page_size);
    const auto items = pages(path, Paging::headers, true);
    if (!items) {
      return {};
    }
    const Reader in(endpoint("GET", path));
    std::vector<BlockerEvidence> blockers;
    in.guard(*items, [&](const json& list) {
      for (const json& item : list) {
        const json& meta = in.object(item, "repository");
        const auto repo = RepoName::parse(in.string(meta, "full_name"));
        if (!repo) {
          in.fail("\"repository.full_name\" does not name a repository");
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
    return blockers;
  }

  // By id, which every Forgejo and Gitea version accepts (names only the newer ones).
  void add_label(const IssueRef& issue, std::string_view label) override {
    const json body = {{"labels", json::array({label_id(issue.repo, label)})}};
    (void)m_http.request("POST", issue_path(issue) + "/labels", dump(body));
  }

  // The id comes from the issue's own labels, so a label it does not carry (or a repository
  // without such a label) costs one GET and no error.
  void remove_label(const IssueRef& issue, std::string_view label) override {
    const std::string path = issue_path(issue);
    const HttpResponse response = m_http.request("GET", path, {}, true);
    if (response.status == 404) {
      return;
    }
    const Reader in(endpoint("GET", path));
    const auto id = in.parse(response.body, [&](const json& doc) -> std::optional<std::int64_t> {
      const json& labels = in.member(doc, "labels");
      if (labels.is_null()) {
        return std::nullopt;
      }
      for (const json& item : in.array(labels, "\"labels\"")) {
        if (iequals(in.string(item, "name"), label)) {
          return in.positive(item, "id");
        }
      }
      return std::nullopt;
    });
    if (id) {
      (void)m_http.request("DELETE", path + "/labels/" + std::to_string(*id), {}, true);
    }
  }

  std::vector<TrackerComment> comments_by(const IssueRef& issue, std::string_view author,
                                          std::string_view marker) override {
    const std::string path = issue_path(issue) + "/comments?limit=" + std::string(k_page_size);
    const Reader in(endpoint("GET", path));
    std::vector<TrackerComment> comments;
    in.guard(*pages(path, Paging::headers, false), [&](const json& items) {
      for (const json& item : items) {
        if (auto comment = comment_by(in, item, author, marker)) {
          comments.push_back(std::move(*comment));
        }
      }
    });
    return comments;
  }

  std::vector<TrackerComment> comments(const IssueRef& issue) override {
    const std::string path = issue_path(issue) + "/comments?limit=" + std::string(k_page_size);
    const Reader in(endpoint("GET", path));
    std::vector<TrackerComment> comments;
    in.guard(*pages(path, Paging::headers, false), [&](const json& items) {
      for (const json& item : items) {
        comments.push_back(read_comment(in, item));
      }
    });
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
    (void)m_http.request("PATCH", issue_path(issue), dump({{"state", "closed"}}));
  }

  void reopen_issue(const IssueRef& issue) override {
    (void)m_http.request("PATCH", issue_path(issue), dump({{"state", "open"}}));
  }

  IssueRef open_issue(const RepoName& repo, std::string_view title, std::string_view body,
                      const std::vector<std::string>& labels) override {
    json ids = json::array();
    for (const std::string& label : labels) {
      ids.push_back(label_id(repo, label));
    }
    const std::string path = repo_path(repo) + "/issues";
    const HttpResponse response = m_http.request(
        "POST", path,
        dump({{"title", std::string(title)}, {"body", std::string(body)}, {"labels", ids}}));
    const Reader in(endpoint("POST", path));
    return in.parse(response.body, [&](const json& doc) {
      return IssueRef{repo, in.positive(doc, "number")};
    });
  }

  // Forgejo names the head commit's SHA "id".
  std::string default_branch(const RepoName& repo) override {
    return read_default_branch(m_http, repo);
  }

  std::optional<std::string> branch_head(const RepoName& repo, std::string_view branch) override {
    const std::string path = repo_path(repo) + "/branches/" + encode_branch(branch);
    const HttpResponse response = m_http.request("GET", path, {}, true);
    if (response.status == 404) {
      return std::nullopt;
    }
    const Reader in(endpoint("GET", path));
    return in.parse(response.body, [&](const json& doc) -> std::optional<std::string> {
      std::string sha = in.string(in.object(doc, "commit"), "id");
      if (!is_commit_sha(sha)) {
        in.fail("\"commit.id\" is not a commit id");
      }
      return sha;
    });
  }

private:
  // Every item of a list endpoint, page by page (page=1, 2, …; `path` already has a query),
  // as one JSON array. Forgejo's Link targets are built from its ROOT_URL, which need not be
  // the API URL afk uses, so pages are asked for by number rather than by following them.
  // nullopt when the first page is 404 and `allow_not_found`.
  std::optional<json> pages(const std::string& path, Paging paging, bool allow_not_found) {
    const Reader in(endpoint("GET", path));
    json items = json::array();
    for (std::size_t page = 1;; ++page) {
      if (page > k_max_pages) {
        in.fail("more than " + std::to_string(k_max_pages) + " pages");
      }
      const HttpResponse response = m_http.request("GET", path + "&page=" + std::to_string(page),
                                                   {}, allow_not_found && page == 1);
      if (response.status == 404) {
        return std::nullopt;
      }
      const std::size_t count = in.parse(response.body, [&](const json& doc) {
        for (const json& item : in.array(doc, "the response")) {
          items.push_back(item);
        }
        return doc.size();
      });
      if (count == 0) {
        break;
      }
      if (paging == Paging::headers) {
        if (const auto links = response.header("link")) {
          if (!link_next(*links)) {
            break;
          }
          continue;
        }
        if (const auto total = count_header(response); total && items.size() >= *total) {
          break;
        }
      }
    }
    return items;
  }

  // The id of the label named `name` (ignoring case) among the repository's labels, then its
  // organisation's. A label that does not exist is the operator's to create.
  std::int64_t label_id(const RepoName& repo, std::string_view name) {
    // A missing repository is an error; a missing organisation (the owner is a user) is not.
    const auto find = [&](const std::string& path,
                          bool allow_not_found) -> std::optional<std::int64_t> {
      const auto items = pages(path, Paging::headers, allow_not_found);
      if (!items) {
        return std::nullopt;
      }
      const Reader in(endpoint("GET", path));
      return in.guard(*items, [&](const json& labels) -> std::optional<std::int64_t> {
        for (const json& label : labels) {
          if (iequals(in.string(label, "name"), name)) {
            return in.positive(label, "id");
          }
        }
        return std::nullopt;
      });
    };
    const std::string limit = "?limit=" + std::string(k_page_size);
    if (const auto id = find(repo_path(repo) + "/labels" + limit, false)) {
      return *id;
    }
    if (const auto id = find("/orgs/" + encode(repo.owner()) + "/labels" + limit, true)) {
      return *id;
    }
    throw Error(ErrorKind::config, "label \"" + std::string(name) + "\" does not exist in " +
                                       repo.full() + "; create it");
  }

  HttpClient& m_http;
};

} // namespace

HttpClientOptions forgejo_http_options(const TrackerConfig& config) {
  HttpClientOptions options;
  options.base_url = config.api_url;
  options.token_file = config.token_file;
  options.auth_scheme = "token";
  options.default_headers = {{"Accept", "application/json"}};
  return options;
}

std::unique_ptr<TrackerClient> make_forgejo_tracker(HttpClient& http) {
  return std::make_unique<ForgejoTracker>(http);
}

} // namespace afk
