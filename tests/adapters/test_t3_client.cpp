// SPDX-License-Identifier: MIT
// The T3 client over real HTTP (libcurl) against a scripted loopback server: retries with
// the same commandId, error statuses and bodies as T3 sends them, feature detection of
// /threads/{id}, preconditions checked before commands, and what never goes on the wire.
#include "support/capturing_logger.hpp"
#include "support/caught.hpp"
#include "support/loopback_server.hpp"

#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/ids.hpp>
#include <afk/log.hpp>
#include <afk/t3.hpp>
#include <afk/time.hpp>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

using afk::test::CapturingLogger;

namespace fs = std::filesystem;
using afk::ErrorKind;
using nlohmann::json;

constexpr std::string_view k_token = "t3-SECRET-tok-91c2";
constexpr std::string_view k_empty_snapshot =
    R"({"snapshotSequence":0,"projects":[],"threads":[],"updatedAt":"1970-01-01T00:00:00.000Z"})";

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] afk::Timestamp now() const override {
    return *afk::parse_timestamp("2026-11-24T12:00:00Z");
  }
};

struct Received {
  std::string method;
  std::string path;
  std::string authorization;
  bool cookie = false;
  std::string body;
};

// A stand-in for T3 whose answers a test scripts: the environment descriptor, the snapshot,
// how /threads/{id} behaves, and a queue of answers for dispatch (then {"sequence": 1}).
struct Script {
  std::string environment =
      R"({"environmentId":"e","label":"vm","platform":{"os":"linux","arch":"x64"},"serverVersion":"0.0.27","capabilities":{"repositoryIdentity":true}})";
  std::string snapshot = std::string(k_empty_snapshot);
  // What GET /api/orchestration/threads/{id} answers: (status, content type, body).
  std::function<std::tuple<int, std::string, std::string>(const std::string& id)> thread_detail =
      [](const std::string&) {
        return std::tuple<int, std::string, std::string>{
            503, "text/plain", "No static directory configured and no dev URL set."};
      };
  std::deque<std::pair<int, std::string>> dispatch_answers;
};

std::string auth_error(std::string_view reason) {
  return R"({"_tag":"EnvironmentAuthInvalidError","code":"auth_invalid","reason":")" +
         std::string(reason) + R"(","traceId":"0123456789abcdef0123456789abcdef"})";
}

