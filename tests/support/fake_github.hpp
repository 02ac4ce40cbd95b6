// SPDX-License-Identifier: MIT
#pragma once

// A stateful, strict fake of GitHub's REST API on 127.0.0.1 and an ephemeral port, for the
// adapters' tests, the engine's end-to-end tests and the sandbox. It serves exactly what afk's
// GitHub adapters call (libafk/src/adapters/github_tracker.cpp, github_checks.cpp), with the
// wire shapes of api.github.com (REST API version 2022-11-28):
//
//   GET    /repos/{o}/{r}                              the repository (default_branch)
//   GET    /repos/{o}/{r}/issues?state=&labels=&sort=&direction=&per_page=&page=
//   POST   /repos/{o}/{r}/issues                       201 + Location
//   GET    /repos/{o}/{r}/issues/{n}                   (a pull request carries "pull_request")
//   PATCH  /repos/{o}/{r}/issues/{n}                   title, body, state, state_reason, labels
//   GET    /repos/{o}/{r}/issues/{n}/events            oldest first
//   GET    /repos/{o}/{r}/issues/{n}/comments          oldest first
//   POST   /repos/{o}/{r}/issues/{n}/comments          201 + Location
//   GET    /repos/{o}/{r}/issues/comments/{id}
//   PATCH  /repos/{o}/{r}/issues/comments/{id}         only by the comment's author (else 403)
//   GET    /repos/{o}/{r}/issues/{n}/labels
//   POST   /repos/{o}/{r}/issues/{n}/labels            {"labels":[…]}, […] or [{"name":…}]
//   DELETE /repos/{o}/{r}/issues/{n}/labels/{name}     200 + the labels left; 404 when absent
//   GET    /repos/{o}/{r}/issues/{n}/dependencies/blocked_by
//   GET    /repos/{o}/{r}/collaborators/{login}/permission   404 for a non-collaborator
//   GET    /repos/{o}/{r}/branches/{branch}            404 "Branch not found"
//   GET    /repos/{o}/{r}/commits/{ref}/check-runs?filter=latest|all&check_name=&status=
//   GET    /repos/{o}/{r}/commits/{ref}/status         the combined status
//
// Every path also answers under /repositories/{id}/…, which is where GitHub's Link headers point.
// Lists are paged as GitHub pages them (per_page default 30, capped at per_page_cap; Link with
// prev/next/last/first). Owner and repository names are case-insensitive; label names too.
//
// Strict where GitHub is, and in a few places stricter so that a sloppy client is caught:
//  - Authorization "Bearer <token>" or "token <token>": missing → 401 "Requires authentication",
//    wrong → 401 "Bad credentials".
//  - Accept must be exactly `accept` (GitHub itself also takes application/json) → else 415.
//  - X-GitHub-Api-Version must be `api_version`: another value → 400 with GitHub's message;
//    missing → 400 as well when `require_api_version` (GitHub would default to 2022-11-28).
//  - Bodies: not JSON → 400 "Problems parsing JSON"; the wrong JSON types → 422 "Invalid
//    request.\n\n…" (GitHub's schema failure); semantic failures (empty title, empty comment,
//    bad label name) → 422 "Validation Failed" with `errors`.
//  - Unknown routes and methods → 404 "Not Found". Every error body is
//    {"message", "documentation_url": "https://docs.github.com/rest", "status": "<code>"}.
//  - Writes by the token's user need its permission in the repository (the token's user is a
//    `write` collaborator unless set_permission says otherwise): labels, closing, reopening and
//    editing an issue need triage (or being the issue's author for state and text), commenting
//    needs read; else 403 "Resource not accessible by personal access token".
//  - Commits: /commits/{ref}/… answers 422 "No commit found for SHA: <ref>" for a ref the world
//    does not know (see add_commit, set_branch_head, mirror_git).
//
// Time: every timestamp is RFC 3339 UTC with seconds ("2026-03-01T10:00:00Z") from
// `options.now`, never going backwards; an edit moves updated_at at least one second on, so a
// client can always see that something changed. Ids (issues, comments, events, labels, check
// runs, statuses) come from one counter: unique and increasing.
//
// Like the fake T3, it depends on nothing in libafk on purpose: a second, independent reading of
// the contract. World-building calls with unknown repositories or issues, or values GitHub cannot
// hold, throw std::invalid_argument (they are bugs in the test).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace afk::test {

struct FakeGitHubOptions {
  std::string token = "gh-test-token";
  std::string login = "afk-bot";   ///< the token's user: author of what the API writes
  std::string login_type = "User"; ///< "User" or "Bot", as GitHub reports that user
  std::string api_version = "2022-11-28";
  bool require_api_version = true;
  std::string accept = "application/vnd.github+json";
  std::size_t per_page_cap = 100;             ///< GitHub's maximum per_page
  bool dependencies_api = true;               ///< false: blocked_by answers 404 (older GHES)
  std::string web_url = "https://github.com"; ///< for html_url fields
  std::function<std::chrono::system_clock::time_point()> now; ///< empty: the system clock
  std::size_t threads = 4;                                    ///< requests served at once
};

class FakeGitHub {
public:
  explicit FakeGitHub(FakeGitHubOptions options = {});
  ~FakeGitHub();
  FakeGitHub(const FakeGitHub&) = delete;
  FakeGitHub& operator=(const FakeGitHub&) = delete;
  FakeGitHub(FakeGitHub&&) = delete;
  FakeGitHub& operator=(FakeGitHub&&) = delete;

  [[nodiscard]] std::string url() const; ///< "http://127.0.0.1:<port>", the API base URL
  [[nodiscard]] const FakeGitHubOptions& options() const;

