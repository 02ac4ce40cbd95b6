// SPDX-License-Identifier: MIT
// The libgit2 WorktreeManager against real repositories: a bare origin made by the git CLI,
// reached over file:// (and over smart HTTP through git-http-backend for credentials), with
// the git CLI playing the agent (commit in the worktree, push to the default branch) and the
// other people pushing to the same branch.

#include "support/loopback_server.hpp"
#include "support/process.hpp"

#include <afk/error.hpp>
#include <afk/ids.hpp>
#include <afk/worktree.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace afk {
namespace {

namespace fs = std::filesystem;

// ---- helpers ----

class TempDir {
public:
  TempDir() {
    std::string pattern = "/tmp/afk-worktrees-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    m_path = fs::canonical(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return m_path; }

private:
  fs::path m_path;
};

class RecordingLogger final : public Logger {
public:
  void write(const LogRecord& record) override {
    const std::lock_guard lock(m_mutex);
    m_records.push_back(record);
  }
  [[nodiscard]] std::size_t count(std::string_view event) const {
    const std::lock_guard lock(m_mutex);
    return static_cast<std::size_t>(std::count_if(
        m_records.begin(), m_records.end(), [&](const LogRecord& r) { return r.event == event; }));
  }
  [[nodiscard]] std::string dump() const {
    const std::lock_guard lock(m_mutex);
    std::string all;
    for (const auto& r : m_records) {
      all += r.event;
      for (const auto& f : r.fields) {
        all += " " + f.key + "=" + f.value;
      }
      all += "\n";
    }
    return all;
  }

private:
  mutable std::mutex m_mutex;
  std::vector<LogRecord> m_records;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

struct Person {
  std::string name;
  std::string email;
};
const Person k_agent{"afk agent", "agent@afk.invalid"};
const Person k_colleague{"A Colleague", "colleague@example.com"};

// The git CLI with a fixed, isolated environment.
class GitCli {
public:
  explicit GitCli(fs::path scratch)
      : m_scratch(std::move(scratch)) {
    fs::create_directories(m_scratch / "home");
  }

  std::string operator()(const fs::path& cwd, std::vector<std::string> args,
                         const Person& who = k_colleague) const {
    const auto result = run(cwd, std::move(args), who);
    if (result.exit_code != 0) {
      throw std::runtime_error("git failed (" + std::to_string(result.exit_code) +
                               "): " + result.err);
    }
    return trimmed(result.out);
  }

  [[nodiscard]] test::ProcessResult run(const fs::path& cwd, std::vector<std::string> args,
                                        const Person& who = k_colleague) const {
    std::vector<std::string> argv{"/usr/bin/git", "-C", cwd.string(), "-c",
                                  "init.defaultBranch=main"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::map<std::string, std::string> env{
        {"HOME", (m_scratch / "home").string()},
        {"PATH", "/usr/bin:/bin"},
        {"GIT_CONFIG_NOSYSTEM", "1"},
        {"GIT_AUTHOR_NAME", who.name},
        {"GIT_AUTHOR_EMAIL", who.email},
        {"GIT_COMMITTER_NAME", who.name},
        {"GIT_COMMITTER_EMAIL", who.email},
        {"GIT_AUTHOR_DATE", "2026-11-24T12:00:00Z"},
        {"GIT_COMMITTER_DATE", "2026-11-24T12:00:00Z"},
    };
    const std::lock_guard lock(m_mutex); // one scratch pair of output files
    return test::run_process(argv, env, m_scratch / "out");
  }

private:
  fs::path m_scratch;
  mutable std::mutex m_mutex;
};

std::string run_id(int attempt, std::int64_t issue = 42) {
  return derive_run_id(IssueRef{*RepoName::parse("acme/web"), issue}, attempt);
}

// ---- fixture ----

class Worktrees : public ::testing::Test {
protected:
  Worktrees()
      : git(tmp.path() / "git") {
    origin = tmp.path() / "origins" / "acme" / "web.git";
    fs::create_directories(origin);
    git(origin, {"init", "--bare", "-q"});
    seed = tmp.path() / "seed";
    git(tmp.path(), {"clone", "-q", origin.string(), seed.string()});
    write_text(seed / "README.md", "# web\n");
    write_text(seed / "src" / "app.txt", "v1\n");
    git(seed, {"add", "-A"});
    git(seed, {"commit", "-q", "-m", "Initial commit"});
    git(seed, {"push", "-q", "origin", "HEAD:main"});
    options.root = tmp.path() / "root";
    options.clone_url = "file://" + (tmp.path() / "origins").string() + "/{repo}.git";
    options.lock_timeout = std::chrono::seconds(5);
  }

  [[nodiscard]] std::unique_ptr<WorktreeManager> manager() {
    return make_libgit2_worktrees(options, logger);
  }

