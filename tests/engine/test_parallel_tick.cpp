// SPDX-License-Identifier: MIT
// One tick over several repositories at once (max_parallel_repos > 1): the repositories'
// work runs on several threads through the same ports (one HTTP client per peer, one
// worktree manager, one logger), in process, against the fake world. Each run must see
// only its own repository's issue, worktree, thread and commits. Meant to run under
// ThreadSanitizer too (scripts/test-tsan).
#include "support/world_fixture.hpp"

#include <afk/config.hpp>
#include <afk/engine.hpp>
#include <afk/run_record.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using afk::Phase;
using afk::test::TurnContext;
using afk::test::TurnPlan;

const std::vector<std::string> k_more_repos = {"acme/api", "acme/docs", "acme/ops"};

class ParallelTick : public afk::test::WorldFixture {
protected:
  void SetUp() override {
    WorldFixture::SetUp();
    for (const std::string& repo : k_more_repos) {
      const fs::path origin = m_dir / "origin" / (repo + ".git");
      fs::create_directories(origin);
      git(origin, {"init", "--bare", "-q", "--initial-branch=main"});
      const fs::path seed = m_dir / ("seed-" + short_name(repo));
      git(m_dir, {"clone", "-q", origin.string(), seed.string()});
      std::ofstream(seed / "README.md") << "# " << short_name(repo) << '\n'; // as acme/web's
      git(seed, {"add", "-A"});
      git(seed, {"commit", "-q", "-m", "Initial commit"});
      git(seed, {"push", "-q", "origin", "HEAD:main"});
      m_github.add_repo(repo, "main");
      m_github.mirror_git(repo, origin);
      m_github.set_permission(repo, "alice", "write");
      m_extra_allowlist += ", \"" + repo + "\"";
    }
    m_t3.set_agent([this](const TurnContext& turn) { return push_for_its_repo(turn); });
  }

  // "web" for "acme/web".
  [[nodiscard]] static std::string short_name(const std::string& repo) {
    return repo.substr(repo.find('/') + 1);
  }

  [[nodiscard]] static std::vector<std::string> all_repos() {
    std::vector<std::string> repos{afk::test::k_repo};
    repos.insert(repos.end(), k_more_repos.begin(), k_more_repos.end());
    return repos;
  }

  // The scripted agent for any repository: learns which one from its worktree's origin,
  // commits with the trailer and "Closes #N" and pushes to main, as the preamble asks.
  TurnPlan push_for_its_repo(const TurnContext& turn) {
    const fs::path worktree = turn.worktree_path;
    std::string origin = git(worktree, {"config", "--get", "remote.origin.url"}).out;
    origin = origin.substr(0, origin.find_last_not_of('\n') + 1);
    const std::string prefix = "file://" + (m_dir / "origin").string() + "/";
    EXPECT_TRUE(origin.starts_with(prefix) && origin.ends_with(".git")) << origin;
    const std::string repo =
        origin.substr(prefix.size(), origin.size() - prefix.size() - std::string(".git").size());
    std::smatch run;
    std::smatch closes;
    EXPECT_TRUE(std::regex_search(turn.message_text, run, std::regex("AFK-Run: ([0-9a-f-]{36})")));
    EXPECT_TRUE(std::regex_search(turn.message_text, closes, std::regex("Closes #([0-9]+)")));
    std::ofstream(worktree / "change.txt") << repo << '\n';
    git(worktree, {"add", "-A"});
    git(worktree,
        {"commit", "-q", "-m",
         "Change " + repo + "\n\nCloses #" + closes[1].str() + "\n\nAFK-Run: " + run[1].str()});
    git(worktree, {"push", "-q", "origin", "HEAD:main"});
    m_github.close_issue(repo, std::stoll(closes[1].str()), "agent");
    m_pushed_by_repo[repo] = git(worktree, {"rev-parse", "HEAD"}).out.substr(0, 40);
    return TurnPlan{.assistant_text = "Done: pushed " + m_pushed_by_repo[repo]};
  }

