// SPDX-License-Identifier: MIT
// The T3 client's pure half: the exact wire bodies of commands, parsing of T3's read model
// (fixtures are verbatim bodies from a real v0.0.27 server,
// ../shared/reference/t3-recorded-v0.0.27.md), and the liveness rules with every trap the
// reference lists.
#include "adapters/t3_wire.hpp"
#include "support/caught.hpp"

#include <afk/error.hpp>
#include <afk/t3.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace {

using afk::AgentState;
using afk::ErrorKind;
using nlohmann::json;

afk::T3Time at(std::string_view text) {
  const auto time = afk::parse_t3_time(text);
  EXPECT_TRUE(time.has_value()) << text;
  return time.value_or(afk::T3Time{});
}

using afk::test::caught;

// --- Wire bodies ----------------------------------------------------------------------

TEST(T3Wire, thread_create_matches_the_body_a_real_server_accepted) {
  // §4.4 / transcript §3 (c): accepted by v0.0.27 with 200 (less the two probe keys).
  const json recorded = json::parse(
      R"({"type": "thread.create", "commandId": "c-t1", "threadId": "t-1", "projectId": "p-1",
          "title": "Issue 42", "modelSelection": {"instanceId": "claudeAgent",
          "model": "claude-sonnet-4-6"}, "runtimeMode": "full-access",
          "interactionMode": "default", "branch": null, "worktreePath": null,
          "createdAt": "2026-06-15T10:00:01.000Z"})");
  const std::string ours = afk::t3_wire::thread_create(
      {.command_id = "c-t1",
       .thread_id = "t-1",
       .project_id = "p-1",
       .title = "Issue 42",
       .model = {.instance_id = "claudeAgent", .model = "claude-sonnet-4-6"},
       .runtime_mode = "full-access",
       .interaction_mode = "default",
       .branch = "",
       .worktree_path = ""},
      at("2026-06-15T10:00:01.000Z"));
  EXPECT_EQ(json::parse(ours), recorded);
}

TEST(T3Wire, thread_create_carries_the_worktree_branch_and_path) {
  const json body = json::parse(afk::t3_wire::thread_create(
      {.command_id = "c",
       .thread_id = "t",
       .project_id = "p",
       .title = "owner/repo#42: Fix it",
       .model = {.instance_id = "codex", .model = "gpt-5"},
       .runtime_mode = "approval-required",
       .interaction_mode = "default",
       .branch = "afk/42-fix-it",
       .worktree_path = "/var/lib/afk/checkouts/owner/repo/worktrees/r1"},
      at("2026-11-24T10:00:00Z")));
  EXPECT_EQ(body["branch"], "afk/42-fix-it");
  EXPECT_EQ(body["worktreePath"], "/var/lib/afk/checkouts/owner/repo/worktrees/r1");
  EXPECT_EQ(body["modelSelection"], json({{"instanceId", "codex"}, {"model", "gpt-5"}}));
  EXPECT_EQ(body["runtimeMode"], "approval-required");
  EXPECT_EQ(body["createdAt"], "2026-11-24T10:00:00.000Z");
  EXPECT_FALSE(body.contains("bootstrap"));
}

TEST(T3Wire, turn_start_matches_the_recorded_body) {
  // Transcript §7c: thread.turn.start on t-4, answered {"sequence":75}.
  const json recorded = json::parse(
      R"({"type": "thread.turn.start", "commandId": "c-turn-t-4", "threadId": "t-4",
          "message": {"messageId": "m-t-4", "role": "user", "text": "Say hello.",
          "attachments": []}, "runtimeMode": "approval-required", "interactionMode": "default",
          "createdAt": "2026-11-24T13:57:03.907Z"})");
  const std::string ours = afk::t3_wire::turn_start({.command_id = "c-turn-t-4",
                                                     .thread_id = "t-4",
                                                     .message_id = "m-t-4",
                                                     .text = "Say hello.",
                                                     .runtime_mode = "approval-required",
                                                     .interaction_mode = "default"},
                                                    at("2026-11-24T13:57:03.907Z"));
  EXPECT_EQ(json::parse(ours), recorded);
}

TEST(T3Wire, project_create_sends_no_create_flag_so_a_root_t3_cannot_see_is_an_error) {
  const json body = json::parse(afk::t3_wire::project_create(
      "c-p1", "p-1", {.project_id = "ignored", .title = "owner/repo", .workspace_root = "/srv/ws"},
      at("2026-06-15T10:00:00.000Z")));
  EXPECT_EQ(body, json::parse(R"({"type":"project.create","commandId":"c-p1","projectId":"p-1",
      "title":"owner/repo","workspaceRoot":"/srv/ws","createdAt":"2026-06-15T10:00:00.000Z"})"));
}

