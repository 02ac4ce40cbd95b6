// SPDX-License-Identifier: MIT
// The built `afk` binary, tick after tick, against the fake world (support/world_fixture.hpp):
// the fake GitHub and the strict fake T3 serve from this test process over loopback, the
// scripted agent pushes to a real bare origin, and each `afk tick` is a fresh process as the
// CronJob runs it.
#include "support/process.hpp"
#include "support/world_fixture.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

using afk::Phase;
using afk::test::k_repo;
namespace fs = std::filesystem;

class EndToEnd : public afk::test::WorldFixture {
protected:
  afk::test::ProcessResult afk_tick(std::map<std::string, std::string> env = {},
                                    const std::string& scratch = "run") {
    env.emplace("PATH", "/usr/bin:/bin");
    env.emplace("HOME", m_dir.string());
    env.emplace("no_proxy", "*");
    return afk::test::run_process({AFK_BINARY, "tick", "--config", config_file().string()}, env,
                                  m_dir / scratch);
  }

  [[nodiscard]] int count_commands(std::string_view type) const {
    int count = 0;
    for (const std::string& body : m_t3.accepted_commands()) {
      count += body.find("\"" + std::string(type) + "\"") != std::string::npos ? 1 : 0;
    }
    return count;
  }
};

TEST_F(EndToEnd, the_binary_takes_an_issue_from_label_to_closed) {
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "GET /healthz returns 200.",
                                {"ready-for-agent"}, "alice");
  const auto first = afk_tick();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("acme/web: active, dispatched acme/web#" + std::to_string(m_issue)),
            std::string::npos)
      << first.out;
  EXPECT_NE(first.err.find("\"event\":\"dispatched\""), std::string::npos) << first.err;

  m_t3.advance();
  ASSERT_EQ(m_pushed.size(), 40U);
  const auto second = afk_tick();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  m_github.add_check_run(k_repo, m_pushed, "build", "completed", "success");
  const auto third = afk_tick();
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_NE(third.out.find("-> done"), std::string::npos) << third.out;
  EXPECT_EQ(m_github.issue(k_repo, m_issue)->state, "closed");
  const auto run = record();
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->phase, Phase::done);
  // Secrets never reach the output.
  for (const auto& r : {first, second, third}) {
    EXPECT_EQ(r.out.find(m_github.options().token), std::string::npos);
    EXPECT_EQ(r.err.find(m_github.options().token), std::string::npos);
  }
}

TEST_F(EndToEnd, the_kill_switch_means_not_one_request) {
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "", {"ready-for-agent"}, "alice");
  const std::size_t github_before = m_github.request_count();
  const std::size_t t3_before = m_t3.requests().size();
  const auto r = afk_tick({{"AFK_KILL_SWITCH", "true"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("afk is disabled (kill switch on"), std::string::npos) << r.out;
  EXPECT_EQ(m_github.request_count(), github_before);
  EXPECT_EQ(m_t3.requests().size(), t3_before);
  EXPECT_FALSE(fs::exists(m_dir / "checkouts"));
}

TEST_F(EndToEnd, two_ticks_at_once_start_one_agent) {
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "", {"ready-for-agent"}, "alice");
  (void)config_file();
  afk::test::ProcessResult a;
  afk::test::ProcessResult b;
  std::thread first([&] { a = afk_tick({}, "a"); });
  std::thread second([&] { b = afk_tick({}, "b"); });
  first.join();
  second.join();
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(count_commands("thread.create"), 1);
  EXPECT_EQ(count_commands("thread.turn.start"), 1);
  // Whatever the interleaving, the next tick finds one run and goes on with it.
  m_t3.advance();
  const auto next = afk_tick();
  ASSERT_EQ(next.exit_code, 0) << next.err;
  const auto run = record();
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->pushed_shas.size(), 1U);
}

TEST_F(EndToEnd, a_t3_outage_mid_dispatch_is_resumed_by_the_next_tick) {
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "", {"ready-for-agent"}, "alice");
  // Every attempt at the first command is applied but its answer lost: the tick gives up.
  m_t3.fail_next("/api/orchestration/dispatch", 500, 4, true);
  const auto failed = afk_tick();
  EXPECT_EQ(failed.exit_code, 0) << failed.err;
  EXPECT_NE(failed.out.find("FAILED"), std::string::npos) << failed.out;
  const auto claimed = record();
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->phase, Phase::claimed);
  const auto resumed = afk_tick();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(record()->phase, Phase::dispatched);
  EXPECT_EQ(count_commands("project.create"), 1);
  EXPECT_EQ(count_commands("thread.create"), 1);
  EXPECT_EQ(count_commands("thread.turn.start"), 1);
}

// A TCP port that takes connections (the kernel's backlog) and never answers: a git server
// that stopped responding.
class SilentServer {
public:
  SilentServer()
      : m_fd(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    EXPECT_EQ(::bind(m_fd, generic, length), 0);
    EXPECT_EQ(::listen(m_fd, 16), 0);
    EXPECT_EQ(::getsockname(m_fd, generic, &length), 0);
    m_port = ntohs(address.sin_port);
  }
  ~SilentServer() { ::close(m_fd); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  [[nodiscard]] int port() const { return m_port; }

private:
  int m_fd;
  int m_port = 0;
};

TEST_F(EndToEnd, a_tick_stuck_past_its_deadline_is_ended_and_the_next_one_resumes) {
  m_issue = m_github.open_issue(k_repo, "Add a health endpoint", "", {"ready-for-agent"}, "alice");
  // The clone hangs on a git server that never answers; nothing but the watchdog ends it.
  const SilentServer git_server;
  const std::string stuck_config =
      "tick_timeout = \"1s\"\n" +
      std::regex_replace(config_text(), std::regex("clone_url = \"[^\"]*\""),
                         "clone_url = \"http://127.0.0.1:" + std::to_string(git_server.port()) +
                             "/{repo}.git\"");
  const fs::path stuck_file = m_dir / "stuck.toml";
  std::ofstream(stuck_file) << stuck_config;
  const auto stuck = afk::test::run_process(
      {AFK_BINARY, "tick", "--config", stuck_file.string()},
      {{"PATH", "/usr/bin:/bin"}, {"HOME", m_dir.string()}, {"no_proxy", "*"}}, m_dir / "stuck");
  EXPECT_EQ(stuck.exit_code, 75) << stuck.out << stuck.err;
  EXPECT_NE(stuck.err.find("\"event\":\"tick_overran\""), std::string::npos) << stuck.err;
  const auto claimed = record();
  ASSERT_TRUE(claimed.has_value()) << "claimed before the clone";
  EXPECT_EQ(claimed->phase, Phase::claimed);

  // The git server is back (the usual origin): the next tick repairs the half-made
  // checkout and dispatches the same run.
  const auto resumed = afk_tick();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(record()->phase, Phase::dispatched) << resumed.out;
  EXPECT_EQ(record()->run_id, claimed->run_id);
  EXPECT_EQ(count_commands("thread.turn.start"), 1);
}

} // namespace
