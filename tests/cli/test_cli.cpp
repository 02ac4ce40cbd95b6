// SPDX-License-Identifier: MIT
// End-to-end tests of the built `afk` binary: exit codes, what it prints, and that a
// disarmed tick touches nothing.

#include "support/loopback_server.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <thread>

namespace {

namespace fs = std::filesystem;
using afk::test::ProcessResult;

class Cli : public ::testing::Test {
protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir =
        fs::temp_directory_path() / ("afk-cli-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
  }
  void TearDown() override { fs::remove_all(m_dir); }

  fs::path write_config(const std::string& name, const std::string& text) {
    const auto path = m_dir / name;
    std::ofstream(path) << text;
    return path;
  }

  ProcessResult afk(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), AFK_BINARY);
    env.emplace("PATH", "/usr/bin:/bin");
    return afk::test::run_process(args, env, m_dir / "run");
  }

  fs::path m_dir;
};

TEST_F(Cli, version_prints_the_project_version) {
  const auto r = afk({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "afk 0.1.0\n");
}

TEST_F(Cli, no_verb_is_a_usage_error) {
  const auto r = afk({});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("subcommand"), std::string::npos) << r.err;
}

TEST_F(Cli, help_documents_exit_codes_and_environment) {
  const auto r = afk({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* needle :
       {"tick", "config", "78", "75", "AFK_CONFIG", "AFK_KILL_SWITCH", "AFK_ALLOWLIST"}) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
  }
}

TEST_F(Cli, tick_with_defaults_is_disabled_and_says_why) {
  const auto r = afk({"tick"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("afk is disabled (kill switch on and allowlist empty in built-in defaults)"),
            std::string::npos)
      << r.out;
  // One JSON line per event on stderr.
  const auto event = nlohmann::json::parse(r.err.substr(0, r.err.find('\n')));
  EXPECT_EQ(event.at("event"), "tick_disabled");
  EXPECT_EQ(event.at("level"), "info");
  EXPECT_EQ(event.at("reason"), "kill switch on and allowlist empty");
}

TEST_F(Cli, either_arming_key_alone_keeps_afk_inert) {
  const auto only_switch_off = afk({"tick"}, {{"AFK_KILL_SWITCH", "false"}});
  EXPECT_EQ(only_switch_off.exit_code, 0) << only_switch_off.err;
  EXPECT_NE(only_switch_off.out.find("(allowlist empty in"), std::string::npos);

  const auto only_allowlist = afk({"tick"}, {{"AFK_ALLOWLIST", "acme/web"}});
  EXPECT_EQ(only_allowlist.exit_code, 0) << only_allowlist.err;
  EXPECT_NE(only_allowlist.out.find("(kill switch on in"), std::string::npos);
}

TEST_F(Cli, disarmed_tick_sends_not_one_request) {
  // A loopback server stands where the tracker and T3 would be; a disarmed tick must not
  // reach it even with everything else configured.
  std::atomic<int> requests{0};
  afk::test::LoopbackServer server([&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.status = 500;
  });
  const std::string url = server.url();
  const auto config = write_config("afk.toml", R"(kill_switch = true
allowlist = ["acme/web"]
[tracker]
api_url = ")" + url + R"("
token_file = "/nonexistent/token"
login = "afk-bot"
[t3]
url = ")" + url + R"("
token_file = "/nonexistent/t3-token"
)");
  const auto r = afk({"tick", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(requests.load(), 0);
  EXPECT_NE(r.out.find("kill switch on"), std::string::npos);
}

TEST_F(Cli, invalid_config_exits_78_naming_file_line_and_key) {
  const auto config =
      write_config("bad.toml", "kill_switch = \"yes\"\n[limits]\nstall_timeout = \"5\"\n");
  const auto r = afk({"tick", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find(config.string() + ":1:15: kill_switch: expected a boolean"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(config.string() + ":3:17: limits.stall_timeout"), std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(Cli, config_comes_from_afk_config_when_no_flag_is_given) {
  const auto config = write_config("env.toml", "kill_switch = maybe\n");
  const auto r = afk({"tick"}, {{"AFK_CONFIG", config.string()}});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find(config.string() + ":1:"), std::string::npos) << r.err;
}

TEST_F(Cli, missing_config_file_exits_78) {
  const auto r = afk({"tick", "--config", (m_dir / "nope.toml").string()});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("nope.toml"), std::string::npos) << r.err;
}

TEST_F(Cli, unparseable_kill_switch_from_the_environment_is_an_error_not_a_guess) {
  const auto r = afk({"tick"}, {{"AFK_KILL_SWITCH", "maybe"}});
  EXPECT_EQ(r.exit_code, 78);
  // First a JSON line a log collector keeps, then the same words for a person.
  const auto event = nlohmann::json::parse(r.err.substr(0, r.err.find('\n')));
  EXPECT_EQ(event.at("event"), "fatal");
  EXPECT_EQ(event.at("level"), "error");
  EXPECT_EQ(event.at("kind"), "config");
  EXPECT_NE(event.at("error").get<std::string>().find("AFK_KILL_SWITCH"), std::string::npos);
  EXPECT_NE(r.err.find("\nafk: environment variable AFK_KILL_SWITCH"), std::string::npos) << r.err;
}

TEST_F(Cli, config_check_accepts_the_reference_config) {
  const auto r = afk({"config", "check", "--config", AFK_REFERENCE_CONFIG});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("valid"), std::string::npos);
  EXPECT_NE(r.out.find("disarmed: kill switch on and allowlist empty"), std::string::npos) << r.out;
}

TEST_F(Cli, config_check_rejects_a_preamble_afk_could_not_find_commits_by) {
  std::ofstream(m_dir / "preamble.md") << "Work in {worktree}. Push when done. {colour}\n";
  const auto config = write_config("preamble.toml", "[agent]\npreamble_file = \"" +
                                                        (m_dir / "preamble.md").string() + "\"\n");
  const auto r = afk({"config", "check", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 78) << r.out;
  EXPECT_NE(r.err.find("agent.preamble_file " + (m_dir / "preamble.md").string()),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("{run_id}"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("{colour}"), std::string::npos) << r.err;
  std::ofstream(m_dir / "preamble.md", std::ios::trunc)
      << "Work in {worktree} on {branch}. Commit with Closes #{issue_number} and the trailer "
         "{trailer}: {run_id}.\n";
  EXPECT_EQ(afk({"config", "check", "--config", config.string()}).exit_code, 0);
}

TEST_F(Cli, an_armed_tick_reports_a_repo_it_cannot_reach_and_still_exits_0) {
  std::ofstream(m_dir / "gh-token") << "gh-SECRET\n";
  std::ofstream(m_dir / "t3-token") << "t3-SECRET\n";
  const auto config = write_config("armed.toml", R"(kill_switch = false
allowlist = ["acme/web"]
[tracker]
api_url = "http://127.0.0.1:1"
token_file = ")" + (m_dir / "gh-token").string() + R"("
login = "afk-bot"
[t3]
url = "http://127.0.0.1:1"
token_file = ")" + (m_dir / "t3-token").string() + R"("
[git]
root = ")" + (m_dir / "checkouts").string() + R"("
)");
  const auto r = afk({"tick", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("acme/web: failed:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tick done with 1 failure(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("\"event\":\"repo_failed\""), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("SECRET"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("SECRET"), std::string::npos) << r.out;
}

} // namespace
