// SPDX-License-Identifier: MIT
// Time to a ready worktree for the next run, on a repository of realistic size (generated
// once per run: ~25,000 small files in three directory levels, one commit, a bare file://
// origin):
//   (a) warm:  WorktreeManager::prepare() for a new run on the warm checkout (fetch + branch
//              + worktree with every file checked out)
//   (b) cold:  prepare() on an empty root: clone, then the same
//   (c) git:   `git fetch origin main` + `git worktree add -b …` by the git CLI on the same
//              warm checkout
// Prints the median of several runs of each, the ratios a/b and a/c, and how much of (a) is
// the fetch (pushed_commits() with nothing new, as every tick does for a run in flight).

#include "support/process.hpp"

#include <afk/ids.hpp>
#include <afk/log.hpp>
#include <afk/worktree.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int k_top_dirs = 20;
constexpr int k_sub_dirs = 40;
constexpr int k_files_per_dir = 25; // 20 × 40 × 25 = 20,000 files
constexpr int k_warm_runs = 3;
constexpr int k_cold_runs = 2;

std::map<std::string, std::string> git_env(const fs::path& home) {
  return {{"HOME", home.string()},
          {"PATH", "/usr/bin:/bin"},
          {"GIT_CONFIG_NOSYSTEM", "1"},
          {"GIT_AUTHOR_NAME", "bench"},
          {"GIT_AUTHOR_EMAIL", "bench@afk.invalid"},
          {"GIT_COMMITTER_NAME", "bench"},
          {"GIT_COMMITTER_EMAIL", "bench@afk.invalid"}};
}

void git(const fs::path& scratch, const fs::path& cwd, std::vector<std::string> args) {
  std::vector<std::string> argv{"/usr/bin/git", "-C", cwd.string(), "-c",
                                "init.defaultBranch=main"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = afk::test::run_process(argv, git_env(scratch / "home"), scratch / "out");
  if (result.exit_code != 0) {
    throw std::runtime_error("git " + args.front() + " failed: " + result.err);
  }
}

double seconds_of(const std::function<void()>& work) {
  const auto start = Clock::now();
  work();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A source tree of small text files, committed once and pushed to a bare origin.
void generate_origin(const fs::path& scratch, const fs::path& origin) {
  const fs::path work = scratch / "work";
  for (int a = 0; a < k_top_dirs; ++a) {
    for (int b = 0; b < k_sub_dirs; ++b) {
      const fs::path dir = work / ("pkg" + std::to_string(a)) / ("mod" + std::to_string(b));
      fs::create_directories(dir);
      for (int c = 0; c < k_files_per_dir; ++c) {
        std::ofstream out(dir / ("file" + std::to_string(c) + ".txt"));
        out << "// package " << a << " module " << b << " file " << c << "\n";
        for (int line = 0; line < 6; ++line) {
          out << "int value_" << line << " = " << (a * 1000003 + b * 7919 + c * 104729 + line)
              << ";\n";
        }
      }
    }
  }
  git(scratch, work, {"init", "-q"});
  git(scratch, work, {"add", "-A"});
  git(scratch, work, {"commit", "-q", "-m", "A realistic tree"});
  fs::create_directories(origin.parent_path());
  git(scratch, scratch, {"clone", "-q", "--bare", work.string(), origin.string()});
}

} // namespace

int main() {
  const fs::path scratch =
      fs::temp_directory_path() / ("afk-bench-wt-" + std::to_string(::getpid()));
  fs::create_directories(scratch / "home");
  int status = 0;
  try {
    const fs::path origin = scratch / "origins" / "bench" / "big.git";
    const double generate = seconds_of([&] { generate_origin(scratch, origin); });
    std::printf("generated %d files in %.1f s\n", k_top_dirs * k_sub_dirs * k_files_per_dir,
                generate);

    afk::NullLogger logger;
    afk::WorktreeOptions options;
    options.clone_url = "file://" + (scratch / "origins").string() + "/{repo}.git";
    const auto repo = *afk::RepoName::parse("bench/big");
    const auto spec = [&](int issue) {
      return afk::RunWorktreeSpec{afk::IssueRef{repo, issue},
                                  afk::derive_run_id(afk::IssueRef{repo, issue}, 1),
                                  "Benchmark run " + std::to_string(issue), std::nullopt};
    };

    // (b) cold: a fresh root each time
    std::vector<double> cold;
    for (int i = 0; i < k_cold_runs; ++i) {
      options.root = scratch / ("cold-root-" + std::to_string(i));
      auto manager = afk::make_libgit2_worktrees(options, logger);
      cold.push_back(seconds_of([&] { (void)manager->prepare(spec(1)); }));
      fs::remove_all(options.root);
    }

    // (a) warm: the checkout exists (made by a first, untimed run)
    options.root = scratch / "warm-root";
    auto manager = afk::make_libgit2_worktrees(options, logger);
    (void)manager->prepare(spec(1));
    std::vector<double> warm;
    std::vector<double> fetch_only;
    for (int i = 0; i < k_warm_runs; ++i) {
      afk::PreparedWorktree wt;
      warm.push_back(seconds_of([&] { wt = manager->prepare(spec(100 + i)); }));
      fetch_only.push_back(seconds_of([&] {
        (void)manager->pushed_commits(
            {spec(100 + i).issue, spec(100 + i).run_id, wt.base_sha, wt.default_branch});
      }));
    }

    // (c) the git CLI on the same warm checkout
    const fs::path checkout = afk::repo_layout(fs::canonical(options.root), repo).checkout;
    std::vector<double> cli;
    for (int i = 0; i < k_warm_runs; ++i) {
      const fs::path path = scratch / ("cli-worktree-" + std::to_string(i));
      cli.push_back(seconds_of([&] {
        git(scratch, checkout, {"fetch", "-q", "origin", "main"});
        git(scratch, checkout,
            {"worktree", "add", "-q", "-b", "cli-" + std::to_string(i), path.string(),
             "refs/remotes/origin/main"});
      }));
    }

    const double a = median(warm);
    const double b = median(cold);
    const double c = median(cli);
    std::printf("(a) warm prepare(), libgit2          median %.3f s  (%d runs)\n", a, k_warm_runs);
    std::printf("(b) fresh clone + worktree, libgit2  median %.3f s  (%d runs)\n", b, k_cold_runs);
    std::printf("(c) git fetch + git worktree add     median %.3f s  (%d runs)\n", c, k_warm_runs);
    std::printf("    of (a), the fetch alone (pushed_commits(), nothing new) median %.3f s\n",
                median(fetch_only));
    std::printf("a/b = %.2f  (warm vs cold: lower is better)\n", a / b);
    std::printf("a/c = %.2f  (afk vs the git CLI on the same checkout)\n", a / c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_worktrees: %s\n", e.what());
    status = 1;
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  return status;
}
