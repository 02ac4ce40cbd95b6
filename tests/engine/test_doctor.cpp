// SPDX-License-Identifier: MIT
// afk doctor in process: real adapters built by World from a Config, against the fake GitHub
// and the strict fake T3 on loopback, a real bare git origin and real secret files. Each test
// breaks one thing and checks that the doctor names it, and that the other checks still run.
#include "support/fake_github.hpp"
#include "support/fake_t3.hpp"
#include "support/process.hpp"

#include <afk/config.hpp>
#include <afk/doctor.hpp>
#include <afk/ids.hpp>
#include <afk/log.hpp>
#include <afk/time.hpp>
#include <afk/worktree.hpp>
#include <afk/world.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using afk::Check;
using afk::ErrorKind;
using afk::test::FakeGitHub;
using afk::test::FakeT3;
using afk::test::FakeT3Options;
using afk::test::TurnPlan;
using Status = afk::Check::Status;

constexpr const char* k_repo = "acme/web";

std::string describe(const std::vector<Check>& checks) {
  std::string out;
  for (const Check& check : checks) {
    out +=
        std::string(afk::to_string(check.status)) + "  " + check.name + ": " + check.detail + '\n';
  }
  return out;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

class Doctor : public testing::Test {
protected:
  void SetUp() override {
    ::setenv("no_proxy", "*", 1);
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() / ("afk-doctor-" + std::to_string(::getpid()) + info->name());
    fs::remove_all(m_dir);
    fs::create_directories(m_dir / "checkouts");
    m_origin = m_dir / "origin" / "acme" / "web.git";
    fs::create_directories(m_origin);
    git(m_origin, {"init", "--bare", "-q", "--initial-branch=main"});
    const fs::path seed = m_dir / "seed";
    git(m_dir, {"clone", "-q", m_origin.string(), seed.string()});
    std::ofstream(seed / "README.md") << "# web\n";
    git(seed, {"add", "-A"});
    git(seed, {"commit", "-q", "-m", "Initial commit"});
    git(seed, {"push", "-q", "origin", "HEAD:main"});
    m_head = git(seed, {"rev-parse", "HEAD"}).out.substr(0, 40);

    m_github.add_repo(k_repo, "main");
    m_github.mirror_git(k_repo, m_origin);
    write_secret("gh-token", m_github.options().token);
    start_t3({});
  }

  void TearDown() override { fs::remove_all(m_dir); }

  // A fresh fake T3 with `options`, and a token with every scope for it.
  void start_t3(FakeT3Options options) {
    m_t3 = std::make_unique<FakeT3>(std::move(options));
    write_secret("t3-token", m_t3->issue_token());
  }

  void write_secret(const std::string& name, const std::string& content,
                    fs::perms perms = fs::perms::owner_read | fs::perms::owner_write) {
    std::ofstream(m_dir / name, std::ios::trunc) << content << '\n';
    fs::permissions(m_dir / name, perms);
  }

  afk::test::ProcessResult git(const fs::path& where, std::vector<std::string> args) {
    const auto result = afk::test::run_git(where, args, m_dir, "Seed", "seed@example.com");
    EXPECT_EQ(result.exit_code, 0) << "git " << args.front() << ": " << result.err;
    return result;
  }

  afk::Config config() const {
    const std::string toml = R"(kill_switch = false
allowlist = ["acme/web"]
[tracker]
api_url = ")" + m_github.url() +
                             R"("
token_file = ")" + (m_dir / m_tracker_token).string() +
                             R"("
login = "afk-bot"
[t3]
url = ")" + m_t3->url() + R"("
token_file = ")" + (m_dir / "t3-token").string() +
                             "\"\n" +
                             (m_pin.empty() ? "" : "server_version = \"" + m_pin + "\"\n") +
                             "runtime_mode = \"full-access\"\n" +
                             (m_plain_http ? "allow_plain_http = true\n" : "") + R"([git]
root = ")" + (m_dir / "checkouts").string() +
                             R"("
clone_url = "file://)" + (m_dir / "origin").string() +
                             R"(/{repo}.git"
[deploy]
stages = ["github_checks"]
[repos."acme/web"]
default_branch = "main"
)" + m_extra_toml;
    return afk::parse_config(toml, "doctor.toml", {});
  }

  std::vector<Check> doctor(bool probe = false) {
    const afk::Config c = config();
    const auto world = afk::World::build(c, m_log, m_clock);
    afk::EnginePorts ports = world->ports();
    afk::DoctorOptions options;
    options.probe = probe;
    options.probe_timeout = std::chrono::seconds(5);
    options.probe_poll = std::chrono::seconds(1);
    // A poll's wait is where the fake agent gets to work.
    options.sleep = [this](std::chrono::milliseconds) {
      ++m_sleeps;
      m_t3->advance();
    };
    return afk::run_doctor(c, ports, options);
  }

  static const Check& find(const std::vector<Check>& checks, const std::string& name) {
    for (const Check& check : checks) {
      if (check.name == name) {
        return check;
      }
    }
    ADD_FAILURE() << "no check named " << name << " in\n" << describe(checks);
    static const Check none;
    return none;
  }

  // The probe's threads as T3 holds them.
  std::vector<nlohmann::json> probe_threads() const {
    std::vector<nlohmann::json> threads;
    const auto snapshot = nlohmann::json::parse(m_t3->snapshot_json());
    for (const auto& thread : snapshot.at("threads")) {
      if (thread.at("title") == "afk doctor probe") {
        threads.push_back(thread);
      }
    }
    return threads;
  }

  fs::path m_dir;
  fs::path m_origin;
  std::string m_head;
  FakeGitHub m_github;
  std::unique_ptr<FakeT3> m_t3;
  afk::NullLogger m_log;
  afk::SystemClock m_clock;
  std::string m_pin = "0.0.27";
  bool m_plain_http = false;
  std::string m_tracker_token = "gh-token";
  std::string m_extra_toml;
  int m_sleeps = 0;
};