  [[nodiscard]] RunWorktreeSpec spec(int attempt = 1, std::int64_t issue = 42,
                                     std::string title = "Fix the login page") const {
    return RunWorktreeSpec{.issue = IssueRef{repo, issue},
                           .run_id = run_id(attempt, issue),
                           .issue_title = std::move(title)};
  }

  [[nodiscard]] std::string origin_tip(const std::string& branch = "main") const {
    return git(origin, {"rev-parse", "refs/heads/" + branch});
  }

  // A colleague lands a commit on main (pulling first, as people do).
  std::string colleague_pushes(const std::string& file, const std::string& message) {
    git(seed, {"pull", "-q", "--rebase", "origin", "main"});
    write_text(seed / file, message + "\n");
    git(seed, {"add", "-A"});
    git(seed, {"commit", "-q", "-m", message});
    git(seed, {"push", "-q", "origin", "HEAD:main"});
    return git(seed, {"rev-parse", "HEAD"});
  }

  // The agent commits in its worktree.
  void agent_commits(const fs::path& worktree, const std::string& file,
                     const std::string& message) {
    write_text(worktree / file, message + "\n");
    git(worktree, {"add", "-A"}, k_agent);
    git(worktree, {"commit", "-q", "-m", message}, k_agent);
  }

  // The agent pushes to main, rebasing onto whatever landed meanwhile when rejected.
  std::string agent_pushes(const fs::path& worktree) {
    if (git.run(worktree, {"push", "-q", "origin", "HEAD:main"}, k_agent).exit_code != 0) {
      git(worktree, {"pull", "-q", "--rebase", "origin", "main"}, k_agent);
      git(worktree, {"push", "-q", "origin", "HEAD:main"}, k_agent);
    }
    return git(worktree, {"rev-parse", "HEAD"});
  }

  [[nodiscard]] std::vector<std::string> worktree_names() const {
    std::vector<std::string> names;
    std::istringstream in(git(checkout(), {"worktree", "list", "--porcelain"}));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("worktree ", 0) == 0 && line.substr(9) != checkout().string()) {
        names.push_back(fs::path(line.substr(9)).filename().string());
      }
    }
    return names;
  }

  [[nodiscard]] fs::path repo_dir() const { return options.root / "acme" / "web"; }
  [[nodiscard]] fs::path checkout() const { return repo_dir() / "checkout"; }

