// SPDX-License-Identifier: MIT
#pragma once

/// WorktreeManager: the git side of a run. One persistent ("warm") checkout per enrolled
/// repository under a configured root, one worktree per run on a branch afk names, and the
/// commits a run pushed to the default branch, found by fetching. The libgit2 adapter is
/// made by make_libgit2_worktrees(); adr/0005-worktrees.md explains layout, locking, crash
/// repair and why there is no `gc`.
///
/// Layout under the root (every component validated, nothing taken from issue text):
///   <root>/<owner>/<name>/.afk.lock            per-checkout lock (flock)
///   <root>/<owner>/<name>/checkout             the warm clone: a bare repository
///   <root>/<owner>/<name>/checkout.partial     a clone in progress (removed if found)
///   <root>/<owner>/<name>/worktrees/<run id>   one worktree per run
/// owner and name are RepoName::canonical()'s lower-case halves.
///
/// afk is stateless: the manager keeps no phase of its own. The caller (the engine, which
/// reads the tracker) says which runs are finished; remove() and evict_to_budget() delete
/// only what they are told may go, so escalated and frozen worktrees stay until a person
/// clears them.
///
/// Every operation that touches a checkout takes its lock first, waits at most
/// `lock_timeout`, and repairs what a crash half-way through an earlier call left behind.
/// Errors (afk::Error): network failures while cloning or fetching → transient; bad
/// configuration, a missing or rejected token → config; a corrupt repository, a path that
/// is not what afk made (a symlink where a directory belongs) → permanent. Messages name
/// the repository and the operation, never the token.

#include "afk/config.hpp"
#include "afk/issue.hpp"
#include "afk/log.hpp"
#include "afk/time.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

struct WorktreeOptions {
  std::filesystem::path root; ///< created if missing; may itself be a symlink
  /// "{repo}" becomes "owner/name" as written. https://, http:// or file://; no user
  /// name or password in it (the token comes from token_file).
  std::string clone_url = "https://github.com/{repo}.git";
  /// Read at every authentication (rotation needs no restart); sent as HTTP basic auth
  /// "x-access-token:<token>" over https, or over http to a loopback host only. Empty: none.
  std::filesystem::path token_file;
  std::string branch_prefix = "afk/";
  std::string trailer = "AFK-Run";
  /// How long a call waits for another afk process to release the checkout.
  std::chrono::milliseconds lock_timeout = std::chrono::seconds(60);
};

/// The options a GitConfig describes (lock_timeout stays at its default).
[[nodiscard]] WorktreeOptions worktree_options_from(const GitConfig& git);

/// What prepare() needs to know about a run.
struct RunWorktreeSpec {
  IssueRef issue;
  std::string run_id;      ///< a lower-case UUID (afk/ids.hpp)
  std::string issue_title; ///< only for the branch slug
  /// The repository's configured default branch (repos."o/n".default_branch); nullopt:
  /// the remote's HEAD decides.
  std::optional<std::string> default_branch;
};

struct PreparedWorktree {
  std::string branch;         ///< short name, e.g. "afk/42-fix-the-login-page"
  std::filesystem::path path; ///< absolute
  std::string base_sha;       ///< the default branch's tip the branch started from
  std::string default_branch; ///< short name, e.g. "main"
  bool operator==(const PreparedWorktree&) const = default;
};

/// Which commits pushed_commits() attributes to a run.
struct PushedCommitsQuery {
  IssueRef issue;
  std::string run_id;
  std::string base_sha;       ///< PreparedWorktree::base_sha
  std::string default_branch; ///< PreparedWorktree::default_branch
};

struct PushedCommit {
  std::string sha;
  std::string subject;
  std::string author; ///< "Name <email>"
  Timestamp committed_at{};
  bool operator==(const PushedCommit&) const = default;
};

/// A worktree as found on disk, for forensics (a frozen run) and status.
struct WorktreeInspection {
  std::string head_sha;           ///< empty when HEAD does not resolve
  std::string branch;             ///< empty when HEAD is detached
  std::vector<std::string> dirty; ///< "M path", "?? path", … at most 50, sorted
  std::size_t dirty_count = 0;    ///< all of them
  std::size_t unpushed_count = 0; ///< commits on HEAD not on the remote default branch
};

struct WorktreeEntry {
  std::string run_id;
  std::filesystem::path path;
  std::string branch;        ///< empty when unknown (metadata missing)
  std::uint64_t bytes = 0;   ///< files under the worktree directory
  Timestamp last_modified{}; ///< newest of the directory, its index and its HEAD
  bool operator==(const WorktreeEntry&) const = default;
};

struct RepoDiskUsage {
  RepoName repo;
  std::uint64_t checkout_bytes = 0; ///< the warm clone (objects, refs, worktree metadata)
  std::uint64_t worktree_bytes = 0; ///< every worktree directory
  std::size_t pack_files = 0;       ///< grows with every fetch: libgit2 cannot repack
  [[nodiscard]] std::uint64_t total() const noexcept { return checkout_bytes + worktree_bytes; }
};

/// What prune() repaired.
struct PruneReport {
  std::size_t stale_metadata = 0;     ///< .git/worktrees/<id> whose directory is gone
  std::size_t orphan_directories = 0; ///< worktree directories git does not know
  std::size_t incomplete = 0;         ///< worktrees a crash left half-made
  bool operator==(const PruneReport&) const = default;
};

struct EvictedWorktree {
  RepoName repo;
  std::string run_id;
  std::uint64_t bytes = 0;
};

class WorktreeManager {
public:
  virtual ~WorktreeManager() = default;