TEST(T3Wire, responses_interrupts_and_lifecycle_commands_have_their_exact_shapes) {
  const auto t = at("2026-11-24T10:00:00.250Z");
  EXPECT_EQ(json::parse(afk::t3_wire::approval_respond("c5", "t-1", "req-1",
                                                       afk::T3Decision::accept_for_session, t)),
            json::parse(R"({"type":"thread.approval.respond","commandId":"c5","threadId":"t-1",
                "requestId":"req-1","decision":"acceptForSession",
                "createdAt":"2026-11-24T10:00:00.250Z"})"));
  EXPECT_EQ(json::parse(afk::t3_wire::approval_respond("c5", "t-1", "r", afk::T3Decision::decline,
                                                       t))["decision"],
            "decline");
  EXPECT_EQ(json::parse(afk::t3_wire::user_input_respond(
                "c4", "t-1", "req-2", {{"Which database?", "Postgres"}, {"Proceed?", "Yes"}}, t)),
            json::parse(R"({"type":"thread.user-input.respond","commandId":"c4","threadId":"t-1",
          "requestId":"req-2","answers":{"Which database?":"Postgres","Proceed?":"Yes"},
          "createdAt":"2026-11-24T10:00:00.250Z"})"));
  // Never a turnId: one naming an old turn rewrites that turn to `interrupted` (§12.2.8).
  EXPECT_EQ(json::parse(afk::t3_wire::turn_interrupt("c6", "t-1", t)),
            json::parse(R"({"type":"thread.turn.interrupt","commandId":"c6","threadId":"t-1",
                "createdAt":"2026-11-24T10:00:00.250Z"})"));
  EXPECT_EQ(json::parse(afk::t3_wire::session_stop("c7", "t-1", t)),
            json::parse(R"({"type":"thread.session.stop","commandId":"c7","threadId":"t-1",
                "createdAt":"2026-11-24T10:00:00.250Z"})"));
  EXPECT_EQ(json::parse(afk::t3_wire::thread_delete("c8", "t-1")),
            json::parse(R"({"type":"thread.delete","commandId":"c8","threadId":"t-1"})"));
  EXPECT_EQ(json::parse(afk::t3_wire::thread_archive("c9", "t-1")),
            json::parse(R"({"type":"thread.archive","commandId":"c9","threadId":"t-1"})"));
}

TEST(T3Wire, blank_ids_and_oversized_messages_are_refused_before_sending) {
  const auto t = at("2026-11-24T10:00:00Z");
  for (const std::string blank : {"", " ", "\t\n"}) {
    const auto e = caught([&] { (void)afk::t3_wire::turn_interrupt(blank, "t-1", t); });
    EXPECT_EQ(e.kind(), ErrorKind::permanent);
    EXPECT_NE(std::string(e.what()).find("commandId is blank"), std::string::npos) << e.what();
  }
  const auto thread = caught([&] { (void)afk::t3_wire::thread_delete("c", " "); });
  EXPECT_NE(std::string(thread.what()).find("threadId is blank"), std::string::npos);
  const auto big = caught([&] {
    (void)afk::t3_wire::turn_start(
        {.command_id = "c",
         .thread_id = "t",
         .message_id = "m",
         .text = std::string(afk::t3_wire::k_max_message_bytes + 1, 'x')},
        t);
  });
  EXPECT_EQ(big.kind(), ErrorKind::permanent);
  // An empty message text is allowed by T3.
  EXPECT_NO_THROW(
      (void)afk::t3_wire::turn_start({.command_id = "c", .thread_id = "t", .message_id = "m"}, t));
}

TEST(T3Wire, invalid_utf8_in_issue_text_is_replaced_not_thrown) {
  const std::string body = afk::t3_wire::turn_start(
      {.command_id = "c", .thread_id = "t", .message_id = "m", .text = "bad \xff byte"},
      at("2026-11-24T10:00:00Z"));
  EXPECT_EQ(json::parse(body)["message"]["text"], "bad \xEF\xBF\xBD byte");
}

TEST(T3Wire, the_dispatch_answer_is_exactly_a_sequence) {
  EXPECT_EQ(afk::t3_wire::parse_sequence(R"({"sequence":75})"), 75);
  for (const std::string bad : {"", "{}", R"({"sequence":"75"})", R"({"sequence":-1})", "[75]",
                                "<html>", R"({"sequence":1.5})"}) {
    EXPECT_EQ(caught([&] { (void)afk::t3_wire::parse_sequence(bad); }).kind(), ErrorKind::protocol)
        << bad;
  }
}

TEST(T3Wire, error_summaries_read_t3_error_bodies) {
  EXPECT_EQ(afk::t3_wire::error_summary(""), "");
  EXPECT_EQ(
      afk::t3_wire::error_summary(
          R"({"_tag":"EnvironmentRequestInvalidError","code":"invalid_request","reason":"invalid_command","traceId":"x"})"),
      "invalid_request: invalid_command");
  EXPECT_EQ(
      afk::t3_wire::error_summary(
          R"({"_tag":"EnvironmentScopeRequiredError","code":"insufficient_scope","requiredScope":"orchestration:operate","traceId":"x"})"),
      "insufficient_scope: orchestration:operate");
  EXPECT_EQ(afk::t3_wire::error_summary(R"({"_tag":"HttpApiSchemaError","message":"x"})"), "");
}

TEST(T3Wire, an_error_summary_is_one_bounded_line_whatever_the_server_says) {
  const std::string lying = R"({"code":"internal","reason":"line one\nline two\u0007)" +
                            std::string(100'000, 'x') + R"("})";
  const std::string summary = afk::t3_wire::error_summary(lying);
  EXPECT_LE(summary.size(), afk::t3_wire::k_max_error_summary_bytes);
  EXPECT_EQ(summary.rfind("internal: line one line two", 0), 0U) << summary;
  EXPECT_EQ(summary.find_first_of("\n\a"), std::string::npos);
}

// --- Reading --------------------------------------------------------------------------

TEST(T3Read, times_keep_milliseconds_and_round_trip) {
  EXPECT_EQ(afk::format_t3_time(at("2026-11-24T13:57:03.907Z")), "2026-11-24T13:57:03.907Z");
  EXPECT_EQ(afk::format_t3_time(at("2026-11-24T13:57:03Z")), "2026-11-24T13:57:03.000Z");
  EXPECT_EQ(afk::format_t3_time(at("2026-11-24T13:57:03.9Z")), "2026-11-24T13:57:03.900Z");
  EXPECT_EQ(afk::format_t3_time(at("2026-11-24T13:57:03.123456Z")), "2026-11-24T13:57:03.123Z");
  EXPECT_LT(at("2026-11-24T13:57:03.100Z"), at("2026-11-24T13:57:03.907Z"));
  for (const std::string bad : {"", "2026-11-24T13:57:03.Z", "yesterday", "2026-02-30T00:00:00Z"}) {
    EXPECT_FALSE(afk::parse_t3_time(bad).has_value()) << bad;
  }
}

