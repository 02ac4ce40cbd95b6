// SPDX-License-Identifier: MIT
// afk's T3 client against the strict fake T3 server (tests/support/fake_t3.hpp), in each
// version mode: the dispatch sequence, crash-and-retry at every step, and liveness through
// whole turn lifecycles. The fake was written from the contract independently of the
// client; every request afk sends must be one it accepts.
#include "support/fake_t3.hpp"

#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/ids.hpp>
#include <afk/log.hpp>
#include <afk/t3.hpp>
#include <afk/time.hpp>

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
using afk::AgentState;
using afk::ErrorKind;
using afk::test::FakeT3;
using afk::test::T3Version;
using afk::test::TurnPlan;
using nlohmann::json;

constexpr std::string_view k_dispatch = "/api/orchestration/dispatch";

class SystemTime final : public afk::Clock {
public:
  [[nodiscard]] afk::Timestamp now() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
};

class T3WithFake : public testing::TestWithParam<T3Version> {
protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();
    std::replace(name.begin(), name.end(), '/', '-');
    m_dir = fs::temp_directory_path() / ("afk-t3f-" + std::to_string(::getpid()) + name);
    fs::create_directories(m_dir / "checkout");
    fs::create_directories(m_dir / "worktree");
  }
  void TearDown() override {
    expect_all_accepted();
    m_client.reset();
    m_http.reset();
    m_fake.reset();
    fs::remove_all(m_dir);
  }

  // Nothing afk sent was refused for its shape, content type or auth.
  void expect_all_accepted() const {
    if (!m_fake) {
      return;
    }
    for (const auto& request : m_fake->requests()) {
      EXPECT_TRUE(request.status != 400 && request.status != 401 && request.status != 403 &&
                  request.status != 415)
          << request.method << ' ' << request.path << " → " << request.status << ": "
          << request.body;
      EXPECT_TRUE(request.cookie.empty());
    }
  }

  FakeT3& fake(afk::test::FakeT3Options options = {}) {
    options.version = GetParam();
    expect_all_accepted();
    m_client.reset();
    m_fake = std::make_unique<FakeT3>(std::move(options));
    std::ofstream(m_dir / "token") << m_fake->issue_token() << '\n';
    afk::T3Config config;
    config.url = m_fake->url();
    config.token_file = m_dir / "token";
    afk::HttpClientOptions http = afk::t3_http_options(config);
    http.retry.max_attempts = 3;
    http.retry.initial_backoff = std::chrono::milliseconds(1);
    m_http = std::make_unique<afk::HttpClient>(*m_transport, http, m_log, m_clock,
                                               [](std::chrono::milliseconds) {});
    m_client = afk::make_t3_client(*m_http, m_log, m_clock,
                                   std::string(afk::test::server_version(GetParam())));
    return *m_fake;
  }
  afk::T3Client& t3() { return *m_client; }

  // What the engine does to dispatch attempt 1 of acme/api#42: project, thread, first turn.
  std::int64_t dispatch(std::string text = "Implement issue #42") {
    const std::string project =
        t3().ensure_project({.project_id = m_project_id,
                             .title = "acme/api",
                             .workspace_root = (m_dir / "checkout").string()});
    (void)t3().create_thread({.command_id = afk::derive_command_id(m_issue, 1, "thread.create"),
                              .thread_id = m_thread_id,
                              .project_id = project,
                              .title = "acme/api#42: Add a health endpoint",
                              .branch = "afk/42-add-a-health-endpoint",
                              .worktree_path = (m_dir / "worktree").string()});
    return t3().start_turn({.command_id = afk::derive_command_id(m_issue, 1, "turn.start:1"),
                            .thread_id = m_thread_id,
                            .message_id = m_message_id,
                            .text = std::move(text)});
  }

  afk::AgentEvidence liveness(const afk::T3TurnWatch& watch) {
    return afk::t3_agent_evidence(t3().read_thread(m_thread_id), watch);
  }
  [[nodiscard]] afk::T3TurnWatch first_turn(std::int64_t sequence = 0) const {
    return {.message_id = m_message_id, .dispatch_sequence = sequence};
  }

  [[nodiscard]] json snapshot() const { return json::parse(m_fake->snapshot_json()); }

  fs::path m_dir;
  SystemTime m_clock;
  afk::NullLogger m_log;
  afk::IssueRef m_issue{*afk::RepoName::parse("acme/api"), 42};
  std::string m_project_id = afk::derive_project_id(m_issue.repo);
  std::string m_thread_id = afk::derive_thread_id(m_issue, 1);
  std::string m_message_id = afk::derive_command_id(m_issue, 1, "message:1");
  std::unique_ptr<FakeT3> m_fake;
  std::unique_ptr<afk::HttpTransport> m_transport = afk::make_curl_transport({});
  std::unique_ptr<afk::HttpClient> m_http;
  std::unique_ptr<afk::T3Client> m_client;
};

