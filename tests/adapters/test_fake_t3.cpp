// SPDX-License-Identifier: MIT
// The strict fake T3 server against the contract (/work/shared/reference/t3-orchestration-api.md)
// and against what a real v0.0.27 server answered (t3-recorded-v0.0.27.md, replayed verbatim).
// Raw HTTP only: the fake must stand on its own, independent of afk's T3 client.
#include "support/fake_t3.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afk::test::FakeT3;
using afk::test::FakeT3Options;
using afk::test::T3Version;
using afk::test::TurnContext;
using afk::test::TurnPlan;
using Json = nlohmann::ordered_json;

constexpr std::string_view k_not_logged_in = "Not logged in · Please run /login";

// --- raw HTTP ----------------------------------------------------------------------------------

struct Reply {
  int status = 0;
  std::string content_type; // "" when the header is absent
  std::string body;
  [[nodiscard]] Json json() const { return Json::parse(body); }
};

Reply to_reply(const httplib::Result& result) {
  if (!result) {
    return Reply{-1, "", "transport error " + httplib::to_string(result.error())};
  }
  return Reply{result->status, result->get_header_value("Content-Type"), result->body};
}

httplib::Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

Reply get(const FakeT3& fake, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client client(fake.url());
  return to_reply(client.Get(path, headers));
}

Reply post(const FakeT3& fake, const std::string& path, const std::string& body,
           const httplib::Headers& headers, const std::string& content_type = "application/json") {
  httplib::Client client(fake.url());
  return to_reply(client.Post(path, headers, body, content_type));
}

