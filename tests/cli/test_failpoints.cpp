// SPDX-License-Identifier: MIT
// Kill `afk tick` at each named failpoint (libafk/src/detail/failpoint.hpp) and show that the
// ticks after it converge: one thread and one turn per turn the run needed, one record
// comment, the right labels and issue state, the notification sent, nothing lost or done
// twice. Each tick is the built binary as a fresh process, as the CronJob runs it; the agent
// keeps working between ticks, as it would while afk is down.
#include "support/process.hpp"
#include "support/world_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using afk::Phase;
using afk::test::k_repo;
namespace fs = std::filesystem;

constexpr int k_failpoint_exit = 86; // detail::k_failpoint_exit_code
constexpr int k_max_ticks = 12;

// The stories a run can tell, each driven from label to its end.
enum class Story {
  healthy,       ///< push, green, closed
  keeps_working, ///< push, and the agent is still busy when it goes green: interrupted
  fixed_forward, ///< push red, fix turn, push green
  frozen,        ///< push red with no fix-forward allowed: frozen, issue reopened
  asks, ///< a question answered under on_waiting_human = "proceed"; nothing pushed: escalated
  thread_deleted, ///< push red, the thread deleted by hand: fixed on a new thread
};

std::string to_string(Story story) {
  switch (story) {
  case Story::healthy:
    return "healthy";
  case Story::keeps_working:
    return "keeps_working";
  case Story::fixed_forward:
    return "fixed_forward";
  case Story::frozen:
    return "frozen";
  case Story::asks:
    return "asks";
  case Story::thread_deleted:
    return "thread_deleted";
  }
  return "?";
}

// Which story reaches each failpoint. Every failpoint in libafk's sources must be here (the
// first test checks), so a new one cannot go untested.
const std::map<std::string, Story>& failpoints() {
  static const std::map<std::string, Story> table{
      {"claim.recorded", Story::healthy},
      {"claim.labelled", Story::healthy},
      {"claim.locked", Story::healthy},
      {"dispatch.worktree", Story::healthy},
      {"dispatch.project", Story::healthy},
      {"dispatch.thread", Story::healthy},
      {"dispatch.turn", Story::healthy},
      {"watch.agent_read", Story::healthy},
      {"watch.pushes_read", Story::healthy},
      {"watch.verdict_read", Story::healthy},
      {"act.recorded", Story::healthy},
      {"act.interrupted", Story::keeps_working},
      {"fix.turn", Story::fixed_forward},
      {"fix.thread_replaced", Story::thread_deleted},
      {"answer.sent", Story::asks},
      {"finish.closed", Story::healthy},
      {"finish.worktree_removed", Story::healthy},
      {"finish.reopened", Story::frozen},
      {"finish.labelled", Story::frozen},
      {"finish.ready_removed", Story::healthy},
      {"finish.notified", Story::healthy},
      {"finish.unlocked", Story::healthy},
  };
  return table;
}

// The failpoint names in libafk's sources: every `failpoint("…")` call.
std::set<std::string> failpoints_in_sources() {
  std::set<std::string> names;
  const std::regex call(R"re(failpoint\("([a-z_]+\.[a-z_]+)"\))re");
  for (const auto& entry : fs::recursive_directory_iterator(AFK_LIBAFK_SOURCES)) {
    if (entry.path().extension() != ".cpp") {
      continue;
    }
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string source = text.str();
    for (auto it = std::sregex_iterator(source.begin(), source.end(), call);
         it != std::sregex_iterator(); ++it) {
      names.insert((*it)[1].str());
    }
  }
  return names;
}

TEST(FailpointTable, lists_every_failpoint_in_the_sources) {
  std::set<std::string> listed;
  for (const auto& [name, story] : failpoints()) {
    listed.insert(name);
  }
  EXPECT_EQ(failpoints_in_sources(), listed);
}