  TempDir tmp;
  GitCli git;
  fs::path origin;
  fs::path seed;
  RepoName repo = *RepoName::parse("acme/web");
  WorktreeOptions options;
  RecordingLogger logger;
};

// ---- prepare ----

TEST_F(Worktrees, clones_on_first_use_and_adds_a_worktree_on_a_fresh_branch) {
  const auto wt = manager()->prepare(spec());
  EXPECT_EQ(wt.branch, "afk/42-fix-the-login-page");
  EXPECT_EQ(wt.path, repo_dir() / "worktrees" / run_id(1));
  EXPECT_EQ(wt.base_sha, origin_tip());
  EXPECT_EQ(wt.default_branch, "main");
  EXPECT_EQ(slurp(wt.path / "README.md"), "# web\n");
  EXPECT_EQ(git(wt.path, {"rev-parse", "--abbrev-ref", "HEAD"}), wt.branch);
  EXPECT_EQ(git(wt.path, {"rev-parse", "HEAD"}), wt.base_sha);
  EXPECT_EQ(git(wt.path, {"status", "--porcelain"}), "");
  EXPECT_EQ(git(checkout(), {"rev-parse", "--is-bare-repository"}), "true");
  EXPECT_EQ(git(checkout(), {"symbolic-ref", "refs/remotes/origin/HEAD"}),
            "refs/remotes/origin/main");
  EXPECT_EQ(worktree_names(), std::vector<std::string>{run_id(1)});
  EXPECT_EQ(logger.count("checkout_cloned"), 1U);
}

TEST_F(Worktrees, preparing_the_same_run_again_gives_the_same_worktree_back) {
  auto afk = manager();
  const auto first = afk->prepare(spec());
  colleague_pushes("later.txt", "Something later");
  const auto again = afk->prepare(spec(1, 42, "A retitled issue"));
  EXPECT_EQ(again, first);
  EXPECT_EQ(worktree_names(), std::vector<std::string>{run_id(1)});
  // and from another process (a fresh manager) too
  EXPECT_EQ(manager()->prepare(spec()), first);
  EXPECT_EQ(logger.count("worktree_prepared"), 1U);
}

TEST_F(Worktrees, each_new_run_starts_from_the_freshly_fetched_default_branch) {
  auto afk = manager();
  const auto first = afk->prepare(spec(1, 7, "First"));
  const std::string landed = colleague_pushes("b.txt", "Landed meanwhile");
  const auto second = afk->prepare(spec(1, 8, "Second"));
  EXPECT_NE(first.base_sha, second.base_sha);
  EXPECT_EQ(second.base_sha, landed);
  EXPECT_EQ(slurp(second.path / "b.txt"), "Landed meanwhile\n");
  EXPECT_EQ(logger.count("checkout_cloned"), 1U); // warm: fetched, not cloned again
}

TEST_F(Worktrees, the_default_branch_comes_from_the_remote_head_and_can_be_overridden) {
  git(seed, {"push", "-q", "origin", "HEAD:trunk"});
  colleague_pushes("release.txt", "On main only");
  git(origin, {"symbolic-ref", "HEAD", "refs/heads/trunk"});
  auto afk = manager();
  const auto detected = afk->prepare(spec(1));
  EXPECT_EQ(detected.default_branch, "trunk");
  EXPECT_EQ(detected.base_sha, origin_tip("trunk"));
  EXPECT_FALSE(fs::exists(detected.path / "release.txt"));

  auto overridden = spec(2);
  overridden.default_branch = "main";
  const auto wt = afk->prepare(overridden);
  EXPECT_EQ(wt.default_branch, "main");
  EXPECT_EQ(wt.base_sha, origin_tip("main"));

  auto missing = spec(3);
  missing.default_branch = "does-not-exist";
  try {
    (void)afk->prepare(missing);
    FAIL() << "a missing default branch must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("does-not-exist"), std::string::npos) << e.what();
  }
  auto invalid = spec(4);
  invalid.default_branch = "../main";
  EXPECT_THROW((void)afk->prepare(invalid), Error);
}

TEST_F(Worktrees, a_new_attempt_next_to_a_kept_worktree_gets_its_own_branch) {
  auto afk = manager();
  const auto escalated = afk->prepare(spec(1));
  const auto retry = afk->prepare(spec(2));
  EXPECT_EQ(escalated.branch, "afk/42-fix-the-login-page");
  EXPECT_EQ(retry.branch, "afk/42-fix-the-login-page-2");
  EXPECT_NE(retry.path, escalated.path);
  // a branch a person made under the prefix is not taken over either
  git(checkout(), {"branch", "afk/42-fix-the-login-page-3", "refs/remotes/origin/main"});
  EXPECT_EQ(afk->prepare(spec(3)).branch, "afk/42-fix-the-login-page-4");
}

TEST_F(Worktrees, hostile_titles_give_safe_branches_and_never_touch_paths) {
  auto afk = manager();
  const auto wt = afk->prepare(spec(1, 9, "../../../../etc/passwd; rm -rf / && `id` .lock"));
  EXPECT_EQ(wt.branch, "afk/9-etc-passwd-rm-rf-id-lock");
  EXPECT_EQ(wt.path, repo_dir() / "worktrees" / run_id(1, 9));
  EXPECT_EQ(git(checkout(), {"check-ref-format", "--branch", wt.branch}), wt.branch);
}

TEST_F(Worktrees, invalid_run_ids_are_refused_before_anything_is_written) {
  auto afk = manager();
  for (const std::string& bad :
       std::vector<std::string>{"../../x", "", "ABC", std::string(36, '-')}) {
    auto s = spec();
    s.run_id = bad;
    try {
      (void)afk->prepare(s);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::config);
    }
    EXPECT_THROW(afk->remove(repo, bad), Error);
  }
  EXPECT_FALSE(fs::exists(options.root / "acme"));
}

TEST(WorktreeOptions, come_from_the_git_config_and_are_checked) {
  GitConfig config;
  config.root = "/tmp/x";
  config.clone_url = "https://git.example/{repo}";
  config.token_file = "/run/secrets/git";
  config.branch_prefix = "bots/afk-";
  config.trailer = "Run";
  const auto options = worktree_options_from(config);
  EXPECT_EQ(options.root, "/tmp/x");
  EXPECT_EQ(options.clone_url, "https://git.example/{repo}");
  EXPECT_EQ(options.token_file, "/run/secrets/git");
  EXPECT_EQ(options.branch_prefix, "bots/afk-");
  EXPECT_EQ(options.trailer, "Run");

  NullLogger logger;
  TempDir tmp;
  const auto refused = [&](WorktreeOptions o) {
    o.root = tmp.path() / "root";
    try {
      (void)make_libgit2_worktrees(o, logger);
    } catch (const Error& e) {
      return e.kind() == ErrorKind::config;
    }
    return false;
  };
  EXPECT_TRUE(refused({.clone_url = "https://user:pw@github.com/{repo}"}));
  EXPECT_TRUE(refused({.clone_url = "ssh://git@github.com/{repo}"}));
  EXPECT_TRUE(refused({.branch_prefix = "../"}));
  EXPECT_TRUE(refused({.branch_prefix = "-x/"}));
  EXPECT_TRUE(refused({.trailer = "AFK Run"}));
  EXPECT_FALSE(refused({}));
}

// ---- finding what was pushed ----

TEST_F(Worktrees, pushed_commits_are_the_runs_own_oldest_first) {
  auto afk = manager();
  const auto wt = afk->prepare(spec());
  const std::string id = run_id(1);

  agent_commits(wt.path, "a.txt", "Add the form\n\nAFK-Run: " + id);
  const std::string first = agent_pushes(wt.path);
  colleague_pushes("c1.txt", "Unrelated work");
  colleague_pushes("c2.txt", "Mentions #42 but closes nothing\n\nSee #42 and #420");
  agent_commits(wt.path, "b.txt", "Validate the form\n\nCloses #42");
  const std::string second = agent_pushes(wt.path); // rejected once: rebased and pushed again
  agent_commits(wt.path, "c.txt", "Tidy up without a trailer");
  agent_pushes(wt.path);
  colleague_pushes("c3.txt", "Closes #4200");
  colleague_pushes("c4.txt", "Other run\n\nCloses #42\n\nAFK-Run: " + run_id(9));

  const auto pushed = afk->pushed_commits({.issue = IssueRef{repo, 42},
                                           .run_id = id,
                                           .base_sha = wt.base_sha,
                                           .default_branch = wt.default_branch});
  ASSERT_EQ(pushed.size(), 2U) << logger.dump();
  EXPECT_EQ(pushed[0].sha, first);
  EXPECT_EQ(pushed[0].subject, "Add the form");
  EXPECT_EQ(pushed[0].author, "afk agent <agent@afk.invalid>");
  EXPECT_EQ(pushed[0].committed_at, *parse_timestamp("2026-11-24T12:00:00Z"));
  EXPECT_EQ(pushed[1].sha, second);
  EXPECT_EQ(pushed[1].subject, "Validate the form");
  // what the agent pushed is really on origin's main
  EXPECT_EQ(git(origin, {"merge-base", "--is-ancestor", second, "main"}), "");
}

TEST_F(Worktrees, a_push_that_lost_a_race_is_found_after_it_is_rebased) {
  auto afk = manager();
  const auto wt = afk->prepare(spec());
  agent_commits(wt.path, "mine.txt", "Fix login\n\nAFK-Run: " + run_id(1));
  colleague_pushes("theirs.txt", "Landed first");
  ASSERT_NE(git.run(wt.path, {"push", "-q", "origin", "HEAD:main"}, k_agent).exit_code, 0);
  const PushedCommitsQuery q{.issue = IssueRef{repo, 42},
                             .run_id = run_id(1),
                             .base_sha = wt.base_sha,
                             .default_branch = "main"};
  EXPECT_TRUE(afk->pushed_commits(q).empty()); // nothing of the run reached main yet
  const std::string rebased = agent_pushes(wt.path);
  const auto pushed = afk->pushed_commits(q);
  ASSERT_EQ(pushed.size(), 1U);
  EXPECT_EQ(pushed[0].sha, rebased);
  EXPECT_EQ(rebased, origin_tip());
}

TEST_F(Worktrees, pushed_commits_refuses_a_base_the_checkout_does_not_have) {
  auto afk = manager();
  const auto wt = afk->prepare(spec());
  PushedCommitsQuery q{.issue = IssueRef{repo, 42},
                       .run_id = run_id(1),
                       .base_sha = std::string(40, 'a'),
                       .default_branch = "main"};
  try {
    (void)afk->pushed_commits(q);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::permanent);
    EXPECT_NE(std::string(e.what()).find("acme/web"), std::string::npos);
  }
  q.base_sha = "not-a-sha";
  EXPECT_THROW((void)afk->pushed_commits(q), Error);
  q.base_sha = wt.base_sha;
  EXPECT_TRUE(afk->pushed_commits(q).empty());
}