class T3Client : public testing::Test {
protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() / ("afk-t3c-" + std::to_string(::getpid()) + info->name());
    fs::create_directories(m_dir);
    std::ofstream(m_dir / "token") << k_token << '\n';
  }
  void TearDown() override {
    for (const auto& record : m_log.records()) {
      for (const auto& field : record.fields) {
        EXPECT_EQ(field.value.find(k_token), std::string::npos) << record.event;
      }
    }
    fs::remove_all(m_dir);
  }

  afk::T3Client& client(std::string pin = "0.0.27") {
    afk::T3Config config;
    config.url = m_server.url();
    config.token_file = m_dir / "token";
    afk::HttpClientOptions options = afk::t3_http_options(config);
    options.retry.max_attempts = 3;
    options.retry.initial_backoff = std::chrono::milliseconds(1);
    m_http = std::make_unique<afk::HttpClient>(*m_transport, options, m_log, m_clock,
                                               [](std::chrono::milliseconds) {});
    m_client = afk::make_t3_client(*m_http, m_log, m_clock, std::move(pin));
    return *m_client;
  }

  std::vector<Received> received() const {
    const std::lock_guard lock(m_mutex);
    return m_received;
  }
  std::vector<Received> dispatches() const {
    std::vector<Received> out;
    for (const auto& r : received()) {
      if (r.path == "/api/orchestration/dispatch") {
        out.push_back(r);
      }
    }
    return out;
  }

  template <class F> afk::Error failure(F&& call) {
    afk::Error error = afk::test::caught(std::forward<F>(call));
    EXPECT_EQ(std::string(error.what()).find(k_token), std::string::npos);
    return error;
  }

  void serve(const httplib::Request& req, httplib::Response& res) {
    const std::lock_guard lock(m_mutex);
    m_received.push_back({req.method, req.path, req.get_header_value("Authorization"),
                          req.has_header("Cookie"), req.body});
    if (req.path == "/.well-known/t3/environment") {
      res.set_content(m_script.environment, "application/json");
      return;
    }
    if (req.get_header_value("Authorization") != "Bearer " + std::string(k_token)) {
      res.status = 401;
      res.set_content(auth_error("invalid_credential"), "application/json");
      return;
    }
    if (req.path == "/api/orchestration/snapshot") {
      res.set_content(m_script.snapshot, "application/json");
    } else if (req.path.rfind("/api/orchestration/threads/", 0) == 0) {
      auto [status, type, body] = m_script.thread_detail(
          req.path.substr(std::string("/api/orchestration/threads/").size()));
      res.status = status;
      res.set_content(body, type);
    } else if (req.path == "/api/orchestration/dispatch" && req.method == "POST") {
      if (m_script.dispatch_answers.empty()) {
        res.set_content(R"({"sequence":1})", "application/json");
        return;
      }
      auto [status, body] = m_script.dispatch_answers.front();
      m_script.dispatch_answers.pop_front();
      res.status = status;
      if (!body.empty()) {
        res.set_content(body, body.front() == '{' ? "application/json" : "text/plain");
      }
    } else {
      res.status = 503;
      res.set_content("No static directory configured and no dev URL set.", "text/plain");
    }
  }

  fs::path m_dir;
  FixedClock m_clock;
  CapturingLogger m_log;
  mutable std::mutex m_mutex;
  Script m_script;
  std::vector<Received> m_received;
  afk::test::LoopbackServer m_server{[this](const httplib::Request& req, httplib::Response& res) {
    serve(req, res);
  }};
  std::unique_ptr<afk::HttpTransport> m_transport = afk::make_curl_transport({});
  std::unique_ptr<afk::HttpClient> m_http;
  std::unique_ptr<afk::T3Client> m_client;
};

const afk::T3TurnSpec k_turn{.command_id = "c-turn",
                             .thread_id = "t-1",
                             .message_id = "m-1",
                             .text = "Implement issue #42",
                             .runtime_mode = "full-access",
                             .interaction_mode = "default"};

std::string snapshot_with(const json& projects, const json& threads, int sequence = 7) {
  return json{{"snapshotSequence", sequence},
              {"projects", projects},
              {"threads", threads},
              {"updatedAt", "2026-11-24T11:00:00.000Z"}}
      .dump();
}

json project(std::string id, std::string root, bool deleted = false) {
  return {{"id", std::move(id)},
          {"title", "acme/api"},
          {"workspaceRoot", std::move(root)},
          {"repositoryIdentity", nullptr},
          {"defaultModelSelection", nullptr},
          {"scripts", json::array()},
          {"createdAt", "2026-11-24T10:00:00.000Z"},
          {"updatedAt", "2026-11-24T10:00:00.000Z"},
          {"deletedAt", deleted ? json("2026-11-24T10:30:00.000Z") : json(nullptr)}};
}

json thread(std::string id, std::string project_id, bool deleted = false) {
  return {{"id", std::move(id)},
          {"projectId", std::move(project_id)},
          {"title", "acme/api#42"},
          {"modelSelection", {{"instanceId", "claudeAgent"}, {"model", "claude-sonnet-4-6"}}},
          {"runtimeMode", "full-access"},
          {"interactionMode", "default"},
          {"branch", "afk/42-x"},
          {"worktreePath", "/w/42"},
          {"latestTurn", nullptr},
          {"createdAt", "2026-11-24T10:00:00.000Z"},
          {"updatedAt", "2026-11-24T10:00:00.000Z"},
          {"archivedAt", nullptr},
          {"deletedAt", deleted ? json("2026-11-24T10:30:00.000Z") : json(nullptr)},
          {"messages", json::array()},
          {"proposedPlans", json::array()},
          {"activities", json::array()},
          {"checkpoints", json::array()},
          {"session", nullptr}};
}