TEST(T3Read, the_recorded_empty_and_populated_snapshots_parse) {
  const auto empty = afk::parse_t3_snapshot(
      R"({"snapshotSequence":0,"projects":[],"threads":[],"updatedAt":"1970-01-01T00:00:00.000Z"})");
  EXPECT_EQ(empty.sequence, 0);
  EXPECT_TRUE(empty.projects.empty());
  // Transcript §3, "snapshot after project+thread create", verbatim.
  const auto snapshot = afk::parse_t3_snapshot(
      R"({"snapshotSequence":3,"projects":[{"id":"p-1","title":"owner/repo","workspaceRoot":"/srv/t3/ws/owner__repo","repositoryIdentity":null,"defaultModelSelection":null,"scripts":[],"createdAt":"2026-06-15T10:00:00.000Z","updatedAt":"2026-06-15T10:00:00.000Z","deletedAt":null},{"id":"p-3","title":"same root","workspaceRoot":"/srv/t3/ws/owner__repo","repositoryIdentity":null,"defaultModelSelection":null,"scripts":[],"createdAt":"2026-11-24T13:52:04.935Z","updatedAt":"2026-11-24T13:52:04.935Z","deletedAt":null}],"threads":[{"id":"t-1","projectId":"p-1","title":"Issue 42","modelSelection":{"instanceId":"claudeAgent","model":"claude-sonnet-4-6"},"runtimeMode":"full-access","interactionMode":"default","branch":null,"worktreePath":null,"latestTurn":null,"createdAt":"2026-06-15T10:00:01.000Z","updatedAt":"2026-06-15T10:00:01.000Z","archivedAt":null,"deletedAt":null,"messages":[],"proposedPlans":[],"activities":[],"checkpoints":[],"session":null}],"updatedAt":"2026-11-24T13:52:04.935Z"})");
  EXPECT_EQ(snapshot.sequence, 3);
  ASSERT_EQ(snapshot.projects.size(), 2U);
  EXPECT_EQ(snapshot.projects[0].workspace_root, "/srv/t3/ws/owner__repo");
  EXPECT_FALSE(snapshot.projects[0].deleted_at.has_value());
  const afk::T3Thread* thread = snapshot.thread("t-1");
  ASSERT_NE(thread, nullptr);
  EXPECT_EQ(thread->project_id, "p-1");
  EXPECT_EQ(thread->branch, "");
  EXPECT_FALSE(thread->latest_turn.has_value());
  EXPECT_FALSE(thread->session.has_value());
  EXPECT_EQ(snapshot.thread("t-2"), nullptr);
  EXPECT_NE(snapshot.project("p-3"), nullptr);
}

TEST(T3Read, unknown_keys_are_ignored_and_unknown_values_become_unknown) {
  const auto snapshot =
      afk::parse_t3_snapshot(R"({"snapshotSequence":9,"projects":[],"newTopLevel":{"x":1},
      "threads":[{"id":"t","projectId":"p","pinnedAt":null,"settledOverride":"active",
        "latestTurn":{"turnId":"u","state":"errored","requestedAt":"2026-01-01T00:00:00.000Z"},
        "session":{"threadId":"t","status":"hibernating","activeTurnId":null,"lastError":null,
                   "updatedAt":"2026-01-01T00:00:00.000Z","brandNew":true},
        "messages":[{"id":"m","role":"tool","text":"x","turnId":null,"streaming":false,"extra":[]}],
        "activities":[{"id":"a","tone":"info","kind":"task.started","summary":"s","payload":"opaque",
                       "turnId":"u","createdAt":"2026-01-01T00:00:00.000Z","sequence":4}]}]})");
  const afk::T3Thread& thread = snapshot.threads.at(0);
  EXPECT_EQ(thread.latest_turn->state, afk::T3TurnState::unknown); // "errored" is not T3's
  EXPECT_EQ(thread.session->status, afk::T3SessionStatus::unknown);
  EXPECT_EQ(thread.messages.at(0).role, afk::T3Role::unknown);
  EXPECT_EQ(thread.activities.at(0).kind, "task.started");
  EXPECT_TRUE(thread.activities.at(0).request_id.empty());
}

TEST(T3Read, bodies_that_are_not_t3_shapes_are_protocol_errors_naming_the_field) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {"[]", "snapshotSequence"},
      {R"({"snapshotSequence":1,"projects":{},"threads":[]})", "\"projects\" is not a JSON array"},
      {R"({"snapshotSequence":1,"projects":[],"threads":[{"projectId":"p"}]})",
       "\"id\" is missing"},
      {R"({"snapshotSequence":1,"projects":[],"threads":[{"id":"t","projectId":"p","session":{"status":3}}]})",
       "\"status\" is not a string"},
      {R"({"snapshotSequence":1,"projects":[],"threads":[{"id":"t","projectId":"p","branch":7}]})",
       "\"branch\" is not a string"},
      {R"({"snapshotSequence":-3,"projects":[],"threads":[]})", "negative"},
  };
  for (const auto& [body, expected] : cases) {
    const auto e = caught([&] { (void)afk::parse_t3_snapshot(body); });
    EXPECT_EQ(e.kind(), ErrorKind::protocol) << body;
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/api/orchestration/snapshot"), std::string::npos);
  }
}