class KilledAt : public afk::test::WorldFixture,
                 public testing::WithParamInterface<std::pair<const std::string, Story>> {
protected:
  afk::test::ProcessResult afk_tick(const std::string& failpoint) {
    std::map<std::string, std::string> env{
        {"PATH", "/usr/bin:/bin"}, {"HOME", m_dir.string()}, {"no_proxy", "*"}};
    if (!failpoint.empty()) {
      env.emplace("AFK_FAILPOINT", failpoint);
    }
    return afk::test::run_process({AFK_BINARY, "tick", "--config", config_file().string()}, env,
                                  m_dir / "run");
  }

  // The world between two ticks: the agent works, CI reports on whatever was pushed.
  void world_moves(Story story) {
    m_t3.advance();
    if (m_pushed.empty() || m_checked.count(m_pushed) > 0) {
      return;
    }

    const bool red =
        m_checked.empty() &&
        (story == Story::fixed_forward || story == Story::frozen || story == Story::thread_deleted);
    if (red && story == Story::thread_deleted) {
      // Someone deletes the thread in the T3 cockpit before afk sees the red check.
      delete_thread_by_hand();
    }
    m_github.add_check_run(k_repo, m_pushed, "build", "completed", red ? "failure" : "success");
    m_checked.insert(m_pushed);
  }

  void delete_thread_by_hand() {
    const auto run = record();
    ASSERT_TRUE(run.has_value());
    const afk::Config c = config();
    const auto world = afk::World::build(c, m_log, m_clock);
    (void)world->ports().t3.delete_thread("c-delete-by-hand", run->thread_id);
  }

  void set_up(Story story) {
    switch (story) {
    case Story::keeps_working:
      m_t3.set_agent([this](const afk::test::TurnContext& turn) {
        ++m_turns;
        afk::test::TurnPlan plan = push(turn);
        plan.ending = afk::test::TurnPlan::Ending::hang;
        return plan;
      });
      break;
    case Story::frozen:
      m_fix_attempts = 0;
      break;
    case Story::asks:
      // The fake plays a turn out from a plan made when it starts: an agent that asks cannot
      // push after the answer, so this one gives up and the run is handed back.
      m_agent_questions = {"Which port should it listen on?"};
      m_on_waiting_human = "proceed";
      m_agent_pushes = false;
      break;
    default:
      break;
    }
  }

  [[nodiscard]] bool ended() const {
    const auto run = record();
    if (!run || !afk::is_terminal(run->phase)) {
      return false;
    }
    const auto now = labels();
    return !has(now, "agent-in-progress") && !has(now, "ready-for-agent");
  }

  [[nodiscard]] int accepted(std::string_view type) const {
    int count = 0;
    for (const std::string& body : m_t3.accepted_commands()) {
      count += nlohmann::json::parse(body).value("type", "") == type ? 1 : 0;
    }
    return count;
  }

  [[nodiscard]] int afk_comments() const {
    int count = 0;
    const auto issue = m_github.issue(k_repo, m_issue);
    for (const auto& [author, body] : issue->comments) {
      count += author == "afk-bot" ? 1 : 0;
    }
    return count;
  }

  std::set<std::string> m_checked;
};