TEST_P(T3WithFake, a_dispatched_turn_is_seen_through_to_completion) {
  fake();
  const std::int64_t sequence = dispatch();
  EXPECT_GT(sequence, 0);
  EXPECT_EQ(liveness(first_turn(sequence)).state, AgentState::not_visible);
  m_fake->advance();
  const auto done = liveness(first_turn(sequence));
  EXPECT_EQ(done.state, AgentState::idle) << done.error;
  EXPECT_FALSE(done.turn_id.empty());
  EXPECT_TRUE(done.last_activity.has_value());
  const json all = snapshot();
  ASSERT_EQ(all["threads"].size(), 1U);
  EXPECT_EQ(all["threads"][0]["branch"], "afk/42-add-a-health-endpoint");
  EXPECT_EQ(all["threads"][0]["worktreePath"], (m_dir / "worktree").string());
  EXPECT_EQ(all["projects"][0]["workspaceRoot"], (m_dir / "checkout").string());
}

TEST_P(T3WithFake, the_turn_is_busy_while_it_runs) {
  fake();
  const std::int64_t sequence = dispatch();
  for (int i = 0; i < 10 && liveness(first_turn(sequence)).state == AgentState::not_visible; ++i) {
    m_fake->step();
  }
  const auto running = liveness(first_turn(sequence));
  EXPECT_EQ(running.state, AgentState::busy);
  EXPECT_FALSE(running.turn_id.empty());
}

TEST_P(T3WithFake, a_lost_answer_is_retried_with_the_same_command_and_applied_once) {
  fake();
  m_fake->fail_next(std::string(k_dispatch), 500, 1, /*after_apply=*/true);
  (void)dispatch();
  m_fake->advance();
  const json all = snapshot();
  ASSERT_EQ(all["projects"].size(), 1U);
  ASSERT_EQ(all["threads"].size(), 1U);
  int user_messages = 0;
  for (const json& message : all["threads"][0]["messages"]) {
    user_messages += message["role"] == "user" ? 1 : 0;
  }
  if (GetParam() != T3Version::v0_0_32) { // 0.0.32 snapshots carry no messages
    EXPECT_EQ(user_messages, 1);
  }
}

TEST_P(T3WithFake, a_crash_after_any_dispatch_step_never_yields_a_second_agent) {
  // Command `crash` (0: project.create, 1: thread.create, 2: thread.turn.start) is applied
  // but every answer to it is lost, so the tick fails; the next tick, and an overlapping
  // one, run the whole sequence again.
  for (int crash = 0; crash < 3; ++crash) {
    SCOPED_TRACE("answers lost for command " + std::to_string(crash + 1));
    fake();
    if (crash == 0) {
      m_fake->fail_next(std::string(k_dispatch), 500, 3, true);
    }
    const auto tick = [&] {
      try {
        (void)dispatch();
        return true;
      } catch (const afk::Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::transient) << e.what();
        return false;
      }
    };
    if (crash > 0) {
      // Let the commands before `crash` through by running them alone first.
      const std::string project =
          t3().ensure_project({.project_id = m_project_id,
                               .title = "acme/api",
                               .workspace_root = (m_dir / "checkout").string()});
      if (crash == 2) {
        (void)t3().create_thread({.command_id = afk::derive_command_id(m_issue, 1, "thread.create"),
                                  .thread_id = m_thread_id,
                                  .project_id = project,
                                  .title = "acme/api#42: Add a health endpoint",
                                  .branch = "afk/42-add-a-health-endpoint",
                                  .worktree_path = (m_dir / "worktree").string()});
      }
      m_fake->fail_next(std::string(k_dispatch), 500, 3, true);
    }
    EXPECT_FALSE(tick());
    EXPECT_TRUE(tick());
    EXPECT_TRUE(tick());
    m_fake->advance();
    const json all = snapshot();
    EXPECT_EQ(all["projects"].size(), 1U);
    ASSERT_EQ(all["threads"].size(), 1U);
    int turn_starts = 0;
    for (const std::string& body : m_fake->accepted_commands()) {
      turn_starts += json::parse(body)["type"] == "thread.turn.start" ? 1 : 0;
    }
    EXPECT_EQ(turn_starts, 1);
    EXPECT_EQ(liveness(first_turn()).state, AgentState::idle);
  }
}

