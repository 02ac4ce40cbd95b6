// SPDX-License-Identifier: MIT
// WorktreeManager on libgit2 (adr/0005-worktrees.md).
//
// Files afk keeps inside each bare checkout, beside git's own:
//   afk-runs/<run id>             "branch …", "base …", "default …": written before the run's
//                                 branch is made, removed last; says which branch is whose
//   worktrees/<run id>/afk-ready  git's worktree metadata dir plus afk's marker that the
//                                 worktree was completely checked out

#include <afk/error.hpp>
#include <afk/worktree.hpp>

#include <git2.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace afk {

namespace {

namespace fs = std::filesystem;

constexpr const char* k_remote = "origin";
constexpr const char* k_runs_dir = "afk-runs";
constexpr const char* k_ready_marker = "afk-ready";
constexpr int k_max_branch_suffix = 100;
constexpr std::size_t k_max_dirty_listed = 50;
constexpr auto k_lock_poll = std::chrono::milliseconds(50);

void init_libgit2_once() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

// ---- libgit2 handles ----

template <typename T, void (*Free)(T*)> struct GitDeleter {
  void operator()(T* p) const noexcept { Free(p); }
};
template <typename T, void (*Free)(T*)> using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using Repository = GitPtr<git_repository, git_repository_free>;
using Remote = GitPtr<git_remote, git_remote_free>;
using Reference = GitPtr<git_reference, git_reference_free>;
using Worktree = GitPtr<git_worktree, git_worktree_free>;
using Commit = GitPtr<git_commit, git_commit_free>;
using Revwalk = GitPtr<git_revwalk, git_revwalk_free>;
using StatusList = GitPtr<git_status_list, git_status_list_free>;

struct Buf {
  git_buf buf = GIT_BUF_INIT;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { git_buf_dispose(&buf); }
};

std::string last_git_error() {
  const git_error* e = git_error_last();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

void check(int rc, ErrorKind kind, const std::string& what) {
  if (rc < 0) {
    throw Error(kind, what + ": " + last_git_error());
  }
}

std::string oid_hex(const git_oid& oid) {
  std::array<char, GIT_OID_HEXSZ + 1> hex{};
  git_oid_tostr(hex.data(), hex.size(), &oid);
  return hex.data();
}

// ---- credentials ----

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// The token file's content, trimmed. Throws Error{config}; never echoes the content.
std::string read_token(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    throw Error(ErrorKind::config, "token file " + file.string() + " is missing or not a file");
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  if (!in) {
    throw Error(ErrorKind::config, "cannot read token file " + file.string());
  }
  std::string token = content.str();
  while (!token.empty() && is_space(token.back())) {
    token.pop_back();
  }
  token.erase(token.begin(),
              std::find_if(token.begin(), token.end(), [](char c) { return !is_space(c); }));
  if (token.empty()) {
    throw Error(ErrorKind::config, "token file " + file.string() + " is empty");
  }
  if (std::any_of(token.begin(), token.end(), [](char c) { return c <= ' ' || c > '~'; })) {
    throw Error(ErrorKind::config,
                "token file " + file.string() + " holds characters a token cannot contain");
  }
  return token;
}

// A token goes only where nobody on the path can read it: https, or http to this machine.
bool may_send_token(std::string_view url) {
  if (url.rfind("https://", 0) == 0) {
    return true;
  }
  for (const std::string_view loopback :
       {"http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/",
        "http://[::1]:", "http://[::1]/"}) {
    if (url.rfind(loopback, 0) == 0) {
      return true;
    }
  }
  return false;
}

struct AuthState {
  const fs::path* token_file = nullptr;
  int offered = 0;
  std::optional<Error> failure; // why authentication cannot succeed; wins over libgit2's error
};

int acquire_credentials(git_credential** out, const char* url, const char* /*username*/,
                        unsigned int allowed_types, void* payload) {
  auto& auth = *static_cast<AuthState*>(payload);
  if (auth.token_file->empty()) {
    auth.failure = Error(ErrorKind::config, "the remote asks for credentials and no "
                                            "token_file is configured");
  } else if ((allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) == 0U) {
    auth.failure = Error(ErrorKind::config, "the remote asks for credentials afk cannot give "
                                            "(only a token over HTTPS is supported)");
  } else if (!may_send_token(url)) {
    auth.failure = Error(ErrorKind::config, "afk sends the token only over https (or http to "
                                            "localhost); change clone_url");
  } else if (auth.offered > 0) {
    // libgit2 asks again after a rejection; the same token would be rejected forever.
    auth.failure =
        Error(ErrorKind::config, "the remote rejected the token in " + auth.token_file->string());
  } else {
    try {
      const std::string token = read_token(*auth.token_file);
      ++auth.offered;
      return git_credential_userpass_plaintext_new(out, "x-access-token", token.c_str());
    } catch (const Error& e) {
      auth.failure = e;
    }
  }
  git_error_set_str(GIT_ERROR_CALLBACK, "authentication failed");
  return GIT_EAUTH;
}

// ---- files ----

struct LockFd {
  int fd = -1;
  explicit LockFd(int f)
      : fd(f) {}
  LockFd(const LockFd&) = delete;
  LockFd& operator=(const LockFd&) = delete;
  ~LockFd() {
    if (fd >= 0) {
      ::close(fd); // releases the flock
    }
  }
};

// Holds <repo dir>/.afk.lock (flock, so the kernel drops it when a process dies).
class CheckoutLock {
public:
  CheckoutLock(const fs::path& file, std::chrono::milliseconds timeout, const std::string& repo)
      : m_fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) {
    if (m_fd.fd < 0) {
      throw Error(ErrorKind::permanent, "cannot open lock file " + file.string() + " of " + repo +
                                            ": " + std::strerror(errno));
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(m_fd.fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EWOULDBLOCK) {
        throw Error(ErrorKind::permanent,
                    "cannot lock " + file.string() + " of " + repo + ": " + std::strerror(errno));
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        throw Error(ErrorKind::transient, "checkout of " + repo +
                                              " is locked by another afk process (waited " +
                                              std::to_string(timeout.count()) + "ms)");
      }
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(k_lock_poll, deadline - now));
    }
  }

private:
  LockFd m_fd;
};

