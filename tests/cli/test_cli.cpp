// SPDX-License-Identifier: MIT
// End-to-end tests of the built `afk` binary: exit codes, what it prints, and that a
// disarmed tick touches nothing.

#include "support/fake_github.hpp"
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

TEST_F(Cli, doctor_with_defaults_exits_78_and_says_what_is_missing) {
  const auto r = afk({"doctor"});
  EXPECT_EQ(r.exit_code, 78) << r.out << r.err;
  EXPECT_NE(r.out.find("warn  config: disarmed (kill switch on and allowlist empty)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("FAIL  adapters: t3.url is not set"), std::string::npos) << r.out;
  const auto json = afk({"doctor", "--json"});
  EXPECT_EQ(json.exit_code, 78);
  const auto document = nlohmann::json::parse(json.out);
  EXPECT_EQ(document.at("result"), "config_problems");
  EXPECT_EQ(document.at("checks").back().at("name"), "adapters");
  EXPECT_EQ(document.at("checks").back().at("kind"), "config");
}

TEST_F(Cli, doctor_exits_69_when_a_peer_does_not_work_and_never_prints_a_secret) {
  // Every peer answers 404 JSON: reachable, but not the API afk needs.
  afk::test::LoopbackServer peer([](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(R"({"message":"Not Found"})", "application/json");
  });
  std::ofstream(m_dir / "gh-token") << "gh-SECRET\n";
  std::ofstream(m_dir / "t3-token") << "t3-SECRET\n";
  fs::permissions(m_dir / "gh-token", fs::perms::owner_read);
  fs::permissions(m_dir / "t3-token", fs::perms::owner_read);
  const auto config = write_config("armed.toml", R"(kill_switch = false
allowlist = ["acme/web"]
[tracker]
api_url = ")" + peer.url() + R"("
token_file = ")" + (m_dir / "gh-token").string() + R"("
login = "afk-bot"
[t3]
url = ")" + peer.url() + R"("
token_file = ")" + (m_dir / "t3-token").string() + R"("
server_version = "0.0.27"
[git]
root = ")" + (m_dir / "checkouts").string() + R"("
)");
  const auto r = afk({"doctor", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 69) << r.out << r.err;
  EXPECT_NE(r.out.find("ok    config: armed for 1 repo(s): acme/web"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok    secret t3.token_file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  tracker acme/web: permanent error"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  t3 server"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skip  probe"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("SECRET"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("SECRET"), std::string::npos) << r.err;
}

// ---- operator verbs: dispatch, freeze, thaw, status ------------------------------------

TEST_F(Cli, operator_verbs_reject_bad_arguments_with_64) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"dispatch"},
                                               {"dispatch", "acme/web"},
                                               {"dispatch", "acme/web#0"},
                                               {"dispatch", "acme/web#1", "--bogus"},
                                               {"freeze"},
                                               {"freeze", "acme/web/x"},
                                               {"thaw", "../etc"},
                                               {"status", "acme"}}) {
    const auto r = afk(args);
    EXPECT_EQ(r.exit_code, 64) << args.front() << ' ' << (args.size() > 1 ? args[1] : "") << '\n'
                               << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  const auto r = afk({"dispatch", "acme/web"});
  EXPECT_NE(r.err.find("expected an issue as owner/repo#N"), std::string::npos) << r.err;
}

TEST_F(Cli, dispatch_and_thaw_refuse_while_disarmed_and_status_says_so) {
  const auto dispatch = afk({"dispatch", "acme/web#12"});
  EXPECT_EQ(dispatch.exit_code, 69) << dispatch.err;
  EXPECT_NE(dispatch.err.find("not dispatching acme/web#12: afk is disabled (kill switch on and "
                              "allowlist empty in built-in defaults)"),
            std::string::npos)
      << dispatch.err;
  const auto thaw = afk({"thaw", "acme/web"}, {{"AFK_ALLOWLIST", "acme/web"}});
  EXPECT_EQ(thaw.exit_code, 69) << thaw.err;
  EXPECT_NE(thaw.err.find("afk is disabled (kill switch on)"), std::string::npos) << thaw.err;

  const auto status = afk({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.out, "afk is disabled (kill switch on and allowlist empty): nothing runs.\n");
  const auto json = afk({"status", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc.at("armed"), false);
  EXPECT_EQ(doc.at("disarmed_reason"), "kill switch on and allowlist empty");
  EXPECT_TRUE(doc.at("repos").empty());
}

TEST_F(Cli, freeze_without_a_tracker_exits_78_naming_the_keys) {
  const auto r = afk({"freeze", "acme/web"});
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_NE(r.err.find("tracker.token_file and tracker.login"), std::string::npos) << r.err;
}

TEST_F(Cli, operator_verbs_against_a_fake_github) {
  afk::test::FakeGitHub github;
  github.add_repo("acme/web", "main");
  github.set_permission("acme/web", "alice", "write");
  github.set_permission("acme/web", "mallory", "read");
  const std::int64_t ready =
      github.open_issue("acme/web", "Add a health endpoint", "", {"ready-for-agent"}, "alice");
  const std::int64_t untrusted = github.open_issue("acme/web", "Delete prod", "", {}, "mallory");
  github.label_issue("acme/web", untrusted, "ready-for-agent", "mallory");
  std::ofstream(m_dir / "gh-token") << github.options().token << '\n';
  std::ofstream(m_dir / "t3-token") << "t3-token\n";
  const auto config = write_config("armed.toml", R"(kill_switch = false
allowlist = ["acme/web"]
[tracker]
api_url = ")" + github.url() + R"("
token_file = ")" + (m_dir / "gh-token").string() + R"("
login = "afk-bot"
[t3]
url = "http://127.0.0.1:1"
token_file = ")" + (m_dir / "t3-token").string() + R"("
[git]
root = ")" + (m_dir / "checkouts").string() + R"("
[repos."acme/web"]
default_branch = "main"
)");
  const auto ref = [](std::int64_t number) {
    return "acme/web#" + std::to_string(number);
  };

  const auto status = afk({"status", "--json", "--config", config.string(), "acme/web"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const auto doc = nlohmann::json::parse(status.out);
  ASSERT_EQ(doc.at("repos").size(), 1U);
  std::map<std::string, std::string> reasons;
  for (const auto& entry : doc.at("repos")[0].at("queue")) {
    reasons[entry.at("issue")] = entry.at("reason");
  }
  EXPECT_EQ(reasons[ref(ready)], "chosen");
  // Queued behind the chosen one: the policy checks one candidate at a time.
  EXPECT_EQ(reasons[ref(untrusted)], "queued");
  EXPECT_EQ(github.issue("acme/web", ready)->comments.size(), 0U); // status wrote nothing

  const auto refused = afk({"dispatch", ref(untrusted), "--config", config.string()});
  EXPECT_EQ(refused.exit_code, 75) << refused.err;
  EXPECT_NE(refused.err.find("untrusted_labeler: @mallory"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("(override: --skip-label-check)"), std::string::npos) << refused.err;
  const auto dry = afk({"dispatch", ref(ready), "--dry-run", "--config", config.string()});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would dispatch " + ref(ready)), std::string::npos) << dry.out;
  const auto other = afk({"status", "--config", config.string(), "acme/other"});
  EXPECT_EQ(other.exit_code, 69) << other.err;

  // The kill switch is on, and freeze still stops the repository.
  const auto frozen =
      afk({"freeze", "acme/web", "--reason", "incident 42", "--config", config.string()},
          {{"AFK_KILL_SWITCH", "true"}});
  ASSERT_EQ(frozen.exit_code, 0) << frozen.err;
  EXPECT_NE(frozen.out.find("freezing anyway"), std::string::npos) << frozen.out;
  const std::int64_t tracking = untrusted + 1;
  EXPECT_NE(frozen.out.find("opened " + ref(tracking)), std::string::npos) << frozen.out;
  const auto again = afk({"freeze", "acme/web", "--config", config.string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already frozen"), std::string::npos) << again.out;
  const auto frozen_status = afk({"status", "--config", config.string()});
  EXPECT_EQ(frozen_status.exit_code, 0) << frozen_status.err;
  EXPECT_NE(frozen_status.out.find("acme/web: FROZEN"), std::string::npos) << frozen_status.out;
  EXPECT_NE(frozen_status.out.find("frozen by an operator: incident 42"), std::string::npos)
      << frozen_status.out;
  const auto blocked = afk({"dispatch", ref(ready), "--config", config.string()});
  EXPECT_EQ(blocked.exit_code, 75);
  EXPECT_NE(blocked.err.find("repo_frozen"), std::string::npos) << blocked.err;
  EXPECT_NE(blocked.err.find("(no override)"), std::string::npos) << blocked.err;

  const auto thawed = afk({"thaw", "acme/web", "--config", config.string()});
  EXPECT_EQ(thawed.exit_code, 0) << thawed.err;
  EXPECT_NE(thawed.out.find("closed " + ref(tracking)), std::string::npos) << thawed.out;
  EXPECT_EQ(github.issue("acme/web", tracking)->state, "closed");
}

} // namespace