// ---- forensics ----

TEST_F(Worktrees, inspect_reports_head_dirty_files_and_unpushed_commits) {
  auto afk = manager();
  const auto wt = afk->prepare(spec());
  EXPECT_EQ(afk->inspect(repo, run_id(2)), std::nullopt);
  agent_commits(wt.path, "local.txt", "Not pushed yet");
  write_text(wt.path / "README.md", "changed\n");
  write_text(wt.path / "new" / "file.txt", "new\n");
  fs::remove(wt.path / "src" / "app.txt");

  const auto seen = afk->inspect(repo, run_id(1));
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->head_sha, git(wt.path, {"rev-parse", "HEAD"}));
  EXPECT_EQ(seen->branch, wt.branch);
  EXPECT_EQ(seen->dirty,
            (std::vector<std::string>{"M README.md", "?? new/file.txt", "D src/app.txt"}));
  EXPECT_EQ(seen->dirty_count, 3U);
  EXPECT_EQ(seen->unpushed_count, 1U);
}

// ---- housekeeping ----

TEST_F(Worktrees, remove_deletes_the_worktree_its_metadata_and_its_branch) {
  auto afk = manager();
  const auto kept = afk->prepare(spec(1, 5, "Escalated"));
  const auto done = afk->prepare(spec(1, 6, "Finished"));
  agent_commits(done.path, "x.txt", "Work");
  EXPECT_TRUE(afk->remove(repo, run_id(1, 6)));
  EXPECT_FALSE(fs::exists(done.path));
  EXPECT_EQ(worktree_names(), std::vector<std::string>{run_id(1, 5)});
  EXPECT_EQ(git(checkout(), {"branch", "--list", "afk/*", "--format=%(refname:short)"}),
            kept.branch);
  EXPECT_TRUE(fs::exists(kept.path / "README.md"));
  EXPECT_FALSE(afk->remove(repo, run_id(1, 6)));
  EXPECT_FALSE(afk->remove(*RepoName::parse("acme/never-cloned"), run_id(1)));
}

