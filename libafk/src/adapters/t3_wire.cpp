// SPDX-License-Identifier: MIT
#include "adapters/t3_wire.hpp"

#include "adapters/tracker_json.hpp"

#include <afk/error.hpp>
#include <afk/prompt.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

namespace afk {

namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;
using tracker_json::Reader;

// --- Building commands ----------------------------------------------------------------

bool blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// T3 trims ids, titles, models and paths and rejects what is left empty with a 400.
std::string text(std::string_view command, std::string_view field, std::string_view value) {
  if (blank(value)) {
    throw Error(ErrorKind::permanent, "T3 " + std::string(command) + ": " + std::string(field) +
                                          " is blank; T3 would reject the command");
  }
  return std::string(value);
}

ordered head(std::string_view type, std::string_view command_id) {
  ordered body;
  body["type"] = type;
  body["commandId"] = text(type, "commandId", command_id);
  return body;
}

ordered thread_head(std::string_view type, std::string_view command_id,
                    std::string_view thread_id) {
  ordered body = head(type, command_id);
  body["threadId"] = text(type, "threadId", thread_id);
  return body;
}

ordered nullable(std::string_view value) {
  return value.empty() ? ordered(nullptr) : ordered(std::string(value));
}

std::string dump(const ordered& body) {
  return body.dump(-1, ' ', false, ordered::error_handler_t::replace);
}

std::string_view decision_name(T3Decision decision) {
  switch (decision) {
  case T3Decision::accept:
    return "accept";
  case T3Decision::accept_for_session:
    return "acceptForSession";
  case T3Decision::decline:
    return "decline";
  case T3Decision::cancel:
    return "cancel";
  }
  return "decline";
}

// --- Reading --------------------------------------------------------------------------

// Tolerant accessors over Reader: an absent or null key reads as empty; a key present with
// the wrong JSON type is still a protocol error, because then the body is not T3's.
std::string opt_string(const Reader& in, const json& object, std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return {};
  }
  if (!it->is_string()) {
    in.fail('"' + std::string(key) + "\" is not a string");
  }
  return it->get<std::string>();
}

std::optional<T3Time> opt_time(const Reader& in, const json& object, std::string_view key) {
  const std::string value = opt_string(in, object, key);
  return value.empty() ? std::nullopt : parse_t3_time(value);
}

const json* opt_object(const Reader& in, const json& object, std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return nullptr;
  }
  if (!it->is_object()) {
    in.fail('"' + std::string(key) + "\" is not an object");
  }
  return &*it;
}

const json& opt_array(const Reader& in, const json& object, std::string_view key) {
  static const json empty = json::array();
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return empty;
  }
  return in.array(*it, '"' + std::string(key) + '"');
}

T3SessionStatus session_status(std::string_view text) {
  static constexpr std::pair<std::string_view, T3SessionStatus> k_names[] = {
      {"idle", T3SessionStatus::idle},
      {"starting", T3SessionStatus::starting},
      {"running", T3SessionStatus::running},
      {"ready", T3SessionStatus::ready},
      {"interrupted", T3SessionStatus::interrupted},
      {"stopped", T3SessionStatus::stopped},
      {"error", T3SessionStatus::error}};
  for (const auto& [name, value] : k_names) {
    if (text == name) {
      return value;
    }
  }
  return T3SessionStatus::unknown;
}

T3TurnState turn_state(std::string_view text) {
  if (text == "running") {
    return T3TurnState::running;
  }
  if (text == "interrupted") {
    return T3TurnState::interrupted;
  }
  if (text == "completed") {
    return T3TurnState::completed;
  }
  if (text == "error") {
    return T3TurnState::error;
  }
  return T3TurnState::unknown;
}

T3Role role(std::string_view text) {
  if (text == "user") {
    return T3Role::user;
  }
  if (text == "assistant") {
    return T3Role::assistant;
  }
  if (text == "system") {
    return T3Role::system;
  }
  return T3Role::unknown;
}

