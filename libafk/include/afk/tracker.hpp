// SPDX-License-Identifier: MIT
#pragma once

/// TrackerClient: the issue tracker as afk needs it (GitHub, Forgejo, or an embedder's own).
/// afk's durable state lives here (labels and afk's one comment per issue), so every call
/// is exact about absence (std::optional) and failure (afk::Error with a kind, from the
/// HTTP client: transient / config / conflict / protocol / permanent).
///
/// Cost contract: a quiet tick makes one list_open_issues call per repo per afk label; the
/// expensive calls (last_labeled, permission, native_blockers, get_issue for blockers) are
/// for the one candidate the policy asks about and for in-flight issues only.

#include "afk/config.hpp"
#include "afk/http.hpp"
#include "afk/issue.hpp"
#include "afk/policy.hpp"
#include "afk/time.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

/// An issue as the tracker returns it (pull requests are never returned as issues).
struct TrackerIssue {
  IssueSummary summary;
  std::string body;
  bool open = true;
  std::string author; ///< login
};

/// Who applied a label, and when.
struct LabelEvent {
  std::string login;
  LabelerEvidence::Actor actor = LabelerEvidence::Actor::human;
  Timestamp at{};
};

struct TrackerComment {
  std::int64_t id = 0;
  std::string author; ///< login
  std::string body;
  Timestamp updated_at{};
};

class TrackerClient {
public:
  virtual ~TrackerClient() = default;

  /// Open issues of `repo` carrying `label`, every page, pull requests excluded, in the
  /// tracker's order.
  [[nodiscard]] virtual std::vector<TrackerIssue> list_open_issues(const RepoName& repo,
                                                                   std::string_view label) = 0;

  /// Closed issues of `repo` carrying `label` (as list_open_issues). afk asks only for its
  /// lock label: trackers close an issue when a commit saying "Closes #N" reaches the
  /// default branch, which is before afk has verified the push.
  [[nodiscard]] virtual std::vector<TrackerIssue> list_closed_issues(const RepoName& repo,
                                                                     std::string_view label) = 0;

  /// One issue, open or closed; nullopt if it does not exist, is a pull request, or the
  /// token cannot see it (404).
  [[nodiscard]] virtual std::optional<TrackerIssue> get_issue(const IssueRef& issue) = 0;

  /// The most recent event that applied `label` (case-insensitive) to the issue; nullopt
  /// when there is none. Bots and apps are reported as such, never as humans.
  [[nodiscard]] virtual std::optional<LabelEvent> last_labeled(const IssueRef& issue,
                                                               std::string_view label) = 0;

  /// `login`'s live permission on `repo`; Permission::none when they are not a
  /// collaborator (404).
  [[nodiscard]] virtual Permission permission(const RepoName& repo, std::string_view login) = 0;

  /// The tracker's native "blocked by" dependencies of the issue, with each blocker's
  /// state; empty when the tracker has none for it.
  [[nodiscard]] virtual std::vector<BlockerEvidence> native_blockers(const IssueRef& issue) = 0;

  /// Adds `label` (idempotent).
  virtual void add_label(const IssueRef& issue, std::string_view label) = 0;
  /// Removes `label`; absent already is not an error.
  virtual void remove_label(const IssueRef& issue, std::string_view label) = 0;

  /// Comments on the issue written by `author` (case-insensitive) that contain `marker`,
  /// oldest first. Comments by anyone else are never returned.
  [[nodiscard]] virtual std::vector<TrackerComment>
  comments_by(const IssueRef& issue, std::string_view author, std::string_view marker) = 0;

  /// Every comment on the issue, oldest first, whoever wrote it (untrusted text: the caller
  /// decides whose it takes).
  [[nodiscard]] virtual std::vector<TrackerComment> comments(const IssueRef& issue) = 0;

  /// Creates a comment; returns its id. Not retried on failure (it may have been applied).
  [[nodiscard]] virtual std::int64_t create_comment(const IssueRef& issue,
                                                    std::string_view body) = 0;
  /// Replaces the body of comment `comment_id` in `repo`.
  virtual void edit_comment(const RepoName& repo, std::int64_t comment_id,
                            std::string_view body) = 0;

  /// Closes the issue as completed.
  virtual void close_issue(const IssueRef& issue) = 0;
  virtual void reopen_issue(const IssueRef& issue) = 0;

  /// Opens an issue with `labels`; returns its reference.
  [[nodiscard]] virtual IssueRef open_issue(const RepoName& repo, std::string_view title,
                                            std::string_view body,
                                            const std::vector<std::string>& labels) = 0;

  /// The repository's default branch as the tracker reports it (e.g. "main").
  [[nodiscard]] virtual std::string default_branch(const RepoName& repo) = 0;

  /// The commit SHA at the head of `branch`; nullopt if the branch does not exist.
  [[nodiscard]] virtual std::optional<std::string> branch_head(const RepoName& repo,
                                                               std::string_view branch) = 0;
};

/// The HTTP client settings GitHub needs: base URL, token file, Accept
/// (application/vnd.github+json) and the pinned X-GitHub-Api-Version.
[[nodiscard]] HttpClientOptions github_http_options(const TrackerConfig& config);

/// GitHub REST over `http` (configured with github_http_options). Borrows `http`, which
/// must outlive the result.
[[nodiscard]] std::unique_ptr<TrackerClient> make_github_tracker(HttpClient& http);

/// The HTTP client settings Forgejo/Gitea API v1 needs: base URL (tracker.api_url, which
/// ends in /api/v1), token file with the "token" scheme, Accept: application/json.
[[nodiscard]] HttpClientOptions forgejo_http_options(const TrackerConfig& config);
/// Forgejo/Gitea API v1 over `http` (configured with forgejo_http_options). Borrows `http`.
[[nodiscard]] std::unique_ptr<TrackerClient> make_forgejo_tracker(HttpClient& http);

} // namespace afk
