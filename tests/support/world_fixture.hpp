// SPDX-License-Identifier: MIT
#pragma once

// The fake world the engine's end-to-end tests run in: the stateful fake GitHub and the
// strict fake T3 on loopback, a real bare git origin (acme/web, one commit on main) that the
// fake GitHub mirrors, and a scripted agent that does what afk's preamble asks — commit
// with "Closes #N" and the AFK-Run trailer, push to main — from the worktree afk prepared.
// `tick()` runs one tick in process over real adapters built by World from `config()`;
// tests of the built binary write the same config to a file.

#include "support/capturing_logger.hpp"
#include "support/fake_github.hpp"
#include "support/fake_t3.hpp"
#include "support/process.hpp"

#include <afk/config.hpp>
#include <afk/engine.hpp>
#include <afk/ids.hpp>
#include <afk/log.hpp>
#include <afk/run_record.hpp>
#include <afk/time.hpp>
#include <afk/world.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace afk::test {

namespace fs = std::filesystem;

inline constexpr const char* k_repo = "acme/web";

// The system clock plus an offset a test moves forward: deadlines without sleeping.
class OffsetClock final : public afk::Clock {
public:
  [[nodiscard]] afk::Timestamp now() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) + m_offset;
  }
  void advance(afk::Seconds by) { m_offset += by; }

private:
  afk::Seconds m_offset{0};
};

class WorldFixture : public testing::Test {
protected:
  void SetUp() override {
    ::setenv("no_proxy", "*", 1);
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() / ("afk-engine-" + std::to_string(::getpid()) + info->name());
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
    m_origin = m_dir / "origin" / "acme" / "web.git";
    fs::create_directories(m_origin);
    git(m_origin, {"init", "--bare", "-q", "--initial-branch=main"});
    const fs::path seed = m_dir / "seed";
    git(m_dir, {"clone", "-q", m_origin.string(), seed.string()});
    std::ofstream(seed / "README.md") << "# web\n";
    git(seed, {"add", "-A"});
    git(seed, {"commit", "-q", "-m", "Initial commit"});
    git(seed, {"push", "-q", "origin", "HEAD:main"});

    m_github.add_repo(k_repo, "main");
    m_github.mirror_git(k_repo, m_origin);
    m_github.set_permission(k_repo, "alice", "write");
    m_github.set_permission(k_repo, "mallory", "read");

    m_t3.set_agent([this](const afk::test::TurnContext& turn) { return agent(turn); });
    std::ofstream(m_dir / "gh-token") << m_github.options().token << '\n';
    std::ofstream(m_dir / "t3-token") << m_t3.issue_token() << '\n';
  }

  void TearDown() override { fs::remove_all(m_dir); }

  afk::test::ProcessResult git(const fs::path& where, std::vector<std::string> args) {
    const auto result = afk::test::run_git(where, args, m_dir, "Agent", "agent@example.com");
    EXPECT_EQ(result.exit_code, 0) << "git " << args.front() << ": " << result.err;
    return result;
  }

  // The scripted agent: does what the preamble asks — commit with the trailer, push to main.
  TurnPlan agent(const afk::test::TurnContext& turn) {
    ++m_turns;
    m_prompts.push_back(turn.message_text);
    if (m_agent_hangs) {
      return TurnPlan{.ending = TurnPlan::Ending::hang};
    }
    if (!m_agent_questions.empty() && m_turns == 1) {
      // Asks first; what it does after the answer is decided now (the fake plays it out).
      TurnPlan plan = m_agent_pushes ? push(turn) : TurnPlan{.assistant_text = "Stopped."};
      plan.questions = m_agent_questions;
      return plan;
    }
    if (!m_agent_pushes) {
      return TurnPlan{.assistant_text = "I could not do it."};
    }
    return push(turn);
  }