TEST_F(Doctor, a_healthy_installation_is_all_green_and_changes_nothing) {
  const auto checks = doctor();
  for (const Check& check : checks) {
    EXPECT_TRUE(check.status == Status::ok ||
                (check.name == "probe" && check.status == Status::skipped))
        << describe(checks);
  }
  EXPECT_EQ(afk::doctor_result(checks), afk::DoctorResult::healthy);
  for (const char* name :
       {"config", "preamble", "secret tracker.token_file", "secret t3.token_file", "checkout root",
        "tracker acme/web", "labels acme/web", "t3 server", "t3 token", "t3 liveness",
        "t3 project acme/web", "checkout acme/web", "disk budget", "stages acme/web", "notify"}) {
    EXPECT_EQ(find(checks, name).status, Status::ok) << name;
  }
  EXPECT_TRUE(contains(find(checks, "tracker acme/web").detail, m_head.substr(0, 7)));
  EXPECT_TRUE(contains(find(checks, "t3 project acme/web").detail, "not in T3 yet"));
  EXPECT_TRUE(contains(find(checks, "stages acme/web").detail, "pending"));
  // Read only: T3 got no command, GitHub only reads, and nothing was cloned.
  EXPECT_TRUE(m_t3->accepted_commands().empty());
  for (const auto& request : m_github.requests()) {
    EXPECT_EQ(request.method, "GET") << request.target;
  }
  EXPECT_FALSE(fs::exists(m_dir / "checkouts" / "acme"));
}

TEST_F(Doctor, a_disarmed_config_warns_and_still_checks) {
  afk::Config c = config();
  c.kill_switch = true;
  const auto world = afk::World::build(c, m_log, m_clock);
  afk::EnginePorts ports = world->ports();
  const auto checks = afk::run_doctor(c, ports, {});
  EXPECT_EQ(find(checks, "config").status, Status::warn);
  EXPECT_TRUE(contains(find(checks, "config").detail, "kill switch on")) << describe(checks);
  EXPECT_TRUE(contains(find(checks, "config").detail, "every check still runs"));
  EXPECT_EQ(find(checks, "t3 token").status, Status::ok);
  EXPECT_EQ(afk::doctor_result(checks), afk::DoctorResult::healthy);
}

TEST_F(Doctor, a_token_without_operate_scope_fails_as_configuration) {
  write_secret("t3-token", m_t3->issue_token({"orchestration:read"}));
  const auto checks = doctor();
  const Check& token = find(checks, "t3 token");
  EXPECT_EQ(token.status, Status::fail);
  EXPECT_EQ(token.kind, ErrorKind::config);
  EXPECT_TRUE(contains(token.detail, "lacks the orchestration:operate scope")) << token.detail;
  // Reading still works with that token: the other T3 checks pass.
  EXPECT_EQ(find(checks, "t3 liveness").status, Status::ok);
  EXPECT_EQ(afk::doctor_result(checks), afk::DoctorResult::config_problems);
}