TEST_F(Worktrees, list_and_disk_usage_describe_what_is_on_disk) {
  auto afk = manager();
  EXPECT_TRUE(afk->list(repo).empty());
  const auto a = afk->prepare(spec(1, 1, "A"));
  const auto b = afk->prepare(spec(1, 2, "B"));
  write_text(b.path / "big.bin", std::string(200000, 'x'));
  const auto entries = afk->list(repo);
  ASSERT_EQ(entries.size(), 2U);
  const auto& big = entries[0].run_id == run_id(1, 2) ? entries[0] : entries[1];
  const auto& small = entries[0].run_id == run_id(1, 2) ? entries[1] : entries[0];
  EXPECT_EQ(big.branch, b.branch);
  EXPECT_EQ(small.branch, a.branch);
  EXPECT_EQ(big.path, b.path);
  EXPECT_GE(big.bytes, small.bytes + 200000);
  EXPECT_GT(small.bytes, 0U);
  const auto usage = afk->disk_usage(repo);
  EXPECT_EQ(usage.repo, repo);
  EXPECT_GT(usage.checkout_bytes, 0U);
  EXPECT_GE(usage.worktree_bytes, big.bytes + small.bytes);
  EXPECT_GE(usage.pack_files, 1U);
  EXPECT_EQ(usage.total(), usage.checkout_bytes + usage.worktree_bytes);
}

void set_modified(const fs::path& worktree, const fs::path& admin, int minutes_ago) {
  const auto when = fs::file_time_type::clock::now() - std::chrono::minutes(minutes_ago);
  for (const auto& p : {worktree, admin / "index", admin / "HEAD"}) {
    if (fs::exists(p)) {
      fs::last_write_time(p, when);
    }
  }
}

TEST_F(Worktrees, eviction_removes_the_oldest_removable_worktrees_until_under_budget) {
  auto afk = manager();
  std::vector<PreparedWorktree> wts;
  for (int issue = 1; issue <= 4; ++issue) {
    wts.push_back(afk->prepare(spec(1, issue, "Run " + std::to_string(issue))));
    write_text(wts.back().path / "payload.bin", std::string(100000, 'p'));
  }
  // oldest first: 1 (frozen: not removable), 2, 3, 4
  for (int i = 0; i < 4; ++i) {
    set_modified(wts[static_cast<std::size_t>(i)].path, checkout() / "worktrees" / run_id(1, i + 1),
                 100 - i * 10);
  }
  const std::uint64_t total = afk->disk_usage(repo).total();
  const std::set<std::string> finished{run_id(1, 2), run_id(1, 3), run_id(1, 4)};

  EXPECT_TRUE(afk->evict_to_budget(total, finished).empty()); // at budget: nothing goes

  const auto evicted = afk->evict_to_budget(total - 1, finished);
  ASSERT_EQ(evicted.size(), 1U);
  EXPECT_EQ(evicted[0].run_id, run_id(1, 2));
  EXPECT_EQ(evicted[0].repo, repo);
  EXPECT_GT(evicted[0].bytes, 100000U);
  EXPECT_FALSE(fs::exists(wts[1].path));

  const auto rest = afk->evict_to_budget(0, finished);
  ASSERT_EQ(rest.size(), 2U);
  EXPECT_EQ(rest[0].run_id, run_id(1, 3));
  EXPECT_EQ(rest[1].run_id, run_id(1, 4));
  EXPECT_TRUE(fs::exists(wts[0].path / "payload.bin")); // not removable: kept over budget
  EXPECT_EQ(worktree_names(), std::vector<std::string>{run_id(1, 1)});
}

// ---- crash repair ----

TEST_F(Worktrees, prune_clears_metadata_of_worktrees_deleted_by_hand) {
  auto afk = manager();
  const auto wt = afk->prepare(spec());
  fs::remove_all(wt.path);
  const auto report = afk->prune(repo);
  EXPECT_EQ(report, (PruneReport{.stale_metadata = 1}));
  EXPECT_TRUE(worktree_names().empty());
  EXPECT_EQ(afk->prune(repo), PruneReport{});
  // the same run can be prepared again, on its own branch
  const auto again = afk->prepare(spec());
  EXPECT_EQ(again.branch, wt.branch);
  EXPECT_TRUE(fs::exists(again.path / "README.md"));
}