// POST over a bare socket, without any Content-Type header; returns the raw response.
std::string raw_post_without_content_type(const FakeT3& fake, const std::string& path,
                                          const std::string& token, const std::string& body) {
  const std::string url = fake.url();
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    return "connect failed";
  }
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                              "Authorization: Bearer " + token + "\r\nConnection: close\r\n" +
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::size_t sent = 0;
  while (sent < request.size()) {
    const auto n = ::send(fd, request.data() + sent, request.size() - sent, 0);
    if (n <= 0) {
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  std::array<char, 4096> buffer{};
  for (;;) {
    const auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) {
      break;
    }
    response.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

// A T3 session for tests: one token, helpers that build the canonical bodies of §4.4.
class T3 {
public:
  explicit T3(FakeT3Options options = {})
      : m_fake(std::move(options))
      , m_token(m_fake.issue_token()) {}

  FakeT3& fake() { return m_fake; }
  const std::string& token() const { return m_token; }

  Reply dispatch(const Json& command) {
    return post(m_fake, "/api/orchestration/dispatch", command.dump(), bearer(m_token));
  }
  Reply dispatch_raw(const std::string& body) {
    return post(m_fake, "/api/orchestration/dispatch", body, bearer(m_token));
  }
  // Dispatches and expects 200; returns the sequence.
  std::int64_t ok(const Json& command) {
    const Reply reply = dispatch(command);
    EXPECT_EQ(reply.status, 200) << command.dump() << " → " << reply.body;
    return reply.status == 200 ? reply.json().at("sequence").get<std::int64_t>() : -1;
  }
  Json snapshot() {
    const Reply reply = get(m_fake, "/api/orchestration/snapshot", bearer(m_token));
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.json();
  }
  Json thread(const std::string& id) {
    const Json snap = snapshot();
    for (const auto& t : snap.at("threads")) {
      if (t.at("id") == id) {
        return t;
      }
    }
    ADD_FAILURE() << "no thread " << id;
    return Json::object();
  }
  Json project(const std::string& id) {
    const Json snap = snapshot();
    for (const auto& p : snap.at("projects")) {
      if (p.at("id") == id) {
        return p;
      }
    }
    ADD_FAILURE() << "no project " << id;
    return Json::object();
  }

  std::string next_id(const std::string& prefix) { return prefix + std::to_string(++m_ids); }

  Json project_create(const std::string& project_id, const std::string& root) {
    return {{"type", "project.create"},
            {"commandId", next_id("c-")},
            {"projectId", project_id},
            {"title", "owner/repo"},
            {"workspaceRoot", root},
            {"createWorkspaceRootIfMissing", true},
            {"createdAt", "2026-06-15T10:00:00.000Z"}};
  }
  Json thread_create(const std::string& thread_id, const std::string& project_id,
                     const std::string& runtime_mode = "full-access") {
    return {{"type", "thread.create"},
            {"commandId", next_id("c-")},
            {"threadId", thread_id},
            {"projectId", project_id},
            {"title", "Issue 42"},
            {"modelSelection", {{"instanceId", "claudeAgent"}, {"model", "claude-sonnet-4-6"}}},
            {"runtimeMode", runtime_mode},
            {"interactionMode", "default"},
            {"branch", nullptr},
            {"worktreePath", nullptr},
            {"createdAt", "2026-06-15T10:00:01.000Z"}};
  }
  Json turn_start(const std::string& thread_id, const std::string& text = "Say hello.") {
    return {{"type", "thread.turn.start"},
            {"commandId", next_id("c-")},
            {"threadId", thread_id},
            {"message",
             {{"messageId", next_id("m-")},
              {"role", "user"},
              {"text", text},
              {"attachments", Json::array()}}},
            {"runtimeMode", "full-access"},
            {"interactionMode", "default"},
            {"createdAt", "2026-06-15T10:00:02.000Z"}};
  }
  Json thread_command(const std::string& type, const std::string& thread_id) {
    Json c = {{"type", type}, {"commandId", next_id("c-")}, {"threadId", thread_id}};
    if (type != "thread.delete" && type != "thread.archive" && type != "thread.unarchive" &&
        type != "thread.settle" && type != "thread.pin" && type != "thread.unpin") {
      c["createdAt"] = "2026-06-15T10:00:03.000Z";
    }
    return c;
  }

  // A project on a real temp dir plus one thread; returns the thread id.
  std::string thread_ready(const std::string& thread_id = "t-1",
                           const std::string& runtime_mode = "full-access") {
    if (!m_project) {
      m_root = fs::temp_directory_path() /
               ("afk-fake-t3-" + std::to_string(::getpid()) + "-" + next_id("root"));
      ok(project_create("p-1", m_root.string()));
      m_project = true;
    }
    ok(thread_create(thread_id, "p-1", runtime_mode));
    return thread_id;
  }
  ~T3() {
    if (!m_root.empty()) {
      std::error_code ec;
      fs::remove_all(m_root, ec);
    }
  }
  T3(const T3&) = delete;
  T3& operator=(const T3&) = delete;
  T3(T3&&) = delete;
  T3& operator=(T3&&) = delete;

private:
  FakeT3 m_fake;
  std::string m_token;
  int m_ids = 0;
  bool m_project = false;
  fs::path m_root;
};

bool is_trace_id(const Json& body) {
  static const std::regex k_hex32("^[0-9a-f]{32}$");
  return body.contains("traceId") && body.at("traceId").is_string() &&
         std::regex_match(body.at("traceId").get<std::string>(), k_hex32);
}

void expect_empty_400(const Reply& reply, const std::string& what) {
  EXPECT_EQ(reply.status, 400) << what << " → " << reply.body;
  EXPECT_EQ(reply.body, "") << what;
  EXPECT_EQ(reply.content_type, "") << what;
}

void expect_error(const Reply& reply, int status, const std::string& tag, const std::string& code,
                  const std::string& reason_key, const std::string& reason) {
  ASSERT_EQ(reply.status, status) << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  const Json body = reply.json();
  EXPECT_EQ(body.at("_tag"), tag);
  EXPECT_EQ(body.at("code"), code);
  EXPECT_EQ(body.at(reason_key), reason);
  EXPECT_TRUE(is_trace_id(body)) << reply.body;
  EXPECT_EQ(body.size(), 4U) << reply.body;
}

void expect_invariant_500(const Reply& reply) {
  expect_error(reply, 500, "EnvironmentInternalError", "internal_error", "reason",
               "orchestration_dispatch_failed");
}

std::vector<std::string> kinds(const Json& thread) {
  std::vector<std::string> out;
  for (const auto& a : thread.at("activities")) {
    out.push_back(a.at("kind").get<std::string>());
  }
  return out;
}

Json last_activity(const Json& thread, const std::string& kind) {
  Json found = nullptr;
  for (const auto& a : thread.at("activities")) {
    if (a.at("kind") == kind) {
      found = a;
    }
  }
  return found;
}

// --- shape comparison against the recorded bodies ----------------------------------------------

// Keys whose values are deterministic in both servers and must match, not just their type.
const std::set<std::string> k_value_keys = {"_tag",
                                            "code",
                                            "reason",
                                            "requiredScope",
                                            "authenticated",
                                            "policy",
                                            "sessionMethod",
                                            "sessionCookieName",
                                            "serverVersion",
                                            "repositoryIdentity",
                                            "status",
                                            "state",
                                            "kind",
                                            "tone",
                                            "role",
                                            "summary",
                                            "text",
                                            "lastError",
                                            "detail",
                                            "message",
                                            "runtimeMode",
                                            "interactionMode",
                                            "providerName",
                                            "providerInstanceId",
                                            "title",
                                            "workspaceRoot",
                                            "branch",
                                            "worktreePath",
                                            "projectId",
                                            "threadId",
                                            "checkpointRef",
                                            "turnCount",
                                            "checkpointTurnCount",
                                            "requestId",
                                            "streaming",
                                            "instanceId",
                                            "model",
                                            "files",
                                            "deletedAt",
                                            "archivedAt"};

bool is_value_key(const std::string& key, const Json& recorded) {
  if (key == "id") { // project, thread and client message ids; not server-minted uuids
    return recorded.is_string() && recorded.get<std::string>().size() < 20;
  }
  if (key == "deletedAt" || key == "archivedAt") {
    return recorded.is_null(); // null must stay null; a timestamp is the server's own
  }
  return k_value_keys.count(key) != 0;
}

std::string type_name(const Json& j) {
  if (j.is_null()) {
    return "null";
  }
  if (j.is_string()) {
    return "string";
  }
  if (j.is_boolean()) {
    return "bool";
  }
  if (j.is_number()) {
    return "number";
  }
  return j.is_array() ? "array" : "object";
}

void compare_shape(const Json& recorded, const Json& actual, const std::string& where,
                   std::vector<std::string>& errors) {
  if (type_name(recorded) != type_name(actual)) {
    errors.push_back(where + ": " + type_name(recorded) + " recorded, " + type_name(actual) +
                     " from the fake (" + actual.dump().substr(0, 200) + ")");
    return;
  }
  if (recorded.is_object()) {
    std::vector<std::string> recorded_keys;
    std::vector<std::string> actual_keys;
    for (const auto& [key, value] : recorded.items()) {
      recorded_keys.push_back(key);
    }
    for (const auto& [key, value] : actual.items()) {
      actual_keys.push_back(key);
    }
    if (recorded_keys != actual_keys) {
      errors.push_back(where + ": keys " + Json(recorded_keys).dump() + " recorded, " +
                       Json(actual_keys).dump() + " from the fake");
      return;
    }
    for (const auto& [key, value] : recorded.items()) {
      if (is_value_key(key, value) && value != actual.at(key)) {
        errors.push_back(where + "." + key + ": " + value.dump().substr(0, 200) + " recorded, " +
                         actual.at(key).dump().substr(0, 200) + " from the fake");
        continue;
      }
      compare_shape(value, actual.at(key), where + "." + key, errors);
    }
  } else if (recorded.is_array()) {
    if (recorded.size() != actual.size()) {
      errors.push_back(where + ": " + std::to_string(recorded.size()) + " items recorded, " +
                       std::to_string(actual.size()) +
                       " from the fake: " + actual.dump().substr(0, 400));
      return;
    }
    for (std::size_t i = 0; i < recorded.size(); ++i) {
      compare_shape(recorded[i], actual[i], where + "[" + std::to_string(i) + "]", errors);
    }
  }
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    out += "\n  " + line;
  }
  return out;
}

// --- the transcript ----------------------------------------------------------------------------

struct Exchange {
  std::string section;
  std::string method, path;
  Json headers;
  std::optional<std::string> request_body;
  int status = 0;
  std::string content_type; // "" for None
  std::string response_body;
  std::vector<Json> thread_blocks; // thread bodies recorded after this exchange, in order
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

// Reads the fenced block starting after line `i` (which must be "```"); moves `i` past it.
std::string fenced(const std::vector<std::string>& lines, std::size_t& i) {
  std::string text;
  ++i; // the opening fence
  bool first = true;
  while (i < lines.size() && lines[i] != "```") {
    text += (first ? "" : "\n") + lines[i];
    first = false;
    ++i;
  }
  ++i; // the closing fence
  return text;
}

std::vector<Exchange> parse_transcript(const std::string& path) {
  static const std::regex k_request(R"(^`(GET|POST) (\S+)` headers=(\{.*\})$)");
  static const std::regex k_status(R"(^→ \*\*(\d{3}) [^*]*\*\*, content-type=('([^']*)'|None).*$)");
  const auto lines = read_lines(path);
  std::vector<Exchange> out;
  std::string section;
  std::size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    std::smatch match;
    if (line.rfind("### ", 0) == 0) {
      section = line.substr(4);
      ++i;
    } else if (std::regex_match(line, match, k_request)) {
      Exchange e;
      e.section = section;
      e.method = match[1];
      e.path = match[2];
      e.headers = Json::parse(match[3].str());
      ++i;
      while (i < lines.size() && !std::regex_match(lines[i], match, k_status)) {
        if (lines[i] == "request body:" && i + 1 < lines.size() && lines[i + 1] == "```") {
          ++i;
          e.request_body = fenced(lines, i);
        } else {
          ++i;
        }
      }
      if (i == lines.size()) {
        break;
      }
      e.status = std::stoi(match[1]);
      e.content_type = match[3].matched ? match[3].str() : "";
      ++i;
      while (i < lines.size() && lines[i] != "```") {
        ++i;
      }
      if (i < lines.size()) {
        const std::string body = fenced(lines, i);
        e.response_body = body == "<empty>" ? "" : body;
      }
      out.push_back(std::move(e));
    } else if (line == "```" && !out.empty()) {
      const std::string block = fenced(lines, i);
      const Json parsed = Json::parse(block, nullptr, false);
      if (!parsed.is_discarded() && parsed.is_object() && parsed.contains("messages") &&
          parsed.contains("projectId")) {
        out.back().thread_blocks.push_back(parsed);
      }
    } else {
      ++i;
    }
  }
  return out;
}

TEST(FakeT3Transcript, ReplaysEveryRecordedExchangeWithTheSameStatusTypeAndShape) {
  const std::string path = AFK_T3_TRANSCRIPT;
  if (!fs::exists(path)) {
    GTEST_SKIP() << "\n\n*** The recorded v0.0.27 transcript is missing: " << path
                 << "\n*** The fake T3 server is NOT checked against the real server.\n\n";
  }
  const auto exchanges = parse_transcript(path);
  ASSERT_GE(exchanges.size(), 80U) << "the transcript's format changed; fix parse_transcript";

  // The recorded server's filesystem: these directories existed; others are created on demand.
  auto dirs = std::make_shared<std::set<std::string>>(
      std::set<std::string>{"/srv/t3/ws/n1", "/srv/t3/ws/gitrepo", "/srv/t3/ws/gitrepo2"});
  FakeT3Options options;
  options.runs_as_root = true; // sections 7–8 ran as root
  options.directory_exists = [dirs](const std::string& p) {
    return dirs->count(p) != 0;
  };
  options.create_directory = [dirs](const std::string& p) {
    dirs->insert(p);
    return true;
  };
  FakeT3 fake(options);
  // What Claude did on that machine (no credentials): t-1 had no binary at all; t-3 ran in a
  // non-git workspace; the others answered "Not logged in".
  fake.set_agent([](const TurnContext& ctx) {
    TurnPlan plan;
    plan.assistant_text = std::string(k_not_logged_in);
    plan.git_workspace = ctx.thread_id != "t-3";
    return plan;
  });
  const std::string full = fake.issue_token();
  const std::string read_only = fake.issue_token({"orchestration:read"});
  const std::string operate_only = fake.issue_token({"orchestration:operate"});
  const std::string revoked = fake.issue_token();
  fake.revoke_token(revoked);
  const std::string expired = fake.issue_token(afk::test::all_t3_scopes(), 0s);

  // t-1's turns met a missing Claude binary, which the adapter retried once by itself (two
  // runtime.error cycles); that double cycle is not modelled, so t-1's bodies are not compared.
  const std::set<std::string> unmodelled_threads = {"t-1"};

  std::vector<std::string> errors;
  const auto compare_thread = [&](const Json& recorded, const std::string& when) {
    const std::string id = recorded.at("id").get<std::string>();
    if (unmodelled_threads.count(id) != 0) {
      return;
    }
    const Reply snap = get(fake, "/api/orchestration/snapshot", bearer(full));
    const Json body = snap.json();
    for (const auto& t : body.at("threads")) {
      if (t.at("id") == id) {
        compare_shape(recorded, t, "thread " + id + " " + when, errors);
        return;
      }
    }
    errors.push_back("thread " + id + " missing from the fake's snapshot " + when + ": " +
                     snap.body.substr(0, 300));
  };

  int compared = 0;
  for (const auto& e : exchanges) {
    fake.advance(); // the provider work the real server did between two requests
    httplib::Headers headers;
    for (const auto& [name, value] : e.headers.items()) {
      std::string v = value.get<std::string>();
      const auto replace = [&](const std::string& placeholder, const std::string& token) {
        if (const auto at = v.find(placeholder); at != std::string::npos) {
          v.replace(at, placeholder.size(), token);
        }
      };
      replace("<token minus last 3 chars>AAA", full.substr(0, full.size() - 3) + "AAA");
      replace("<token>", full);
      replace("<scope-limited token>",
              e.section.find("operate-only") != std::string::npos ? operate_only : read_only);
      replace("<expired-or-revoked token>",
              e.section.find("expired") != std::string::npos ? expired : revoked);
      headers.emplace(name, v);
    }
    Reply reply;
    httplib::Client client(fake.url());
    if (e.method == "GET") {
      reply = to_reply(client.Get(e.path, headers));
    } else {
      std::string content_type;
      if (const auto ct = headers.find("Content-Type"); ct != headers.end()) {
        content_type = ct->second;
        headers.erase(ct);
      }
      reply = to_reply(client.Post(e.path, headers, e.request_body.value_or(""), content_type));
    }
    const std::string where = "[" + e.section + "] " + e.method + " " + e.path;
    if (reply.status != e.status) {
      errors.push_back(where + ": status " + std::to_string(reply.status) + ", recorded " +
                       std::to_string(e.status) + " (" + reply.body.substr(0, 200) + ")");
      continue;
    }
    if (reply.content_type != e.content_type) {
      errors.push_back(where + ": content-type '" + reply.content_type + "', recorded '" +
                       e.content_type + "'");
    }
    const Json recorded = Json::parse(e.response_body, nullptr, false);
    if (recorded.is_discarded()) {
      if (reply.body != e.response_body) {
        errors.push_back(where + ": body '" + reply.body + "', recorded '" + e.response_body + "'");
      }
    } else {
      compare_shape(recorded, reply.json(), where, errors);
    }
    ++compared;
    // Thread bodies polled after this request: the first one right after it, the last one
    // once the provider settled.
    if (e.thread_blocks.size() >= 2) {
      compare_thread(e.thread_blocks.front(), "right after [" + e.section + "]");
    }
    fake.advance();
    std::map<std::string, Json> last_per_thread;
    for (const auto& block : e.thread_blocks) {
      last_per_thread[block.at("id").get<std::string>()] = block;
    }
    for (const auto& [id, block] : last_per_thread) {
      compare_thread(block, "settled after [" + e.section + "]");
    }
  }
  EXPECT_GE(compared, 80);
  EXPECT_TRUE(errors.empty()) << errors.size()
                              << " differences from the real server:" << joined(errors);
}

// §11 of the transcript: the real server's event log. The fake's provider appends as many
// events per turn, so sequence numbers advance the way they did on the real server.
TEST(FakeT3Transcript, ProviderEventsAdvanceTheGlobalSequenceAsTheEventLogShows) {
  FakeT3Options options;
  options.runs_as_root = true;
  T3 t3(options);
  t3.fake().set_agent([](const TurnContext& ctx) {
    TurnPlan plan;
    plan.assistant_text = std::string(k_not_logged_in);
    plan.git_workspace = ctx.thread_id != "t-3";
    return plan;
  });
  t3.thread_ready("t-3", "approval-required");
  t3.ok(t3.thread_create("t-4", "p-1", "approval-required"));
  t3.ok(t3.thread_create("t-5", "p-1", "full-access"));

  // t-3, non-git "Not logged in": 62 → 71.
  std::int64_t seq = t3.ok(t3.turn_start("t-3"));
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence() - seq, 71 - 62);
  // t-4, git, first turn: 75 → 86; follow-up: 100 → 107.
  seq = t3.ok(t3.turn_start("t-4"));
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence() - seq, 86 - 75);
  seq = t3.ok(t3.turn_start("t-4", "Again."));
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence() - seq, 107 - 100);
  // t-5, full-access as root: 89 → 98.
  seq = t3.ok(t3.turn_start("t-5"));
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence() - seq, 98 - 89);
  // Interrupt on t-5's stopped session: 108 → 109. Unknown approval on t-4: 111 → 112.
  seq = t3.ok(t3.thread_command("thread.turn.interrupt", "t-5"));
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence() - seq, 1);
  Json approval = t3.thread_command("thread.approval.respond", "t-4");
  approval["requestId"] = "no-such-request";
  approval["decision"] = "accept";
  seq = t3.ok(approval);
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence() - seq, 1);
  // Session stop on t-4: 113 → 115.
  seq = t3.ok(t3.thread_command("thread.session.stop", "t-4"));
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence() - seq, 2);
}