TEST(T3Read, thread_details_parse_and_a_deleted_thread_reads_as_absent) {
  const auto read = afk::parse_t3_thread_detail(
      R"({"snapshotSequence":12,"thread":{"id":"t","projectId":"p","deletedAt":null,
          "messages":[{"id":"m","role":"user","text":"hi","turnId":null,"streaming":false}]},
          "page":{"hasMore":false}})");
  EXPECT_EQ(read.sequence, 12);
  ASSERT_TRUE(read.thread.has_value());
  EXPECT_EQ(read.thread->messages.at(0).text, "hi");
  const auto deleted = afk::parse_t3_thread_detail(
      R"({"snapshotSequence":13,"thread":{"id":"t","projectId":"p","deletedAt":"2026-01-01T00:00:00.000Z"}})");
  EXPECT_FALSE(deleted.thread.has_value());
}

TEST(T3Read, environment_protocol_and_version_pin) {
  // Transcript §1, verbatim: no orchestrationProtocolVersion means 1.
  const auto recorded = afk::t3_wire::parse_environment(
      R"({"environmentId":"7d8e3c52-31b4-4bd0-9a29-8a4f0f6d4e11","label":"vm","platform":{"os":"linux","arch":"x64"},"serverVersion":"0.0.27","capabilities":{"repositoryIdentity":true}})");
  EXPECT_EQ(recorded.server_version, "0.0.27");
  EXPECT_EQ(recorded.protocol_version, 1);
  EXPECT_TRUE(afk::t3_compatibility(recorded, "0.0.27").refusal.empty());
  EXPECT_TRUE(afk::t3_compatibility(recorded, "0.0.27").warning.empty());
  EXPECT_TRUE(afk::t3_compatibility(recorded, "").warning.empty());
  const auto drift = afk::t3_compatibility(recorded, "0.0.32");
  EXPECT_TRUE(drift.refusal.empty());
  EXPECT_EQ(drift.warning, "T3 server version is 0.0.27, pinned 0.0.32");
  const auto future = afk::t3_wire::parse_environment(
      R"({"serverVersion":"0.1.0","orchestrationProtocolVersion":2})");
  EXPECT_EQ(future.protocol_version, 2);
  EXPECT_NE(afk::t3_compatibility(future, "").refusal.find("protocol 2"), std::string::npos);
  EXPECT_EQ(caught([] { (void)afk::t3_wire::parse_environment(R"({"label":"x"})"); }).kind(),
            ErrorKind::protocol);
}

TEST(T3Read, the_token_self_check_names_each_problem) {
  const afk::Timestamp now = afk::parse_timestamp("2026-11-24T12:00:00Z").value();
  const auto fit = afk::t3_wire::parse_auth_session(
      R"({"authenticated":true,"auth":{"policy":"loopback-browser"},"sessionMethod":"bearer-access-token",
          "scopes":["orchestration:read","orchestration:operate","terminal:operate"],
          "expiresAt":"2026-12-24T12:00:00.000Z"})");
  EXPECT_TRUE(fit.has_scope("orchestration:operate"));
  EXPECT_EQ(fit.method, "bearer-access-token");
  EXPECT_TRUE(afk::t3_token_problems(fit, now, std::chrono::hours(72)).empty());
  EXPECT_EQ(afk::t3_token_problems(fit, now, std::chrono::hours(24 * 31)),
            std::vector<std::string>{"the T3 token expires at 2026-12-24T12:00:00Z, within 31d"});
  const auto read_only = afk::t3_wire::parse_auth_session(
      R"({"authenticated":true,"scopes":["orchestration:read"],"expiresAt":"2026-11-24T11:00:00.000Z"})");
  EXPECT_EQ(afk::t3_token_problems(read_only, now, std::chrono::hours(1)),
            (std::vector<std::string>{"the T3 token lacks the orchestration:operate scope",
                                      "the T3 token expired at 2026-11-24T11:00:00Z"}));
  const auto anonymous = afk::t3_wire::parse_auth_session(
      R"({"authenticated":false,"auth":{"policy":"loopback-browser","bootstrapMethods":[]}})");
  EXPECT_EQ(afk::t3_token_problems(anonymous, now, std::chrono::hours(1)),
            std::vector<std::string>{"T3 does not accept the token (not authenticated)"});
}

// --- Liveness -------------------------------------------------------------------------

// t-4 of the transcript (§7c), snapshots polled after thread.turn.start (sequence 75):
// the thread verbatim at each change.
constexpr std::string_view k_t4_queued =
    R"({"id": "t-4", "projectId": "p-git", "title": "Issue t-4", "modelSelection": {"instanceId": "claudeAgent", "model": "claude-sonnet-4-6"}, "runtimeMode": "approval-required", "interactionMode": "default", "branch": null, "worktreePath": null, "latestTurn": null, "createdAt": "2026-11-24T13:57:03.896Z", "updatedAt": "2026-11-24T13:57:03.907Z", "archivedAt": null, "deletedAt": null, "messages": [{"id": "m-t-4", "role": "user", "text": "Say hello.", "attachments": [], "turnId": null, "streaming": false, "createdAt": "2026-11-24T13:57:03.907Z", "updatedAt": "2026-11-24T13:57:03.907Z"}], "proposedPlans": [], "activities": [], "checkpoints": [], "session": null})";
constexpr std::string_view k_t4_ready =
    R"({"id": "t-4", "projectId": "p-git", "title": "Issue t-4", "modelSelection": {"instanceId": "claudeAgent", "model": "claude-sonnet-4-6"}, "runtimeMode": "approval-required", "interactionMode": "default", "branch": null, "worktreePath": null, "latestTurn": null, "createdAt": "2026-11-24T13:57:03.896Z", "updatedAt": "2026-11-24T13:57:04.001Z", "archivedAt": null, "deletedAt": null, "messages": [{"id": "m-t-4", "role": "user", "text": "Say hello.", "attachments": [], "turnId": null, "streaming": false, "createdAt": "2026-11-24T13:57:03.907Z", "updatedAt": "2026-11-24T13:57:03.907Z"}], "proposedPlans": [], "activities": [], "checkpoints": [], "session": {"threadId": "t-4", "status": "ready", "providerName": "claudeAgent", "providerInstanceId": "claudeAgent", "runtimeMode": "approval-required", "activeTurnId": null, "lastError": null, "updatedAt": "2026-11-24T13:57:04.001Z"}})";