TEST_F(Worktrees, a_worktree_left_half_made_is_made_again) {
  auto afk = manager();
  const auto wt = afk->prepare(spec());
  // a crash after git's metadata and some files, before afk marked it ready
  fs::remove(checkout() / "worktrees" / run_id(1) / "afk-ready");
  fs::remove(wt.path / "README.md");
  const auto again = afk->prepare(spec());
  EXPECT_EQ(again.branch, wt.branch);
  EXPECT_EQ(slurp(again.path / "README.md"), "# web\n");
  EXPECT_EQ(git(again.path, {"status", "--porcelain"}), "");
  EXPECT_EQ(logger.count("worktree_repaired"), 1U);

  // a crash that left the directory without its .git file
  fs::remove(again.path / ".git");
  const auto third = afk->prepare(spec());
  EXPECT_EQ(git(third.path, {"rev-parse", "--abbrev-ref", "HEAD"}), wt.branch);
  EXPECT_EQ(worktree_names(), std::vector<std::string>{run_id(1)});
}

TEST_F(Worktrees, a_branch_left_without_its_worktree_is_reused_by_its_run) {
  auto afk = manager();
  const auto wt = afk->prepare(spec());
  // crash after the branch was made, before the worktree was added
  fs::remove_all(wt.path);
  fs::remove_all(checkout() / "worktrees" / run_id(1));
  const std::string landed = colleague_pushes("n.txt", "Newer");
  const auto again = afk->prepare(spec());
  EXPECT_EQ(again.branch, wt.branch); // not "-2"
  EXPECT_EQ(again.base_sha, landed);
  EXPECT_EQ(git(again.path, {"rev-parse", "HEAD"}), landed);
}

TEST_F(Worktrees, prune_removes_directories_git_does_not_know) {
  auto afk = manager();
  (void)afk->prepare(spec(1));
  const fs::path orphan = repo_dir() / "worktrees" / run_id(7);
  write_text(orphan / "leftover.txt", "x");
  const fs::path foreign = repo_dir() / "worktrees" / "not-a-run";
  write_text(foreign / "keep.txt", "a person's");
  EXPECT_EQ(afk->prune(repo), (PruneReport{.orphan_directories = 1}));
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_TRUE(fs::exists(foreign / "keep.txt"));
  EXPECT_TRUE(fs::exists(repo_dir() / "worktrees" / run_id(1) / "README.md"));
}

TEST_F(Worktrees, an_unfinished_clone_is_discarded_and_cloned_again) {
  write_text(repo_dir() / "checkout.partial" / "objects" / "junk", "half a clone");
  auto afk = manager();
  const auto wt = afk->prepare(spec());
  EXPECT_FALSE(fs::exists(repo_dir() / "checkout.partial"));
  EXPECT_EQ(wt.base_sha, origin_tip());
  EXPECT_EQ(logger.count("checkout_repaired"), 1U);
}

TEST_F(Worktrees, a_failed_clone_leaves_nothing_the_next_call_cannot_repair) {
  options.clone_url = "file://" + (tmp.path() / "nowhere").string() + "/{repo}.git";
  try {
    (void)manager()->prepare(spec());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("acme/web"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(repo_dir() / "checkout"));
  fs::create_directories(tmp.path() / "nowhere" / "acme");
  fs::rename(origin, tmp.path() / "nowhere" / "acme" / "web.git");
  EXPECT_EQ(manager()->prepare(spec()).base_sha,
            git(tmp.path() / "nowhere" / "acme" / "web.git", {"rev-parse", "main"}));
}

// ---- safety ----

TEST_F(Worktrees, a_symlink_where_a_worktree_belongs_is_never_followed) {
  auto afk = manager();
  (void)afk->prepare(spec(1));
  const fs::path outside = tmp.path() / "outside";
  write_text(outside / "precious.txt", "do not touch");
  fs::create_directory_symlink(outside, repo_dir() / "worktrees" / run_id(2));
  try {
    (void)afk->prepare(spec(2));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::permanent);
    EXPECT_NE(std::string(e.what()).find("symlink"), std::string::npos) << e.what();
  }
  EXPECT_EQ(fs::directory_iterator(outside)->path().filename(), "precious.txt");
  EXPECT_EQ(std::distance(fs::directory_iterator(outside), fs::directory_iterator()), 1);
  // removal drops the link and leaves its target alone
  EXPECT_TRUE(afk->remove(repo, run_id(2)));
  EXPECT_FALSE(fs::exists(fs::symlink_status(repo_dir() / "worktrees" / run_id(2))));
  EXPECT_EQ(slurp(outside / "precious.txt"), "do not touch");
}

TEST_F(Worktrees, a_symlinked_repository_directory_is_refused) {
  const fs::path outside = tmp.path() / "elsewhere";
  fs::create_directories(outside);
  fs::create_directories(options.root);
  fs::create_directory_symlink(outside, options.root / "acme");
  try {
    (void)manager()->prepare(spec());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::permanent);
  }
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_THROW((void)manager()->list(repo), Error);
}