TEST_P(T3WithFake, a_follow_up_is_not_mistaken_for_the_previous_completed_turn) {
  fake();
  const std::int64_t first = dispatch();
  m_fake->advance();
  const auto done = liveness(first_turn(first));
  ASSERT_EQ(done.state, AgentState::idle);
  const std::string follow_message = afk::derive_command_id(m_issue, 1, "message:2");
  const std::int64_t second =
      t3().start_turn({.command_id = afk::derive_command_id(m_issue, 1, "turn.start:2"),
                       .thread_id = m_thread_id,
                       .message_id = follow_message,
                       .text = "CI is red on abc123: fix it"});
  const afk::T3TurnWatch watch{
      .message_id = follow_message, .previous_turn_id = done.turn_id, .dispatch_sequence = second};
  EXPECT_EQ(liveness(watch).state, AgentState::not_visible);
  m_fake->advance();
  const auto fixed = liveness(watch);
  EXPECT_EQ(fixed.state, AgentState::idle);
  EXPECT_FALSE(fixed.turn_id.empty());
  EXPECT_NE(fixed.turn_id, done.turn_id);
}

TEST_P(T3WithFake, full_access_as_root_fails_to_start_with_t3s_own_words) {
  afk::test::FakeT3Options options;
  options.runs_as_root = true;
  fake(options);
  const std::int64_t sequence = dispatch();
  m_fake->advance();
  const auto failed = liveness(first_turn(sequence));
  EXPECT_EQ(failed.state, AgentState::failed);
  EXPECT_NE(failed.error.find("Claude Code process exited with code 1"), std::string::npos)
      << failed.error;
  EXPECT_EQ(failed.turn_id, "");
}

TEST_P(T3WithFake, an_answer_that_is_a_login_prompt_is_a_failure) {
  fake().set_agent([](const afk::test::TurnContext&) {
    return TurnPlan{.assistant_text = "Not logged in · Please run /login"};
  });
  const std::int64_t sequence = dispatch();
  m_fake->advance();
  EXPECT_EQ(liveness(first_turn(sequence)).state, AgentState::failed);
}

TEST_P(T3WithFake, approvals_and_questions_wait_on_a_human_until_answered) {
  fake().set_agent([](const afk::test::TurnContext&) {
    return TurnPlan{.approvals = {"rm -rf build"}, .questions = {"Use Postgres?"}};
  });
  const std::int64_t sequence = dispatch();
  m_fake->advance();
  auto waiting = liveness(first_turn(sequence));
  ASSERT_EQ(waiting.state, AgentState::waiting_on_human);
  ASSERT_EQ(waiting.pending.size(), 1U);
  EXPECT_EQ(waiting.pending[0].kind, afk::PendingRequest::Kind::approval);
  (void)t3().respond_approval("c-appr", m_thread_id, waiting.pending[0].id,
                              afk::T3Decision::decline);
  m_fake->advance();
  waiting = liveness(first_turn(sequence));
  ASSERT_EQ(waiting.state, AgentState::waiting_on_human);
  ASSERT_EQ(waiting.pending.size(), 1U);
  EXPECT_EQ(waiting.pending[0].kind, afk::PendingRequest::Kind::user_input);
  EXPECT_EQ(waiting.pending[0].questions, std::vector<std::string>{"Use Postgres?"});
  (void)t3().respond_user_input("c-ans", m_thread_id, waiting.pending[0].id,
                                {{"Use Postgres?", "Yes"}});
  m_fake->advance();
  EXPECT_EQ(liveness(first_turn(sequence)).state, AgentState::idle);
}