constexpr std::string_view k_t4_running =
    R"({"id": "t-4", "projectId": "p-git", "title": "Issue t-4", "modelSelection": {"instanceId": "claudeAgent", "model": "claude-sonnet-4-6"}, "runtimeMode": "approval-required", "interactionMode": "default", "branch": null, "worktreePath": null, "latestTurn": {"turnId": "327be245-9f71-4ec1-86f6-92944dd5787e", "state": "running", "requestedAt": "2026-11-24T13:57:03.907Z", "startedAt": "2026-11-24T13:57:03.907Z", "completedAt": null, "assistantMessageId": null}, "createdAt": "2026-11-24T13:57:03.896Z", "updatedAt": "2026-11-24T13:57:04.409Z", "archivedAt": null, "deletedAt": null, "messages": [{"id": "m-t-4", "role": "user", "text": "Say hello.", "attachments": [], "turnId": null, "streaming": false, "createdAt": "2026-11-24T13:57:03.907Z", "updatedAt": "2026-11-24T13:57:03.907Z"}], "proposedPlans": [], "activities": [], "checkpoints": [], "session": {"threadId": "t-4", "status": "running", "providerName": "claudeAgent", "providerInstanceId": "claudeAgent", "runtimeMode": "approval-required", "activeTurnId": "327be245-9f71-4ec1-86f6-92944dd5787e", "lastError": null, "updatedAt": "2026-11-24T13:57:04.409Z"}})";
constexpr std::string_view k_t4_answered_turn_null =
    R"({"id": "t-4", "projectId": "p-git", "title": "Issue t-4", "modelSelection": {"instanceId": "claudeAgent", "model": "claude-sonnet-4-6"}, "runtimeMode": "approval-required", "interactionMode": "default", "branch": null, "worktreePath": null, "latestTurn": null, "createdAt": "2026-11-24T13:57:03.896Z", "updatedAt": "2026-11-24T13:57:04.470Z", "archivedAt": null, "deletedAt": null, "messages": [{"id": "m-t-4", "role": "user", "text": "Say hello.", "attachments": [], "turnId": null, "streaming": false, "createdAt": "2026-11-24T13:57:03.907Z", "updatedAt": "2026-11-24T13:57:03.907Z"}, {"id": "assistant:05c58e95-7455-4381-a561-2a5a88b6ddd7", "role": "assistant", "text": "Not logged in \u00b7 Please run /login", "turnId": "327be245-9f71-4ec1-86f6-92944dd5787e", "streaming": false, "createdAt": "2026-11-24T13:57:04.470Z", "updatedAt": "2026-11-24T13:57:04.470Z"}], "proposedPlans": [], "activities": [], "checkpoints": [], "session": {"threadId": "t-4", "status": "ready", "providerName": "claudeAgent", "providerInstanceId": "claudeAgent", "runtimeMode": "approval-required", "activeTurnId": null, "lastError": null, "updatedAt": "2026-11-24T13:57:04.470Z"}})";
constexpr std::string_view k_t4_completed =
    R"({"id": "t-4", "projectId": "p-git", "title": "Issue t-4", "modelSelection": {"instanceId": "claudeAgent", "model": "claude-sonnet-4-6"}, "runtimeMode": "approval-required", "interactionMode": "default", "branch": null, "worktreePath": null, "latestTurn": {"turnId": "327be245-9f71-4ec1-86f6-92944dd5787e", "state": "completed", "requestedAt": "2026-11-24T13:57:03.907Z", "startedAt": "2026-11-24T13:57:03.907Z", "completedAt": "2026-11-24T13:57:04.470Z", "assistantMessageId": "assistant:05c58e95-7455-4381-a561-2a5a88b6ddd7"}, "createdAt": "2026-11-24T13:57:03.896Z", "updatedAt": "2026-11-24T13:57:04.470Z", "archivedAt": null, "deletedAt": null, "messages": [{"id": "m-t-4", "role": "user", "text": "Say hello.", "attachments": [], "turnId": null, "streaming": false, "createdAt": "2026-11-24T13:57:03.907Z", "updatedAt": "2026-11-24T13:57:03.907Z"}, {"id": "assistant:05c58e95-7455-4381-a561-2a5a88b6ddd7", "role": "assistant", "text": "Not logged in \u00b7 Please run /login", "turnId": "327be245-9f71-4ec1-86f6-92944dd5787e", "streaming": false, "createdAt": "2026-11-24T13:57:04.470Z", "updatedAt": "2026-11-24T13:57:04.470Z"}], "proposedPlans": [], "activities": [{"id": "ed209eef-8de7-4015-a7b2-f347bd65a7e2", "tone": "info", "kind": "checkpoint.captured", "summary": "Checkpoint captured", "payload": {"turnCount": 1, "status": "ready"}, "turnId": "327be245-9f71-4ec1-86f6-92944dd5787e", "createdAt": "2026-11-24T13:57:04.470Z"}], "checkpoints": [{"turnId": "327be245-9f71-4ec1-86f6-92944dd5787e", "checkpointTurnCount": 1, "checkpointRef": "refs/t3/checkpoints/dC00/turn/1", "status": "ready", "files": [], "assistantMessageId": "assistant:05c58e95-7455-4381-a561-2a5a88b6ddd7", "completedAt": "2026-11-24T13:57:04.470Z"}], "session": {"threadId": "t-4", "status": "ready", "providerName": "claudeAgent", "providerInstanceId": "claudeAgent", "runtimeMode": "approval-required", "activeTurnId": null, "lastError": null, "updatedAt": "2026-11-24T13:57:04.470Z"}})";