  /// Clones the repository on first use, fetches its default branch, and adds a worktree
  /// for the run on a new branch "<prefix><issue>-<slug>" from the fetched tip. If that
  /// branch is checked out by another run's worktree, "-2", "-3", … is appended. Idempotent
  /// per run id: a second call returns the same branch and path without fetching again;
  /// a worktree a crash left half-made is removed and made again. Throws Error{config} for
  /// an invalid run id, default branch or URL, and when no default branch can be found.
  [[nodiscard]] virtual PreparedWorktree prepare(const RunWorktreeSpec& spec) = 0;

  /// Fetches, then returns the commits on the remote default branch since base_sha (which
  /// must be in the checkout) that belong to the run (attribute_commit()), oldest first.
  [[nodiscard]] virtual std::vector<PushedCommit> pushed_commits(const PushedCommitsQuery& q) = 0;

  /// The run's worktree as it is now; nullopt when it has none. Does not fetch.
  [[nodiscard]] virtual std::optional<WorktreeInspection> inspect(const RepoName& repo,
                                                                  std::string_view run_id) = 0;

  /// Removes the run's worktree directory, its metadata and its branch. true if anything
  /// was there. Removing what is already gone is not an error.
  virtual bool remove(const RepoName& repo, std::string_view run_id) = 0;

  /// The repository's worktrees, by run id. Empty when there is no checkout yet.
  [[nodiscard]] virtual std::vector<WorktreeEntry> list(const RepoName& repo) = 0;

  /// Repairs what crashes and hand deletions leave: metadata of worktrees whose directory
  /// is gone, directories git no longer knows, worktrees never finished. Never touches a
  /// complete worktree.
  virtual PruneReport prune(const RepoName& repo) = 0;

  [[nodiscard]] virtual RepoDiskUsage disk_usage(const RepoName& repo) = 0;

  /// While everything under the root takes more than `budget_bytes`, removes the least
  /// recently modified worktree whose run id is in `removable` (finished runs). Worktrees
  /// of other runs are never touched, so the budget may stay exceeded. Returns what went,
  /// oldest first.
  virtual std::vector<EvictedWorktree> evict_to_budget(std::uint64_t budget_bytes,
                                                       const std::set<std::string>& removable) = 0;
};

/// The libgit2 adapter. Initialises libgit2 once per process. `logger` is borrowed and must
/// outlive the manager. Throws Error{config} for invalid options (see WorktreeOptions).
/// Safe to call from several threads and processes at once: each checkout is locked.
[[nodiscard]] std::unique_ptr<WorktreeManager> make_libgit2_worktrees(WorktreeOptions options,
                                                                      Logger& logger);

// ---- pure pieces, exposed for table tests ----

/// A lower-case UUID as afk/ids.hpp makes them ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx").
[[nodiscard]] bool is_valid_run_id(std::string_view run_id);

/// git check-ref-format's rules for a branch's short name ("afk/42-fix"): no empty, "." or
/// "-"-leading component, no "..", "@{", "//", control characters, space, ~ ^ : ? * [ \,
/// no component ending in ".lock", not ending in "/" or ".", not "@".
[[nodiscard]] bool is_valid_branch_name(std::string_view name);

/// The slug of an issue title: ASCII letters and digits lower-cased, every other run of
/// characters (Unicode included) one '-', no leading or trailing '-', at most 40
/// characters; "issue" when nothing is left.
[[nodiscard]] std::string branch_slug(std::string_view title);

/// "<prefix><number>-<slug>", e.g. "afk/42-fix-the-login-page".
[[nodiscard]] std::string run_branch_name(std::string_view prefix, std::int64_t issue_number,
                                          std::string_view title);

enum class Attribution {
  none,    ///< not the run's
  trailer, ///< "<trailer>: <run id>" in the message's final paragraph of trailers
  closes,  ///< "Closes #N" / "Fixes #N" / "Resolves #N" (any tense, any case) for the issue
};

/// Whether a commit message says it belongs to the run. The trailer counts only as a real
/// git trailer: a "Key: value" line in the last paragraph, after a subject, in a paragraph
/// made only of trailer lines (continuation lines indented). The closing keywords count
/// anywhere, followed by an optional ':' and "#N" or "owner/repo#N" for the issue's own
/// repository; N must match exactly (#12 is not #123). A message whose trailer names
/// another run is that run's, even if it closes the issue; a revert ("Revert \"…") closes
/// nothing.
[[nodiscard]] Attribution attribute_commit(std::string_view message, std::string_view trailer,
                                           std::string_view run_id, const IssueRef& issue);

/// The paths of one repository under the root.
struct RepoLayout {
  std::filesystem::path repo_dir;  ///< <root>/<owner>/<name>
  std::filesystem::path checkout;  ///< <repo_dir>/checkout
  std::filesystem::path partial;   ///< <repo_dir>/checkout.partial
  std::filesystem::path worktrees; ///< <repo_dir>/worktrees
  std::filesystem::path lock_file; ///< <repo_dir>/.afk.lock
};

[[nodiscard]] RepoLayout repo_layout(const std::filesystem::path& root, const RepoName& repo);

/// <root>/<owner>/<name>/worktrees/<run id>; nullopt unless `run_id` is valid.
[[nodiscard]] std::optional<std::filesystem::path>
worktree_path(const std::filesystem::path& root, const RepoName& repo, std::string_view run_id);

/// Lexically: `path` is `root` or below it, with no ".." or "." component after `root`.
[[nodiscard]] bool is_confined(const std::filesystem::path& root,
                               const std::filesystem::path& path);

/// clone_url with "{repo}" replaced; nullopt when the result is not an https://, http://
/// or file:// URL, or carries a user name or password.
[[nodiscard]] std::optional<std::string> expand_clone_url(std::string_view clone_url,
                                                          const RepoName& repo);

} // namespace afk