  [[nodiscard]] std::optional<afk::RunRecord> record_of(const std::string& repo) const {
    const auto number = m_issues.at(repo);
    const auto issue = m_github.issue(repo, number);
    if (!issue) {
      return std::nullopt;
    }
    for (const auto& [author, body] : issue->comments) {
      if (author != "afk-bot") {
        continue;
      }
      auto decoded =
          afk::decode_run_record(body, afk::IssueRef{*afk::RepoName::parse(repo), number});
      if (auto* r = std::get_if<afk::RunRecord>(&decoded)) {
        return *r;
      }
    }
    return std::nullopt;
  }

  // Every repository's report is clean and its one run ended in `phase`.
  void expect_every_run_in(const afk::TickReport& report, Phase phase) {
    ASSERT_EQ(report.repos.size(), all_repos().size());
    for (std::size_t i = 0; i < report.repos.size(); ++i) {
      const auto& repo = report.repos[i];
      EXPECT_EQ(repo.repo.full(), all_repos()[i]); // reported in allowlist order
      EXPECT_TRUE(repo.error.empty()) << repo.repo.full() << ": " << repo.error;
      ASSERT_EQ(repo.runs.size(), 1U) << repo.repo.full();
      EXPECT_TRUE(repo.runs[0].error.empty()) << repo.repo.full() << ": " << repo.runs[0].error;
      EXPECT_EQ(repo.runs[0].issue.number, m_issues.at(repo.repo.full()));
      EXPECT_EQ(repo.runs[0].after, phase)
          << repo.repo.full() << ": " << to_string(repo.runs[0].after) << " "
          << repo.runs[0].reason;
    }
  }

  std::map<std::string, std::int64_t> m_issues;
  std::map<std::string, std::string> m_pushed_by_repo;
};

TEST_F(ParallelTick, repositories_progress_side_by_side_without_crossing_wires) {
  ASSERT_GT(config().max_parallel_repos, 1U);
  // Different issue numbers per repository, so a run mixing them up cannot pass.
  std::int64_t filler = 0;
  for (const std::string& repo : all_repos()) {
    for (std::int64_t n = 0; n < filler; ++n) {
      (void)m_github.open_issue(repo, "Filler", "", {}, "alice");
    }
    ++filler;
    m_issues[repo] = m_github.open_issue(repo, "Change " + repo, "", {"ready-for-agent"}, "alice");
  }

  // One tick dispatches every repository's issue: four worktrees, projects and threads.
  const auto dispatched = tick();
  expect_every_run_in(dispatched, Phase::dispatched);
  std::set<std::string> threads;
  std::set<std::string> worktrees;
  for (const std::string& repo : all_repos()) {
    const auto run = record_of(repo);
    ASSERT_TRUE(run.has_value()) << repo;
    EXPECT_EQ(run->issue.repo.full(), repo);
    EXPECT_TRUE(fs::exists(fs::path(run->worktree_path) / "README.md")) << repo;
    std::ifstream readme(fs::path(run->worktree_path) / "README.md");
    std::string heading;
    std::getline(readme, heading);
    EXPECT_EQ(heading, "# " + short_name(repo)); // a checkout of this repository
    threads.insert(run->thread_id);
    worktrees.insert(run->worktree_path);
  }
  EXPECT_EQ(threads.size(), all_repos().size());
  EXPECT_EQ(worktrees.size(), all_repos().size());

  // Each agent pushes to its own repository; the next tick finds each run's own commit.
  m_t3.advance();
  ASSERT_EQ(m_pushed_by_repo.size(), all_repos().size());
  const auto pushed = tick();
  ASSERT_EQ(pushed.repos.size(), all_repos().size());
  for (const std::string& repo : all_repos()) {
    const auto run = record_of(repo);
    ASSERT_TRUE(run.has_value()) << repo;
    EXPECT_EQ(run->pushed_shas, std::vector<std::string>{m_pushed_by_repo.at(repo)}) << repo;
  }

  // CI goes green on each SHA: every run is done and every issue closed.
  for (const std::string& repo : all_repos()) {
    m_github.add_check_run(repo, m_pushed_by_repo.at(repo), "build", "completed", "success");
  }
  const auto done = tick();
  expect_every_run_in(done, Phase::done);
  for (const std::string& repo : all_repos()) {
    EXPECT_EQ(m_github.issue(repo, m_issues.at(repo))->state, "closed") << repo;
  }
}

} // namespace