// t-5 (§7d): full-access while T3 runs as root; the turn never starts.
constexpr std::string_view k_t5_start_failed =
    R"({"id": "t-5", "projectId": "p-git", "title": "Issue t-5", "modelSelection": {"instanceId": "claudeAgent", "model": "claude-sonnet-4-6"}, "runtimeMode": "full-access", "interactionMode": "default", "branch": null, "worktreePath": null, "latestTurn": null, "createdAt": "2026-11-24T13:57:54.441Z", "updatedAt": "2026-11-24T13:57:54.930Z", "archivedAt": null, "deletedAt": null, "messages": [{"id": "m-t-5", "role": "user", "text": "Say hello.", "attachments": [], "turnId": null, "streaming": false, "createdAt": "2026-11-24T13:57:54.452Z", "updatedAt": "2026-11-24T13:57:54.452Z"}], "proposedPlans": [], "activities": [{"id": "ae56054c-4586-4a40-b10b-eb05027136aa", "tone": "error", "kind": "provider.turn.start.failed", "summary": "Provider turn start failed", "payload": {"detail": "Claude Code process exited with code 1"}, "turnId": null, "createdAt": "2026-11-24T13:57:54.452Z"}, {"id": "61a086fa-9b50-4cd1-9987-0d94c8754422", "tone": "error", "kind": "runtime.error", "summary": "Runtime error", "payload": {"message": "Provider adapter process error (claudeAgent) for thread t-5: Claude Code process exited with code 1"}, "turnId": null, "createdAt": "2026-11-24T13:57:54.930Z"}], "checkpoints": [], "session": {"threadId": "t-5", "status": "stopped", "providerName": "claudeAgent", "providerInstanceId": "claudeAgent", "runtimeMode": "full-access", "activeTurnId": null, "lastError": "Provider adapter process error (claudeAgent) for thread t-5: Claude Code process exited with code 1", "updatedAt": "2026-11-24T13:57:54.930Z"}})";

constexpr std::string_view k_t4_turn = "327be245-9f71-4ec1-86f6-92944dd5787e";

afk::T3ThreadRead read_of(std::string_view thread, std::int64_t sequence = 100) {
  return afk::parse_t3_thread_detail(R"({"snapshotSequence":)" + std::to_string(sequence) +
                                     R"(,"thread":)" + std::string(thread) + "}");
}

// The thread as JSON, to be edited into the situations the recordings do not show.
json thread_json(std::string_view thread) {
  return json::parse(thread);
}

afk::AgentEvidence evidence(const json& thread, const afk::T3TurnWatch& watch,
                            std::int64_t sequence = 100) {
  return afk::t3_agent_evidence(read_of(thread.dump(), sequence), watch);
}

const afk::T3TurnWatch k_first_turn{.message_id = "m-t-4", .dispatch_sequence = 75};

TEST(T3Liveness, a_recorded_first_turn_frame_by_frame) {
  const auto queued = afk::t3_agent_evidence(read_of(k_t4_queued, 75), k_first_turn);
  EXPECT_EQ(queued.state, AgentState::not_visible);
  EXPECT_EQ(queued.turn_id, "");
  const auto ready = afk::t3_agent_evidence(read_of(k_t4_ready, 78), k_first_turn);
  EXPECT_EQ(ready.state, AgentState::not_visible);
  const auto running = afk::t3_agent_evidence(read_of(k_t4_running, 79), k_first_turn);
  EXPECT_EQ(running.state, AgentState::busy);
  EXPECT_EQ(running.turn_id, k_t4_turn);
  EXPECT_EQ(running.last_activity, afk::parse_timestamp("2026-11-24T13:57:04Z"));
  // latestTurn null again while the session is ready: completion reads from the session
  // and the assistant message with the new turn id. The answer is "Not logged in".
  const auto answered = afk::t3_agent_evidence(read_of(k_t4_answered_turn_null, 84), k_first_turn);
  EXPECT_EQ(answered.state, AgentState::failed);
  EXPECT_EQ(answered.turn_id, k_t4_turn);
  EXPECT_NE(answered.error.find("Not logged in"), std::string::npos) << answered.error;
  const auto completed = afk::t3_agent_evidence(read_of(k_t4_completed, 86), k_first_turn);
  EXPECT_EQ(completed.state, AgentState::failed);
}

TEST(T3Liveness, a_real_answer_completes_the_turn_with_or_without_latest_turn) {
  for (const auto frame : {k_t4_answered_turn_null, k_t4_completed}) {
    json thread = thread_json(frame);
    thread["messages"][1]["text"] = "Implemented and pushed abc123.";
    const auto done = evidence(thread, k_first_turn);
    EXPECT_EQ(done.state, AgentState::idle);
    EXPECT_EQ(done.turn_id, k_t4_turn);
    EXPECT_TRUE(done.error.empty());
  }
}

TEST(T3Liveness, a_turn_that_never_started_is_failed_with_t3s_text) {
  const auto failed =
      afk::t3_agent_evidence(read_of(k_t5_start_failed, 98), {.message_id = "m-t-5"});
  EXPECT_EQ(failed.state, AgentState::failed);
  EXPECT_EQ(failed.turn_id, "");
  EXPECT_EQ(failed.error, "Provider adapter process error (claudeAgent) for thread t-5: Claude "
                          "Code process exited with code 1");
  // Seen before the session settles: only the activity tells.
  json early = thread_json(k_t5_start_failed);
  early["session"]["status"] = "ready";
  early["session"]["lastError"] = "Claude Code process exited with code 1";
  early["session"]["updatedAt"] = "2026-11-24T13:57:54.452Z";
  early["activities"].erase(1);
  const auto seen_early = evidence(early, {.message_id = "m-t-5"});
  EXPECT_EQ(seen_early.state, AgentState::failed);
  EXPECT_EQ(seen_early.error, "Claude Code process exited with code 1");
  // Unknown instance: the session stays null, only the activity appears (§12.1).
  json no_session = thread_json(k_t5_start_failed);
  no_session["session"] = nullptr;
  no_session["activities"].erase(1);
  EXPECT_EQ(evidence(no_session, {.message_id = "m-t-5"}).state, AgentState::failed);
}