T3Activity read_activity(const Reader& in, const json& item) {
  T3Activity activity{.id = opt_string(in, item, "id"),
                      .tone = opt_string(in, item, "tone"),
                      .kind = in.string(item, "kind"),
                      .summary = opt_string(in, item, "summary"),
                      .turn_id = opt_string(in, item, "turnId"),
                      .created_at = opt_time(in, item, "createdAt"),
                      .request_id = {},
                      .questions = {},
                      .detail = {}};
  // The payload is `unknown` in T3's schema: read what afk needs only if it has that shape.
  const auto payload = item.find("payload");
  if (payload == item.end() || !payload->is_object()) {
    return activity;
  }
  const auto string_at = [&](std::string_view key) {
    const auto it = payload->find(key);
    return it != payload->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  activity.request_id = string_at("requestId");
  activity.detail = string_at("detail");
  if (activity.detail.empty()) {
    activity.detail = string_at("message");
  }
  const auto questions = payload->find("questions");
  if (questions != payload->end() && questions->is_array()) {
    for (const json& question : *questions) {
      if (question.is_object()) {
        const auto id = question.find("id");
        const auto asked = question.find("question");
        if (id != question.end() && id->is_string()) {
          activity.questions.push_back(id->get<std::string>());
        } else if (asked != question.end() && asked->is_string()) {
          activity.questions.push_back(asked->get<std::string>());
        }
      }
    }
  }
  return activity;
}

T3Thread read_thread(const Reader& in, const json& item) {
  T3Thread thread{.id = in.string(item, "id"),
                  .project_id = in.string(item, "projectId"),
                  .title = opt_string(in, item, "title"),
                  .runtime_mode = opt_string(in, item, "runtimeMode"),
                  .interaction_mode = opt_string(in, item, "interactionMode"),
                  .branch = opt_string(in, item, "branch"),
                  .worktree_path = opt_string(in, item, "worktreePath"),
                  .latest_turn = std::nullopt,
                  .session = std::nullopt,
                  .created_at = opt_time(in, item, "createdAt"),
                  .updated_at = opt_time(in, item, "updatedAt"),
                  .archived_at = opt_time(in, item, "archivedAt"),
                  .deleted_at = opt_time(in, item, "deletedAt"),
                  .messages = {},
                  .activities = {},
                  .checkpoints = {}};
  if (const json* turn = opt_object(in, item, "latestTurn")) {
    thread.latest_turn =
        T3LatestTurn{.turn_id = in.string(*turn, "turnId"),
                     .state = turn_state(in.string(*turn, "state")),
                     .assistant_message_id = opt_string(in, *turn, "assistantMessageId")};
  }
  if (const json* session = opt_object(in, item, "session")) {
    thread.session = T3Session{.status = session_status(in.string(*session, "status")),
                               .active_turn_id = opt_string(in, *session, "activeTurnId"),
                               .last_error = opt_string(in, *session, "lastError"),
                               .updated_at = opt_time(in, *session, "updatedAt")};
  }
  for (const json& message : opt_array(in, item, "messages")) {
    const auto streaming = message.find("streaming");
    thread.messages.push_back(T3Message{.id = in.string(message, "id"),
                                        .role = role(in.string(message, "role")),
                                        .text = opt_string(in, message, "text"),
                                        .turn_id = opt_string(in, message, "turnId"),
                                        .streaming = streaming != message.end() &&
                                                     streaming->is_boolean() &&
                                                     streaming->get<bool>(),
                                        .created_at = opt_time(in, message, "createdAt"),
                                        .updated_at = opt_time(in, message, "updatedAt")});
  }
  for (const json& activity : opt_array(in, item, "activities")) {
    thread.activities.push_back(read_activity(in, activity));
  }
  for (const json& checkpoint : opt_array(in, item, "checkpoints")) {
    thread.checkpoints.push_back(T3Checkpoint{.turn_id = opt_string(in, checkpoint, "turnId"),
                                              .status = opt_string(in, checkpoint, "status")});
  }
  return thread;
}

T3Project read_project(const Reader& in, const json& item) {
  return T3Project{.id = in.string(item, "id"),
                   .title = opt_string(in, item, "title"),
                   .workspace_root = opt_string(in, item, "workspaceRoot"),
                   .deleted_at = opt_time(in, item, "deletedAt")};
}

std::int64_t sequence_of(const Reader& in, const json& doc, std::string_view key) {
  const std::int64_t value = in.integer(doc, key);
  if (value < 0) {
    in.fail('"' + std::string(key) + "\" is negative");
  }
  return value;
}

} // namespace