TEST_F(T3Client, a_5xx_is_retried_with_the_same_command_and_the_sequence_returned) {
  m_script.snapshot =
      snapshot_with(json::array({project("p", "/r")}), json::array({thread("t-1", "p")}));
  m_script.dispatch_answers = {{500, ""}, {503, ""}, {200, R"({"sequence":42})"}};
  EXPECT_EQ(client().start_turn(k_turn), 42);
  const auto sent = dispatches();
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[0].body, sent[1].body);
  EXPECT_EQ(sent[1].body, sent[2].body);
  EXPECT_EQ(json::parse(sent[0].body)["commandId"], "c-turn");
}

TEST_F(T3Client, a_persistent_500_is_transient_and_says_it_may_be_an_invariant) {
  m_script.snapshot =
      snapshot_with(json::array({project("p", "/r")}), json::array({thread("t-1", "p")}));
  const std::string internal =
      R"({"_tag":"EnvironmentInternalError","code":"internal_error","reason":"orchestration_dispatch_failed","traceId":"0123456789abcdef0123456789abcdef"})";
  m_script.dispatch_answers = {{500, internal}, {500, internal}, {500, internal}};
  auto& t3 = client();
  const auto e = failure([&] { (void)t3.interrupt_turn("c-int", "t-1"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_NE(std::string(e.what()).find("thread.turn.interrupt"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("invariants"), std::string::npos) << e.what();
  EXPECT_EQ(dispatches().size(), 3U);
}

TEST_F(T3Client, a_400_with_no_body_is_a_rejected_shape_and_never_retried) {
  m_script.dispatch_answers = {{400, ""}};
  auto& t3 = client();
  const auto e = failure([&] { (void)t3.stop_session("c-stop", "t-1"); });
  EXPECT_EQ(e.kind(), ErrorKind::permanent);
  EXPECT_NE(std::string(e.what()).find("shape was rejected"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("nothing was applied"), std::string::npos) << e.what();
  EXPECT_EQ(dispatches().size(), 1U);
}

TEST_F(T3Client, a_root_t3_cannot_see_is_a_config_error) {
  m_script.dispatch_answers = {
      {400,
       R"({"_tag":"EnvironmentRequestInvalidError","code":"invalid_request","reason":"invalid_command","traceId":"0123456789abcdef0123456789abcdef"})"}};
  auto& t3 = client();
  const auto e = failure([&] {
    (void)t3.ensure_project({.project_id = "p", .title = "acme/api", .workspace_root = "/nowhere"});
  });
  EXPECT_EQ(e.kind(), ErrorKind::config);
  EXPECT_NE(std::string(e.what()).find("invalid_command"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("checkout root"), std::string::npos) << e.what();
}

TEST_F(T3Client, content_type_and_auth_failures_name_the_cause) {
  m_script.dispatch_answers = {
      {415, "Unsupported content-type: text/plain"},
      {403,
       R"({"_tag":"EnvironmentScopeRequiredError","code":"insufficient_scope","requiredScope":"orchestration:operate","traceId":"0123456789abcdef0123456789abcdef"})"}};
  auto& t3 = client();
  EXPECT_EQ(failure([&] { (void)t3.delete_thread("c1", "t-1"); }).kind(), ErrorKind::permanent);
  const auto scope = failure([&] { (void)t3.delete_thread("c2", "t-1"); });
  EXPECT_EQ(scope.kind(), ErrorKind::config);
  EXPECT_NE(std::string(scope.what()).find("orchestration:operate"), std::string::npos)
      << scope.what();
  std::ofstream(m_dir / "token", std::ios::trunc) << "rotated-but-revoked\n";
  const auto revoked = failure([&] { (void)t3.snapshot(); });
  EXPECT_EQ(revoked.kind(), ErrorKind::config);
  EXPECT_NE(std::string(revoked.what()).find("401"), std::string::npos) << revoked.what();
}

TEST_F(T3Client, the_bearer_is_read_per_request_and_no_cookie_is_ever_sent) {
  auto& t3 = client();
  (void)t3.snapshot();
  std::ofstream(m_dir / "token", std::ios::trunc) << "second-token\n";
  (void)failure([&] { (void)t3.snapshot(); });
  const auto all = received();
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[0].authorization, "Bearer " + std::string(k_token));
  EXPECT_EQ(all[1].authorization, "Bearer second-token");
  for (const auto& r : all) {
    EXPECT_FALSE(r.cookie);
  }
}

TEST_F(T3Client, a_newer_protocol_is_refused_before_any_command) {
  m_script.environment = R"({"serverVersion":"0.1.0","orchestrationProtocolVersion":2})";
  auto& t3 = client();
  const auto e = failure([&] { (void)t3.stop_session("c", "t-1"); });
  EXPECT_EQ(e.kind(), ErrorKind::config);
  EXPECT_NE(std::string(e.what()).find("protocol 2"), std::string::npos) << e.what();
  EXPECT_TRUE(dispatches().empty());
}

TEST_F(T3Client, a_version_off_the_pin_is_logged_once_and_the_descriptor_read_once) {
  auto& t3 = client("0.0.32");
  (void)t3.stop_session("c1", "t-1");
  (void)t3.stop_session("c2", "t-1");
  int warnings = 0;
  for (const auto& record : m_log.records()) {
    warnings += record.event == "t3_version_mismatch" ? 1 : 0;
  }
  EXPECT_EQ(warnings, 1);
  int probes = 0;
  for (const auto& r : received()) {
    probes += r.path == "/.well-known/t3/environment" ? 1 : 0;
  }
  EXPECT_EQ(probes, 1);
}

TEST_F(T3Client, without_a_threads_route_reads_fall_back_to_the_snapshot_and_stop_probing) {
  m_script.snapshot = snapshot_with(json::array({project("p", "/r")}),
                                    json::array({thread("t-1", "p"), thread("t-gone", "p", true)}));
  auto& t3 = client();
  const auto live = t3.read_thread("t-1");
  EXPECT_EQ(live.sequence, 7);
  ASSERT_TRUE(live.thread.has_value());
  EXPECT_EQ(live.thread->worktree_path, "/w/42");
  EXPECT_FALSE(t3.read_thread("t-gone").thread.has_value());
  EXPECT_FALSE(t3.read_thread("t-none").thread.has_value());
  int probes = 0;
  for (const auto& r : received()) {
    probes += r.path.rfind("/api/orchestration/threads/", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(probes, 1);
}

TEST_F(T3Client, an_html_page_is_not_a_thread_detail_either) {
  m_script.thread_detail = [](const std::string&) {
    return std::tuple<int, std::string, std::string>{200, "text/html",
                                                     "<!doctype html><title>T3</title>"};
  };
  m_script.snapshot =
      snapshot_with(json::array({project("p", "/r")}), json::array({thread("t-1", "p")}));
  EXPECT_TRUE(client().read_thread("t-1").thread.has_value());
}

TEST_F(T3Client, where_the_threads_route_exists_it_is_used) {
  m_script.thread_detail = [](const std::string& id) {
    if (id != "t-1") {
      return std::tuple<int, std::string, std::string>{
          404, "application/json",
          R"({"_tag":"EnvironmentResourceNotFoundError","code":"not_found","reason":"thread_not_found","traceId":"0123456789abcdef0123456789abcdef"})"};
    }
    json detail{{"snapshotSequence", 31}, {"thread", thread("t-1", "p")}};
    detail["thread"]["messages"] = json::array({{{"id", "m"},
                                                 {"role", "user"},
                                                 {"text", "hi"},
                                                 {"turnId", nullptr},
                                                 {"streaming", false}}});
    return std::tuple<int, std::string, std::string>{200, "application/json", detail.dump()};
  };
  auto& t3 = client();
  const auto read = t3.read_thread("t-1");
  EXPECT_EQ(read.sequence, 31);
  ASSERT_TRUE(read.thread.has_value());
  EXPECT_EQ(read.thread->messages.size(), 1U);
  EXPECT_FALSE(t3.read_thread("t-9").thread.has_value());
  for (const auto& r : received()) {
    EXPECT_NE(r.path, "/api/orchestration/snapshot");
  }
}

TEST_F(T3Client, create_thread_checks_the_snapshot_first) {
  auto& t3 = client();
  // The project is missing: T3 would answer an opaque 500.
  m_script.snapshot = snapshot_with(json::array(), json::array());
  const afk::T3ThreadSpec spec{.command_id = "c-t",
                               .thread_id = "t-1",
                               .project_id = "p",
                               .title = "acme/api#42",
                               .branch = "afk/42-x",
                               .worktree_path = "/w/42"};
  EXPECT_EQ(failure([&] { (void)t3.create_thread(spec); }).kind(), ErrorKind::permanent);
  // Already created by an interrupted earlier attempt: success, nothing sent.
  m_script.snapshot =
      snapshot_with(json::array({project("p", "/r")}), json::array({thread("t-1", "p")}), 12);
  EXPECT_EQ(t3.create_thread(spec), 12);
  // Deleted: the id can never be reused.
  m_script.snapshot =
      snapshot_with(json::array({project("p", "/r")}), json::array({thread("t-1", "p", true)}));
  const auto deleted = failure([&] { (void)t3.create_thread(spec); });
  EXPECT_NE(std::string(deleted.what()).find("deleted"), std::string::npos);
  EXPECT_TRUE(dispatches().empty());
  // Absent: created, with the worktree's branch and path.
  m_script.snapshot = snapshot_with(json::array({project("p", "/r")}), json::array());
  m_script.dispatch_answers = {{200, R"({"sequence":13})"}};
  EXPECT_EQ(t3.create_thread(spec), 13);
  ASSERT_EQ(dispatches().size(), 1U);
  const json body = json::parse(dispatches()[0].body);
  EXPECT_EQ(body["type"], "thread.create");
  EXPECT_EQ(body["worktreePath"], "/w/42");
}

TEST_F(T3Client, a_turn_is_never_sent_to_a_deleted_thread) {
  m_script.snapshot =
      snapshot_with(json::array({project("p", "/r")}), json::array({thread("t-1", "p", true)}));
  auto& t3 = client();
  const auto e = failure([&] { (void)t3.start_turn(k_turn); });
  EXPECT_EQ(e.kind(), ErrorKind::permanent);
  EXPECT_NE(std::string(e.what()).find("silently"), std::string::npos) << e.what();
  EXPECT_TRUE(dispatches().empty());
}

TEST_F(T3Client, ensure_project_uses_adopts_or_creates_under_a_fresh_derived_id) {
  auto& t3 = client();
  const afk::T3ProjectSpec spec{
      .project_id = "p-acme", .title = "acme/api", .workspace_root = "/ck/acme/api"};
  // Live under afk's id.
  m_script.snapshot =
      snapshot_with(json::array({project("p-acme", "/ck/acme/api")}), json::array());
  EXPECT_EQ(t3.ensure_project(spec), "p-acme");
  // Someone else's live project on the same root (trailing slash and all) is used.
  m_script.snapshot =
      snapshot_with(json::array({project("p-human", "/ck/acme/api/")}), json::array());
  EXPECT_EQ(t3.ensure_project(spec), "p-human");
  EXPECT_TRUE(dispatches().empty());
  // afk's id was deleted: the next derived id is created, with a derived commandId.
  m_script.snapshot =
      snapshot_with(json::array({project("p-acme", "/ck/acme/api", true)}), json::array());
  const std::string successor = t3.ensure_project(spec);
  EXPECT_NE(successor, "p-acme");
  EXPECT_EQ(successor, afk::derive_uuid("project-successor:p-acme:2"));
  ASSERT_EQ(dispatches().size(), 1U);
  const json first = json::parse(dispatches()[0].body);
  EXPECT_EQ(first["type"], "project.create");
  EXPECT_EQ(first["projectId"], successor);
  EXPECT_EQ(first["workspaceRoot"], "/ck/acme/api");
  // Asked again before the snapshot shows it (a crash after sending): the same command.
  EXPECT_EQ(t3.ensure_project(spec), successor);
  ASSERT_EQ(dispatches().size(), 2U);
  EXPECT_EQ(json::parse(dispatches()[1].body)["commandId"], first["commandId"]);
}

} // namespace