// --- discovery, auth ---------------------------------------------------------------------------

TEST(FakeT3Discovery, DescriptorNeedsNoAuthAndReportsTheVersion) {
  for (const auto version : {T3Version::v0_0_27, T3Version::v0_0_29, T3Version::v0_0_32}) {
    FakeT3Options options;
    options.version = version;
    FakeT3 fake(options);
    const Reply reply = get(fake, "/.well-known/t3/environment");
    ASSERT_EQ(reply.status, 200);
    EXPECT_EQ(reply.content_type, "application/json");
    const Json body = reply.json();
    EXPECT_EQ(body.at("serverVersion"), afk::test::server_version(version));
    EXPECT_EQ(body.at("capabilities"), (Json{{"repositoryIdentity", true}}));
    EXPECT_EQ(body.at("platform"), (Json{{"os", "linux"}, {"arch", "x64"}}));
    EXPECT_FALSE(body.contains("orchestrationProtocolVersion"));
  }
  FakeT3Options options;
  options.protocol_version = 2;
  FakeT3 fake(options);
  EXPECT_EQ(get(fake, "/.well-known/t3/environment").json().at("orchestrationProtocolVersion"), 2);
}

TEST(FakeT3Discovery, UnknownGetPathsAnswer503TextOr200HtmlNever404) {
  FakeT3 plain;
  for (const std::string path : {"/health", "/api/orchestration/shell",
                                 "/api/orchestration/threads/t-1", "/api/orchestration/dispatch"}) {
    const Reply reply = get(plain, path, bearer(plain.issue_token()));
    EXPECT_EQ(reply.status, 503) << path;
    EXPECT_EQ(reply.content_type, "text/plain") << path;
    EXPECT_EQ(reply.body, "No static directory configured and no dev URL set.") << path;
  }
  FakeT3Options options;
  options.static_bundle = true;
  FakeT3 bundled(options);
  const Reply reply = get(bundled, "/health");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "text/html");
  EXPECT_NE(reply.body.find("<html"), std::string::npos);
}

TEST(FakeT3Auth, MatrixOfCredentials) {
  FakeT3 fake;
  const std::string token = fake.issue_token();
  const std::string rotated = fake.issue_token(); // several tokens are valid at once
  const std::string revoked = fake.issue_token();
  fake.revoke_token(revoked);
  const std::string expired = fake.issue_token(afk::test::all_t3_scopes(), 0s);
  const std::string snapshot = "/api/orchestration/snapshot";
  const auto auth_invalid = [](const Reply& r, const std::string& reason) {
    expect_error(r, 401, "EnvironmentAuthInvalidError", "auth_invalid", "reason", reason);
  };
  auth_invalid(get(fake, snapshot), "missing_credential");
  auth_invalid(get(fake, snapshot, {{"Authorization", "Basic Zm9vOmJhcg=="}}),
               "missing_credential");
  auth_invalid(get(fake, snapshot, {{"Authorization", "Bearer"}}), "missing_credential");
  auth_invalid(get(fake, snapshot, bearer("not-a-real-token")), "invalid_credential");
  auth_invalid(get(fake, snapshot, bearer(token.substr(0, token.size() - 3) + "AAA")),
               "invalid_credential");
  auth_invalid(get(fake, snapshot, bearer(revoked)), "invalid_credential");
  auth_invalid(get(fake, snapshot, bearer(expired)), "invalid_credential");
  httplib::Headers with_cookie = bearer(token);
  with_cookie.emplace("Cookie", "t3_session=garbage");
  auth_invalid(get(fake, snapshot, with_cookie), "invalid_credential");
  EXPECT_EQ(get(fake, snapshot, bearer(token)).status, 200);
  EXPECT_EQ(get(fake, snapshot, bearer(rotated)).status, 200);
  fake.revoke_token(token);
  auth_invalid(get(fake, snapshot, bearer(token)), "invalid_credential");
  EXPECT_EQ(get(fake, snapshot, bearer(rotated)).status, 200);
}

TEST(FakeT3Auth, AuthComesBeforeBodyValidationAndScopeAfterIt) {
  FakeT3 fake;
  const std::string dispatch = "/api/orchestration/dispatch";
  for (const std::string body : {R"({"type":"project.create"})", "{not json", ""}) {
    expect_error(post(fake, dispatch, body, {}), 401, "EnvironmentAuthInvalidError", "auth_invalid",
                 "reason", "missing_credential");
  }
  const std::string read_only = fake.issue_token({"orchestration:read"});
  const std::string operate_only = fake.issue_token({"orchestration:operate"});
  expect_empty_400(post(fake, dispatch, R"({"commandId":"c-ro2"})", bearer(read_only)),
                   "no type, read-only token");
  const Reply malformed = post(fake, dispatch, "{bad", bearer(read_only));
  EXPECT_EQ(malformed.status, 500);
  EXPECT_EQ(malformed.body, "");
  const Json valid = {{"type", "project.create"},
                      {"commandId", "c-ro"},
                      {"projectId", "p-ro"},
                      {"title", "ro"},
                      {"workspaceRoot", "/nonexistent/afk-fake-t3/ro"},
                      {"createdAt", "2026-11-24T13:58:56.039Z"}};
  expect_error(post(fake, dispatch, valid.dump(), bearer(read_only)), 403,
               "EnvironmentScopeRequiredError", "insufficient_scope", "requiredScope",
               "orchestration:operate");
  expect_error(get(fake, "/api/orchestration/snapshot", bearer(operate_only)), 403,
               "EnvironmentScopeRequiredError", "insufficient_scope", "requiredScope",
               "orchestration:read");
  EXPECT_EQ(get(fake, "/api/orchestration/snapshot", bearer(read_only)).status, 200);
  // Operate alone is enough to dispatch (this one reaches the normalizer: the root is missing).
  const Reply normalized = post(fake, dispatch, valid.dump(), bearer(operate_only));
  expect_error(normalized, 400, "EnvironmentRequestInvalidError", "invalid_request", "reason",
               "invalid_command");
}

TEST(FakeT3Auth, SessionEndpointAlwaysAnswers200) {
  FakeT3 fake;
  const Reply anonymous = get(fake, "/api/auth/session");
  ASSERT_EQ(anonymous.status, 200);
  const Json a = anonymous.json();
  EXPECT_EQ(a.at("authenticated"), false);
  EXPECT_EQ(a.at("auth").at("policy"), "loopback-browser");
  EXPECT_EQ(a.at("auth").at("sessionCookieName"), "t3_session");
  EXPECT_FALSE(a.contains("scopes"));
  EXPECT_EQ(get(fake, "/api/auth/session", bearer("garbage")).json().at("authenticated"), false);
  const Json b =
      get(fake, "/api/auth/session", bearer(fake.issue_token({"orchestration:read"}, 3600s)))
          .json();
  EXPECT_EQ(b.at("authenticated"), true);
  EXPECT_EQ(b.at("scopes"), Json::array({"orchestration:read"}));
  EXPECT_EQ(b.at("sessionMethod"), "bearer-access-token");
  static const std::regex k_iso(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)");
  EXPECT_TRUE(std::regex_match(b.at("expiresAt").get<std::string>(), k_iso));
  const Json full = get(fake, "/api/auth/session", bearer(fake.issue_token())).json();
  EXPECT_EQ(full.at("scopes").size(), 8U);
}

// --- decoding ----------------------------------------------------------------------------------