TEST(T3Liveness, right_after_a_follow_up_the_previous_completed_turn_is_not_taken_as_done) {
  // Transcript §8: follow-up on t-4 at sequence 100; the old completed turn is still shown.
  json thread = thread_json(k_t4_completed);
  thread["messages"][1]["text"] = "All done.";
  thread["messages"].push_back({{"id", "m-t-4-b"},
                                {"role", "user"},
                                {"text", "Again."},
                                {"attachments", json::array()},
                                {"turnId", nullptr},
                                {"streaming", false},
                                {"createdAt", "2026-11-24T13:58:21.505Z"},
                                {"updatedAt", "2026-11-24T13:58:21.505Z"}});
  const afk::T3TurnWatch follow_up{.message_id = "m-t-4-b",
                                   .previous_turn_id = std::string(k_t4_turn),
                                   .dispatch_sequence = 100};
  const auto stale = evidence(thread, follow_up, 100);
  EXPECT_EQ(stale.state, AgentState::not_visible);
  EXPECT_EQ(stale.turn_id, "");
  // The same read with afk's message missing (a read from before the command): not
  // visible either; a read older than the dispatch sequence: unknown.
  EXPECT_EQ(evidence(thread_json(k_t4_completed), follow_up, 100).state, AgentState::not_visible);
  EXPECT_EQ(evidence(thread, follow_up, 99).state, AgentState::unknown);
  // Then the new turn runs and completes (§8, t+0.57s: seq 107).
  thread["session"]["status"] = "running";
  thread["session"]["activeTurnId"] = "01380915-1914-480c-bfe8-1df79fdb4d8a";
  thread["session"]["updatedAt"] = "2026-11-24T13:58:21.600Z";
  EXPECT_EQ(evidence(thread, follow_up, 102).state, AgentState::busy);
  thread["session"]["status"] = "ready";
  thread["session"]["activeTurnId"] = nullptr;
  thread["session"]["updatedAt"] = "2026-11-24T13:58:23.660Z";
  thread["latestTurn"] = {{"turnId", "01380915-1914-480c-bfe8-1df79fdb4d8a"},
                          {"state", "completed"},
                          {"assistantMessageId", "assistant:cf95"}};
  thread["messages"].push_back({{"id", "assistant:cf95"},
                                {"role", "assistant"},
                                {"text", "Fixed the failing test."},
                                {"turnId", "01380915-1914-480c-bfe8-1df79fdb4d8a"},
                                {"streaming", false},
                                {"createdAt", "2026-11-24T13:58:23.660Z"},
                                {"updatedAt", "2026-11-24T13:58:23.660Z"}});
  const auto done = evidence(thread, follow_up, 107);
  EXPECT_EQ(done.state, AgentState::idle);
  EXPECT_EQ(done.turn_id, "01380915-1914-480c-bfe8-1df79fdb4d8a");
}

TEST(T3Liveness, a_follow_up_after_a_failed_turn_does_not_inherit_the_old_failure) {
  // Transcript §11, t-1: the first turn failed to start; a second turn is sent while the
  // session still reads `stopped` with the old lastError and the old failure activity.
  json thread = thread_json(k_t5_start_failed);
  thread["messages"].push_back({{"id", "m-2"},
                                {"role", "user"},
                                {"text", "hi"},
                                {"turnId", nullptr},
                                {"streaming", false},
                                {"createdAt", "2026-11-24T13:59:00.000Z"},
                                {"updatedAt", "2026-11-24T13:59:00.000Z"}});
  const afk::T3TurnWatch second{.message_id = "m-2"};
  EXPECT_EQ(evidence(thread, second).state, AgentState::not_visible);
  // ...and its own failure, when it comes, is news.
  thread["activities"].push_back({{"id", "a3"},
                                  {"tone", "error"},
                                  {"kind", "provider.turn.start.failed"},
                                  {"summary", "Provider turn start failed"},
                                  {"payload", {{"detail", "Unknown claudeAgent adapter thread"}}},
                                  {"turnId", nullptr},
                                  {"createdAt", "2026-11-24T13:59:00.000Z"}});
  const auto failed = evidence(thread, second);
  EXPECT_EQ(failed.state, AgentState::failed);
  EXPECT_EQ(failed.error, "Unknown claudeAgent adapter thread");
}

json running_thread() {
  json thread = thread_json(k_t4_running);
  return thread;
}

json activity(std::string kind, std::string tone, json payload,
              std::string turn = "327be245-9f71-4ec1-86f6-92944dd5787e") {
  return {{"id", "act-" + kind},
          {"tone", std::move(tone)},
          {"kind", std::move(kind)},
          {"summary", "s"},
          {"payload", std::move(payload)},
          {"turnId", std::move(turn)},
          {"createdAt", "2026-11-24T13:57:05.000Z"}};
}