const T3Thread* T3Snapshot::thread(std::string_view id) const {
  const auto it =
      std::find_if(threads.begin(), threads.end(), [&](const T3Thread& t) { return t.id == id; });
  return it == threads.end() ? nullptr : &*it;
}

const T3Project* T3Snapshot::project(std::string_view id) const {
  const auto it = std::find_if(projects.begin(), projects.end(),
                               [&](const T3Project& p) { return p.id == id; });
  return it == projects.end() ? nullptr : &*it;
}

T3Snapshot parse_t3_snapshot(std::string_view body) {
  const Reader in("T3 GET /api/orchestration/snapshot");
  return in.parse(std::string(body), [&](const json& doc) {
    T3Snapshot snapshot{
        .sequence = sequence_of(in, doc, "snapshotSequence"), .projects = {}, .threads = {}};
    for (const json& item : in.array(in.member(doc, "projects"), "\"projects\"")) {
      snapshot.projects.push_back(read_project(in, item));
    }
    for (const json& item : in.array(in.member(doc, "threads"), "\"threads\"")) {
      snapshot.threads.push_back(read_thread(in, item));
    }
    return snapshot;
  });
}

T3ThreadRead parse_t3_thread_detail(std::string_view body) {
  const Reader in("T3 GET /api/orchestration/threads/{id}");
  return in.parse(std::string(body), [&](const json& doc) {
    T3ThreadRead read{.sequence = sequence_of(in, doc, "snapshotSequence"),
                      .thread = read_thread(in, in.object(doc, "thread"))};
    if (read.thread->deleted_at) {
      read.thread.reset();
    }
    return read;
  });
}