TEST_F(Doctor, an_expired_token_fails_and_one_about_to_expire_warns) {
  write_secret("t3-token", m_t3->issue_token(afk::test::all_t3_scopes(), std::chrono::seconds(0)));
  auto checks = doctor();
  EXPECT_EQ(find(checks, "t3 token").status, Status::fail) << describe(checks);
  EXPECT_TRUE(contains(find(checks, "t3 token").detail, "not authenticated"));
  EXPECT_EQ(find(checks, "t3 liveness").status, Status::fail);
  EXPECT_EQ(find(checks, "t3 liveness").kind, ErrorKind::config);

  write_secret("t3-token", m_t3->issue_token(afk::test::all_t3_scopes(), std::chrono::hours(48)));
  checks = doctor();
  EXPECT_EQ(find(checks, "t3 token").status, Status::warn) << describe(checks);
  EXPECT_TRUE(contains(find(checks, "t3 token").detail, "expires"));
}

TEST_F(Doctor, a_newer_protocol_is_refused) {
  start_t3({.protocol_version = 2});
  const auto checks = doctor();
  const Check& server = find(checks, "t3 server");
  EXPECT_EQ(server.status, Status::fail);
  EXPECT_EQ(server.kind, ErrorKind::config);
  EXPECT_TRUE(contains(server.detail, "protocol 2")) << server.detail;
  EXPECT_EQ(afk::doctor_result(checks), afk::DoctorResult::config_problems);
}

TEST_F(Doctor, a_server_off_the_pin_warns) {
  m_pin = "0.0.29";
  auto checks = doctor();
  EXPECT_EQ(find(checks, "t3 server").status, Status::warn);
  EXPECT_TRUE(contains(find(checks, "t3 server").detail, "0.0.27"));
  m_pin = "";
  checks = doctor();
  EXPECT_EQ(find(checks, "t3 server").status, Status::warn);
  EXPECT_TRUE(contains(find(checks, "t3 server").detail, "t3.server_version is not set"));
}

TEST_F(Doctor, plain_http_to_t3_by_permission_still_warns) {
  m_plain_http = true; // as the Kubernetes ConfigMap does for T3's in-cluster Service
  const auto checks = doctor();
  EXPECT_EQ(find(checks, "t3 server").status, Status::warn);
  EXPECT_TRUE(contains(find(checks, "t3 server").detail, "unencrypted"))
      << find(checks, "t3 server").detail;
}

TEST_F(Doctor, an_unreadable_secret_fails_without_stopping_the_other_checks) {
  m_tracker_token = "no-such-token";
  const auto checks = doctor();
  const Check& secret = find(checks, "secret tracker.token_file");
  EXPECT_EQ(secret.status, Status::fail);
  EXPECT_EQ(secret.kind, ErrorKind::config);
  EXPECT_TRUE(contains(secret.detail, "No such file")) << secret.detail;
  EXPECT_EQ(find(checks, "tracker acme/web").status, Status::fail);
  EXPECT_EQ(find(checks, "t3 token").status, Status::ok);
  EXPECT_EQ(find(checks, "t3 liveness").status, Status::ok);
  EXPECT_EQ(afk::doctor_result(checks), afk::DoctorResult::config_problems) << describe(checks);
}