  TurnPlan push(const afk::test::TurnContext& turn) {
    std::smatch run;
    const std::regex trailer("AFK-Run: ([0-9a-f-]{36})");
    EXPECT_TRUE(std::regex_search(turn.message_text, run, trailer)) << turn.message_text;
    const fs::path worktree = turn.worktree_path;
    std::ofstream(worktree / ("change-" + std::to_string(m_turns) + ".txt")) << "work\n";
    git(worktree, {"add", "-A"});
    std::smatch closes;
    const std::regex closing("Closes #([0-9]+)");
    const std::int64_t number = std::regex_search(turn.message_text, closes, closing)
                                    ? std::stoll(closes[1].str())
                                    : m_issue;
    git(worktree, {"commit", "-q", "-m",
                   "Add the health endpoint\n\nCloses #" + std::to_string(number) +
                       "\n\nAFK-Run: " + run[1].str()});
    git(worktree, {"push", "-q", "origin", "HEAD:main"});
    // As GitHub does when "Closes #N" reaches the default branch: before afk verified it.
    if (m_github.issue(k_repo, number)->state == "open") {
      m_github.close_issue(k_repo, number, "agent");
    }
    m_pushed = git(worktree, {"rev-parse", "HEAD"}).out.substr(0, 40);
    return TurnPlan{.assistant_text = "Done: pushed " + m_pushed};
  }

  afk::Config config() const { return afk::parse_config(config_text(), "engine.toml", {}); }

  // The config as a file, for the built binary.
  fs::path config_file() const {
    const fs::path path = m_dir / "afk.toml";
    std::ofstream(path, std::ios::trunc) << config_text();
    return path;
  }

  std::string config_text() const {
    return R"(kill_switch = false
allowlist = ["acme/web")" +
           m_extra_allowlist + R"(]
[limits]
healthy_for = "0s"
fix_forward_attempts = )" +
           std::to_string(m_fix_attempts) + "\non_waiting_human = \"" + m_on_waiting_human + "\"" +
           R"(
[tracker]
api_url = ")" +
           m_github.url() +
           R"("
token_file = ")" +
           (m_dir / "gh-token").string() +
           R"("
login = "afk-bot"
[t3]
url = ")" + m_t3.url() +
           R"("
token_file = ")" +
           (m_dir / "t3-token").string() +
           R"("
server_version = "0.0.27"
[git]
root = ")" +
           (m_dir / "checkouts").string() +
           R"("
clone_url = "file://)" +
           (m_dir / "origin").string() +
           R"(/{repo}.git"
[deploy]
stages = ["github_checks"]
)";
  }

  afk::TickReport tick() {
    const afk::Config c = config();
    const auto world = afk::World::build(c, m_log, m_clock);
    afk::EnginePorts ports = world->ports();
    return afk::run_tick(c, ports, {.holder = "test:1"});
  }

  std::optional<afk::RunRecord> record() const {
    const auto issue = m_github.issue(k_repo, m_issue);
    if (!issue) {
      return std::nullopt;
    }
    for (const auto& [author, body] : issue->comments) {
      if (author != "afk-bot") {
        continue;
      }
      auto decoded =
          afk::decode_run_record(body, afk::IssueRef{*afk::RepoName::parse(k_repo), m_issue});
      if (auto* r = std::get_if<afk::RunRecord>(&decoded)) {
        return *r;
      }
    }
    return std::nullopt;
  }

  std::vector<std::string> labels() const { return m_github.issue(k_repo, m_issue)->labels; }

  static bool has(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
  }

  fs::path m_dir;
  fs::path m_origin;
  FakeGitHub m_github;
  FakeT3 m_t3;
  CapturingLogger m_log;
  OffsetClock m_clock;
  std::int64_t m_issue = 0;
  int m_turns = 0;
  bool m_agent_pushes = true;
  bool m_agent_hangs = false;
  int m_fix_attempts = 5;
  std::vector<std::string> m_agent_questions;
  std::string m_on_waiting_human = "escalate";
  std::string m_extra_allowlist; ///< e.g. R"(, "acme/gone")" to allowlist more repositories
  std::string m_pushed;
  std::vector<std::string> m_prompts;
};

} // namespace afk::test