TEST(FakeT3Decoding, EveryShapeErrorIs400WithAnEmptyBody) {
  T3 t3;
  t3.thread_ready();
  const Json project = t3.project_create("p-2", "/tmp");
  const Json thread = t3.thread_create("t-2", "p-1");
  const Json turn = t3.turn_start("t-1");
  const auto without = [](Json c, const std::string& key) {
    c.erase(key);
    return c;
  };
  const auto with = [](Json c, const std::string& pointer, const Json& value) {
    c[Json::json_pointer(pointer)] = value;
    return c;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no type", without(project, "type").dump()},
      {"wrapper", Json{{"command", project}}.dump()},
      {"unknown type", with(project, "/type", "project.frobnicate").dump()},
      {"internal thread.session.set", Json{{"type", "thread.session.set"},
                                           {"commandId", "c"},
                                           {"threadId", "t-1"},
                                           {"session", Json::object()},
                                           {"createdAt", "x"}}
                                          .dump()},
      {"internal thread.activity.append", with(turn, "/type", "thread.activity.append").dump()},
      {"array body", "[]"},
      {"string body", "\"project.create\""},
      {"empty body", ""},
      {"blank commandId", with(project, "/commandId", "   ").dump()},
      {"missing commandId", without(project, "commandId").dump()},
      {"blank title", with(project, "/title", " ").dump()},
      {"numeric title", with(project, "/title", 42).dump()},
      {"missing createdAt", without(project, "createdAt").dump()},
      {"createWorkspaceRootIfMissing not bool",
       with(project, "/createWorkspaceRootIfMissing", "yes").dump()},
      {"thread.create without branch", without(thread, "branch").dump()},
      {"thread.create without worktreePath", without(thread, "worktreePath").dump()},
      {"thread.create blank branch", with(thread, "/branch", "  ").dump()},
      {"runtimeMode auto in 0.0.27", with(thread, "/runtimeMode", "auto").dump()},
      {"runtimeMode unknown", with(thread, "/runtimeMode", "yolo").dump()},
      {"interactionMode unknown", with(thread, "/interactionMode", "chat").dump()},
      {"modelSelection missing", without(thread, "modelSelection").dump()},
      {"modelSelection.options null", with(thread, "/modelSelection/options", nullptr).dump()},
      {"modelSelection.instanceId not a slug",
       with(thread, "/modelSelection/instanceId", "1claude").dump()},
      {"modelSelection.instanceId too long",
       with(thread, "/modelSelection/instanceId", std::string(65, 'a')).dump()},
      {"modelSelection.instanceId null",
       with(thread, "/modelSelection/instanceId", nullptr).dump()},
      {"modelSelection.model blank", with(thread, "/modelSelection/model", "").dump()},
      {"modelSelection option value blank",
       with(thread, "/modelSelection/options", Json::array({{{"id", "effort"}, {"value", " "}}}))
           .dump()},
      {"turn without interactionMode", without(turn, "interactionMode").dump()},
      {"turn without runtimeMode", without(turn, "runtimeMode").dump()},
      {"turn runtimeMode null", with(turn, "/runtimeMode", nullptr).dump()},
      {"turn without attachments",
       with(turn, "/message", Json{{"messageId", "m"}, {"role", "user"}, {"text", "hi"}}).dump()},
      {"turn role assistant", with(turn, "/message/role", "assistant").dump()},
      {"turn text not a string", with(turn, "/message/text", nullptr).dump()},
      {"turn blank messageId", with(turn, "/message/messageId", "\t").dump()},
      {"turn attachment not an image",
       with(turn, "/message/attachments", Json::array({{{"type", "file"}}})).dump()},
      {"turn bootstrap malformed",
       with(turn, "/bootstrap", Json{{"createThread", {{"projectId", "p-1"}}}}).dump()},
      {"interrupt blank turnId",
       with(t3.thread_command("thread.turn.interrupt", "t-1"), "/turnId", " ").dump()},
      {"approval bad decision", Json{{"type", "thread.approval.respond"},
                                     {"commandId", "c-a"},
                                     {"threadId", "t-1"},
                                     {"requestId", "r"},
                                     {"decision", "yes"},
                                     {"createdAt", "x"}}
                                    .dump()},
      {"user-input answers not an object", Json{{"type", "thread.user-input.respond"},
                                                {"commandId", "c-u"},
                                                {"threadId", "t-1"},
                                                {"requestId", "r"},
                                                {"answers", "Yes"},
                                                {"createdAt", "x"}}
                                               .dump()},
      {"checkpoint revert negative",
       with(t3.thread_command("thread.checkpoint.revert", "t-1"), "/turnCount", -1).dump()},
      {"session stop without createdAt",
       without(t3.thread_command("thread.session.stop", "t-1"), "createdAt").dump()},
      {"thread.settle is 0.0.29+", t3.thread_command("thread.settle", "t-1").dump()},
      {"thread.pin is 0.0.32+", t3.thread_command("thread.pin", "t-1").dump()},
      {"project.delete force not bool",
       Json{
           {"type", "project.delete"}, {"commandId", "c-d"}, {"projectId", "p-1"}, {"force", "yes"}}
           .dump()},
  };
  const std::int64_t before = t3.fake().sequence();
  for (const auto& [what, body] : cases) {
    expect_empty_400(t3.dispatch_raw(body), what);
  }
  EXPECT_EQ(t3.fake().sequence(), before) << "a rejected shape must not change anything";
  EXPECT_EQ(t3.fake().accepted_commands().size(), 2U);
}

TEST(FakeT3Decoding, LenientWhereTheRealServerIsLenient) {
  T3 t3;
  t3.thread_ready();
  Json extra = t3.thread_create("t-extra", "p-1");
  extra["extraKey"] = "ignored";
  extra["modelSelection"]["bogus"] = 1;
  t3.ok(extra);
  EXPECT_EQ(t3.thread("t-extra").at("modelSelection"),
            (Json{{"instanceId", "claudeAgent"}, {"model", "claude-sonnet-4-6"}}));
  Json legacy = t3.thread_create("t-legacy", "p-1");
  legacy["modelSelection"] = {{"provider", "claudeAgent"}, {"model", "claude-sonnet-4-6"}};
  t3.ok(legacy);
  EXPECT_EQ(t3.thread("t-legacy").at("modelSelection").at("instanceId"), "claudeAgent");
  Json legacy_options = t3.thread_create("t-opts", "p-1");
  legacy_options["modelSelection"]["options"] = {{"effort", "high"}, {"fastMode", true}};
  t3.ok(legacy_options);
  EXPECT_EQ(t3.thread("t-opts").at("modelSelection").at("options"),
            (Json::array(
                {{{"id", "effort"}, {"value", "high"}}, {{"id", "fastMode"}, {"value", true}}})));
  Json null_mode = t3.thread_create("t-null", "p-1");
  null_mode["interactionMode"] = nullptr;
  t3.ok(null_mode);
  EXPECT_EQ(t3.thread("t-null").at("interactionMode"), "default");
  Json padded = t3.thread_create("  t-padded  ", "p-1");
  padded["title"] = "  Padded  ";
  t3.ok(padded);
  EXPECT_EQ(t3.thread("t-padded").at("title"), "Padded");
  Json title_null = t3.turn_start("t-1");
  title_null["titleSeed"] = nullptr;
  t3.ok(title_null);
  Json empty_text = t3.turn_start("t-1", "");
  t3.ok(empty_text);
  Json with_bootstrap = t3.turn_start("t-1");
  with_bootstrap["bootstrap"] = {{"runSetupScript", true}};
  t3.ok(with_bootstrap);
  Json create_null = t3.project_create("p-null", "/tmp");
  create_null["createWorkspaceRootIfMissing"] = nullptr;
  create_null["defaultModelSelection"] = nullptr;
  t3.ok(create_null);
  EXPECT_EQ(t3.project("p-null").at("defaultModelSelection"), nullptr);
}

TEST(FakeT3Decoding, ContentTypeAndMalformedJsonPerVersion) {
  T3 t3;
  const std::string dir = fs::temp_directory_path().string();
  const Json body = t3.project_create("p-ct", dir);
  const Reply text =
      post(t3.fake(), "/api/orchestration/dispatch", body.dump(), bearer(t3.token()), "text/plain");
  EXPECT_EQ(text.status, 415);
  EXPECT_EQ(text.content_type, "text/plain");
  EXPECT_EQ(text.body, "Unsupported content-type: text/plain");
  // No Content-Type at all: decoded as JSON (httplib's client would add text/plain).
  const std::string none = raw_post_without_content_type(t3.fake(), "/api/orchestration/dispatch",
                                                         t3.token(), body.dump());
  EXPECT_EQ(none.rfind("HTTP/1.1 200", 0), 0U) << none;
  EXPECT_EQ(t3.fake().requests().back().content_type, "");
  const Reply charset =
      post(t3.fake(), "/api/orchestration/dispatch", t3.project_create("p-cs", dir).dump(),
           bearer(t3.token()), "application/json; charset=utf-8");
  EXPECT_EQ(charset.status, 200) << charset.body;
  for (const std::string malformed : {"{not json", R"({"type":"project.create")"}) {
    const Reply r = t3.dispatch_raw(malformed);
    EXPECT_EQ(r.status, 500) << malformed;
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.content_type, "");
  }
  FakeT3Options later;
  later.version = T3Version::v0_0_32;
  T3 t32(later);
  expect_empty_400(t32.dispatch_raw("{not json"), "malformed JSON in 0.0.32");
}

// --- the engine --------------------------------------------------------------------------------

TEST(FakeT3Engine, NormalizerResolvesRootsAndRejectsMissingOnes) {
  T3 t3;
  const fs::path base =
      fs::temp_directory_path() / ("afk-fake-t3-norm-" + std::to_string(::getpid()));
  fs::remove_all(base);
  Json missing = t3.project_create("p-missing", (base / "nope").string());
  missing.erase("createWorkspaceRootIfMissing");
  expect_error(t3.dispatch(missing), 400, "EnvironmentRequestInvalidError", "invalid_request",
               "reason", "invalid_command");
  EXPECT_EQ(t3.fake().sequence(), 0);
  // The 400 left no receipt: the same commandId succeeds once the directory exists.
  fs::create_directories(base / "nope");
  t3.ok(missing);
  t3.ok(t3.project_create("p-created", (base / "made" / "here").string() + "//"));
  EXPECT_TRUE(fs::is_directory(base / "made" / "here"));
  EXPECT_EQ(t3.project("p-created").at("workspaceRoot"), (base / "made" / "here").string());
  fs::remove_all(base);
}