TEST_F(Doctor, empty_and_world_readable_secrets_are_reported_without_their_content) {
  write_secret("gh-token", "  ");
  write_secret("t3-token", m_t3->issue_token(),
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  const auto checks = doctor();
  EXPECT_EQ(find(checks, "secret tracker.token_file").status, Status::fail);
  EXPECT_TRUE(contains(find(checks, "secret tracker.token_file").detail, "empty"));
  const Check& open = find(checks, "secret t3.token_file");
  EXPECT_EQ(open.status, Status::warn);
  EXPECT_TRUE(contains(open.detail, "mode 0604")) << open.detail;
  std::ifstream in(m_dir / "t3-token");
  std::string token;
  std::getline(in, token);
  ASSERT_FALSE(token.empty());
  EXPECT_FALSE(contains(describe(checks), token));
  EXPECT_FALSE(contains(afk::format_doctor_json(checks), token));
}

TEST_F(Doctor, a_t3_project_on_another_path_is_a_disagreement) {
  const afk::Config c = config();
  const auto world = afk::World::build(c, m_log, m_clock);
  afk::EnginePorts ports = world->ports();
  const afk::RepoName repo = *afk::RepoName::parse(k_repo);
  fs::create_directories(m_dir / "elsewhere");
  (void)ports.t3.ensure_project({.project_id = afk::derive_project_id(repo),
                                 .title = k_repo,
                                 .workspace_root = (m_dir / "elsewhere").string()});
  const auto checks = doctor();
  const Check& project = find(checks, "t3 project acme/web");
  EXPECT_EQ(project.status, Status::fail);
  EXPECT_EQ(project.kind, ErrorKind::config);
  EXPECT_TRUE(contains(project.detail, (m_dir / "elsewhere").string())) << project.detail;
  EXPECT_TRUE(contains(project.detail, afk::repo_layout(c.git.root, repo).checkout.string()));
}

TEST_F(Doctor, a_t3_project_on_the_checkout_agrees) {
  const afk::Config c = config();
  const auto world = afk::World::build(c, m_log, m_clock);
  afk::EnginePorts ports = world->ports();
  const afk::RepoName repo = *afk::RepoName::parse(k_repo);
  const fs::path checkout = afk::repo_layout(c.git.root, repo).checkout;
  fs::create_directories(checkout);
  (void)ports.t3.ensure_project({.project_id = afk::derive_project_id(repo),
                                 .title = k_repo,
                                 .workspace_root = checkout.string() + "/"});
  const auto checks = doctor();
  const Check& project = find(checks, "t3 project acme/web");
  EXPECT_EQ(project.status, Status::ok) << project.detail;
  EXPECT_TRUE(contains(project.detail, afk::derive_project_id(repo)));
}

TEST_F(Doctor, a_red_default_branch_warns_that_dispatch_is_gated) {
  m_github.add_check_run(k_repo, m_head, "build", "completed", "failure");
  const auto checks = doctor();
  const Check& stages = find(checks, "stages acme/web");
  EXPECT_EQ(stages.status, Status::warn) << stages.detail;
  EXPECT_TRUE(contains(stages.detail, "default branch is red: dispatch is gated"));
  EXPECT_TRUE(contains(stages.detail, "build")) << stages.detail;
  EXPECT_EQ(afk::doctor_result(checks), afk::DoctorResult::healthy);
}

TEST_F(Doctor, a_stage_that_cannot_be_read_fails_naming_it) {
  m_github.fail_next("/repos/acme/web/commits", 403, 10);
  const auto checks = doctor();
  const Check& stages = find(checks, "stages acme/web");
  EXPECT_EQ(stages.status, Status::fail);
  EXPECT_TRUE(contains(stages.detail, "stage github_checks cannot be read")) << stages.detail;
  EXPECT_EQ(afk::doctor_result(checks), afk::DoctorResult::unavailable);
}

TEST_F(Doctor, a_default_branch_that_does_not_exist_fails) {
  afk::Config c = config();
  c.repos[afk::RepoName::parse(k_repo)->canonical()].default_branch = "trunk";
  const auto world = afk::World::build(c, m_log, m_clock);
  afk::EnginePorts ports = world->ports();
  const auto checks = afk::run_doctor(c, ports, {});
  EXPECT_EQ(find(checks, "tracker acme/web").status, Status::fail);
  EXPECT_TRUE(contains(find(checks, "tracker acme/web").detail, "\"trunk\""));
  EXPECT_EQ(find(checks, "stages acme/web").status, Status::fail);
}

TEST_F(Doctor, a_preamble_afk_could_not_find_commits_by_fails) {
  std::ofstream(m_dir / "preamble.md") << "Work in {worktree}. {colour}\n";
  m_extra_toml = "[agent]\npreamble_file = \"" + (m_dir / "preamble.md").string() + "\"\n";
  const auto checks = doctor();
  const Check& preamble = find(checks, "preamble");
  EXPECT_EQ(preamble.status, Status::fail);
  EXPECT_TRUE(contains(preamble.detail, "{colour}")) << preamble.detail;
  EXPECT_TRUE(contains(preamble.detail, "{run_id}")) << preamble.detail;
}

TEST_F(Doctor, many_pack_files_warn_with_the_remedy) {
  const afk::RepoName repo = *afk::RepoName::parse(k_repo);
  const fs::path packs = afk::repo_layout(m_dir / "checkouts", repo).checkout / "objects" / "pack";
  fs::create_directories(packs);
  const afk::Config c = config();
  const auto world = afk::World::build(c, m_log, m_clock);
  afk::EnginePorts ports = world->ports();
  afk::DoctorOptions options;
  options.pack_files_warn = 2;
  for (int n = 0; n < 3; ++n) {
    std::ofstream(packs / ("pack-" + std::to_string(n) + ".pack")) << "x";
  }
  const auto checks = afk::run_doctor(c, ports, options);
  const Check& checkout = find(checks, "checkout acme/web");
  EXPECT_EQ(checkout.status, Status::warn) << checkout.detail;
  EXPECT_TRUE(contains(checkout.detail, "3 pack file(s)"));
  EXPECT_TRUE(contains(checkout.detail, "git -C")) << checkout.detail;

  afk::Config small = c;
  small.git.disk_budget_bytes = 1;
  const auto over = afk::run_doctor(small, ports, {});
  EXPECT_EQ(find(over, "disk budget").status, Status::warn) << find(over, "disk budget").detail;
}

// ---- the probe (pilot 1) -----------------------------------------------------------------

TEST_F(Doctor, the_probe_sees_an_unattended_turn_through_and_deletes_its_thread) {
  std::vector<afk::test::TurnContext> turns;
  m_t3->set_agent([&turns](const afk::test::TurnContext& turn) {
    turns.push_back(turn);
    return TurnPlan{.assistant_text = "PONG"};
  });
  const auto checks = doctor(/*probe=*/true);
  const Check& probe = find(checks, "probe");
  EXPECT_EQ(probe.status, Status::ok) << probe.detail;
  EXPECT_TRUE(contains(probe.detail, "deleted")) << probe.detail;
  ASSERT_EQ(turns.size(), 1U);
  EXPECT_EQ(turns[0].message_text, "Reply with the single word PONG.");
  EXPECT_EQ(turns[0].runtime_mode, "full-access");
  EXPECT_EQ(turns[0].worktree_path, (m_dir / "checkouts").string());
  const auto threads = probe_threads();
  ASSERT_EQ(threads.size(), 1U);
  EXPECT_FALSE(threads[0].at("deletedAt").is_null());
  // The probe touched nothing of the repository: no issue, no worktree, only its own commands.
  for (const auto& request : m_github.requests()) {
    EXPECT_EQ(request.method, "GET") << request.target;
  }
  EXPECT_FALSE(fs::exists(m_dir / "checkouts" / "acme"));
  std::vector<std::string> types;
  for (const std::string& body : m_t3->accepted_commands()) {
    types.push_back(nlohmann::json::parse(body).at("type"));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"project.create", "thread.create", "thread.turn.start",
                                             "thread.delete"}));

  // A rerun (in the same second) uses a new thread and the same project.
  m_t3->set_agent([](const afk::test::TurnContext&) { return TurnPlan{.assistant_text = "pong"}; });
  EXPECT_EQ(find(doctor(true), "probe").status, Status::ok);
  EXPECT_EQ(probe_threads().size(), 2U);
  EXPECT_EQ(m_t3->accepted_commands().size(), 7U);
}