namespace t3_wire {

std::string project_create(std::string_view command_id, std::string_view project_id,
                           const T3ProjectSpec& spec, T3Time at) {
  constexpr std::string_view type = "project.create";
  ordered body = head(type, command_id);
  body["projectId"] = text(type, "projectId", project_id);
  body["title"] = text(type, "title", spec.title);
  body["workspaceRoot"] = text(type, "workspaceRoot", spec.workspace_root);
  body["createdAt"] = format_t3_time(at);
  return dump(body);
}

std::string thread_create(const T3ThreadSpec& spec, T3Time at) {
  constexpr std::string_view type = "thread.create";
  ordered body = thread_head(type, spec.command_id, spec.thread_id);
  body["projectId"] = text(type, "projectId", spec.project_id);
  body["title"] = text(type, "title", spec.title);
  body["modelSelection"] = {{"instanceId", text(type, "instanceId", spec.model.instance_id)},
                            {"model", text(type, "model", spec.model.model)}};
  body["runtimeMode"] = text(type, "runtimeMode", spec.runtime_mode);
  body["interactionMode"] = text(type, "interactionMode", spec.interaction_mode);
  body["branch"] = nullable(spec.branch);
  body["worktreePath"] = nullable(spec.worktree_path);
  body["createdAt"] = format_t3_time(at);
  return dump(body);
}

std::string turn_start(const T3TurnSpec& spec, T3Time at) {
  constexpr std::string_view type = "thread.turn.start";
  if (spec.text.size() > k_max_message_bytes) {
    throw Error(ErrorKind::permanent, "T3 thread.turn.start: the message is " +
                                          std::to_string(spec.text.size()) + " bytes, over the " +
                                          std::to_string(k_max_message_bytes) + " T3 takes");
  }
  ordered body = thread_head(type, spec.command_id, spec.thread_id);
  body["message"] = {{"messageId", text(type, "messageId", spec.message_id)},
                     {"role", "user"},
                     {"text", spec.text},
                     {"attachments", ordered::array()}};
  body["runtimeMode"] = text(type, "runtimeMode", spec.runtime_mode);
  body["interactionMode"] = text(type, "interactionMode", spec.interaction_mode);
  body["createdAt"] = format_t3_time(at);
  return dump(body);
}

std::string approval_respond(std::string_view command_id, std::string_view thread_id,
                             std::string_view request_id, T3Decision decision, T3Time at) {
  constexpr std::string_view type = "thread.approval.respond";
  ordered body = thread_head(type, command_id, thread_id);
  body["requestId"] = text(type, "requestId", request_id);
  body["decision"] = decision_name(decision);
  body["createdAt"] = format_t3_time(at);
  return dump(body);
}

std::string user_input_respond(std::string_view command_id, std::string_view thread_id,
                               std::string_view request_id, const T3Answers& answers, T3Time at) {
  constexpr std::string_view type = "thread.user-input.respond";
  ordered body = thread_head(type, command_id, thread_id);
  body["requestId"] = text(type, "requestId", request_id);
  ordered map = ordered::object();
  for (const auto& [question, answer] : answers) {
    map[text(type, "question id", question)] = answer;
  }
  body["answers"] = std::move(map);
  body["createdAt"] = format_t3_time(at);
  return dump(body);
}

std::string turn_interrupt(std::string_view command_id, std::string_view thread_id, T3Time at) {
  ordered body = thread_head("thread.turn.interrupt", command_id, thread_id);
  body["createdAt"] = format_t3_time(at);
  return dump(body);
}

std::string session_stop(std::string_view command_id, std::string_view thread_id, T3Time at) {
  ordered body = thread_head("thread.session.stop", command_id, thread_id);
  body["createdAt"] = format_t3_time(at);
  return dump(body);
}

std::string thread_archive(std::string_view command_id, std::string_view thread_id) {
  return dump(thread_head("thread.archive", command_id, thread_id));
}

std::string thread_delete(std::string_view command_id, std::string_view thread_id) {
  return dump(thread_head("thread.delete", command_id, thread_id));
}

std::int64_t parse_sequence(std::string_view body) {
  const Reader in("T3 POST /api/orchestration/dispatch");
  return in.parse(std::string(body),
                  [&](const json& doc) { return sequence_of(in, doc, "sequence"); });
}

std::string command_type(std::string_view body) {
  const json doc = json::parse(body, nullptr, false);
  const auto it = doc.is_object() ? doc.find("type") : doc.end();
  return doc.is_object() && it != doc.end() && it->is_string() ? it->get<std::string>()
                                                               : std::string();
}

T3Environment parse_environment(std::string_view body) {
  const Reader in("T3 GET /.well-known/t3/environment");
  return in.parse(std::string(body), [&](const json& doc) {
    T3Environment environment{.environment_id = opt_string(in, doc, "environmentId"),
                              .label = opt_string(in, doc, "label"),
                              .server_version = in.string(doc, "serverVersion")};
    if (doc.contains("orchestrationProtocolVersion")) {
      const std::int64_t version = in.integer(doc, "orchestrationProtocolVersion");
      if (version < 1 || version > 1'000'000) {
        in.fail("\"orchestrationProtocolVersion\" is out of range");
      }
      environment.protocol_version = static_cast<int>(version);
    }
    return environment;
  });
}

T3AuthSession parse_auth_session(std::string_view body) {
  const Reader in("T3 GET /api/auth/session");
  return in.parse(std::string(body), [&](const json& doc) {
    const json& authenticated = in.member(doc, "authenticated");
    if (!authenticated.is_boolean()) {
      in.fail("\"authenticated\" is not a boolean");
    }
    T3AuthSession session{.authenticated = authenticated.get<bool>(),
                          .scopes = {},
                          .expires_at = std::nullopt,
                          .method = opt_string(in, doc, "sessionMethod")};
    for (const json& scope : opt_array(in, doc, "scopes")) {
      if (!scope.is_string()) {
        in.fail("\"scopes\" holds a value that is not a string");
      }
      session.scopes.push_back(scope.get<std::string>());
    }
    const std::string expires = opt_string(in, doc, "expiresAt");
    if (!expires.empty()) {
      session.expires_at = parse_timestamp(expires);
      if (!session.expires_at) {
        in.fail("\"expiresAt\" is not a timestamp");
      }
    }
    return session;
  });
}

std::string error_summary(std::string_view body) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object()) {
    return {};
  }
  const auto field = [&](std::string_view key) {
    const auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string code = field("code");
  if (code.empty()) {
    return {};
  }
  const std::string more =
      !field("requiredScope").empty() ? field("requiredScope") : field("reason");
  // The server's words go into errors and logs: one clean line of bounded length.
  return one_line(more.empty() ? code : code + ": " + more, k_max_error_summary_bytes);
}

} // namespace t3_wire
} // namespace afk