TEST(FakeT3Engine, InvariantsAre500AndRejectedIdsStayRejected) {
  T3 t3;
  t3.thread_ready();
  const std::string root = t3.project("p-1").at("workspaceRoot").get<std::string>();
  const Json duplicate_project = t3.project_create("p-1", root);
  expect_invariant_500(t3.dispatch(duplicate_project));
  expect_invariant_500(t3.dispatch(duplicate_project)); // previously rejected
  Json fixed = duplicate_project;
  fixed["projectId"] = "p-fresh";
  expect_invariant_500(t3.dispatch(fixed)); // same commandId: still rejected
  expect_invariant_500(t3.dispatch(t3.thread_create("t-1", "p-1")));
  expect_invariant_500(t3.dispatch(t3.thread_create("t-x", "p-nope")));
  Json orphan = t3.turn_start("t-nope");
  orphan["bootstrap"] = {{"createThread",
                          {{"projectId", "p-1"},
                           {"title", "boot"},
                           {"modelSelection", {{"instanceId", "claudeAgent"}, {"model", "m"}}},
                           {"runtimeMode", "full-access"},
                           {"interactionMode", "default"},
                           {"branch", nullptr},
                           {"worktreePath", nullptr},
                           {"createdAt", "x"}}}};
  expect_invariant_500(t3.dispatch(orphan)); // bootstrap is ignored over HTTP
  for (const std::string type : {"thread.turn.interrupt", "thread.delete", "thread.session.stop",
                                 "thread.archive", "thread.meta.update"}) {
    expect_invariant_500(t3.dispatch(t3.thread_command(type, "t-nope")));
  }
  expect_invariant_500(t3.dispatch(t3.thread_command("thread.unarchive", "t-1")));
  t3.ok(t3.thread_command("thread.archive", "t-1"));
  expect_invariant_500(t3.dispatch(t3.thread_command("thread.archive", "t-1")));
  t3.ok(t3.thread_command("thread.unarchive", "t-1"));
  expect_invariant_500(
      t3.dispatch(Json{{"type", "project.delete"}, {"commandId", "c-pdel"}, {"projectId", "p-1"}}));
  Json plan_turn = t3.turn_start("t-1");
  plan_turn["sourceProposedPlan"] = {{"threadId", "t-1"}, {"planId", "plan-1"}};
  expect_invariant_500(t3.dispatch(plan_turn));
  // 0.0.27 allows two projects on one root.
  t3.ok(t3.project_create("p-same", root + "/"));
}

TEST(FakeT3Engine, IdempotentCommandIdsAndOneGlobalSequence) {
  T3 t3;
  const std::string root = fs::temp_directory_path().string();
  Json project = t3.project_create("p-1", root);
  project["commandId"] = "c-p1";
  EXPECT_EQ(t3.ok(project), 1);
  Json different = project;
  different["projectId"] = "p-other";
  different["title"] = "DIFFERENT";
  EXPECT_EQ(t3.ok(different), 1);
  EXPECT_EQ(t3.fake().sequence(), 1);
  EXPECT_EQ(t3.snapshot().at("projects").size(), 1U);
  EXPECT_EQ(t3.ok(t3.thread_create("t-1", "p-1")), 2);
  EXPECT_EQ(t3.ok(t3.thread_create("t-2", "p-1")), 3);
  Json turn = t3.turn_start("t-1");
  EXPECT_EQ(t3.ok(turn), 5); // user message + turn-start-requested
  EXPECT_EQ(t3.ok(turn), 5);
  EXPECT_EQ(t3.fake().accepted_commands().size(), 4U);
  EXPECT_EQ(t3.fake().accepted_commands().front(), project.dump());
  EXPECT_EQ(t3.ok(t3.thread_command("thread.delete", "t-2")), 6);
  EXPECT_EQ(t3.ok(t3.thread_command("thread.delete", "t-2")), 7); // deleted again: one more event
  // Forced project.delete: one thread.deleted per live thread, then project.deleted.
  const std::int64_t seq = t3.ok(Json{
      {"type", "project.delete"}, {"commandId", "c-f"}, {"projectId", "p-1"}, {"force", true}});
  EXPECT_EQ(seq, t3.fake().sequence());
  const Json snap = t3.snapshot();
  EXPECT_EQ(snap.at("snapshotSequence"), seq);
  EXPECT_FALSE(snap.at("projects")[0].at("deletedAt").is_null());
  for (const auto& t : snap.at("threads")) {
    EXPECT_FALSE(t.at("deletedAt").is_null()) << t.at("id");
  }
  // The turn on t-1 was queued before the delete: its provider never runs.
  const std::int64_t settled = t3.fake().sequence();
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence(), settled);
  EXPECT_EQ(seq, 7 + 2); // 1 live thread + the project (t-2 was already deleted)
}

TEST(FakeT3Engine, ReadYourWritesAndTheSnapshotShape) {
  T3 t3;
  const Reply empty = get(t3.fake(), "/api/orchestration/snapshot", bearer(t3.token()));
  EXPECT_EQ(
      empty.body,
      R"({"snapshotSequence":0,"projects":[],"threads":[],"updatedAt":"1970-01-01T00:00:00.000Z"})");
  t3.thread_ready();
  const Json snap = t3.snapshot();
  EXPECT_EQ(snap.at("snapshotSequence"), 2);
  std::vector<std::string> keys;
  for (const auto& [key, value] : snap.at("threads")[0].items()) {
    keys.push_back(key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "projectId", "title", "modelSelection",
                                            "runtimeMode", "interactionMode", "branch",
                                            "worktreePath", "latestTurn", "createdAt", "updatedAt",
                                            "archivedAt", "deletedAt", "messages", "proposedPlans",
                                            "activities", "checkpoints", "session"}));
  keys.clear();
  for (const auto& [key, value] : snap.at("projects")[0].items()) {
    keys.push_back(key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "title", "workspaceRoot", "repositoryIdentity",
                                            "defaultModelSelection", "scripts", "createdAt",
                                            "updatedAt", "deletedAt"}));
  const Json& t = snap.at("threads")[0];
  EXPECT_EQ(t.at("createdAt"), "2026-06-15T10:00:01.000Z"); // 0.0.27 keeps the client's
  EXPECT_EQ(t.at("latestTurn"), nullptr);
  EXPECT_EQ(t.at("session"), nullptr);
  EXPECT_EQ(snap.at("updatedAt"), "2026-06-15T10:00:01.000Z");
  const std::int64_t seq = t3.ok(t3.turn_start("t-1"));
  const Json after = t3.snapshot();
  EXPECT_EQ(after.at("snapshotSequence"), seq);
  const Json& message = after.at("threads")[0].at("messages")[0];
  EXPECT_EQ(message.at("role"), "user");
  EXPECT_EQ(message.at("turnId"), nullptr);
  EXPECT_EQ(message.at("attachments"), Json::array());
  EXPECT_EQ(after.at("threads")[0].at("latestTurn"), nullptr);
  EXPECT_EQ(
      t3.fake().snapshot_json(),
      Json::parse(get(t3.fake(), "/api/orchestration/snapshot", bearer(t3.token())).body).dump());
}

TEST(FakeT3Engine, AttachmentsArePersistedAndBadOnesRejectedByTheNormalizer) {
  T3 t3;
  t3.thread_ready();
  Json turn = t3.turn_start("t-1");
  turn["message"]["attachments"] = Json::array({{{"type", "image"},
                                                 {"name", "shot.png"},
                                                 {"mimeType", "image/png"},
                                                 {"sizeBytes", 3},
                                                 {"dataUrl", "data:image/png;base64,AAEC"}}});
  t3.ok(turn);
  const Json attachment = t3.thread("t-1").at("messages")[0].at("attachments")[0];
  EXPECT_EQ(attachment.at("name"), "shot.png");
  EXPECT_EQ(attachment.at("sizeBytes"), 3);
  EXPECT_FALSE(attachment.contains("dataUrl"));
  EXPECT_TRUE(attachment.contains("id"));
  Json bad = t3.turn_start("t-1");
  bad["message"]["attachments"] = Json::array({{{"type", "image"},
                                                {"name", "shot.png"},
                                                {"mimeType", "image/png"},
                                                {"sizeBytes", 3},
                                                {"dataUrl", "not a data url"}}});
  expect_error(t3.dispatch(bad), 400, "EnvironmentRequestInvalidError", "invalid_request", "reason",
               "invalid_command");
}

// --- turns -------------------------------------------------------------------------------------

TEST(FakeT3Turns, CompletedTurnInAGitWorkspace) {
  T3 t3;
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  EXPECT_EQ(t3.fake().step(), 1); // the session binds and the turn starts running
  Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "running");
  const std::string turn_id = t.at("session").at("activeTurnId").get<std::string>();
  EXPECT_EQ(t.at("latestTurn").at("turnId"), turn_id);
  EXPECT_EQ(t.at("latestTurn").at("state"), "running");
  EXPECT_EQ(t.at("latestTurn").at("requestedAt"), "2026-06-15T10:00:02.000Z");
  EXPECT_EQ(t.at("latestTurn").at("startedAt"), "2026-06-15T10:00:02.000Z");
  EXPECT_EQ(t.at("latestTurn").at("completedAt"), nullptr);
  EXPECT_EQ(t.at("session").at("providerName"), "claudeAgent");
  EXPECT_EQ(t3.fake().advance(), 1);
  t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "ready");
  EXPECT_EQ(t.at("session").at("activeTurnId"), nullptr);
  EXPECT_EQ(t.at("latestTurn").at("state"), "completed");
  EXPECT_EQ(t.at("latestTurn").at("turnId"), turn_id);
  const Json& answer = t.at("messages")[1];
  EXPECT_EQ(answer.at("role"), "assistant");
  EXPECT_EQ(answer.at("text"), "Done.");
  EXPECT_EQ(answer.at("turnId"), turn_id);
  EXPECT_EQ(answer.at("streaming"), false);
  EXPECT_FALSE(answer.contains("attachments"));
  EXPECT_EQ(t.at("latestTurn").at("assistantMessageId"), answer.at("id"));
  ASSERT_EQ(t.at("checkpoints").size(), 1U);
  EXPECT_EQ(t.at("checkpoints")[0].at("checkpointRef"), "refs/t3/checkpoints/dC0x/turn/1");
  EXPECT_EQ(t.at("checkpoints")[0].at("status"), "ready");
  EXPECT_EQ(kinds(t), std::vector<std::string>{"checkpoint.captured"});
  EXPECT_EQ(t.at("activities")[0].at("turnId"), turn_id);
  EXPECT_EQ(t3.fake().advance(), 0);
}