TEST_F(Doctor, a_provider_that_is_not_logged_in_fails_the_probe) {
  m_t3->set_agent([](const afk::test::TurnContext&) {
    return TurnPlan{.assistant_text = "Not logged in · Please run /login"};
  });
  const Check probe = find(doctor(true), "probe");
  EXPECT_EQ(probe.status, Status::fail);
  EXPECT_EQ(probe.kind, ErrorKind::config) << probe.detail;
  EXPECT_TRUE(contains(probe.detail, "Not logged in")) << probe.detail;
  ASSERT_EQ(probe_threads().size(), 1U);
  EXPECT_FALSE(probe_threads()[0].at("deletedAt").is_null());
}

TEST_F(Doctor, an_answer_without_pong_fails_the_probe) {
  m_t3->set_agent(
      [](const afk::test::TurnContext&) { return TurnPlan{.assistant_text = "Hello there."}; });
  const Check probe = find(doctor(true), "probe");
  EXPECT_EQ(probe.status, Status::fail);
  EXPECT_TRUE(contains(probe.detail, "Hello there.")) << probe.detail;
}

TEST_F(Doctor, an_approval_request_would_stall_an_unattended_run) {
  m_t3->set_agent([](const afk::test::TurnContext&) {
    return TurnPlan{.assistant_text = "PONG", .approvals = {"echo PONG"}};
  });
  const Check probe = find(doctor(true), "probe");
  EXPECT_EQ(probe.status, Status::fail);
  EXPECT_EQ(probe.kind, ErrorKind::config);
  EXPECT_TRUE(contains(probe.detail, "an approval")) << probe.detail;
  EXPECT_TRUE(contains(probe.detail, "stall")) << probe.detail;
  ASSERT_EQ(probe_threads().size(), 1U);
  EXPECT_FALSE(probe_threads()[0].at("deletedAt").is_null());
}