TEST_F(Worktrees, hostile_repository_names_never_reach_the_filesystem) {
  for (const std::string_view hostile :
       {"../etc", "acme/..", "acme/../../x", "acme/web.git", "/abs", "acme/.hidden", "a/b/c",
        "acme/we b", "acme/-rf", "acme\\web"}) {
    EXPECT_EQ(RepoName::parse(hostile), std::nullopt) << hostile;
  }
  // a valid but odd name stays inside the root, in its lower-case form
  const auto odd = *RepoName::parse("A-b/c.d_E");
  auto afk = manager();
  EXPECT_TRUE(afk->list(odd).empty());
  EXPECT_TRUE(is_confined(fs::canonical(options.root),
                          *worktree_path(fs::canonical(options.root), odd, run_id(1))));
}

TEST_F(Worktrees, a_checkout_locked_by_another_process_is_waited_for_then_refused) {
  options.lock_timeout = std::chrono::milliseconds(200);
  auto afk = manager();
  (void)afk->prepare(spec(1));
  const int fd = ::open((repo_dir() / ".afk.lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  try {
    (void)afk->prepare(spec(2));
    ::close(fd);
    FAIL() << "the lock must hold";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::transient);
    EXPECT_NE(std::string(e.what()).find("locked by another afk process"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("acme/web"), std::string::npos);
  }
  EXPECT_THROW(afk->remove(repo, run_id(1)), Error);
  EXPECT_TRUE(fs::exists(repo_dir() / "worktrees" / run_id(1)));
  ::close(fd);
  EXPECT_EQ(afk->prepare(spec(2)).branch, "afk/42-fix-the-login-page-2");
}

TEST_F(Worktrees, two_managers_preparing_at_once_take_turns) {
  auto one = manager();
  auto two = manager();
  std::vector<PreparedWorktree> results(4);
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      try {
        results[static_cast<std::size_t>(i)] = (i % 2 == 0 ? one : two)->prepare(spec(1, 10 + i));
      } catch (const std::exception& e) {
        const std::lock_guard lock(failures_mutex);
        failures.emplace_back(e.what());
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(worktree_names().size(), 4U);
  EXPECT_EQ(logger.count("checkout_cloned"), 1U);
  for (const auto& r : results) {
    EXPECT_EQ(git(r.path, {"status", "--porcelain"}), "");
  }
}

// ---- credentials over smart HTTP ----

std::string base64(std::string_view in) {
  static constexpr std::string_view k_alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16U) |
                   (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8U) |
                   static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
    for (const unsigned shift : {18U, 12U, 6U, 0U}) {
      out += k_alphabet[(n >> shift) & 63U];
    }
  }
  if (i < in.size()) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16U;
    if (i + 1 < in.size()) {
      n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8U;
    }
    out += k_alphabet[(n >> 18U) & 63U];
    out += k_alphabet[(n >> 12U) & 63U];
    out += i + 1 < in.size() ? k_alphabet[(n >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

// Real smart HTTP: every request that carries the expected token goes to git-http-backend
// (CGI) over the origins directory; anything else gets 401 with a Basic challenge.
class GitHttpOrigin {
public:
  GitHttpOrigin(fs::path project_root, fs::path scratch, std::string token)
      : m_project_root(std::move(project_root))
      , m_scratch(std::move(scratch))
      , m_token(std::move(token))
      , m_server([this](const httplib::Request& req, httplib::Response& res) { serve(req, res); },
                 1) {
    fs::create_directories(m_scratch);
  }

  void set_token(std::string token) {
    const std::lock_guard lock(m_mutex);
    m_token = std::move(token);
  }
  [[nodiscard]] int rejected() const { return m_rejected; }
  [[nodiscard]] int served() const { return m_served; }
  [[nodiscard]] std::string url() const { return m_server.url(); }

private:
  void serve(const httplib::Request& req, httplib::Response& res) {
    {
      const std::lock_guard lock(m_mutex);
      if (req.get_header_value("Authorization") != "Basic " + base64("x-access-token:" + m_token)) {
        ++m_rejected;
        res.status = 401;
        res.set_header("WWW-Authenticate", "Basic realm=\"git\"");
        res.set_content("unauthorized", "text/plain");
        return;
      }
    }
    ++m_served;
    const auto query_at = req.target.find('?');
    const std::string query = query_at == std::string::npos ? "" : req.target.substr(query_at + 1);
    write_text(m_scratch / "body", req.body);
    const std::map<std::string, std::string> env{
        {"GIT_PROJECT_ROOT", m_project_root.string()},
        {"GIT_HTTP_EXPORT_ALL", "1"},
        {"REQUEST_METHOD", req.method},
        {"PATH_INFO", req.path},
        {"QUERY_STRING", query},
        {"CONTENT_TYPE", req.get_header_value("Content-Type")},
        {"CONTENT_LENGTH", std::to_string(req.body.size())},
        {"GIT_PROTOCOL", req.get_header_value("Git-Protocol")},
        {"REMOTE_USER", "x-access-token"},
        {"REMOTE_ADDR", "127.0.0.1"},
        {"PATH", "/usr/bin:/bin"},
        {"HOME", m_scratch.string()},
    };
    const std::string out = run_cgi(env);
    auto header_end = out.find("\r\n\r\n");
    std::size_t sep = 4;
    if (header_end == std::string::npos) {
      header_end = out.find("\n\n");
      sep = 2;
    }
    res.status = 200;
    std::string content_type = "application/octet-stream";
    std::istringstream headers(out.substr(0, header_end));
    std::string line;
    while (std::getline(headers, line)) {
      line = trimmed(line);
      const auto colon = line.find(':');
      if (colon == std::string::npos) {
        continue;
      }
      const std::string key = line.substr(0, colon);
      const std::string value = line.substr(line.find_first_not_of(' ', colon + 1));
      if (key == "Status") {
        res.status = std::stoi(value);
      } else if (key == "Content-Type") {
        content_type = value;
      } else {
        res.set_header(key, value);
      }
    }
    res.set_content(out.substr(header_end + sep), content_type);
  }

  std::string run_cgi(const std::map<std::string, std::string>& env) const {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, (m_scratch / "body").c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (m_scratch / "cgi-out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) {
      env_strings.push_back(k + "=" + v);
    }
    std::vector<char*> c_env;
    for (auto& e : env_strings) {
      c_env.push_back(e.data());
    }
    c_env.push_back(nullptr);
    std::string program = "/usr/lib/git-core/git-http-backend";
    std::vector<char*> argv{program.data(), nullptr};
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), c_env.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      return "Status: 500\r\n\r\n";
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return slurp(m_scratch / "cgi-out");
  }

  fs::path m_project_root;
  fs::path m_scratch;
  std::mutex m_mutex;
  std::string m_token;
  std::atomic<int> m_rejected{0};
  std::atomic<int> m_served{0};
  test::LoopbackServer m_server;
};

TEST_F(Worktrees, the_token_goes_through_the_credential_callback_only) {
  const std::string token = "ghs_s3cr3t-token-value";
  write_text(tmp.path() / "token", token + "\n");
  GitHttpOrigin http(tmp.path() / "origins", tmp.path() / "http", token);
  options.clone_url = http.url() + "/{repo}.git";
  options.token_file = tmp.path() / "token";
  auto afk = manager();

  const auto wt = afk->prepare(spec());
  EXPECT_EQ(wt.base_sha, origin_tip());
  EXPECT_GT(http.served(), 0);
  EXPECT_GT(http.rejected(), 0); // libgit2 asked first without credentials, then with them
  const std::string config = slurp(checkout() / "config");
  EXPECT_EQ(config.find(token), std::string::npos) << config;
  EXPECT_NE(config.find("url = " + http.url() + "/acme/web.git"), std::string::npos) << config;
  EXPECT_EQ(slurp(wt.path / ".git").find(token), std::string::npos);
  EXPECT_EQ(logger.dump().find(token), std::string::npos);

  // rotation: the file is read again at the next authentication
  http.set_token("ghs_rotated");
  write_text(tmp.path() / "token", "ghs_rotated");
  EXPECT_TRUE(afk->pushed_commits({.issue = IssueRef{repo, 42},
                                   .run_id = run_id(1),
                                   .base_sha = wt.base_sha,
                                   .default_branch = "main"})
                  .empty());

  // a rejected token is a config error, reported once, without looping and without the token
  write_text(tmp.path() / "token", "ghs_wrong");
  const int rejected_before = http.rejected();
  try {
    (void)afk->prepare(spec(2));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("rejected the token"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("ghs_"), std::string::npos) << e.what();
  }
  EXPECT_LE(http.rejected() - rejected_before, 3);
}

TEST_F(Worktrees, a_remote_asking_for_credentials_without_a_token_file_is_a_config_error) {
  GitHttpOrigin http(tmp.path() / "origins", tmp.path() / "http", "whatever");
  options.clone_url = http.url() + "/{repo}.git";
  try {
    (void)manager()->prepare(spec());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("token_file"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(repo_dir() / "checkout"));
}

TEST_F(Worktrees, an_unreachable_remote_is_transient) {
  std::uint16_t port = 0;
  {
    // a port that was just free: nothing listens there any more
    test::LoopbackServer closed([](const httplib::Request&, httplib::Response&) {});
    port = static_cast<std::uint16_t>(closed.port());
  }
  options.clone_url = "http://127.0.0.1:" + std::to_string(port) + "/{repo}.git";
  try {
    (void)manager()->prepare(spec());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::transient) << e.what();
    EXPECT_NE(std::string(e.what()).find("fetch acme/web"), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace afk