TEST_P(KilledAt, the_next_ticks_converge) {
  const auto& [failpoint, story] = GetParam();
  set_up(story);
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "GET /healthz returns 200.",
                                {"ready-for-agent"}, "alice");
  bool killed = false;
  int notifications = 0;
  int ticks = 0;
  std::string transcript;
  while (!ended() && ticks < k_max_ticks) {
    const auto result = afk_tick(killed ? std::string() : failpoint);
    ++ticks;
    transcript += "--- tick " + std::to_string(ticks) + " (exit " +
                  std::to_string(result.exit_code) + ")\n" + result.out + result.err;
    if (result.exit_code == k_failpoint_exit) {
      ASSERT_FALSE(killed) << "a failpoint fired with AFK_FAILPOINT unset\n" << transcript;
      ASSERT_NE(result.err.find("afk: failpoint " + failpoint), std::string::npos) << result.err;
      killed = true;
    } else {
      ASSERT_EQ(result.exit_code, 0) << transcript;
      EXPECT_EQ(result.out.find("FAILED"), std::string::npos) << transcript;
    }
    for (auto at = result.err.find("\"event\":\"notification\""); at != std::string::npos;
         at = result.err.find("\"event\":\"notification\"", at + 1)) {
      ++notifications;
    }
    world_moves(story);
  }
  ASSERT_TRUE(killed) << "story " << to_string(story) << " never reached " << failpoint << "\n"
                      << transcript;
  ASSERT_TRUE(ended()) << "no end after " << ticks << " ticks\n" << transcript;

  const auto run = record();
  ASSERT_TRUE(run.has_value());
  const auto now = labels();
  const auto issue = m_github.issue(k_repo, m_issue);
  EXPECT_EQ(afk_comments(), 1) << "one record comment, edited in place";
  // The notification goes out before the lock is dropped: at least once, twice only when the
  // process died right after sending it.
  EXPECT_EQ(notifications, failpoint == "finish.notified" ? 2 : 1) << transcript;

  const int threads = story == Story::thread_deleted ? 2 : 1;
  EXPECT_EQ(accepted("thread.create"), threads) << transcript;
  EXPECT_EQ(accepted("thread.turn.start"), run->turns) << transcript;
  EXPECT_EQ(m_turns, run->turns) << "the agent ran once per turn";

  switch (story) {
  case Story::healthy:
  case Story::keeps_working:
    EXPECT_EQ(run->phase, Phase::done) << transcript;
    EXPECT_EQ(run->turns, 1);
    EXPECT_EQ(run->pushed_shas.size(), 1U);
    EXPECT_EQ(issue->state, "closed");
    EXPECT_FALSE(has(now, "ready-for-human"));
    EXPECT_EQ(accepted("thread.turn.interrupt"), story == Story::keeps_working ? 1 : 0);
    // A finished run leaves no worktree behind.
    EXPECT_FALSE(fs::exists(run->worktree_path)) << run->worktree_path;
    break;
  case Story::asks:
    EXPECT_EQ(run->phase, Phase::escalated) << transcript;
    // A tick that died right after answering leaves no note of it in the record (the thread
    // in T3 has the answer); what matters is that the question was answered exactly once.
    EXPECT_EQ(run->answered_requests.size(), failpoint == "answer.sent" ? 0U : 1U);
    EXPECT_EQ(accepted("thread.user-input.respond"), 1);
    EXPECT_EQ(issue->state, "open");
    EXPECT_TRUE(has(now, "ready-for-human"));
    EXPECT_TRUE(fs::exists(run->worktree_path)) << "kept for whoever picks it up";
    break;
  case Story::fixed_forward:
  case Story::thread_deleted:
    EXPECT_EQ(run->phase, Phase::done) << transcript;
    EXPECT_EQ(run->fix_attempts, 1);
    EXPECT_EQ(run->turns, 2);
    EXPECT_EQ(run->pushed_shas.size(), 2U);
    EXPECT_EQ(issue->state, "closed");
    break;
  case Story::frozen:
    EXPECT_EQ(run->phase, Phase::frozen) << transcript;
    EXPECT_EQ(issue->state, "open") << "reopened: the push closed it, but it is not done";
    EXPECT_TRUE(has(now, "ready-for-human"));
    EXPECT_TRUE(has(now, "afk-frozen"));
    EXPECT_TRUE(fs::exists(run->worktree_path)) << "kept for forensics";
    break;
  }
}

INSTANTIATE_TEST_SUITE_P(EachFailpoint, KilledAt, testing::ValuesIn(failpoints()),
                         [](const testing::TestParamInfo<KilledAt::ParamType>& param) {
                           std::string name = param.param.first;
                           for (char& c : name) {
                             c = c == '.' ? '_' : c;
                           }
                           return name;
                         });

} // namespace