TEST_F(Doctor, a_probe_that_gets_no_answer_times_out_and_still_cleans_up) {
  m_t3->set_agent(
      [](const afk::test::TurnContext&) { return TurnPlan{.ending = TurnPlan::Ending::hang}; });
  const Check probe = find(doctor(true), "probe");
  EXPECT_EQ(probe.status, Status::fail);
  EXPECT_EQ(probe.kind, ErrorKind::transient);
  EXPECT_TRUE(contains(probe.detail, "no answer within 5s")) << probe.detail;
  EXPECT_TRUE(contains(probe.detail, "busy")) << probe.detail;
  EXPECT_EQ(m_sleeps, 5); // 5 s at one poll a second
  ASSERT_EQ(probe_threads().size(), 1U);
  EXPECT_FALSE(probe_threads()[0].at("deletedAt").is_null());
}

TEST_F(Doctor, a_turn_that_fails_to_start_fails_the_probe_with_t3s_words) {
  start_t3({.runs_as_root = true});
  const Check probe = find(doctor(true), "probe");
  EXPECT_EQ(probe.status, Status::fail);
  EXPECT_TRUE(contains(probe.detail, "exited with code 1")) << probe.detail;
  ASSERT_EQ(probe_threads().size(), 1U);
  EXPECT_FALSE(probe_threads()[0].at("deletedAt").is_null());
}

// ---- pure pieces --------------------------------------------------------------------------

Check check(Status status, ErrorKind kind = ErrorKind::config) {
  Check c;
  c.name = "x";
  c.status = status;
  c.kind = kind;
  return c;
}

TEST(DoctorResult, failures_decide_and_their_kinds_say_which_exit) {
  using afk::DoctorResult;
  EXPECT_EQ(afk::doctor_result({}), DoctorResult::healthy);
  EXPECT_EQ(afk::doctor_result({check(Status::ok), check(Status::warn), check(Status::skipped)}),
            DoctorResult::healthy);
  EXPECT_EQ(afk::doctor_result({check(Status::ok), check(Status::fail)}),
            DoctorResult::config_problems);
  EXPECT_EQ(afk::doctor_result({check(Status::fail), check(Status::fail, ErrorKind::transient)}),
            DoctorResult::unavailable);
  EXPECT_EQ(afk::doctor_result({check(Status::fail, ErrorKind::protocol), check(Status::fail)}),
            DoctorResult::unavailable);
  // A warning's kind does not count.
  EXPECT_EQ(afk::doctor_result({check(Status::warn, ErrorKind::permanent)}), DoctorResult::healthy);
}

TEST(DoctorJson, lists_every_check_and_the_result) {
  Check failing = check(Status::fail, ErrorKind::transient);
  failing.name = "t3 server";
  failing.detail = "transient error: \"quoted\"";
  const auto document =
      nlohmann::json::parse(afk::format_doctor_json({check(Status::ok), failing}));
  ASSERT_EQ(document.at("checks").size(), 2U);
  EXPECT_EQ(document.at("checks")[0].at("status"), "ok");
  EXPECT_FALSE(document.at("checks")[0].contains("kind"));
  EXPECT_EQ(document.at("checks")[1].at("name"), "t3 server");
  EXPECT_EQ(document.at("checks")[1].at("detail"), "transient error: \"quoted\"");
  EXPECT_EQ(document.at("checks")[1].at("kind"), "transient");
  EXPECT_EQ(document.at("result"), "unavailable");
}

} // namespace