// true if `path` is a real directory, false if absent; a symlink or anything else where a
// directory afk made belongs is refused, so nothing is ever followed out of the root.
bool real_directory(const fs::path& path) {
  std::error_code ec;
  const auto st = fs::symlink_status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    return false;
  }
  if (ec) {
    throw Error(ErrorKind::permanent, "cannot inspect " + path.string() + ": " + ec.message());
  }
  if (fs::is_symlink(st)) {
    throw Error(ErrorKind::permanent,
                path.string() + " is a symlink; afk does not follow links out of its root");
  }
  if (!fs::is_directory(st)) {
    throw Error(ErrorKind::permanent, path.string() + " is not a directory");
  }
  return true;
}

void make_real_directory(const fs::path& path) {
  if (real_directory(path)) {
    return;
  }
  std::error_code ec;
  fs::create_directory(path, ec);
  if (ec || !real_directory(path)) {
    throw Error(ErrorKind::permanent, "cannot create " + path.string() + ": " + ec.message());
  }
}

// Removes `path`: a directory with everything in it (links inside are removed, never
// followed), or a link or file itself. true if something was there.
bool remove_tree(const fs::path& path) {
  std::error_code ec;
  const auto st = fs::symlink_status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    return false;
  }
  fs::remove_all(path, ec);
  if (ec) {
    throw Error(ErrorKind::permanent, "cannot remove " + path.string() + ": " + ec.message());
  }
  return true;
}

std::uint64_t disk_bytes(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return 0;
  }
  std::uint64_t total = static_cast<std::uint64_t>(st.st_blocks) * 512U;
  if (!S_ISDIR(st.st_mode)) {
    return total;
  }
  std::error_code ec;
  for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (::lstat(it->path().c_str(), &st) == 0) {
      total += static_cast<std::uint64_t>(st.st_blocks) * 512U;
    }
  }
  return total;
}

Timestamp modified_at(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return Timestamp{};
  }
  return Timestamp{std::chrono::seconds{st.st_mtim.tv_sec}};
}

// Writes `content` to `path` through a temporary file and rename, so a crash leaves the
// old content or the new, never half.
void write_file_atomically(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      throw Error(ErrorKind::permanent, "cannot write " + tmp.string());
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    throw Error(ErrorKind::permanent, "cannot write " + path.string() + ": " + ec.message());
  }
}

std::optional<std::string> read_small_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(path, ec))) {
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return in ? std::optional<std::string>(content.str()) : std::nullopt;
}

// ---- afk's per-run file ----

struct RunFile {
  std::string branch;
  std::string base_sha;
  std::string default_branch;
};

std::string render(const RunFile& run) {
  return "branch " + run.branch + "\nbase " + run.base_sha + "\ndefault " + run.default_branch +
         "\n";
}

std::optional<RunFile> parse_run_file(const std::string& text) {
  RunFile run;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (key == "branch") {
      run.branch = value;
    } else if (key == "base") {
      run.base_sha = value;
    } else if (key == "default") {
      run.default_branch = value;
    }
  }
  if (!is_valid_branch_name(run.branch) || !is_valid_branch_name(run.default_branch) ||
      run.base_sha.size() != GIT_OID_HEXSZ) {
    return std::nullopt;
  }
  return run;
}

// ---- the manager ----

struct FetchedTip {
  std::string default_branch;
  git_oid tip{};
};