TEST(T3Liveness, approvals_and_questions_while_running_are_waiting_on_a_human) {
  json thread = running_thread();
  thread["activities"].push_back(activity(
      "approval.requested", "approval",
      {{"requestId", "req-a"}, {"requestKind", "command"}, {"detail", "Bash: rm -rf build"}}));
  thread["activities"].push_back(
      activity("user-input.requested", "info",
               {{"requestId", "req-q"},
                {"questions",
                 {{{"id", "Which database?"},
                   {"header", "DB"},
                   {"question", "Which database?"},
                   {"options", {{{"label", "Postgres"}, {"description", ""}}}},
                   {"multiSelect", false}}}}}));
  auto waiting = evidence(thread, k_first_turn);
  EXPECT_EQ(waiting.state, AgentState::waiting_on_human);
  ASSERT_EQ(waiting.pending.size(), 2U);
  EXPECT_EQ(waiting.pending[0].id, "req-a");
  EXPECT_EQ(waiting.pending[0].kind, afk::PendingRequest::Kind::approval);
  EXPECT_EQ(waiting.pending[1].kind, afk::PendingRequest::Kind::user_input);
  EXPECT_EQ(waiting.pending[1].questions, std::vector<std::string>{"Which database?"});
  thread["activities"].push_back(
      activity("approval.resolved", "approval", {{"requestId", "req-a"}, {"decision", "decline"}}));
  thread["activities"].push_back(activity("user-input.resolved", "info",
                                          {{"requestId", "req-q"}, {"answers", json::object()}}));
  const auto resumed = evidence(thread, k_first_turn);
  EXPECT_EQ(resumed.state, AgentState::busy);
  EXPECT_TRUE(resumed.pending.empty());
}

TEST(T3Liveness, a_request_left_over_from_an_earlier_turn_is_not_pending) {
  json thread = running_thread();
  json old = activity("approval.requested", "approval", {{"requestId", "old"}}, "turn-0");
  old["createdAt"] = "2026-11-24T13:50:00.000Z";
  thread["activities"].push_back(old);
  EXPECT_EQ(evidence(thread, k_first_turn).state, AgentState::busy);
}

TEST(T3Liveness, mid_turn_completed_while_the_session_runs_is_busy) {
  // §12.4: a text block before a tool call marks the turn completed mid-turn.
  json thread = running_thread();
  thread["latestTurn"]["state"] = "completed";
  EXPECT_EQ(evidence(thread, k_first_turn).state, AgentState::busy);
}

TEST(T3Liveness, an_interrupt_ends_as_error_which_is_interrupted_only_if_afk_asked) {
  // §12.4: interrupt without turnId → session error + latestTurn error.
  json thread = running_thread();
  thread["session"]["status"] = "error";
  thread["session"]["activeTurnId"] = nullptr;
  thread["session"]["lastError"] =
      "[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=tool_use";
  thread["latestTurn"]["state"] = "error";
  const auto failed = evidence(thread, k_first_turn);
  EXPECT_EQ(failed.state, AgentState::failed);
  EXPECT_EQ(failed.error,
            "[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=tool_use");
  afk::T3TurnWatch asked = k_first_turn;
  asked.interrupt_requested = true;
  EXPECT_EQ(evidence(thread, asked).state, AgentState::interrupted);
  // latestTurn error alone (session already back to ready) is failed too.
  thread["session"]["status"] = "ready";
  thread["session"]["lastError"] = nullptr;
  EXPECT_EQ(evidence(thread, k_first_turn).state, AgentState::failed);
}

TEST(T3Liveness, interrupted_turns_and_stopped_sessions_are_interrupted) {
  json thread = running_thread();
  thread["latestTurn"]["state"] = "interrupted";
  thread["session"]["status"] = "ready";
  EXPECT_EQ(evidence(thread, k_first_turn).state, AgentState::interrupted);
  // 0.0.27: a stopped session leaves the turn `running` forever.
  json stale = running_thread();
  stale["session"]["status"] = "stopped";
  stale["session"]["activeTurnId"] = nullptr;
  EXPECT_EQ(evidence(stale, k_first_turn).state, AgentState::interrupted);
}

TEST(T3Liveness, provider_errors_disguised_as_answers_are_failures) {
  for (const std::string text :
       {"API Error: 500 Internal server error · check your inference gateway",
        "API Error: 529 Overloaded", "Failed to authenticate. API Error: 401 invalid x-api-key",
        "  Not logged in · Please run /login\n", "API Error: 400 prompt is too long"}) {
    EXPECT_TRUE(afk::t3_is_provider_failure_text(text)) << text;
    json thread = thread_json(k_t4_completed);
    thread["messages"][1]["text"] = text;
    EXPECT_EQ(evidence(thread, k_first_turn).state, AgentState::failed) << text;
  }
  for (const std::string text : {"Done. Pushed 3 commits.", "Fixed the API error handling",
                                 "I looked into the login page"}) {
    EXPECT_FALSE(afk::t3_is_provider_failure_text(text)) << text;
  }
}

TEST(T3Liveness, gone_unknown_and_not_visible) {
  EXPECT_EQ(
      afk::t3_agent_evidence(afk::T3ThreadRead{.sequence = 5, .thread = std::nullopt}, k_first_turn)
          .state,
      AgentState::gone);
  auto deleted = read_of(k_t4_running);
  deleted.thread->deleted_at = afk::parse_t3_time("2026-11-24T14:00:00.000Z");
  EXPECT_EQ(afk::t3_agent_evidence(deleted, k_first_turn).state, AgentState::gone);
  json strange = running_thread();
  strange["session"]["status"] = "hibernating";
  EXPECT_EQ(evidence(strange, k_first_turn).state, AgentState::unknown);
}

TEST(T3Liveness, the_newest_timestamp_is_the_last_activity) {
  json thread = running_thread();
  thread["activities"].push_back(activity("tool.updated", "tool", json::object()));
  thread["activities"].back()["createdAt"] = "2026-11-24T14:10:42.999Z";
  EXPECT_EQ(evidence(thread, k_first_turn).last_activity,
            afk::parse_timestamp("2026-11-24T14:10:42Z"));
}

} // namespace