TEST(FakeT3Turns, CompletionInANonGitWorkspaceLeavesLatestTurnNull) {
  T3 t3;
  t3.fake().set_agent([](const TurnContext&) {
    TurnPlan plan;
    plan.assistant_text = std::string(k_not_logged_in);
    plan.git_workspace = false;
    return plan;
  });
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("latestTurn"), nullptr);
  EXPECT_EQ(t.at("session").at("status"), "ready");
  EXPECT_EQ(t.at("session").at("lastError"), nullptr);
  EXPECT_EQ(t.at("messages")[1].at("text"), k_not_logged_in);
  EXPECT_FALSE(t.at("messages")[1].at("turnId").is_null());
  EXPECT_TRUE(t.at("activities").empty());
  EXPECT_TRUE(t.at("checkpoints").empty());
}

TEST(FakeT3Turns, FollowUpShowsThePreviousCompletedTurnUntilTheProviderMoves) {
  T3 t3;
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const std::string first = t3.thread("t-1").at("latestTurn").at("turnId").get<std::string>();
  t3.ok(t3.turn_start("t-1", "Again."));
  Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("latestTurn").at("turnId"), first);
  EXPECT_EQ(t.at("latestTurn").at("state"), "completed");
  t3.fake().step();
  t = t3.thread("t-1");
  EXPECT_EQ(t.at("latestTurn").at("state"), "running");
  EXPECT_NE(t.at("latestTurn").at("turnId"), first);
  t3.fake().advance();
  t = t3.thread("t-1");
  EXPECT_EQ(t.at("latestTurn").at("state"), "completed");
  EXPECT_NE(t.at("latestTurn").at("turnId"), first);
  EXPECT_EQ(t.at("checkpoints")[1].at("checkpointTurnCount"), 2);
}

TEST(FakeT3Turns, ErrorEnding) {
  T3 t3;
  t3.fake().set_agent([](const TurnContext&) {
    TurnPlan plan;
    plan.ending = TurnPlan::Ending::error;
    plan.error_text = "Claude Code process crashed";
    return plan;
  });
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "error");
  EXPECT_EQ(t.at("session").at("lastError"), "Claude Code process crashed");
  EXPECT_EQ(t.at("latestTurn").at("state"), "error");
  EXPECT_EQ(t.at("checkpoints")[0].at("status"), "error");
  const std::string turn_id = t.at("latestTurn").at("turnId").get<std::string>();
  EXPECT_EQ(t.at("latestTurn").at("assistantMessageId"), "assistant:" + turn_id);
  EXPECT_EQ(last_activity(t, "runtime.error").at("tone"), "error");
  EXPECT_EQ(last_activity(t, "runtime.error").at("turnId"), turn_id);
}

TEST(FakeT3Turns, StartFailedEndsStoppedWithLastErrorAndNoLatestTurn) {
  T3 t3;
  t3.fake().set_agent([](const TurnContext&) {
    TurnPlan plan;
    plan.ending = TurnPlan::Ending::start_failed;
    plan.error_text = "Claude Code native binary not found at claude.";
    return plan;
  });
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "stopped");
  EXPECT_EQ(t.at("session").at("lastError"),
            "Provider adapter process error (claudeAgent) for thread t-1: Claude Code native "
            "binary not found at claude.");
  EXPECT_EQ(t.at("latestTurn"), nullptr);
  EXPECT_EQ(t.at("messages").size(), 1U);
  EXPECT_EQ(t.at("messages")[0].at("turnId"), nullptr);
  EXPECT_EQ(kinds(t), (std::vector<std::string>{"provider.turn.start.failed", "runtime.error"}));
  const Json failed = last_activity(t, "provider.turn.start.failed");
  EXPECT_EQ(failed.at("payload").at("detail"), "Claude Code native binary not found at claude.");
  EXPECT_EQ(failed.at("turnId"), nullptr);
  EXPECT_EQ(failed.at("tone"), "error");
}

TEST(FakeT3Turns, RunningAsRootFailsFullAccessTurnsOnly) {
  FakeT3Options options;
  options.runs_as_root = true;
  T3 t3(options);
  std::atomic<int> agent_calls{0};
  t3.fake().set_agent([&](const TurnContext&) {
    ++agent_calls;
    return TurnPlan{};
  });
  t3.thread_ready("t-full", "full-access");
  t3.ok(t3.thread_create("t-approve", "p-1", "approval-required"));
  t3.ok(t3.turn_start("t-full"));
  t3.ok(t3.turn_start("t-approve"));
  t3.fake().advance();
  const Json full = t3.thread("t-full");
  EXPECT_EQ(full.at("session").at("status"), "stopped");
  EXPECT_EQ(full.at("session").at("lastError"),
            "Provider adapter process error (claudeAgent) for thread t-full: Claude Code process "
            "exited with code 1");
  EXPECT_EQ(last_activity(full, "provider.turn.start.failed").at("payload").at("detail"),
            "Claude Code process exited with code 1");
  EXPECT_EQ(t3.thread("t-approve").at("latestTurn").at("state"), "completed");
  EXPECT_EQ(agent_calls.load(), 1);
}

TEST(FakeT3Turns, UnknownProviderInstanceFailsAtTurnStartWithoutASession) {
  T3 t3;
  t3.thread_ready();
  Json bad = t3.thread_create("t-badinst", "p-1");
  bad["modelSelection"] = {{"instanceId", "noSuchInstance"}, {"model", "whatever-model"}};
  t3.ok(bad);
  const std::int64_t seq = t3.ok(t3.turn_start("t-badinst"));
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence(), seq + 1);
  const Json t = t3.thread("t-badinst");
  EXPECT_EQ(t.at("session"), nullptr);
  EXPECT_EQ(last_activity(t, "provider.turn.start.failed").at("payload").at("detail"),
            "Thread 't-badinst' references unknown provider instance 'noSuchInstance'. The "
            "instance is not configured in this build.");
}

TEST(FakeT3Turns, InterruptWithoutTurnIdEndsAsError) {
  T3 t3;
  t3.fake().set_agent([](const TurnContext&) {
    TurnPlan plan;
    plan.ending = TurnPlan::Ending::hang;
    return plan;
  });
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  EXPECT_EQ(t3.thread("t-1").at("latestTurn").at("state"), "running");
  EXPECT_EQ(t3.fake().advance(), 0) << "a hanging turn stays running";
  t3.ok(t3.thread_command("thread.turn.interrupt", "t-1"));
  t3.fake().advance();
  const Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "error");
  EXPECT_EQ(t.at("session").at("lastError"),
            "[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=tool_use");
  EXPECT_EQ(t.at("latestTurn").at("state"), "error");
  // A follow-up runs normally and clears lastError.
  t3.fake().set_agent([](const TurnContext&) { return TurnPlan{}; });
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  EXPECT_EQ(t3.thread("t-1").at("session").at("lastError"), nullptr);
  EXPECT_EQ(t3.thread("t-1").at("latestTurn").at("state"), "completed");
}

TEST(FakeT3Turns, InterruptNamingTheRunningTurnReadsInterruptedThenError) {
  T3 t3;
  t3.fake().set_agent([](const TurnContext&) {
    TurnPlan plan;
    plan.ending = TurnPlan::Ending::hang;
    return plan;
  });
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const std::string turn_id = t3.thread("t-1").at("latestTurn").at("turnId").get<std::string>();
  Json interrupt = t3.thread_command("thread.turn.interrupt", "t-1");
  interrupt["turnId"] = turn_id;
  t3.ok(interrupt);
  EXPECT_EQ(t3.thread("t-1").at("latestTurn").at("state"), "interrupted");
  t3.fake().advance();
  EXPECT_EQ(t3.thread("t-1").at("latestTurn").at("state"), "error");
  EXPECT_EQ(t3.thread("t-1").at("session").at("status"), "error");
}

TEST(FakeT3Turns, InterruptNamingACompletedTurnRewritesIt) {
  T3 t3;
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const Json before = t3.thread("t-1").at("latestTurn");
  Json interrupt = t3.thread_command("thread.turn.interrupt", "t-1");
  interrupt["turnId"] = before.at("turnId");
  t3.ok(interrupt);
  t3.fake().advance();
  const Json after = t3.thread("t-1").at("latestTurn");
  EXPECT_EQ(after.at("state"), "interrupted");
  EXPECT_EQ(after.at("completedAt"), before.at("completedAt"));
  EXPECT_EQ(t3.thread("t-1").at("session").at("status"), "ready");
}

TEST(FakeT3Turns, InterruptWithoutASessionFailsAsAnActivity) {
  T3 t3;
  t3.thread_ready();
  t3.ok(t3.thread_command("thread.turn.interrupt", "t-1"));
  t3.fake().advance();
  const Json failed = last_activity(t3.thread("t-1"), "provider.turn.interrupt.failed");
  ASSERT_FALSE(failed.is_null());
  EXPECT_EQ(failed.at("payload").at("detail"),
            "No active provider session is bound to this thread.");
}

TEST(FakeT3Turns, InterruptedByTheUser) {
  T3 t3;
  t3.fake().set_agent([](const TurnContext&) {
    TurnPlan plan;
    plan.ending = TurnPlan::Ending::interrupted_by_client;
    return plan;
  });
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "error");
  EXPECT_EQ(t.at("latestTurn").at("state"), "error");
}

TEST(FakeT3Turns, SessionStopWhileRunningPerVersion) {
  for (const auto version : {T3Version::v0_0_27, T3Version::v0_0_29}) {
    FakeT3Options options;
    options.version = version;
    T3 t3(options);
    t3.fake().set_agent([](const TurnContext&) {
      TurnPlan plan;
      plan.ending = TurnPlan::Ending::hang;
      return plan;
    });
    t3.thread_ready();
    t3.ok(t3.turn_start("t-1"));
    t3.fake().advance();
    t3.ok(t3.thread_command("thread.session.stop", "t-1"));
    t3.fake().advance();
    const Json t = t3.thread("t-1");
    EXPECT_EQ(t.at("session").at("status"), "stopped");
    EXPECT_EQ(t.at("session").at("activeTurnId"), nullptr);
    EXPECT_EQ(t.at("latestTurn").at("state"),
              version == T3Version::v0_0_27 ? "running" : "interrupted");
  }
}