  // ---- world building (thread-safe) ----------------------------------------------------------

  void add_repo(const std::string& full_name, std::string default_branch = "main");
  /// admin|maintain|write|triage|read|none. "none" is a collaborator without access (200,
  /// permission "none"); a login never given a permission answers 404.
  void set_permission(const std::string& repo, const std::string& login,
                      const std::string& permission);

  /// Opens an issue by `author`; each label is applied by the author (a "labeled" event).
  std::int64_t open_issue(const std::string& repo, const std::string& title,
                          const std::string& body, const std::vector<std::string>& labels,
                          const std::string& author = "alice");
  /// A pull request: it shares the issues' numbers and shows up in the issues list with a
  /// "pull_request" member, as on GitHub.
  std::int64_t open_pull_request(const std::string& repo, const std::string& title,
                                 const std::vector<std::string>& labels,
                                 const std::string& author = "alice");
  /// Applies `label` as `actor` (a "labeled" event; the actor's type is "Bot" when
  /// `actor_is_bot` or the login ends in "[bot]"). Applying a label the issue has is a no-op.
  void label_issue(const std::string& repo, std::int64_t number, const std::string& label,
                   const std::string& actor, bool actor_is_bot = false);
  /// As label_issue, done by GitHub App `app_slug`: actor "<slug>[bot]" (type Bot) and
  /// performed_via_github_app set. With `on_behalf_of`, the app acted with that user's
  /// user-to-server token: the actor is that user (type User), performed_via_github_app is set.
  void label_issue_via_app(const std::string& repo, std::int64_t number, const std::string& label,
                           const std::string& app_slug, const std::string& on_behalf_of = "");
  void unlabel_issue(const std::string& repo, std::int64_t number, const std::string& label,
                     const std::string& actor = "alice");
  void close_issue(const std::string& repo, std::int64_t number, const std::string& actor = "alice",
                   const std::string& state_reason = "completed");
  void reopen_issue(const std::string& repo, std::int64_t number,
                    const std::string& actor = "alice");
  /// Returns the comment's id.
  std::int64_t add_comment(const std::string& repo, std::int64_t number, const std::string& author,
                           const std::string& body);
  /// Someone edits comment `id` (a human tampering with afk's comment, say).
  void edit_comment(const std::string& repo, std::int64_t id, const std::string& body);
  /// `number` is blocked by `blocker_number` of `blocker_repo` (both must exist).
  void add_native_blocker(const std::string& repo, std::int64_t number,
                          const std::string& blocker_repo, std::int64_t blocker_number);

  /// Git: branch heads and known commits. A repository bound to a git directory (bare or a
  /// .git) reads its branches from it on every request (loose refs, then packed-refs) and
  /// knows every commit in it (loose objects and SHA-1 pack indexes); set_branch_head values
  /// answer for branches the directory does not have.
  void set_branch_head(const std::string& repo, const std::string& branch, const std::string& sha);
  void mirror_git(const std::string& repo, const std::filesystem::path& git_dir);
  /// A commit GitHub knows without CI on it yet (check-runs: total_count 0).
  void add_commit(const std::string& repo, const std::string& sha);

  // ---- CI: check runs (app github-actions, one check suite per SHA) and commit statuses ------

  /// status queued|in_progress|completed (also waiting|requested|pending); conclusion "" unless
  /// completed (success|failure|neutral|cancelled|skipped|timed_out|action_required|stale).
  /// Returns the run's id. A second run with the same name is a re-run: filter=latest shows
  /// only the newest.
  std::int64_t add_check_run(const std::string& repo, const std::string& sha,
                             const std::string& name, const std::string& status,
                             const std::string& conclusion = "");
  void update_check_run(const std::string& repo, std::int64_t id, const std::string& status,
                        const std::string& conclusion = "");
  /// state pending|success|failure|error; the combined status shows the newest per context.
  void set_commit_status(const std::string& repo, const std::string& sha,
                         const std::string& context, const std::string& state,
                         const std::string& target_url = "");

  // ---- inspection (thread-safe) ----------------------------------------------------------------

  struct IssueView {
    std::int64_t number = 0;
    std::string title, body, state, state_reason, author;
    std::vector<std::string> labels;
    std::vector<std::pair<std::string, std::string>> comments; ///< author, body; oldest first
    bool pull_request = false;
  };
  [[nodiscard]] std::optional<IssueView> issue(const std::string& repo, std::int64_t number) const;

  struct CommentView {
    std::int64_t id = 0;
    std::string author, body, created_at, updated_at;
  };
  [[nodiscard]] std::vector<CommentView> comments(const std::string& repo,
                                                  std::int64_t number) const;

  struct EventView {
    std::int64_t id = 0;
    std::string event; ///< labeled, unlabeled, closed, reopened
    std::string actor, label, created_at;
  };
  [[nodiscard]] std::vector<EventView> events(const std::string& repo, std::int64_t number) const;

  struct Received {
    std::string method;
    std::string target; ///< path and query, as sent
    std::string body;
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers; ///< as sent, in order
  };
  [[nodiscard]] std::vector<Received> requests() const; ///< in order, with the status answered
  [[nodiscard]] std::size_t request_count() const;
  void clear_requests();

  // ---- faults ----------------------------------------------------------------------------------

  /// The next `count` requests whose path (without the query) starts with `path_prefix` answer
  /// `status` with a GitHub error body, before anything else is checked.
  void fail_next(const std::string& path_prefix, int status, int count = 1);
  /// Every response waits `delay` before it is processed.
  void set_delay(std::chrono::milliseconds delay);

private:
  struct State;
  std::unique_ptr<State> m_state;
};

} // namespace afk::test