TEST_P(T3WithFake, an_interrupted_turn_reads_interrupted_when_afk_asked_for_it) {
  fake().set_agent(
      [](const afk::test::TurnContext&) { return TurnPlan{.ending = TurnPlan::Ending::hang}; });
  const std::int64_t sequence = dispatch();
  m_fake->advance();
  ASSERT_EQ(liveness(first_turn(sequence)).state, AgentState::busy);
  (void)t3().interrupt_turn("c-int", m_thread_id);
  m_fake->advance();
  auto watch = first_turn(sequence);
  watch.interrupt_requested = true;
  EXPECT_EQ(liveness(watch).state, AgentState::interrupted);
}

TEST_P(T3WithFake, a_stopped_session_is_interrupted_even_with_a_stale_running_turn) {
  fake().set_agent(
      [](const afk::test::TurnContext&) { return TurnPlan{.ending = TurnPlan::Ending::hang}; });
  const std::int64_t sequence = dispatch();
  m_fake->advance();
  (void)t3().stop_session("c-stop", m_thread_id);
  m_fake->advance();
  EXPECT_EQ(liveness(first_turn(sequence)).state, AgentState::interrupted);
}

TEST_P(T3WithFake, a_deleted_thread_is_gone_and_gets_no_turn) {
  fake();
  (void)dispatch();
  m_fake->advance();
  (void)t3().delete_thread("c-del", m_thread_id);
  EXPECT_EQ(liveness(first_turn()).state, AgentState::gone);
  const auto e = [&] {
    try {
      (void)t3().start_turn({.command_id = "c-again",
                             .thread_id = m_thread_id,
                             .message_id = "m-again",
                             .text = "again"});
    } catch (const afk::Error& error) {
      return error.kind();
    }
    return ErrorKind::config;
  }();
  EXPECT_EQ(e, ErrorKind::permanent);
}

TEST_P(T3WithFake, a_deleted_project_is_succeeded_by_a_fresh_one) {
  fake();
  (void)dispatch();
  (void)t3().delete_thread("c-del", m_thread_id);
  // Delete the project (T3's cockpit would), then ask again.
  const std::string first = t3().ensure_project({.project_id = m_project_id,
                                                 .title = "acme/api",
                                                 .workspace_root = (m_dir / "checkout").string()});
  EXPECT_EQ(first, m_project_id);
  // project.delete is not a T3Client verb: send it the way the cockpit would.
  (void)m_http->request("POST", std::string(k_dispatch),
                        json{{"type", "project.delete"},
                             {"commandId", "c-pdel"},
                             {"projectId", m_project_id},
                             {"force", true}}
                            .dump());
  const std::string next = t3().ensure_project({.project_id = m_project_id,
                                                .title = "acme/api",
                                                .workspace_root = (m_dir / "checkout").string()});
  EXPECT_NE(next, m_project_id);
  EXPECT_EQ(t3().ensure_project({.project_id = m_project_id,
                                 .title = "acme/api",
                                 .workspace_root = (m_dir / "checkout").string()}),
            next);
}

TEST_P(T3WithFake, the_environment_and_token_check_out) {
  fake();
  const auto environment = t3().environment();
  EXPECT_EQ(environment.server_version, afk::test::server_version(GetParam()));
  EXPECT_TRUE(afk::t3_compatibility(environment, environment.server_version).refusal.empty());
  const auto session = t3().auth_session();
  EXPECT_TRUE(afk::t3_token_problems(session, m_clock.now(), std::chrono::hours(24)).empty());
}

INSTANTIATE_TEST_SUITE_P(Versions, T3WithFake,
                         testing::Values(T3Version::v0_0_27, T3Version::v0_0_29,
                                         T3Version::v0_0_32),
                         [](const testing::TestParamInfo<T3Version>& param) {
                           return "v" +
                                  std::string(afk::test::server_version(param.param)).substr(4);
                         });

} // namespace