TEST(FakeT3Turns, SessionStopWhenIdleClearsLatestTurn) {
  T3 t3;
  t3.thread_ready();
  t3.ok(t3.thread_command("thread.session.stop", "t-1")); // no session yet
  t3.fake().advance();
  Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "stopped");
  EXPECT_EQ(t.at("session").at("providerName"), nullptr);
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  EXPECT_EQ(t3.thread("t-1").at("latestTurn").at("state"), "completed");
  t3.ok(t3.thread_command("thread.session.stop", "t-1"));
  t3.fake().advance();
  t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "stopped");
  EXPECT_EQ(t.at("session").at("lastError"), nullptr);
  EXPECT_EQ(t.at("latestTurn"), nullptr);
}

TEST(FakeT3Turns, TurnStartOnADeletedThreadIsASilentNoOp) {
  T3 t3;
  t3.thread_ready();
  t3.ok(t3.thread_command("thread.delete", "t-1"));
  t3.fake().advance();
  const std::int64_t seq = t3.ok(t3.turn_start("t-1"));
  EXPECT_EQ(seq, 3 + 2); // project, thread, delete; then the user message and the request
  t3.fake().advance();
  EXPECT_EQ(t3.fake().sequence(), seq);
  const Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("session"), nullptr);
  EXPECT_TRUE(t.at("activities").empty());
  EXPECT_FALSE(t.at("deletedAt").is_null());
}

TEST(FakeT3Turns, ThreadsUseTheirStoredModesNotTheCommands) {
  T3 t3;
  std::vector<TurnContext> seen;
  std::mutex seen_mutex;
  t3.fake().set_agent([&](const TurnContext& ctx) {
    std::lock_guard lock(seen_mutex);
    seen.push_back(ctx);
    return TurnPlan{};
  });
  t3.thread_ready("t-1", "approval-required");
  Json turn = t3.turn_start("t-1");
  turn["runtimeMode"] = "full-access";
  turn["interactionMode"] = "plan";
  t3.ok(turn);
  t3.fake().advance();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].runtime_mode, "approval-required");
  EXPECT_EQ(seen[0].interaction_mode, "default");
  EXPECT_EQ(seen[0].turn_number, 1);
  EXPECT_EQ(t3.thread("t-1").at("session").at("runtimeMode"), "approval-required");
  Json mode = t3.thread_command("thread.runtime-mode.set", "t-1");
  mode["runtimeMode"] = "full-access";
  t3.ok(mode);
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[1].runtime_mode, "full-access");
  EXPECT_EQ(seen[1].turn_number, 2);
}

// --- humans in the loop ------------------------------------------------------------------------

TEST(FakeT3Humans, ApprovalsWaitForAnAnswer) {
  T3 t3;
  t3.fake().set_agent([](const TurnContext&) {
    TurnPlan plan;
    plan.approvals = {"git push origin HEAD:master"};
    return plan;
  });
  t3.thread_ready("t-1", "approval-required");
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  Json t = t3.thread("t-1");
  EXPECT_EQ(t.at("session").at("status"), "running");
  const Json requested = last_activity(t, "approval.requested");
  ASSERT_FALSE(requested.is_null());
  EXPECT_EQ(requested.at("tone"), "approval");
  EXPECT_EQ(requested.at("turnId"), t.at("latestTurn").at("turnId"));
  EXPECT_EQ(requested.at("payload").at("requestKind"), "command");
  EXPECT_EQ(requested.at("payload").at("requestType"), "command_execution_approval");
  EXPECT_EQ(requested.at("payload").at("detail"), "Bash: git push origin HEAD:master");
  EXPECT_EQ(t3.fake().advance(), 0) << "it waits on the human";
  // A wrong requestId is stale: 200, then a failure activity; the turn still waits.
  Json wrong = t3.thread_command("thread.approval.respond", "t-1");
  wrong["requestId"] = "no-such-request";
  wrong["decision"] = "accept";
  t3.ok(wrong);
  t3.fake().advance();
  t = t3.thread("t-1");
  const Json stale = last_activity(t, "provider.approval.respond.failed");
  EXPECT_EQ(stale.at("payload").at("detail"),
            "Stale pending approval request: no-such-request. Provider callback state does not "
            "survive app restarts or recovered sessions. Restart the turn to continue.");
  EXPECT_EQ(stale.at("payload").at("requestId"), "no-such-request");
  EXPECT_EQ(stale.at("turnId"), nullptr);
  EXPECT_EQ(t.at("session").at("status"), "running");
  Json answer = t3.thread_command("thread.approval.respond", "t-1");
  answer["requestId"] = requested.at("payload").at("requestId");
  answer["decision"] = "accept";
  t3.ok(answer);
  t3.fake().advance();
  t = t3.thread("t-1");
  EXPECT_EQ(last_activity(t, "approval.resolved").at("payload").at("decision"), "accept");
  EXPECT_EQ(t.at("session").at("status"), "ready");
  EXPECT_EQ(t.at("latestTurn").at("state"), "completed");
}

TEST(FakeT3Humans, QuestionsWaitForAnswersAndASecondAnswerIsStale) {
  FakeT3Options options;
  options.version = T3Version::v0_0_29;
  T3 t3(options);
  t3.fake().set_agent([](const TurnContext&) {
    TurnPlan plan;
    plan.questions = {"Deploy now?"};
    return plan;
  });
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const Json requested = last_activity(t3.thread("t-1"), "user-input.requested");
  ASSERT_FALSE(requested.is_null());
  EXPECT_EQ(requested.at("tone"), "info");
  const Json& question = requested.at("payload").at("questions")[0];
  EXPECT_EQ(question.at("id"), "Deploy now?");
  EXPECT_EQ(question.at("question"), "Deploy now?");
  EXPECT_EQ(question.at("options")[0].at("label"), "Yes");
  EXPECT_EQ(question.at("multiSelect"), false);
  const Json shell = get(t3.fake(), "/api/orchestration/shell", bearer(t3.token())).json();
  EXPECT_EQ(shell.at("threads")[0].at("hasPendingUserInput"), true);
  EXPECT_EQ(shell.at("threads")[0].at("hasPendingApprovals"), false);
  Json answer = t3.thread_command("thread.user-input.respond", "t-1");
  answer["requestId"] = requested.at("payload").at("requestId");
  answer["answers"] = {{"Deploy now?", "Yes"}};
  t3.ok(answer);
  t3.fake().advance();
  Json t = t3.thread("t-1");
  EXPECT_EQ(last_activity(t, "user-input.resolved").at("payload").at("answers"),
            (Json{{"Deploy now?", "Yes"}}));
  EXPECT_EQ(t.at("latestTurn").at("state"), "completed");
  answer["commandId"] = "c-again";
  t3.ok(answer);
  t3.fake().advance();
  const Json stale = last_activity(t3.thread("t-1"), "provider.user-input.respond.failed");
  ASSERT_FALSE(stale.is_null());
  EXPECT_NE(stale.at("payload").at("detail").get<std::string>().find(
                "Stale pending user-input request: "),
            std::string::npos);
  EXPECT_EQ(get(t3.fake(), "/api/orchestration/shell", bearer(t3.token()))
                .json()
                .at("threads")[0]
                .at("hasPendingUserInput"),
            false);
}

// --- versions ----------------------------------------------------------------------------------

TEST(FakeT3Versions, V0_0_29AddsAutoShellThreadsServerTimesAndTheRootInvariant) {
  FakeT3Options options;
  options.version = T3Version::v0_0_29;
  T3 t3(options);
  t3.thread_ready();
  Json auto_thread = t3.thread_create("t-auto", "p-1", "auto");
  t3.ok(auto_thread);
  const Json t = t3.thread("t-auto");
  EXPECT_NE(t.at("createdAt"), "2026-06-15T10:00:01.000Z") << "0.0.29 stamps its own time";
  EXPECT_EQ(t.at("settledOverride"), nullptr);
  EXPECT_EQ(t.at("settledAt"), nullptr);
  const std::string root = t3.project("p-1").at("workspaceRoot").get<std::string>();
  expect_invariant_500(t3.dispatch(t3.project_create("p-same", root)));
  const Reply shell = get(t3.fake(), "/api/orchestration/shell", bearer(t3.token()));
  ASSERT_EQ(shell.status, 200);
  const Json shell_thread = shell.json().at("threads")[0];
  EXPECT_FALSE(shell_thread.contains("messages"));
  EXPECT_EQ(shell_thread.at("hasPendingApprovals"), false);
  EXPECT_EQ(shell_thread.at("latestUserMessageAt"), nullptr);
  EXPECT_FALSE(shell.json().at("projects")[0].contains("deletedAt"));
  const Reply detail = get(t3.fake(), "/api/orchestration/threads/t-1", bearer(t3.token()));
  ASSERT_EQ(detail.status, 200);
  EXPECT_EQ(detail.json().at("thread").at("id"), "t-1");
  EXPECT_EQ(detail.json().at("snapshotSequence"), t3.fake().sequence());
  expect_error(get(t3.fake(), "/api/orchestration/threads/t-nope", bearer(t3.token())), 404,
               "EnvironmentResourceNotFoundError", "not_found", "reason", "thread_not_found");
  EXPECT_EQ(get(t3.fake(), "/api/orchestration/threads/t-1").status, 401);
  // Settle, then a turn start un-settles: 2 + 1 events.
  t3.ok(t3.thread_command("thread.settle", "t-1"));
  EXPECT_EQ(t3.thread("t-1").at("settledOverride"), "settled");
  const std::int64_t before = t3.fake().sequence();
  EXPECT_EQ(t3.ok(t3.turn_start("t-1")), before + 3);
  EXPECT_EQ(t3.thread("t-1").at("settledOverride"), nullptr);
  expect_invariant_500(t3.dispatch(t3.thread_command("thread.settle", "t-1"))); // queued turn
  Json snooze = t3.thread_command("thread.snooze", "t-auto");
  snooze["snoozedUntil"] = "2999-01-01T00:00:00.000Z";
  t3.ok(snooze);
  EXPECT_EQ(t3.thread("t-auto").at("snoozedUntil"), "2999-01-01T00:00:00.000Z");
  Json unsnooze = t3.thread_command("thread.unsnooze", "t-auto");
  unsnooze["reason"] = "user";
  t3.ok(unsnooze);
  EXPECT_FALSE(t3.thread("t-auto").contains("snoozedUntil"));
  // Deleted threads drop out of /shell and /threads/{id}; /snapshot keeps them.
  t3.ok(t3.thread_command("thread.delete", "t-auto"));
  EXPECT_EQ(get(t3.fake(), "/api/orchestration/threads/t-auto", bearer(t3.token())).status, 404);
  EXPECT_EQ(
      get(t3.fake(), "/api/orchestration/shell", bearer(t3.token())).json().at("threads").size(),
      1U);
  EXPECT_EQ(t3.snapshot().at("threads").size(), 2U);
}