class Libgit2Worktrees final : public WorktreeManager {
public:
  Libgit2Worktrees(WorktreeOptions options, Logger& logger)
      : m_options(std::move(options))
      , m_logger(logger) {
    init_libgit2_once();
    if (m_options.root.empty()) {
      throw Error(ErrorKind::config, "git.root is empty");
    }
    if (!is_valid_branch_name(m_options.branch_prefix + "1-x")) {
      throw Error(ErrorKind::config, "git.branch_prefix \"" + m_options.branch_prefix +
                                         "\" does not make valid branch names");
    }
    if (m_options.trailer.empty() ||
        !std::all_of(m_options.trailer.begin(), m_options.trailer.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
        })) {
      throw Error(ErrorKind::config, "git.trailer must be letters, digits and '-'");
    }
    if (!expand_clone_url(m_options.clone_url, *RepoName::parse("o/r"))) {
      throw Error(ErrorKind::config, "git.clone_url must be an https://, http:// or file:// URL "
                                     "without user name or password (the token goes in "
                                     "token_file)");
    }
    std::error_code ec;
    fs::create_directories(m_options.root, ec);
    m_root = fs::canonical(m_options.root, ec);
    if (ec) {
      throw Error(ErrorKind::config,
                  "git.root " + m_options.root.string() + " cannot be created: " + ec.message());
    }
  }

  PreparedWorktree prepare(const RunWorktreeSpec& spec) override {
    const std::string repo_name = spec.issue.repo.full();
    require_run_id(spec.run_id, repo_name);
    if (spec.default_branch && !is_valid_branch_name(*spec.default_branch)) {
      throw Error(ErrorKind::config, "default branch \"" + *spec.default_branch + "\" of " +
                                         repo_name + " is not a valid branch name");
    }
    const RepoLayout layout = make_repo_dirs(spec.issue.repo);
    const CheckoutLock lock(layout.lock_file, m_options.lock_timeout, repo_name);
    Repository repo = open_or_clone(spec.issue.repo, layout);
    const fs::path common = git_repository_commondir(repo.get());
    const fs::path path = layout.worktrees / spec.run_id;
    const fs::path admin = common / "worktrees" / spec.run_id;
    const fs::path run_file = common / k_runs_dir / spec.run_id;

    if (auto done = ready_worktree(path, admin, run_file)) {
      return *done;
    }
    const bool half_made_directory = remove_tree(path);
    if (remove_tree(admin) || half_made_directory) {
      m_logger.warn("worktree_repaired", {{"repo", repo_name},
                                          {"issue", spec.issue.to_string()},
                                          {"run", spec.run_id},
                                          {"reason", "left half-made"}});
    }
    prune_locked(repo.get(), layout);

    const FetchedTip fetched =
        fetch(repo.get(), url_for(spec.issue.repo), repo_name, spec.default_branch);
    const std::string branch = choose_branch(repo.get(), common, spec);
    const RunFile run{branch, oid_hex(fetched.tip), fetched.default_branch};
    make_real_directory(common / k_runs_dir);
    write_file_atomically(run_file, render(run));

    Commit base;
    {
      git_commit* raw = nullptr;
      check(git_commit_lookup(&raw, repo.get(), &fetched.tip), ErrorKind::permanent,
            "prepare " + repo_name + ": default branch tip");
      base.reset(raw);
    }
    Reference ref;
    {
      git_reference* raw = nullptr;
      // force: the branch is this run's own (its run file says so) or new.
      check(git_branch_create(&raw, repo.get(), branch.c_str(), base.get(), 1),
            ErrorKind::permanent, "prepare " + repo_name + ": create branch " + branch);
      ref.reset(raw);
    }
    make_real_directory(layout.worktrees);
    git_worktree_add_options add_options;
    git_worktree_add_options_init(&add_options, GIT_WORKTREE_ADD_OPTIONS_VERSION);
    add_options.ref = ref.get();
    add_options.checkout_options.checkout_strategy = GIT_CHECKOUT_FORCE;
    {
      git_worktree* raw = nullptr;
      check(git_worktree_add(&raw, repo.get(), spec.run_id.c_str(), path.c_str(), &add_options),
            ErrorKind::permanent, "prepare " + repo_name + ": add worktree " + path.string());
      Worktree added(raw);
    }
    write_file_atomically(admin / k_ready_marker, "");
    m_logger.info("worktree_prepared", {{"repo", repo_name},
                                        {"issue", spec.issue.to_string()},
                                        {"run", spec.run_id},
                                        {"branch", branch},
                                        {"base", run.base_sha}});
    return PreparedWorktree{branch, path, run.base_sha, run.default_branch};
  }

  std::vector<PushedCommit> pushed_commits(const PushedCommitsQuery& q) override {
    const std::string repo_name = q.issue.repo.full();
    require_run_id(q.run_id, repo_name);
    if (!is_valid_branch_name(q.default_branch)) {
      throw Error(ErrorKind::config, "default branch \"" + q.default_branch + "\" of " + repo_name +
                                         " is not a valid branch name");
    }
    git_oid base{};
    if (q.base_sha.size() != GIT_OID_HEXSZ || git_oid_fromstr(&base, q.base_sha.c_str()) < 0) {
      throw Error(ErrorKind::config,
                  "base \"" + q.base_sha + "\" of run " + q.run_id + " is not a commit id");
    }
    const RepoLayout layout = make_repo_dirs(q.issue.repo);
    const CheckoutLock lock(layout.lock_file, m_options.lock_timeout, repo_name);
    Repository repo = open_or_clone(q.issue.repo, layout);
    const FetchedTip fetched =
        fetch(repo.get(), url_for(q.issue.repo), repo_name, q.default_branch);
    {
      git_commit* raw = nullptr;
      check(git_commit_lookup(&raw, repo.get(), &base), ErrorKind::permanent,
            "pushed commits of " + repo_name + ": base " + q.base_sha + " of run " + q.run_id +
                " is not in the checkout");
      git_commit_free(raw);
    }
    Revwalk walk = new_walk(repo.get(), repo_name);
    check(git_revwalk_push(walk.get(), &fetched.tip), ErrorKind::permanent,
          "pushed commits of " + repo_name);
    check(git_revwalk_hide(walk.get(), &base), ErrorKind::permanent,
          "pushed commits of " + repo_name);
    std::vector<PushedCommit> found;
    git_oid oid{};
    while (git_revwalk_next(&oid, walk.get()) == 0) {
      git_commit* raw = nullptr;
      check(git_commit_lookup(&raw, repo.get(), &oid), ErrorKind::permanent,
            "pushed commits of " + repo_name);
      const Commit commit(raw);
      const char* message = git_commit_message(commit.get());
      if (attribute_commit(message != nullptr ? message : "", m_options.trailer, q.run_id,
                           q.issue) == Attribution::none) {
        continue;
      }
      const git_signature* author = git_commit_author(commit.get());
      const char* summary = git_commit_summary(commit.get());
      found.push_back(PushedCommit{oid_hex(oid), summary != nullptr ? summary : "",
                                   std::string(author->name) + " <" + author->email + ">",
                                   Timestamp{std::chrono::seconds{git_commit_time(commit.get())}}});
    }
    return found;
  }

  std::optional<WorktreeInspection> inspect(const RepoName& repo_name,
                                            std::string_view run_id) override {
    require_run_id(run_id, repo_name.full());
    const RepoLayout layout = repo_layout(m_root, repo_name);
    if (!existing_repo_dirs(layout)) {
      return std::nullopt;
    }
    const CheckoutLock lock(layout.lock_file, m_options.lock_timeout, repo_name.full());
    const fs::path path = layout.worktrees / std::string(run_id);
    if (!real_directory(layout.worktrees) || !real_directory(path)) {
      return std::nullopt;
    }
    git_repository* raw = nullptr;
    if (git_repository_open_ext(&raw, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) < 0) {
      return std::nullopt;
    }
    const Repository wt(raw);
    WorktreeInspection result;
    Reference head;
    {
      git_reference* ref = nullptr;
      if (git_repository_head(&ref, wt.get()) == 0) {
        head.reset(ref);
        if (const git_oid* oid = git_reference_target(head.get())) {
          result.head_sha = oid_hex(*oid);
        }
        if (git_reference_is_branch(head.get()) != 0) {
          result.branch = git_reference_shorthand(head.get());
        }
      }
    }
    collect_status(wt.get(), repo_name.full(), result);
    const auto run = read_small_file(fs::path(git_repository_commondir(wt.get())) / k_runs_dir /
                                     std::string(run_id));
    const auto parsed = run ? parse_run_file(*run) : std::nullopt;
    if (head && parsed) {
      result.unpushed_count =
          unpushed(wt.get(), *git_reference_target(head.get()), parsed->default_branch);
    }
    return result;
  }

  bool remove(const RepoName& repo_name, std::string_view run_id) override {
    require_run_id(run_id, repo_name.full());
    const RepoLayout layout = repo_layout(m_root, repo_name);
    if (!existing_repo_dirs(layout)) {
      return false;
    }
    const CheckoutLock lock(layout.lock_file, m_options.lock_timeout, repo_name.full());
    const bool removed = remove_locked(layout, repo_name, run_id);
    if (removed) {
      m_logger.info("worktree_removed", {{"repo", repo_name.full()}, {"run", std::string(run_id)}});
    }
    return removed;
  }

  std::vector<WorktreeEntry> list(const RepoName& repo_name) override {
    const RepoLayout layout = repo_layout(m_root, repo_name);
    if (!existing_repo_dirs(layout)) {
      return {};
    }
    const CheckoutLock lock(layout.lock_file, m_options.lock_timeout, repo_name.full());
    return list_locked(layout);
  }

  PruneReport prune(const RepoName& repo_name) override {
    const RepoLayout layout = repo_layout(m_root, repo_name);
    if (!existing_repo_dirs(layout)) {
      return {};
    }
    const CheckoutLock lock(layout.lock_file, m_options.lock_timeout, repo_name.full());
    if (!real_directory(layout.checkout)) {
      return {};
    }
    const Repository repo = open_checkout(layout.checkout, repo_name.full());
    return prune_locked(repo.get(), layout);
  }

  RepoDiskUsage disk_usage(const RepoName& repo_name) override {
    const RepoLayout layout = repo_layout(m_root, repo_name);
    RepoDiskUsage usage{repo_name};
    if (!existing_repo_dirs(layout)) {
      return usage;
    }
    usage.checkout_bytes = disk_bytes(layout.checkout) + disk_bytes(layout.partial);
    usage.worktree_bytes = disk_bytes(layout.worktrees);
    std::error_code ec;
    for (fs::directory_iterator it(layout.checkout / "objects" / "pack", ec), end; !ec && it != end;
         it.increment(ec)) {
      usage.pack_files += it->path().extension() == ".pack" ? 1U : 0U;
    }
    return usage;
  }

  std::vector<EvictedWorktree> evict_to_budget(std::uint64_t budget_bytes,
                                               const std::set<std::string>& removable) override {
    std::uint64_t total = 0;
    struct Candidate {
      RepoName repo;
      WorktreeEntry entry;
    };
    std::vector<Candidate> candidates;
    for (const RepoName& repo : enrolled_repos()) {
      total += disk_usage(repo).total();
      for (WorktreeEntry& entry : list(repo)) {
        if (removable.count(entry.run_id) != 0) {
          candidates.push_back({repo, std::move(entry)});
        }
      }
    }
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
      return std::tie(a.entry.last_modified, a.entry.run_id) <
             std::tie(b.entry.last_modified, b.entry.run_id);
    });
    std::vector<EvictedWorktree> evicted;
    for (const Candidate& c : candidates) {
      if (total <= budget_bytes) {
        break;
      }
      if (remove(c.repo, c.entry.run_id)) {
        total -= std::min(total, c.entry.bytes);
        evicted.push_back({c.repo, c.entry.run_id, c.entry.bytes});
        m_logger.info("worktree_evicted", {{"repo", c.repo.full()},
                                           {"run", c.entry.run_id},
                                           {"bytes", std::to_string(c.entry.bytes)}});
      }
    }
    return evicted;
  }