TEST(FakeT3Versions, V0_0_32EmptiesSnapshotBodiesAndAddsPins) {
  FakeT3Options options;
  options.version = T3Version::v0_0_32;
  T3 t3(options);
  t3.thread_ready();
  t3.ok(t3.turn_start("t-1"));
  t3.fake().advance();
  const Json t = t3.thread("t-1");
  EXPECT_TRUE(t.at("messages").empty());
  EXPECT_TRUE(t.at("activities").empty());
  EXPECT_TRUE(t.at("checkpoints").empty());
  EXPECT_EQ(t.at("latestTurn").at("state"), "completed");
  EXPECT_EQ(t.at("session").at("status"), "ready");
  const Json detail =
      get(t3.fake(), "/api/orchestration/threads/t-1?turnLimit=5", bearer(t3.token())).json();
  EXPECT_EQ(detail.at("thread").at("messages").size(), 2U);
  EXPECT_EQ(detail.at("thread").at("checkpoints").size(), 1U);
  expect_empty_400(get(t3.fake(), "/api/orchestration/threads/t-1?turnLimit=0", bearer(t3.token())),
                   "turnLimit 0");
  t3.ok(t3.thread_command("thread.pin", "t-1"));
  EXPECT_TRUE(t3.thread("t-1").contains("pinnedAt"));
  t3.ok(t3.thread_command("thread.unpin", "t-1"));
  EXPECT_FALSE(t3.thread("t-1").contains("pinnedAt"));
  Json both = t3.thread_command("thread.meta.update", "t-1");
  both["title"] = "New";
  both["regenerateTitle"] = true;
  expect_empty_400(t3.dispatch(both), "title with regenerateTitle");
  both.erase("title");
  t3.ok(both);
  Json guarded = t3.thread_command("thread.meta.update", "t-1");
  guarded["branch"] = "afk/issue-1";
  guarded["expectedBranch"] = "someone-else";
  t3.ok(guarded);
  EXPECT_EQ(t3.thread("t-1").at("branch"), nullptr) << "expectedBranch did not match";
}

// --- test hooks --------------------------------------------------------------------------------

TEST(FakeT3Hooks, FailNextAfterApplyLosesTheAnswerButNotTheCommand) {
  T3 t3;
  const Json project = t3.project_create("p-1", fs::temp_directory_path().string());
  t3.fake().fail_next("/api/orchestration/dispatch", 500, 1, true);
  const Reply lost = t3.dispatch(project);
  expect_invariant_500(lost);
  EXPECT_EQ(t3.fake().sequence(), 1) << "applied although the answer was a 500";
  EXPECT_EQ(t3.ok(project), 1) << "a retry with the same commandId gets the original sequence";
  t3.fake().fail_next("/api/orchestration/dispatch", 503, 2);
  const Json thread = t3.thread_create("t-1", "p-1");
  EXPECT_EQ(t3.dispatch(thread).status, 503);
  EXPECT_EQ(t3.dispatch(thread).status, 503);
  EXPECT_EQ(t3.fake().sequence(), 1) << "not applied";
  EXPECT_EQ(t3.ok(thread), 2);
  t3.fake().fail_next("/api/orchestration/snapshot", 500);
  const Reply snap = get(t3.fake(), "/api/orchestration/snapshot", bearer(t3.token()));
  expect_error(snap, 500, "EnvironmentInternalError", "internal_error", "reason",
               "orchestration_snapshot_failed");
  const auto requests = t3.fake().requests();
  ASSERT_EQ(requests.size(), 6U);
  EXPECT_EQ(requests[0].status, 500);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/api/orchestration/dispatch");
  EXPECT_EQ(requests[0].authorization, "Bearer " + t3.token());
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].body, project.dump());
  EXPECT_EQ(requests[1].status, 200);
  EXPECT_EQ(requests[5].status, 500);
}

TEST(FakeT3Hooks, DelayMakesClientsTimeOut) {
  T3 t3;
  t3.fake().set_delay(300ms);
  httplib::Client client(t3.fake().url());
  client.set_read_timeout(0, 50000); // 50 ms
  const auto started = std::chrono::steady_clock::now();
  const auto result = client.Get("/.well-known/t3/environment");
  EXPECT_FALSE(result);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 250ms);
  t3.fake().set_delay(0ms);
  EXPECT_EQ(get(t3.fake(), "/.well-known/t3/environment").status, 200);
}

TEST(FakeT3Hooks, AutoAdvancePlaysTurnsInTheBackground) {
  T3 t3;
  t3.thread_ready();
  t3.fake().set_auto_advance(5ms);
  t3.ok(t3.turn_start("t-1"));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  Json latest = nullptr;
  while (std::chrono::steady_clock::now() < deadline) {
    latest = t3.thread("t-1").at("latestTurn");
    if (!latest.is_null() && latest.at("state") == "completed") {
      break;
    }
    std::this_thread::sleep_for(5ms); // polling, as a client does
  }
  ASSERT_FALSE(latest.is_null());
  EXPECT_EQ(latest.at("state"), "completed");
  t3.fake().stop_auto_advance();
}

std::string find_git() {
  for (const char* candidate : {"/usr/bin/git", "/bin/git", "/usr/local/bin/git"}) {
    if (fs::exists(candidate)) {
      return candidate;
    }
  }
  return "";
}

TEST(FakeT3Hooks, ScriptedAgentDoesRealGitWorkInTheWorktree) {
  const std::string git = find_git();
  if (git.empty()) {
    GTEST_SKIP() << "git is not installed";
  }
  const fs::path base =
      fs::temp_directory_path() / ("afk-fake-t3-git-" + std::to_string(::getpid()));
  fs::remove_all(base);
  const fs::path repo = base / "repo";
  fs::create_directories(repo);
  const std::map<std::string, std::string> env = {{"HOME", base.string()},
                                                  {"GIT_AUTHOR_NAME", "Agent"},
                                                  {"GIT_AUTHOR_EMAIL", "agent@example.invalid"},
                                                  {"GIT_COMMITTER_NAME", "Agent"},
                                                  {"GIT_COMMITTER_EMAIL", "agent@example.invalid"},
                                                  {"PATH", "/usr/bin:/bin"}};
  const auto run_git = [&](const std::vector<std::string>& args, const fs::path& cwd) {
    std::vector<std::string> argv = {git, "-C", cwd.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return afk::test::run_process(argv, env, base / "scratch");
  };
  ASSERT_EQ(run_git({"init", "-q", "-b", "main"}, repo).exit_code, 0);
  ASSERT_EQ(run_git({"commit", "-q", "--allow-empty", "-m", "init"}, repo).exit_code, 0);
  const fs::path worktree = base / "wt";
  ASSERT_EQ(
      run_git({"worktree", "add", "-q", "-b", "afk/issue-7", worktree.string()}, repo).exit_code,
      0);

  T3 t3;
  std::optional<TurnContext> seen;
  t3.fake().set_agent([&](const TurnContext& ctx) {
    seen = ctx;
    std::ofstream(fs::path(ctx.worktree_path) / "afk.txt") << ctx.message_text << "\n";
    TurnPlan plan;
    if (run_git({"add", "afk.txt"}, ctx.worktree_path).exit_code != 0 ||
        run_git({"commit", "-q", "-m", "Fix #7"}, ctx.worktree_path).exit_code != 0) {
      plan.ending = TurnPlan::Ending::error;
      plan.error_text = "git failed";
      return plan;
    }
    plan.assistant_text = "Committed afk.txt.";
    plan.files = {{"afk.txt", "modified", 1, 0}};
    return plan;
  });
  t3.ok(t3.project_create("p-git", repo.string()));
  Json thread = t3.thread_create("t-git", "p-git");
  thread["branch"] = "afk/issue-7";
  thread["worktreePath"] = worktree.string();
  t3.ok(thread);
  t3.ok(t3.turn_start("t-git", "hello from afk"));
  t3.fake().advance();

  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->thread_id, "t-git");
  EXPECT_EQ(seen->project_id, "p-git");
  EXPECT_EQ(seen->branch, "afk/issue-7");
  EXPECT_EQ(seen->worktree_path, worktree.string());
  EXPECT_EQ(seen->workspace_root, repo.string());
  EXPECT_EQ(seen->message_text, "hello from afk");
  const Json t = t3.thread("t-git");
  EXPECT_EQ(t.at("latestTurn").at("turnId"), seen->turn_id);
  EXPECT_EQ(t.at("latestTurn").at("state"), "completed");
  EXPECT_EQ(t.at("checkpoints")[0].at("files")[0].at("path"), "afk.txt");
  const auto log = run_git({"log", "-1", "--format=%s", "afk/issue-7"}, repo);
  EXPECT_EQ(log.out, "Fix #7\n");
  const auto show = run_git({"show", "afk/issue-7:afk.txt"}, repo);
  EXPECT_EQ(show.out, "hello from afk\n");
  fs::remove_all(base);
}

} // namespace