private:
  static void require_run_id(std::string_view run_id, const std::string& repo) {
    if (!is_valid_run_id(run_id)) {
      throw Error(ErrorKind::config, "run id of " + repo + " is not an afk run id (a UUID)");
    }
  }

  // Makes <root>/<owner>/<name> (never through a symlink) and returns the layout.
  RepoLayout make_repo_dirs(const RepoName& repo) const {
    const RepoLayout layout = repo_layout(m_root, repo);
    make_real_directory(layout.repo_dir.parent_path());
    make_real_directory(layout.repo_dir);
    return layout;
  }

  // Whether <root>/<owner>/<name> exists (refusing symlinks on the way).
  static bool existing_repo_dirs(const RepoLayout& layout) {
    return real_directory(layout.repo_dir.parent_path()) && real_directory(layout.repo_dir);
  }

  std::vector<RepoName> enrolled_repos() const {
    std::vector<RepoName> repos;
    std::error_code ec;
    for (fs::directory_iterator owner(m_root, ec), end; !ec && owner != end; owner.increment(ec)) {
      if (!owner->is_directory() || owner->is_symlink()) {
        continue;
      }
      std::error_code inner;
      for (fs::directory_iterator name(owner->path(), inner); !inner && name != end;
           name.increment(inner)) {
        if (name->is_directory() && !name->is_symlink()) {
          const auto repo = RepoName::parse(owner->path().filename().string() + "/" +
                                            name->path().filename().string());
          if (repo && repo_layout(m_root, *repo).repo_dir == name->path()) {
            repos.push_back(*repo);
          }
        }
      }
    }
    std::sort(repos.begin(), repos.end());
    return repos;
  }

  static Repository open_checkout(const fs::path& dir, const std::string& repo) {
    git_repository* raw = nullptr;
    check(git_repository_open_ext(&raw, dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr),
          ErrorKind::permanent, "checkout " + dir.string() + " of " + repo + " cannot be opened");
    return Repository(raw);
  }

  std::string url_for(const RepoName& repo) const {
    auto url = expand_clone_url(m_options.clone_url, repo);
    if (!url) {
      throw Error(ErrorKind::config, "git.clone_url gives no valid URL for " + repo.full());
    }
    return *url;
  }

  // The warm checkout, cloned first if there is none. A clone is made in checkout.partial and
  // renamed into place when complete, so a crash mid-clone leaves only checkout.partial, which
  // the next call discards.
  Repository open_or_clone(const RepoName& name, const RepoLayout& layout) {
    const std::string repo_name = name.full();
    const std::string url = url_for(name);
    if (real_directory(layout.checkout)) {
      Repository repo = open_checkout(layout.checkout, repo_name);
      ensure_origin(repo.get(), url, repo_name);
      return repo;
    }
    if (remove_tree(layout.partial)) {
      m_logger.warn("checkout_repaired", {{"repo", repo_name}, {"reason", "unfinished clone"}});
    }
    {
      git_repository_init_options init;
      git_repository_init_options_init(&init, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
      init.flags =
          GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT | GIT_REPOSITORY_INIT_MKDIR;
      git_repository* raw = nullptr;
      check(git_repository_init_ext(&raw, layout.partial.c_str(), &init), ErrorKind::permanent,
            "clone " + repo_name + ": init " + layout.partial.string());
      const Repository partial(raw);
      ensure_origin(partial.get(), url, repo_name);
      fetch(partial.get(), url, repo_name, std::nullopt);
    }
    std::error_code ec;
    fs::rename(layout.partial, layout.checkout, ec);
    if (ec) {
      throw Error(ErrorKind::permanent, "clone " + repo_name + ": cannot move the clone into " +
                                            layout.checkout.string() + ": " + ec.message());
    }
    m_logger.info("checkout_cloned", {{"repo", repo_name}});
    return open_checkout(layout.checkout, repo_name);
  }

  // Records `url` as origin's in the checkout's config, for the agent's git CLI in the
  // worktrees. Through the config rather than git_remote_lookup/git_remote_create: those
  // expand url.*.insteadOf with a regex that libgit2 1.5 leaks on every non-matching entry.
  static void ensure_origin(git_repository* repo, const std::string& url,
                            const std::string& repo_name) {
    const std::string what = "checkout of " + repo_name + ": origin";
    git_config* raw = nullptr;
    check(git_repository_config(&raw, repo), ErrorKind::permanent, what);
    const GitPtr<git_config, git_config_free> config(raw);
    const std::string key = std::string("remote.") + k_remote;
    Buf current;
    const int rc = git_config_get_string_buf(&current.buf, config.get(), (key + ".url").c_str());
    if (rc == 0 && std::string_view(current.buf.ptr, current.buf.size) == url) {
      return;
    }
    check(git_config_set_string(config.get(), (key + ".url").c_str(), url.c_str()),
          ErrorKind::permanent, what);
    if (rc == GIT_ENOTFOUND) {
      const std::string refspec = std::string("+refs/heads/*:refs/remotes/") + k_remote + "/*";
      check(git_config_set_string(config.get(), (key + ".fetch").c_str(), refspec.c_str()),
            ErrorKind::permanent, what);
    }
  }

  // Rejected credentials and bad certificates need an operator; anything else on the wire
  // (unreachable host, reset connection, 5xx) may pass.
  [[noreturn]] static void fail_network(int rc, const AuthState& auth, const std::string& what) {
    if (auth.failure) {
      throw Error(auth.failure->kind(), what + ": " + auth.failure->what());
    }
    const bool operator_must_act = rc == GIT_EAUTH || rc == GIT_ECERTIFICATE;
    throw Error(operator_must_act ? ErrorKind::config : ErrorKind::transient,
                what + ": " + last_git_error());
  }

  // Fetches the default branch (the override, or the remote's HEAD) into
  // refs/remotes/origin/<branch>, points refs/remotes/origin/HEAD at it and returns its tip.
  // The remote is an in-memory one for `url` (see ensure_origin), the refspec explicit.
  FetchedTip fetch(git_repository* repo, const std::string& url, const std::string& repo_name,
                   const std::optional<std::string>& default_branch) {
    const std::string what = "fetch " + repo_name;
    Remote remote;
    {
      git_remote_create_options create;
      git_remote_create_options_init(&create, GIT_REMOTE_CREATE_OPTIONS_VERSION);
      create.repository = repo;
      create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
      git_remote* raw = nullptr;
      check(git_remote_create_with_opts(&raw, url.c_str(), &create), ErrorKind::config, what);
      remote.reset(raw);
    }
    AuthState auth;
    auth.token_file = &m_options.token_file;
    git_remote_callbacks callbacks;
    git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
    callbacks.credentials = acquire_credentials;
    callbacks.payload = &auth;
    git_proxy_options proxy;
    git_proxy_options_init(&proxy, GIT_PROXY_OPTIONS_VERSION);
    proxy.type = GIT_PROXY_AUTO;

    if (const int rc =
            git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, &proxy, nullptr);
        rc < 0) {
      fail_network(rc, auth, what);
    }
    FetchedTip fetched;
    if (default_branch) {
      fetched.default_branch = *default_branch;
    } else {
      Buf head;
      const int rc = git_remote_default_branch(&head.buf, remote.get());
      if (rc == GIT_ENOTFOUND) {
        throw Error(ErrorKind::config, what +
                                           ": the remote has no default branch (HEAD); set "
                                           "repos.\"" +
                                           repo_name + "\".default_branch");
      }
      check(rc, ErrorKind::protocol, what + ": default branch");
      constexpr std::string_view k_heads = "refs/heads/";
      const std::string_view full(head.buf.ptr, head.buf.size);
      if (full.substr(0, k_heads.size()) != k_heads ||
          !is_valid_branch_name(full.substr(k_heads.size()))) {
        throw Error(ErrorKind::protocol, what + ": the remote's HEAD is not a branch");
      }
      fetched.default_branch = std::string(full.substr(k_heads.size()));
    }
    const std::string tracking =
        std::string("refs/remotes/") + k_remote + "/" + fetched.default_branch;
    std::string refspec = "+refs/heads/" + fetched.default_branch + ":" + tracking;
    char* refspec_ptr = refspec.data();
    const git_strarray refspecs{&refspec_ptr, 1};
    git_fetch_options fetch_options;
    git_fetch_options_init(&fetch_options, GIT_FETCH_OPTIONS_VERSION);
    fetch_options.callbacks = callbacks;
    fetch_options.proxy_opts = proxy;
    fetch_options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    fetch_options.prune = GIT_FETCH_NO_PRUNE;
    if (const int rc = git_remote_download(remote.get(), &refspecs, &fetch_options); rc < 0) {
      fail_network(rc, auth, what);
    }
    check(git_remote_update_tips(remote.get(), &callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE,
                                 "afk: fetch"),
          ErrorKind::permanent, what + ": update refs");
    git_remote_disconnect(remote.get());

    if (git_reference_name_to_id(&fetched.tip, repo, tracking.c_str()) < 0) {
      throw Error(ErrorKind::config,
                  what + ": the remote has no branch \"" + fetched.default_branch + "\"");
    }
    git_reference* head = nullptr;
    const std::string head_name = std::string("refs/remotes/") + k_remote + "/HEAD";
    check(git_reference_symbolic_create(&head, repo, head_name.c_str(), tracking.c_str(), 1,
                                        "afk: default branch"),
          ErrorKind::permanent, what + ": record the default branch");
    git_reference_free(head);
    return fetched;
  }

  // A complete worktree of the run, as prepare() returns it; nullopt when there is none or it
  // is half-made.
  static std::optional<PreparedWorktree> ready_worktree(const fs::path& path, const fs::path& admin,
                                                        const fs::path& run_file) {
    if (!real_directory(path) || !real_directory(admin)) {
      return std::nullopt;
    }
    std::error_code ec;
    if (!fs::is_regular_file(fs::symlink_status(path / ".git", ec)) ||
        !fs::exists(admin / k_ready_marker, ec)) {
      return std::nullopt;
    }
    const auto text = read_small_file(run_file);
    const auto run = text ? parse_run_file(*text) : std::nullopt;
    if (!run) {
      return std::nullopt;
    }
    return PreparedWorktree{run->branch, path, run->base_sha, run->default_branch};
  }

  // Branch names claimed by runs (afk-runs/*), by name.
  static std::map<std::string, std::string> branch_owners(const fs::path& common) {
    std::map<std::string, std::string> owners;
    std::error_code ec;
    for (fs::directory_iterator it(common / k_runs_dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string run_id = it->path().filename().string();
      if (!is_valid_run_id(run_id)) {
        continue;
      }
      if (const auto text = read_small_file(it->path())) {
        if (const auto run = parse_run_file(*text)) {
          owners.emplace(run->branch, run_id);
        }
      }
    }
    return owners;
  }

  // The run's branch: the one its run file names (a retry after a crash), else the first of
  // "<prefix><n>-<slug>", "…-2", … that no branch has taken.
  std::string choose_branch(git_repository* repo, const fs::path& common,
                            const RunWorktreeSpec& spec) const {
    if (const auto text = read_small_file(common / k_runs_dir / spec.run_id)) {
      if (const auto run = parse_run_file(*text)) {
        return run->branch;
      }
    }
    const auto owners = branch_owners(common);
    const std::string base =
        run_branch_name(m_options.branch_prefix, spec.issue.number, spec.issue_title);
    for (int n = 1; n <= k_max_branch_suffix; ++n) {
      const std::string name = n == 1 ? base : base + "-" + std::to_string(n);
      git_reference* raw = nullptr;
      const int rc = git_branch_lookup(&raw, repo, name.c_str(), GIT_BRANCH_LOCAL);
      git_reference_free(raw);
      if (rc == GIT_ENOTFOUND && owners.count(name) == 0) {
        return name;
      }
    }
    throw Error(ErrorKind::conflict, "prepare " + spec.issue.to_string() + ": branches " + base +
                                         " to -" + std::to_string(k_max_branch_suffix) +
                                         " are all taken");
  }

  bool remove_locked(const RepoLayout& layout, const RepoName& repo_name, std::string_view run_id) {
    const std::string id(run_id);
    bool removed = false;
    if (real_directory(layout.worktrees)) {
      removed = remove_tree(layout.worktrees / id);
    }
    if (!real_directory(layout.checkout)) {
      return removed;
    }
    const Repository repo = open_checkout(layout.checkout, repo_name.full());
    const fs::path common = git_repository_commondir(repo.get());
    removed = remove_tree(common / "worktrees" / id) || removed;
    const fs::path run_file = common / k_runs_dir / id;
    if (const auto text = read_small_file(run_file)) {
      if (const auto run = parse_run_file(*text)) {
        git_reference* raw = nullptr;
        if (git_branch_lookup(&raw, repo.get(), run->branch.c_str(), GIT_BRANCH_LOCAL) == 0) {
          const Reference ref(raw);
          // Not git_branch_delete: afk writes no branch.<name>.* config to clean up, and
          // that cleanup matches config keys with a regex libgit2 1.5 leaks.
          check(git_reference_delete(ref.get()), ErrorKind::permanent,
                "remove run " + id + " of " + repo_name.full() + ": delete branch " + run->branch);
          removed = true;
        }
      }
    }
    return remove_tree(run_file) || removed;
  }

  std::vector<WorktreeEntry> list_locked(const RepoLayout& layout) const {
    std::vector<WorktreeEntry> entries;
    if (!real_directory(layout.worktrees) || !real_directory(layout.checkout)) {
      return entries;
    }
    std::error_code ec;
    for (fs::directory_iterator it(layout.worktrees, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string run_id = it->path().filename().string();
      if (!is_valid_run_id(run_id) || it->is_symlink() || !it->is_directory()) {
        continue;
      }
      const fs::path admin = layout.checkout / "worktrees" / run_id;
      WorktreeEntry entry;
      entry.run_id = run_id;
      entry.path = it->path();
      if (const auto text = read_small_file(layout.checkout / k_runs_dir / run_id)) {
        if (const auto run = parse_run_file(*text)) {
          entry.branch = run->branch;
        }
      }
      entry.bytes = disk_bytes(it->path());
      entry.last_modified = std::max(
          {modified_at(it->path()), modified_at(admin / "index"), modified_at(admin / "HEAD")});
      entries.push_back(std::move(entry));
    }
    std::sort(entries.begin(), entries.end(),
              [](const WorktreeEntry& a, const WorktreeEntry& b) { return a.run_id < b.run_id; });
    return entries;
  }

  // Under the lock: removes git metadata whose worktree directory is gone, afk worktrees a
  // crash left half-made, and worktree directories git does not know. Only names that are
  // run ids are touched: anything else in there is a person's.
  PruneReport prune_locked(git_repository* repo, const RepoLayout& layout) {
    PruneReport report;
    const fs::path common = git_repository_commondir(repo);
    std::error_code ec;
    for (fs::directory_iterator it(common / "worktrees", ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string run_id = it->path().filename().string();
      if (!is_valid_run_id(run_id)) {
        continue;
      }
      const fs::path path = layout.worktrees / run_id;
      std::error_code probe;
      const bool directory = fs::is_directory(fs::symlink_status(path, probe));
      const bool has_git_file = fs::is_regular_file(fs::symlink_status(path / ".git", probe));
      const bool ready = fs::exists(it->path() / k_ready_marker, probe);
      if (directory && has_git_file && ready) {
        continue;
      }
      if (!directory) {
        remove_tree(path); // a link or a file where the worktree was
        ++report.stale_metadata;
      } else {
        remove_tree(path);
        ++report.incomplete;
      }
      remove_tree(it->path());
    }
    if (real_directory(layout.worktrees)) {
      for (fs::directory_iterator it(layout.worktrees, ec), end; !ec && it != end;
           it.increment(ec)) {
        const std::string run_id = it->path().filename().string();
        std::error_code probe;
        if (is_valid_run_id(run_id) && !fs::exists(common / "worktrees" / run_id, probe)) {
          remove_tree(it->path());
          ++report.orphan_directories;
        }
      }
    }
    if (report != PruneReport{}) {
      m_logger.info("worktrees_pruned",
                    {{"repo", layout.repo_dir.parent_path().filename().string() + "/" +
                                  layout.repo_dir.filename().string()},
                     {"stale_metadata", std::to_string(report.stale_metadata)},
                     {"orphan_directories", std::to_string(report.orphan_directories)},
                     {"incomplete", std::to_string(report.incomplete)}});
    }
    return report;
  }

  static Revwalk new_walk(git_repository* repo, const std::string& repo_name) {
    git_revwalk* raw = nullptr;
    check(git_revwalk_new(&raw, repo), ErrorKind::permanent, "walk history of " + repo_name);
    Revwalk walk(raw);
    check(git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE),
          ErrorKind::permanent, "walk history of " + repo_name);
    return walk;
  }

  static std::size_t unpushed(git_repository* wt, const git_oid& head,
                              const std::string& default_branch) {
    git_oid remote_tip{};
    const std::string tracking = std::string("refs/remotes/") + k_remote + "/" + default_branch;
    git_revwalk* raw = nullptr;
    if (git_reference_name_to_id(&remote_tip, wt, tracking.c_str()) < 0 ||
        git_revwalk_new(&raw, wt) < 0) {
      return 0;
    }
    const Revwalk walk(raw);
    std::size_t count = 0;
    git_oid oid{};
    if (git_revwalk_push(walk.get(), &head) == 0 &&
        git_revwalk_hide(walk.get(), &remote_tip) == 0) {
      while (git_revwalk_next(&oid, walk.get()) == 0) {
        ++count;
      }
    }
    return count;
  }

  static void collect_status(git_repository* wt, const std::string& repo_name,
                             WorktreeInspection& result) {
    git_status_options options;
    git_status_options_init(&options, GIT_STATUS_OPTIONS_VERSION);
    options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    options.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
    git_status_list* raw = nullptr;
    check(git_status_list_new(&raw, wt, &options), ErrorKind::permanent,
          "status of a worktree of " + repo_name);
    const StatusList list(raw);
    result.dirty_count = git_status_list_entrycount(list.get());
    for (std::size_t i = 0; i < result.dirty_count; ++i) {
      const git_status_entry* e = git_status_byindex(list.get(), i);
      const git_diff_delta* delta =
          e->index_to_workdir != nullptr ? e->index_to_workdir : e->head_to_index;
      if (delta == nullptr) {
        continue;
      }
      const char* path =
          delta->new_file.path != nullptr ? delta->new_file.path : delta->old_file.path;
      result.dirty.push_back(std::string(status_code(e->status)) + " " + path);
    }
    std::sort(result.dirty.begin(), result.dirty.end(),
              [](const std::string& a, const std::string& b) {
                return a.substr(a.find(' ')) < b.substr(b.find(' '));
              });
    if (result.dirty.size() > k_max_dirty_listed) {
      result.dirty.resize(k_max_dirty_listed);
    }
  }

  static std::string_view status_code(unsigned int status) {
    if ((status & GIT_STATUS_CONFLICTED) != 0U) {
      return "U";
    }
    if ((status & GIT_STATUS_WT_NEW) != 0U) {
      return "??";
    }
    if ((status & (GIT_STATUS_INDEX_DELETED | GIT_STATUS_WT_DELETED)) != 0U) {
      return "D";
    }
    if ((status & GIT_STATUS_INDEX_NEW) != 0U) {
      return "A";
    }
    if ((status & (GIT_STATUS_INDEX_RENAMED | GIT_STATUS_WT_RENAMED)) != 0U) {
      return "R";
    }
    if ((status & (GIT_STATUS_INDEX_TYPECHANGE | GIT_STATUS_WT_TYPECHANGE)) != 0U) {
      return "T";
    }
    return "M";
  }

  WorktreeOptions m_options;
  Logger& m_logger;
  fs::path m_root;
};

} // namespace

WorktreeOptions worktree_options_from(const GitConfig& git) {
  WorktreeOptions options;
  options.root = git.root;
  options.clone_url = git.clone_url;
  options.token_file = git.token_file;
  options.branch_prefix = git.branch_prefix;
  options.trailer = git.trailer;
  options.lock_timeout = git.lock_timeout;
  return options;
}

std::unique_ptr<WorktreeManager> make_libgit2_worktrees(WorktreeOptions options, Logger& logger) {
  return std::make_unique<Libgit2Worktrees>(std::move(options), logger);
}

} // namespace afk
