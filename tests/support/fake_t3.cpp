// SPDX-License-Identifier: MIT
#include "support/fake_t3.hpp"

#include "support/loopback_server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>

namespace afk::test {

// Named rather than anonymous: FakeT3::State (declared in the header) holds these types.
namespace fake_t3_detail {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::system_clock;

constexpr std::string_view k_static_missing = "No static directory configured and no dev URL set.";
constexpr std::string_view k_interrupt_diagnostic =
    "[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=tool_use";
constexpr std::string_view k_no_session = "No active provider session is bound to this thread.";
constexpr std::string_view k_root_refusal = "Claude Code process exited with code 1";
constexpr std::size_t k_max_image_bytes = 10U * 1024U * 1024U;

// --- small pure helpers ------------------------------------------------------------------------

std::string format_time(Clock::time_point when) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 64> buffer{};
  const auto millis = static_cast<int>(ms.count() % 1000);
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                utc.tm_sec, millis);
  return buffer.data();
}

std::string now_iso() {
  return format_time(Clock::now());
}

std::string trim(std::string_view text) {
  const auto is_space = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
  };
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_space(text.back())) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string base64url(std::string_view bytes) {
  static constexpr std::string_view k_alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(k_alphabet[(buffer >> static_cast<unsigned>(bits)) & 0x3FU]);
    }
  }
  if (bits > 0) {
    out.push_back(k_alphabet[(buffer << static_cast<unsigned>(6 - bits)) & 0x3FU]);
  }
  return out;
}

// Decoded length of standard base64 text, or nullopt when it is not base64.
std::optional<std::size_t> base64_decoded_size(std::string_view text) {
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 2) {
    return std::nullopt;
  }
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '/') {
      return std::nullopt;
    }
  }
  if ((text.size() + padding) % 4 != 0 && padding != 0) {
    return std::nullopt;
  }
  return text.size() * 6 / 8;
}

class Random {
public:
  Random()
      : m_engine(std::random_device{}()) {}
  std::string hex(std::size_t digits) {
    static constexpr std::string_view k_hex = "0123456789abcdef";
    std::string out;
    std::uniform_int_distribution<std::size_t> pick(0, 15);
    for (std::size_t i = 0; i < digits; ++i) {
      out.push_back(k_hex[pick(m_engine)]);
    }
    return out;
  }
  std::string uuid() {
    std::string h = hex(32);
    h[12] = '4';
    h[16] = "89ab"[static_cast<std::size_t>(h[16]) % 4];
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
           "-" + h.substr(20);
  }
  std::string bytes(std::size_t count) {
    std::string out;
    std::uniform_int_distribution<int> pick(0, 255);
    for (std::size_t i = 0; i < count; ++i) {
      out.push_back(static_cast<char>(pick(m_engine)));
    }
    return out;
  }

private:
  std::mt19937_64 m_engine;
};

bool is_after_0_0_27(T3Version v) {
  return v != T3Version::v0_0_27;
}

// --- strict command decoding (Effect Schema, as the contract and T3's source define it) --------

struct ShapeError {};     // → 400, empty body
struct NormalizeError {}; // → 400 invalid_command
struct InvariantError {}; // → 500 orchestration_dispatch_failed

bool has(const Json& obj, const char* key) {
  return obj.contains(key);
}

// Schema.optional(X) accepts null as "absent" (observed: titleSeed, createWorkspaceRootIfMissing,
// interactionMode on thread.create); optionalKey (modelSelection.options) does not.
bool present(const Json& obj, const char* key) {
  return obj.contains(key) && !obj.at(key).is_null();
}

std::string trimmed_non_empty(const Json& value) {
  if (!value.is_string()) {
    throw ShapeError{};
  }
  std::string text = trim(value.get<std::string>());
  if (text.empty()) {
    throw ShapeError{};
  }
  return text;
}

std::string required_trimmed(const Json& obj, const char* key) {
  if (!has(obj, key)) {
    throw ShapeError{};
  }
  return trimmed_non_empty(obj.at(key));
}

void copy_trimmed(const Json& in, Json& out, const char* key) {
  out[key] = required_trimmed(in, key);
}

void copy_optional_trimmed(const Json& in, Json& out, const char* key) {
  if (present(in, key)) {
    out[key] = trimmed_non_empty(in.at(key));
  }
}

// NullOr(TrimmedNonEmptyString), key required.
void copy_nullable_trimmed(const Json& in, Json& out, const char* key) {
  if (!has(in, key)) {
    throw ShapeError{};
  }
  out[key] = in.at(key).is_null() ? Json(nullptr) : Json(trimmed_non_empty(in.at(key)));
}

// optional(NullOr(TrimmedNonEmptyString)): null is a value ("clear it").
void copy_optional_nullable_trimmed(const Json& in, Json& out, const char* key) {
  if (has(in, key)) {
    out[key] = in.at(key).is_null() ? Json(nullptr) : Json(trimmed_non_empty(in.at(key)));
  }
}

void copy_iso(const Json& in, Json& out, const char* key) {
  if (!has(in, key) || !in.at(key).is_string()) {
    throw ShapeError{};
  }
  out[key] = in.at(key);
}

void copy_optional_bool(const Json& in, Json& out, const char* key) {
  if (present(in, key)) {
    if (!in.at(key).is_boolean()) {
      throw ShapeError{};
    }
    out[key] = in.at(key);
  }
}

std::string enum_value(const Json& value, const std::vector<std::string_view>& allowed) {
  if (!value.is_string()) {
    throw ShapeError{};
  }
  const auto text = value.get<std::string>();
  if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
    throw ShapeError{};
  }
  return text;
}

void copy_enum(const Json& in, Json& out, const char* key,
               const std::vector<std::string_view>& allowed) {
  if (!has(in, key)) {
    throw ShapeError{};
  }
  out[key] = enum_value(in.at(key), allowed);
}

void copy_literal(const Json& in, Json& out, const char* key, std::string_view literal) {
  copy_enum(in, out, key, {literal});
}

bool is_non_negative_int(const Json& value) {
  if (value.is_number_unsigned()) {
    return true;
  }
  if (value.is_number_integer()) {
    return value.get<std::int64_t>() >= 0;
  }
  if (value.is_number_float()) {
    const double d = value.get<double>();
    return d >= 0 && d == static_cast<double>(static_cast<std::int64_t>(d));
  }
  return false;
}

std::vector<std::string_view> runtime_modes(T3Version version) {
  if (version == T3Version::v0_0_27) {
    return {"approval-required", "auto-accept-edits", "full-access"};
  }
  return {"approval-required", "auto-accept-edits", "auto", "full-access"};
}

const std::vector<std::string_view> k_interaction_modes = {"default", "plan"};
const std::vector<std::string_view> k_decisions = {"accept", "acceptForSession", "decline",
                                                   "cancel"};
const std::vector<std::string_view> k_script_icons = {"play",      "test",  "lint",
                                                      "configure", "build", "debug"};

std::string provider_slug(const Json& value) {
  static const std::regex k_slug("^[a-zA-Z][a-zA-Z0-9_-]*$");
  std::string slug = trimmed_non_empty(value);
  if (slug.size() > 64 || !std::regex_match(slug, k_slug)) {
    throw ShapeError{};
  }
  return slug;
}

Json option_selection_value(const Json& value) {
  if (value.is_boolean()) {
    return value;
  }
  return trimmed_non_empty(value);
}

// ModelSelection: {instanceId (slug) | legacy provider, model, options?}. Unknown keys dropped.
Json decode_model_selection(const Json& raw) {
  if (!raw.is_object()) {
    throw ShapeError{};
  }
  Json out = Json::object();
  if (has(raw, "instanceId")) {
    out["instanceId"] = provider_slug(raw.at("instanceId"));
  } else if (has(raw, "provider") && raw.at("provider").is_string()) {
    out["instanceId"] = provider_slug(raw.at("provider"));
  } else {
    throw ShapeError{};
  }
  out["model"] = required_trimmed(raw, "model");
  if (has(raw, "options")) {
    const Json& options = raw.at("options");
    Json selections = Json::array();
    if (options.is_array()) {
      for (const auto& option : options) {
        if (!option.is_object()) {
          throw ShapeError{};
        }
        Json selection = Json::object();
        selection["id"] = required_trimmed(option, "id");
        if (!has(option, "value")) {
          throw ShapeError{};
        }
        selection["value"] = option_selection_value(option.at("value"));
        selections.push_back(selection);
      }
    } else if (options.is_object()) { // legacy {"effort":"high"} form
      for (const auto& [id, value] : options.items()) {
        if (value.is_boolean() || (value.is_string() && !trim(value.get<std::string>()).empty())) {
          selections.push_back(Json{{"id", id}, {"value", option_selection_value(value)}});
        }
      }
    } else {
      throw ShapeError{}; // includes null: `options` is an optionalKey
    }
    out["options"] = selections;
  }
  return out;
}

Json decode_scripts(const Json& raw) {
  if (!raw.is_array()) {
    throw ShapeError{};
  }
  Json out = Json::array();
  for (const auto& script : raw) {
    if (!script.is_object()) {
      throw ShapeError{};
    }
    Json s = Json::object();
    copy_trimmed(script, s, "id");
    copy_trimmed(script, s, "name");
    copy_trimmed(script, s, "command");
    copy_enum(script, s, "icon", k_script_icons);
    if (!has(script, "runOnWorktreeCreate") || !script.at("runOnWorktreeCreate").is_boolean()) {
      throw ShapeError{};
    }
    s["runOnWorktreeCreate"] = script.at("runOnWorktreeCreate");
    out.push_back(s);
  }
  return out;
}

Json decode_upload_attachment(const Json& raw) {
  static const std::regex k_image_mime("^image/.*", std::regex::icase);
  if (!raw.is_object()) {
    throw ShapeError{};
  }
  Json out = Json::object();
  copy_literal(raw, out, "type", "image");
  out["name"] = required_trimmed(raw, "name");
  out["mimeType"] = required_trimmed(raw, "mimeType");
  if (out["name"].get<std::string>().size() > 255 ||
      out["mimeType"].get<std::string>().size() > 100 ||
      !std::regex_match(out["mimeType"].get<std::string>(), k_image_mime)) {
    throw ShapeError{};
  }
  if (!has(raw, "sizeBytes") || !is_non_negative_int(raw.at("sizeBytes")) ||
      raw.at("sizeBytes").get<double>() > static_cast<double>(k_max_image_bytes)) {
    throw ShapeError{};
  }
  out["sizeBytes"] = raw.at("sizeBytes");
  out["dataUrl"] = required_trimmed(raw, "dataUrl");
  return out;
}

void decode_bootstrap(const Json& raw, T3Version version) {
  if (!raw.is_object()) {
    throw ShapeError{};
  }
  Json scratch = Json::object();
  if (present(raw, "createThread")) {
    const Json& create = raw.at("createThread");
    if (!create.is_object()) {
      throw ShapeError{};
    }
    copy_trimmed(create, scratch, "projectId");
    copy_trimmed(create, scratch, "title");
    if (!has(create, "modelSelection")) {
      throw ShapeError{};
    }
    decode_model_selection(create.at("modelSelection"));
    copy_enum(create, scratch, "runtimeMode", runtime_modes(version));
    copy_enum(create, scratch, "interactionMode", k_interaction_modes);
    copy_nullable_trimmed(create, scratch, "branch");
    copy_nullable_trimmed(create, scratch, "worktreePath");
    copy_iso(create, scratch, "createdAt");
  }
  if (present(raw, "prepareWorktree")) {
    const Json& prepare = raw.at("prepareWorktree");
    if (!prepare.is_object()) {
      throw ShapeError{};
    }
    copy_trimmed(prepare, scratch, "projectCwd");
    copy_trimmed(prepare, scratch, "baseBranch");
    copy_optional_trimmed(prepare, scratch, "branch");
    if (is_after_0_0_27(version)) { // added in 0.0.28; an unknown key before that
      copy_optional_bool(prepare, scratch, "startFromOrigin");
    }
  }
  copy_optional_bool(raw, scratch, "runSetupScript");
}

// Decodes one client command of `version`'s union into a normalized object (trimmed strings,
// defaults applied, unknown keys dropped). Throws ShapeError for anything the real schema rejects.
Json decode_command(const Json& body, T3Version version) {
  if (!body.is_object() || !has(body, "type") || !body.at("type").is_string()) {
    throw ShapeError{};
  }
  const std::string type = body.at("type").get<std::string>();
  const bool v29 = is_after_0_0_27(version);
  const bool v32 = version == T3Version::v0_0_32;
  Json out = Json::object();
  out["type"] = type;
  copy_trimmed(body, out, "commandId");
  const auto thread_only = [&] {
    copy_trimmed(body, out, "threadId");
  };

  if (type == "project.create") {
    copy_trimmed(body, out, "projectId");
    copy_trimmed(body, out, "title");
    copy_trimmed(body, out, "workspaceRoot");
    copy_optional_bool(body, out, "createWorkspaceRootIfMissing");
    if (has(body, "defaultModelSelection")) {
      out["defaultModelSelection"] = body.at("defaultModelSelection").is_null()
                                         ? Json(nullptr)
                                         : decode_model_selection(body.at("defaultModelSelection"));
    }
    copy_iso(body, out, "createdAt");
  } else if (type == "project.meta.update") {
    copy_trimmed(body, out, "projectId");
    copy_optional_trimmed(body, out, "title");
    copy_optional_trimmed(body, out, "workspaceRoot");
    if (has(body, "defaultModelSelection")) {
      out["defaultModelSelection"] = body.at("defaultModelSelection").is_null()
                                         ? Json(nullptr)
                                         : decode_model_selection(body.at("defaultModelSelection"));
    }
    if (present(body, "scripts")) {
      out["scripts"] = decode_scripts(body.at("scripts"));
    }
  } else if (type == "project.delete") {
    copy_trimmed(body, out, "projectId");
    copy_optional_bool(body, out, "force");
  } else if (type == "thread.create") {
    copy_trimmed(body, out, "threadId");
    copy_trimmed(body, out, "projectId");
    copy_trimmed(body, out, "title");
    if (!has(body, "modelSelection")) {
      throw ShapeError{};
    }
    out["modelSelection"] = decode_model_selection(body.at("modelSelection"));
    copy_enum(body, out, "runtimeMode", runtime_modes(version));
    out["interactionMode"] = present(body, "interactionMode")
                                 ? enum_value(body.at("interactionMode"), k_interaction_modes)
                                 : std::string("default");
    copy_nullable_trimmed(body, out, "branch");
    copy_nullable_trimmed(body, out, "worktreePath");
    copy_iso(body, out, "createdAt");
  } else if (type == "thread.delete" || type == "thread.archive" || type == "thread.unarchive") {
    thread_only();
  } else if (v29 && type == "thread.settle") {
    thread_only();
  } else if (v29 && (type == "thread.unsettle" || type == "thread.unsnooze")) {
    thread_only();
    copy_literal(body, out, "reason", "user");
  } else if (v29 && type == "thread.snooze") {
    thread_only();
    copy_iso(body, out, "snoozedUntil");
  } else if (v32 && (type == "thread.pin" || type == "thread.unpin")) {
    thread_only();
  } else if (type == "thread.meta.update") {
    thread_only();
    copy_optional_trimmed(body, out, "title");
    if (present(body, "modelSelection")) {
      out["modelSelection"] = decode_model_selection(body.at("modelSelection"));
    }
    copy_optional_nullable_trimmed(body, out, "branch");
    copy_optional_nullable_trimmed(body, out, "worktreePath");
    if (v32) {
      if (present(body, "regenerateTitle")) {
        if (body.at("regenerateTitle") != Json(true)) {
          throw ShapeError{};
        }
        out["regenerateTitle"] = true;
      }
      copy_optional_nullable_trimmed(body, out, "expectedBranch");
      if (out.contains("title") && out.contains("regenerateTitle")) {
        throw ShapeError{};
      }
    }
  } else if (type == "thread.runtime-mode.set") {
    thread_only();
    copy_enum(body, out, "runtimeMode", runtime_modes(version));
    copy_iso(body, out, "createdAt");
  } else if (type == "thread.interaction-mode.set") {
    thread_only();
    copy_enum(body, out, "interactionMode", k_interaction_modes);
    copy_iso(body, out, "createdAt");
  } else if (type == "thread.turn.start") {
    thread_only();
    if (!has(body, "message") || !body.at("message").is_object()) {
      throw ShapeError{};
    }
    const Json& message = body.at("message");
    Json m = Json::object();
    copy_trimmed(message, m, "messageId");
    copy_literal(message, m, "role", "user");
    if (!has(message, "text") || !message.at("text").is_string()) {
      throw ShapeError{};
    }
    m["text"] = message.at("text");
    if (!has(message, "attachments") || !message.at("attachments").is_array()) {
      throw ShapeError{};
    }
    m["attachments"] = Json::array();
    for (const auto& attachment : message.at("attachments")) {
      m["attachments"].push_back(decode_upload_attachment(attachment));
    }
    out["message"] = m;
    if (present(body, "modelSelection")) {
      out["modelSelection"] = decode_model_selection(body.at("modelSelection"));
    }
    copy_optional_trimmed(body, out, "titleSeed");
    copy_enum(body, out, "runtimeMode", runtime_modes(version));
    copy_enum(body, out, "interactionMode", k_interaction_modes);
    if (present(body, "bootstrap")) {
      decode_bootstrap(body.at("bootstrap"), version); // decoded, then ignored over HTTP
    }
    if (present(body, "sourceProposedPlan")) {
      const Json& source = body.at("sourceProposedPlan");
      if (!source.is_object()) {
        throw ShapeError{};
      }
      Json s = Json::object();
      copy_trimmed(source, s, "threadId");
      copy_trimmed(source, s, "planId");
      out["sourceProposedPlan"] = s;
    }
    copy_iso(body, out, "createdAt");
  } else if (type == "thread.turn.interrupt") {
    thread_only();
    copy_optional_trimmed(body, out, "turnId");
    copy_iso(body, out, "createdAt");
  } else if (type == "thread.approval.respond") {
    thread_only();
    copy_trimmed(body, out, "requestId");
    copy_enum(body, out, "decision", k_decisions);
    copy_iso(body, out, "createdAt");
  } else if (type == "thread.user-input.respond") {
    thread_only();
    copy_trimmed(body, out, "requestId");
    if (!has(body, "answers") || !body.at("answers").is_object()) {
      throw ShapeError{};
    }
    out["answers"] = body.at("answers");
    copy_iso(body, out, "createdAt");
  } else if (type == "thread.checkpoint.revert") {
    thread_only();
    if (!has(body, "turnCount") || !is_non_negative_int(body.at("turnCount"))) {
      throw ShapeError{};
    }
    out["turnCount"] = body.at("turnCount");
    copy_iso(body, out, "createdAt");
  } else if (type == "thread.session.stop") {
    thread_only();
    copy_iso(body, out, "createdAt");
  } else {
    throw ShapeError{}; // unknown, internal (thread.session.set, …) or not in this version
  }
  return out;
}

// --- the read model ----------------------------------------------------------------------------

struct Project {
  std::string id, title, workspace_root;
  Json default_model_selection = nullptr;
  Json scripts = Json::array();
  std::string created_at, updated_at;
  std::optional<std::string> deleted_at;
};

struct TurnRow {
  std::string turn_id, state, requested_at;
  std::optional<std::string> started_at, completed_at, assistant_message_id;
};

struct Message {
  std::string id, role, text;
  std::optional<Json> attachments;
  std::optional<std::string> turn_id;
  bool streaming = false;
  std::string created_at, updated_at;
};

struct Session {
  std::string status;
  std::optional<std::string> provider_name, provider_instance_id;
  std::string runtime_mode;
  std::optional<std::string> active_turn_id, last_error;
  std::string updated_at;
};

// Provider work a client command asked for; the scripted provider does it on advance()/step().
struct Intent {
  enum class Kind { turn_start, interrupt, approval, user_input, stop, delete_cleanup };
  Kind kind = Kind::turn_start;
  std::string created_at;
  std::string message_id, message_text;
  std::optional<std::string> turn_id;
  std::string request_id, decision;
  Json answers;
  // turn_start: the plan the agent chose, and the turn id minted for it.
  std::uint64_t serial = 0;
  std::string minted_turn_id;
  std::optional<TurnPlan> plan;
};

struct PendingRequest {
  std::string request_id;
  bool approval = true;
};

struct TurnRun {
  std::string turn_id;
  TurnPlan plan;
  std::size_t approvals_done = 0, questions_done = 0;
  std::optional<PendingRequest> waiting;
  bool hanging = false;
};

struct Thread {
  std::string id, project_id, title;
  Json model_selection;
  std::string runtime_mode, interaction_mode;
  std::optional<std::string> branch, worktree_path;
  std::string created_at, updated_at;
  std::optional<std::string> archived_at, deleted_at;
  std::optional<std::string> settled_override, settled_at, snoozed_until, snoozed_at, pinned_at;
  std::vector<Message> messages;
  std::vector<Json> activities, checkpoints;
  std::optional<Session> session;
  std::map<std::string, TurnRow> turns;
  std::optional<std::string> latest_turn_id;
  std::optional<std::pair<std::string, std::string>> pending_start; // message id, requestedAt
  std::deque<Intent> intents;
  std::optional<TurnRun> active;
  int turns_started = 0;
  int checkpoint_count = 0;
};

Json optional_string(const std::optional<std::string>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json project_json(const Project& p, bool shell) {
  Json out = Json::object();
  out["id"] = p.id;
  out["title"] = p.title;
  out["workspaceRoot"] = p.workspace_root;
  out["repositoryIdentity"] = nullptr;
  out["defaultModelSelection"] = p.default_model_selection;
  out["scripts"] = p.scripts;
  out["createdAt"] = p.created_at;
  out["updatedAt"] = p.updated_at;
  if (!shell) {
    out["deletedAt"] = optional_string(p.deleted_at);
  }
  return out;
}

Json latest_turn_json(const Thread& t) {
  if (!t.latest_turn_id) {
    return nullptr;
  }
  const auto row = t.turns.find(*t.latest_turn_id);
  if (row == t.turns.end()) {
    return nullptr;
  }
  Json out = Json::object();
  out["turnId"] = row->second.turn_id;
  out["state"] = row->second.state;
  out["requestedAt"] = row->second.requested_at;
  out["startedAt"] = optional_string(row->second.started_at);
  out["completedAt"] = optional_string(row->second.completed_at);
  out["assistantMessageId"] = optional_string(row->second.assistant_message_id);
  return out;
}

Json session_json(const Thread& t) {
  if (!t.session) {
    return nullptr;
  }
  const Session& s = *t.session;
  Json out = Json::object();
  out["threadId"] = t.id;
  out["status"] = s.status;
  out["providerName"] = optional_string(s.provider_name);
  if (s.provider_instance_id) {
    out["providerInstanceId"] = *s.provider_instance_id;
  }
  out["runtimeMode"] = s.runtime_mode;
  out["activeTurnId"] = optional_string(s.active_turn_id);
  out["lastError"] = optional_string(s.last_error);
  out["updatedAt"] = s.updated_at;
  return out;
}

Json message_json(const Message& m) {
  Json out = Json::object();
  out["id"] = m.id;
  out["role"] = m.role;
  out["text"] = m.text;
  if (m.attachments) {
    out["attachments"] = *m.attachments;
  }
  out["turnId"] = optional_string(m.turn_id);
  out["streaming"] = m.streaming;
  out["createdAt"] = m.created_at;
  out["updatedAt"] = m.updated_at;
  return out;
}

// The lifecycle fields after archivedAt, per version (OrchestrationThread / ...Shell order).
void lifecycle_fields(const Thread& t, T3Version version, Json& out) {
  if (!is_after_0_0_27(version)) {
    return;
  }
  out["settledOverride"] = optional_string(t.settled_override);
  out["settledAt"] = optional_string(t.settled_at);
  if (t.snoozed_until) {
    out["snoozedUntil"] = *t.snoozed_until;
    out["snoozedAt"] = optional_string(t.snoozed_at);
  }
  if (version == T3Version::v0_0_32 && t.pinned_at) {
    out["pinnedAt"] = *t.pinned_at;
  }
}

Json thread_head(const Thread& t) {
  Json out = Json::object();
  out["id"] = t.id;
  out["projectId"] = t.project_id;
  out["title"] = t.title;
  out["modelSelection"] = t.model_selection;
  out["runtimeMode"] = t.runtime_mode;
  out["interactionMode"] = t.interaction_mode;
  out["branch"] = optional_string(t.branch);
  out["worktreePath"] = optional_string(t.worktree_path);
  out["latestTurn"] = latest_turn_json(t);
  out["createdAt"] = t.created_at;
  out["updatedAt"] = t.updated_at;
  out["archivedAt"] = optional_string(t.archived_at);
  return out;
}

// `bodies`: messages, activities and checkpoints filled (false: always [], as 0.0.32's
// /snapshot serves them).
Json thread_json(const Thread& t, T3Version version, bool bodies) {
  Json out = thread_head(t);
  lifecycle_fields(t, version, out);
  out["deletedAt"] = optional_string(t.deleted_at);
  out["messages"] = Json::array();
  out["proposedPlans"] = Json::array();
  out["activities"] = Json::array();
  out["checkpoints"] = Json::array();
  if (bodies) {
    for (const auto& m : t.messages) {
      out["messages"].push_back(message_json(m));
    }
    for (const auto& a : t.activities) {
      out["activities"].push_back(a);
    }
    for (const auto& c : t.checkpoints) {
      out["checkpoints"].push_back(c);
    }
  }
  out["session"] = session_json(t);
  return out;
}

std::optional<PendingRequest> pending_request(const Thread& t) {
  if (t.active && t.active->waiting) {
    return t.active->waiting;
  }
  return std::nullopt;
}

Json shell_thread_json(const Thread& t, T3Version version) {
  Json out = thread_head(t);
  lifecycle_fields(t, version, out);
  out["session"] = session_json(t);
  std::optional<std::string> latest_user_message_at;
  for (const auto& m : t.messages) {
    if (m.role == "user") {
      latest_user_message_at = m.created_at;
    }
  }
  out["latestUserMessageAt"] = optional_string(latest_user_message_at);
  const auto pending = pending_request(t);
  out["hasPendingApprovals"] = pending.has_value() && pending->approval;
  out["hasPendingUserInput"] = pending.has_value() && !pending->approval;
  out["hasActionableProposedPlan"] = false;
  return out;
}

template <typename T> std::vector<const T*> by_creation(const std::map<std::string, T>& items) {
  std::vector<const T*> out;
  for (const auto& [id, item] : items) {
    out.push_back(&item);
  }
  std::stable_sort(out.begin(), out.end(), [](const T* a, const T* b) {
    return std::tie(a->created_at, a->id) < std::tie(b->created_at, b->id);
  });
  return out;
}

std::string truncate_detail(const std::string& text, std::size_t limit = 180) {
  return text.size() > limit ? text.substr(0, limit - 3) + "..." : text;
}

std::string normalize_path(const std::string& raw) {
  std::string text = raw;
  if (text == "~" || text.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    text = std::string(home != nullptr ? home : "/") + text.substr(1);
  }
  std::filesystem::path path(text);
  if (path.is_relative()) {
    path = std::filesystem::current_path() / path;
  }
  std::string normal = path.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') {
    normal.pop_back();
  }
  return normal;
}

struct TokenRecord {
  std::vector<std::string> scopes;
  Clock::time_point expires_at;
  bool revoked = false;
};

struct FailRule {
  std::string path;
  int status = 500;
  int remaining = 0;
  bool after_apply = false;
};

enum class AuthOutcome { ok, missing, invalid };

struct Auth {
  AuthOutcome outcome = AuthOutcome::missing;
  const TokenRecord* token = nullptr;
  std::string method;
};

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type; // empty: no Content-Type header
};

} // namespace fake_t3_detail

using namespace fake_t3_detail;

std::string_view server_version(T3Version version) {
  switch (version) {
  case T3Version::v0_0_27:
    return "0.0.27";
  case T3Version::v0_0_29:
    return "0.0.29";
  case T3Version::v0_0_32:
    return "0.0.32";
  }
  return "0.0.27";
}

const std::vector<std::string>& all_t3_scopes() {
  static const std::vector<std::string> k_scopes = {
      "orchestration:read", "orchestration:operate", "terminal:operate", "review:write",
      "relay:read",         "access:read",           "access:write",     "relay:write"};
  return k_scopes;
}

struct FakeT3::State {
  FakeT3Options options;
  std::string environment_id;

  mutable std::mutex mutex; // guards everything below
  Random random;
  std::map<std::string, TokenRecord> tokens;
  std::int64_t sequence = 0;
  std::map<std::string, std::pair<bool, std::int64_t>> receipts; // commandId → accepted, seq
  std::map<std::string, Project> projects;
  std::map<std::string, Thread> threads;
  std::vector<Received> received;
  std::vector<std::string> accepted;
  std::vector<FailRule> fail_rules;
  std::chrono::milliseconds delay{0};
  ScriptedAgent agent;
  std::uint64_t next_serial = 1;

  std::mutex step_mutex; // one stepper at a time
  std::condition_variable wake;
  bool shutting_down = false;
  std::optional<std::chrono::milliseconds> auto_delay;
  std::thread auto_thread;

  std::unique_ptr<LoopbackServer> server; // last: stopped first

  [[nodiscard]] T3Version version() const { return options.version; }
  [[nodiscard]] bool v29() const { return is_after_0_0_27(options.version); }

  std::string trace_id() { return random.hex(32); }

  // --- HTTP answers ---

  HttpAnswer json_answer(int status, const Json& body) {
    return {status, body.dump(), "application/json"};
  }
  HttpAnswer auth_error(AuthOutcome outcome) {
    return json_answer(401, Json{{"_tag", "EnvironmentAuthInvalidError"},
                                 {"code", "auth_invalid"},
                                 {"reason", outcome == AuthOutcome::missing ? "missing_credential"
                                                                            : "invalid_credential"},
                                 {"traceId", trace_id()}});
  }
  HttpAnswer scope_error(std::string_view scope) {
    return json_answer(403, Json{{"_tag", "EnvironmentScopeRequiredError"},
                                 {"code", "insufficient_scope"},
                                 {"requiredScope", scope},
                                 {"traceId", trace_id()}});
  }
  HttpAnswer internal_error(std::string_view reason, int status = 500) {
    return json_answer(status, Json{{"_tag", "EnvironmentInternalError"},
                                    {"code", "internal_error"},
                                    {"reason", reason},
                                    {"traceId", trace_id()}});
  }
  HttpAnswer invalid_command() {
    return json_answer(400, Json{{"_tag", "EnvironmentRequestInvalidError"},
                                 {"code", "invalid_request"},
                                 {"reason", "invalid_command"},
                                 {"traceId", trace_id()}});
  }
  HttpAnswer unknown_get() {
    if (options.static_bundle) {
      return {200, "<!doctype html><html><head><title>T3 Code</title></head><body></body></html>",
              "text/html"};
    }
    return {503, std::string(k_static_missing), "text/plain"};
  }

  Auth authenticate(const httplib::Request& req) {
    Auth auth;
    const auto validate = [&](const std::string& token, std::string method) {
      const auto found = tokens.find(token);
      if (found == tokens.end() || found->second.revoked ||
          Clock::now() >= found->second.expires_at) {
        auth.outcome = AuthOutcome::invalid;
        return;
      }
      auth.outcome = AuthOutcome::ok;
      auth.token = &found->second;
      auth.method = std::move(method);
    };
    // Precedence (EnvironmentAuth.ts): session cookie, then Bearer, then DPoP.
    const std::string cookies = req.get_header_value("Cookie");
    std::size_t start = 0;
    while (start < cookies.size()) {
      const std::size_t end = std::min(cookies.find(';', start), cookies.size());
      const std::string pair = trim(std::string_view(cookies).substr(start, end - start));
      if (pair.rfind("t3_session=", 0) == 0) {
        validate(pair.substr(11), "browser-session-cookie");
        return auth;
      }
      start = end + 1;
    }
    const std::string authorization = req.get_header_value("Authorization");
    if (authorization.rfind("Bearer ", 0) == 0) {
      const std::string token = trim(authorization.substr(7));
      if (token.empty()) {
        auth.outcome = AuthOutcome::missing;
        return auth;
      }
      validate(token, "bearer-access-token");
    } else if (authorization.rfind("DPoP ", 0) == 0) {
      auth.outcome = AuthOutcome::invalid; // no DPoP-bound tokens here
    }
    return auth;
  }

  static bool has_scope(const Auth& auth, std::string_view scope) {
    return std::find(auth.token->scopes.begin(), auth.token->scopes.end(), scope) !=
           auth.token->scopes.end();
  }

  HttpAnswer environment() {
    Json out = Json::object();
    out["environmentId"] = environment_id;
    out["label"] = options.label;
    out["platform"] = Json{{"os", "linux"}, {"arch", "x64"}};
    out["serverVersion"] = server_version(version());
    out["capabilities"] = Json{{"repositoryIdentity", true}};
    if (options.protocol_version) {
      out["orchestrationProtocolVersion"] = *options.protocol_version;
    }
    return json_answer(200, out);
  }

  HttpAnswer auth_session(const httplib::Request& req) {
    const Auth auth = authenticate(req);
    Json out = Json::object();
    out["authenticated"] = auth.outcome == AuthOutcome::ok;
    out["auth"] =
        Json{{"policy", "loopback-browser"},
             {"bootstrapMethods", Json::array({"one-time-token"})},
             {"sessionMethods",
              Json::array({"browser-session-cookie", "bearer-access-token", "dpop-access-token"})},
             {"sessionCookieName", "t3_session"}};
    if (auth.outcome == AuthOutcome::ok) {
      out["scopes"] = auth.token->scopes;
      out["sessionMethod"] = auth.method;
      out["expiresAt"] = format_time(auth.token->expires_at);
    }
    return json_answer(200, out);
  }

  std::string read_model_updated_at() const {
    std::string newest = "1970-01-01T00:00:00.000Z";
    bool any = false;
    for (const auto& [id, p] : projects) {
      newest = any ? std::max(newest, p.updated_at) : p.updated_at;
      any = true;
    }
    for (const auto& [id, t] : threads) {
      newest = any ? std::max(newest, t.updated_at) : t.updated_at;
      any = true;
    }
    return newest;
  }

  Json snapshot(bool bodies) const {
    Json out = Json::object();
    out["snapshotSequence"] = sequence;
    out["projects"] = Json::array();
    for (const Project* p : by_creation(projects)) {
      out["projects"].push_back(project_json(*p, false));
    }
    out["threads"] = Json::array();
    for (const Thread* t : by_creation(threads)) {
      out["threads"].push_back(thread_json(*t, version(), bodies));
    }
    out["updatedAt"] = read_model_updated_at();
    return out;
  }

  Json shell() const {
    Json out = Json::object();
    out["snapshotSequence"] = sequence;
    out["projects"] = Json::array();
    for (const Project* p : by_creation(projects)) {
      if (!p->deleted_at) {
        out["projects"].push_back(project_json(*p, true));
      }
    }
    out["threads"] = Json::array();
    for (const Thread* t : by_creation(threads)) {
      if (!t->deleted_at && !t->archived_at) {
        out["threads"].push_back(shell_thread_json(*t, version()));
      }
    }
    out["updatedAt"] = read_model_updated_at();
    return out;
  }

  HttpAnswer read_route(const httplib::Request& req, const std::string& path) {
    const Auth auth = authenticate(req);
    if (auth.outcome != AuthOutcome::ok) {
      return auth_error(auth.outcome);
    }
    if (!has_scope(auth, "orchestration:read")) {
      return scope_error("orchestration:read");
    }
    if (path == "/api/orchestration/snapshot") {
      return json_answer(200, snapshot(version() != T3Version::v0_0_32));
    }
    if (path == "/api/orchestration/shell") {
      return json_answer(200, shell());
    }
    if (version() == T3Version::v0_0_32 && req.has_param("turnLimit")) {
      const std::string limit = req.get_param_value("turnLimit");
      if (limit.empty() || limit.find_first_not_of("0123456789") != std::string::npos ||
          std::stoll(limit) < 1) {
        return {400, "", ""};
      }
    }
    const std::string id = path.substr(std::string_view("/api/orchestration/threads/").size());
    const auto found = threads.find(id);
    if (found == threads.end() || found->second.deleted_at) {
      return json_answer(404, Json{{"_tag", "EnvironmentResourceNotFoundError"},
                                   {"code", "not_found"},
                                   {"reason", "thread_not_found"},
                                   {"traceId", trace_id()}});
    }
    return json_answer(200, Json{{"snapshotSequence", sequence},
                                 {"thread", thread_json(found->second, version(), true)}});
  }

  // --- normalizer ---

  std::string normalize_root(const std::string& raw, bool create_if_missing) const {
    const std::string root = normalize_path(raw);
    const auto exists =
        options.directory_exists ? options.directory_exists : [](const std::string& p) {
          return std::filesystem::is_directory(p);
        };
    if (exists(root)) {
      return root;
    }
    if (!create_if_missing) {
      throw NormalizeError{};
    }
    const auto create =
        options.create_directory ? options.create_directory : [](const std::string& p) {
          std::error_code ec;
          std::filesystem::create_directories(p, ec);
          return !ec && std::filesystem::is_directory(p);
        };
    if (!create(root)) {
      throw NormalizeError{};
    }
    return root;
  }

  Json persist_attachment(const Json& upload, const std::string& thread_id) {
    const std::string data_url = upload.at("dataUrl").get<std::string>();
    static const std::regex k_data_url("^data:([^;,]+);base64,(.*)$", std::regex::icase);
    std::smatch match;
    if (!std::regex_match(data_url, match, k_data_url) ||
        lower(match[1].str()).rfind("image/", 0) != 0) {
      throw NormalizeError{};
    }
    const auto size = base64_decoded_size(match[2].str());
    if (!size || *size == 0 || *size > k_max_image_bytes) {
      throw NormalizeError{};
    }
    std::string safe_thread;
    for (const char c : thread_id) {
      safe_thread.push_back(std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '-');
    }
    Json out = Json::object();
    out["type"] = "image";
    out["id"] = safe_thread + "-" + random.hex(16);
    out["name"] = upload.at("name");
    out["mimeType"] = lower(match[1].str());
    out["sizeBytes"] = *size;
    return out;
  }

  // Normalizer.ts (+ 0.0.29's server-side createdAt). Throws NormalizeError.
  Json normalize(Json command) {
    const std::string type = command.at("type").get<std::string>();
    if (type == "project.create") {
      command["workspaceRoot"] =
          normalize_root(command.at("workspaceRoot").get<std::string>(),
                         command.value("createWorkspaceRootIfMissing", false));
    } else if (type == "project.meta.update" && command.contains("workspaceRoot")) {
      command["workspaceRoot"] =
          normalize_root(command.at("workspaceRoot").get<std::string>(), false);
    } else if (type == "thread.turn.start") {
      Json persisted = Json::array();
      for (const auto& upload : command.at("message").at("attachments")) {
        persisted.push_back(persist_attachment(upload, command.at("threadId").get<std::string>()));
      }
      command["message"]["attachments"] = persisted;
    }
    if (v29() && command.contains("createdAt")) {
      command["createdAt"] = now_iso();
    }
    return command;
  }

  // --- events and their projection ---

  std::int64_t emit() { return ++sequence; }

  static std::optional<std::string> settled_state_for(const std::string& status) {
    if (status == "ready" || status == "idle") {
      return "completed";
    }
    if (status == "error") {
      return "error";
    }
    if (status == "stopped" || status == "interrupted") {
      return "interrupted";
    }
    return std::nullopt;
  }

  // thread.session-set. The thread's latest-turn pointer follows activeTurnId unless
  // `keep_pointer` (a stop that leaves a running turn behind, see stop()).
  void set_session(Thread& t, Session s, bool keep_pointer = false) {
    emit();
    s.updated_at = now_iso();
    t.updated_at = s.updated_at;
    if (!keep_pointer) {
      t.latest_turn_id = s.active_turn_id;
    }
    if (s.status == "running" && s.active_turn_id) {
      const std::string& turn_id = *s.active_turn_id;
      auto row = t.turns.find(turn_id);
      const std::string requested =
          t.pending_start ? t.pending_start->second : std::string(s.updated_at);
      if (row == t.turns.end()) {
        t.turns[turn_id] =
            TurnRow{turn_id, "running", requested, requested, std::nullopt, std::nullopt};
      } else if (row->second.state != "completed" && row->second.state != "error") {
        row->second.state = "running";
      }
      t.pending_start.reset();
    } else if (v29()) {
      // 0.0.28+: a session leaving "running" settles still-running turns.
      if (s.status == "error" || s.status == "stopped" || s.status == "interrupted") {
        t.pending_start.reset();
      }
      if (const auto settled = settled_state_for(s.status)) {
        for (auto& [id, row] : t.turns) {
          if (row.state == "running") {
            row.state = *settled;
            row.completed_at = s.updated_at;
          }
        }
      }
    }
    t.session = std::move(s);
  }

  Session session_like(const Thread& t, std::string status) const {
    Session s;
    s.status = std::move(status);
    const std::string instance = t.model_selection.at("instanceId").get<std::string>();
    s.provider_name = instance;
    s.provider_instance_id = instance;
    s.runtime_mode = t.runtime_mode;
    return s;
  }

  void add_message(Thread& t, Message m) {
    emit();
    t.updated_at = m.updated_at;
    if (m.role == "assistant" && m.turn_id) {
      auto row = t.turns.find(*m.turn_id);
      if (row == t.turns.end()) {
        row = t.turns
                  .emplace(*m.turn_id,
                           TurnRow{*m.turn_id, m.streaming ? "running" : "completed", m.created_at,
                                   m.created_at, std::nullopt, std::nullopt})
                  .first;
      }
      row->second.assistant_message_id = m.id;
      if (!m.streaming) {
        if (row->second.state != "interrupted" && row->second.state != "error") {
          row->second.state = "completed";
        }
        if (!row->second.completed_at) {
          row->second.completed_at = m.updated_at;
        }
      }
    }
    for (auto& existing : t.messages) {
      if (existing.id == m.id) {
        existing.text += m.text; // streamed deltas append; the completion carries ""
        existing.streaming = m.streaming;
        existing.updated_at = m.updated_at;
        return;
      }
    }
    t.messages.push_back(std::move(m));
  }

  void add_activity(Thread& t, std::string tone, std::string kind, std::string summary,
                    Json payload, const std::optional<std::string>& turn_id,
                    std::string created_at) {
    emit();
    Json a = Json::object();
    a["id"] = random.uuid();
    a["tone"] = std::move(tone);
    a["kind"] = std::move(kind);
    a["summary"] = std::move(summary);
    a["payload"] = std::move(payload);
    a["turnId"] = optional_string(turn_id);
    a["createdAt"] = created_at;
    t.updated_at = created_at;
    t.activities.push_back(std::move(a));
  }

  void provider_failure(Thread& t, std::string kind, std::string summary, std::string detail,
                        const std::optional<std::string>& turn_id, std::string created_at,
                        const std::string& request_id = {}) {
    Json payload = Json{{"detail", std::move(detail)}};
    if (!request_id.empty()) {
      payload["requestId"] = request_id;
    }
    add_activity(t, "error", std::move(kind), std::move(summary), std::move(payload), turn_id,
                 std::move(created_at));
  }

  // thread.turn-diff-completed (the checkpoint reactor) and its checkpoint.captured activity.
  void checkpoint(Thread& t, const std::string& turn_id, const std::string& status,
                  const std::vector<CheckpointFile>& files, const std::string& assistant_id) {
    emit();
    const std::string now = now_iso();
    const int count = ++t.checkpoint_count;
    Json file_list = Json::array();
    for (const auto& f : files) {
      file_list.push_back(Json{{"path", f.path},
                               {"kind", f.kind},
                               {"additions", f.additions},
                               {"deletions", f.deletions}});
    }
    Json c = Json::object();
    c["turnId"] = turn_id;
    c["checkpointTurnCount"] = count;
    c["checkpointRef"] =
        "refs/t3/checkpoints/" + base64url(t.id) + "/turn/" + std::to_string(count);
    c["status"] = status;
    c["files"] = file_list;
    c["assistantMessageId"] = assistant_id;
    c["completedAt"] = now;
    t.checkpoints.push_back(std::move(c));
    t.latest_turn_id = turn_id;
    t.updated_at = now;
    auto row = t.turns.find(turn_id);
    if (row == t.turns.end()) {
      row = t.turns.emplace(turn_id, TurnRow{turn_id, "", now, now, std::nullopt, std::nullopt})
                .first;
    }
    row->second.state = status == "error" ? "error" : "completed";
    row->second.assistant_message_id = assistant_id;
    row->second.completed_at = now;
    add_activity(t, "info", "checkpoint.captured", "Checkpoint captured",
                 Json{{"turnCount", count}, {"status", status}}, turn_id, now);
  }

  // --- the decider ---

  Thread& require_thread(const Json& command) {
    const auto found = threads.find(command.at("threadId").get<std::string>());
    if (found == threads.end()) {
      throw InvariantError{};
    }
    return found->second;
  }

  Thread& require_thread_not_archived(const Json& command) {
    Thread& t = require_thread(command);
    if (t.archived_at) {
      throw InvariantError{};
    }
    return t;
  }

  Project& require_project(const std::string& id) {
    const auto found = projects.find(id);
    if (found == projects.end()) {
      throw InvariantError{};
    }
    return found->second;
  }

  void require_unique_root(const std::string& root, const std::string& except_project) {
    if (!v29()) {
      return; // 0.0.27 allows two projects on one root
    }
    for (const auto& [id, p] : projects) {
      if (id != except_project && !p.deleted_at && p.workspace_root == root) {
        throw InvariantError{};
      }
    }
  }

  void queue(Thread& t, Intent intent) {
    if (!t.deleted_at) { // the reactors never see deleted threads
      t.intents.push_back(std::move(intent));
    }
  }

  void delete_thread(Thread& t) {
    emit();
    t.deleted_at = now_iso();
    t.updated_at = *t.deleted_at;
    t.intents.clear();
    Intent cleanup;
    cleanup.kind = Intent::Kind::delete_cleanup;
    t.intents.push_back(std::move(cleanup));
  }

  static bool session_busy(const Thread& t) {
    return t.session && (t.session->status == "running" || t.session->status == "starting");
  }

  static bool has_queued_turn_start(const Thread& t) {
    return std::any_of(t.intents.begin(), t.intents.end(),
                       [](const Intent& i) { return i.kind == Intent::Kind::turn_start; }) ||
           t.pending_start.has_value();
  }

  // Applies an accepted command (invariants first, then events). Throws InvariantError.
  void decide(const Json& c) {
    const std::string type = c.at("type").get<std::string>();
    const std::string now = now_iso();
    const std::string created_at = c.value("createdAt", now);

    if (type == "project.create") {
      const std::string id = c.at("projectId").get<std::string>();
      if (projects.count(id) != 0) {
        throw InvariantError{};
      }
      require_unique_root(c.at("workspaceRoot").get<std::string>(), id);
      emit();
      Project p;
      p.id = id;
      p.title = c.at("title").get<std::string>();
      p.workspace_root = c.at("workspaceRoot").get<std::string>();
      p.default_model_selection = c.value("defaultModelSelection", Json(nullptr));
      p.created_at = created_at;
      p.updated_at = created_at;
      projects.emplace(id, std::move(p));
    } else if (type == "project.meta.update") {
      Project& p = require_project(c.at("projectId").get<std::string>());
      if (c.contains("workspaceRoot")) {
        require_unique_root(c.at("workspaceRoot").get<std::string>(), p.id);
      }
      emit();
      p.title = c.value("title", p.title);
      p.workspace_root = c.value("workspaceRoot", p.workspace_root);
      if (c.contains("defaultModelSelection")) {
        p.default_model_selection = c.at("defaultModelSelection");
      }
      if (c.contains("scripts")) {
        p.scripts = c.at("scripts");
      }
      p.updated_at = now;
    } else if (type == "project.delete") {
      Project& p = require_project(c.at("projectId").get<std::string>());
      std::vector<Thread*> live;
      for (auto& [id, t] : threads) {
        if (t.project_id == p.id && !t.deleted_at) {
          live.push_back(&t);
        }
      }
      if (!live.empty() && !c.value("force", false)) {
        throw InvariantError{};
      }
      for (Thread* t : live) {
        delete_thread(*t);
      }
      emit();
      p.deleted_at = now;
      p.updated_at = now;
    } else if (type == "thread.create") {
      require_project(c.at("projectId").get<std::string>()); // a deleted project passes
      const std::string id = c.at("threadId").get<std::string>();
      if (threads.count(id) != 0) {
        throw InvariantError{};
      }
      emit();
      Thread t;
      t.id = id;
      t.project_id = c.at("projectId").get<std::string>();
      t.title = c.at("title").get<std::string>();
      t.model_selection = c.at("modelSelection");
      t.runtime_mode = c.at("runtimeMode").get<std::string>();
      t.interaction_mode = c.at("interactionMode").get<std::string>();
      if (!c.at("branch").is_null()) {
        t.branch = c.at("branch").get<std::string>();
      }
      if (!c.at("worktreePath").is_null()) {
        t.worktree_path = c.at("worktreePath").get<std::string>();
      }
      t.created_at = created_at;
      t.updated_at = created_at;
      threads.emplace(id, std::move(t));
    } else if (type == "thread.delete") {
      delete_thread(require_thread(c)); // a deleted thread passes and is deleted again
    } else if (type == "thread.archive") {
      Thread& t = require_thread_not_archived(c);
      emit();
      t.archived_at = now;
      t.updated_at = now;
    } else if (type == "thread.unarchive") {
      Thread& t = require_thread(c);
      if (!t.archived_at) {
        throw InvariantError{};
      }
      emit();
      t.archived_at.reset();
      t.updated_at = now;
    } else if (type == "thread.settle") {
      Thread& t = require_thread_not_archived(c);
      if (session_busy(t) || pending_request(t) || has_queued_turn_start(t)) {
        throw InvariantError{};
      }
      emit();
      if (t.settled_override != "settled" || !t.settled_at) {
        t.settled_at = now;
        t.updated_at = now;
      }
      t.settled_override = "settled";
    } else if (type == "thread.unsettle") {
      Thread& t = require_thread_not_archived(c);
      emit();
      if (t.settled_override != "active") {
        t.updated_at = now;
      }
      t.settled_override = "active";
      t.settled_at.reset();
    } else if (type == "thread.snooze") {
      Thread& t = require_thread_not_archived(c);
      const std::string until = c.at("snoozedUntil").get<std::string>();
      if (!(until > now) || pending_request(t) || has_queued_turn_start(t)) {
        throw InvariantError{};
      }
      emit();
      if (t.snoozed_until != until) {
        t.snoozed_at = now;
        t.updated_at = now;
      }
      t.snoozed_until = until;
    } else if (type == "thread.unsnooze") {
      Thread& t = require_thread_not_archived(c);
      emit();
      if (t.snoozed_until) {
        t.updated_at = now;
      }
      t.snoozed_until.reset();
      t.snoozed_at.reset();
    } else if (type == "thread.pin" || type == "thread.unpin") {
      Thread& t = require_thread(c);
      emit();
      if (type == "thread.pin") {
        t.pinned_at = now;
      } else {
        t.pinned_at.reset();
      }
      t.updated_at = now;
    } else if (type == "thread.meta.update") {
      Thread& t = require_thread(c);
      emit();
      t.title = c.value("title", t.title);
      if (c.contains("modelSelection")) {
        t.model_selection = c.at("modelSelection");
      }
      const bool branch_guarded =
          c.contains("expectedBranch") && optional_string(t.branch) != c.at("expectedBranch");
      if (c.contains("branch") && !branch_guarded) {
        t.branch = c.at("branch").is_null() ? std::nullopt
                                            : std::optional(c.at("branch").get<std::string>());
      }
      if (c.contains("worktreePath")) {
        t.worktree_path = c.at("worktreePath").is_null()
                              ? std::nullopt
                              : std::optional(c.at("worktreePath").get<std::string>());
      }
      t.updated_at = now;
    } else if (type == "thread.runtime-mode.set") {
      Thread& t = require_thread(c);
      emit();
      t.runtime_mode = c.at("runtimeMode").get<std::string>();
      t.updated_at = created_at;
    } else if (type == "thread.interaction-mode.set") {
      Thread& t = require_thread(c);
      emit();
      t.interaction_mode = c.at("interactionMode").get<std::string>();
      t.updated_at = created_at;
    } else if (type == "thread.turn.start") {
      Thread& t = require_thread(c);
      if (c.contains("sourceProposedPlan")) {
        // This fake never proposes plans, so a referenced plan cannot exist.
        throw InvariantError{};
      }
      if (v29() && t.settled_override) {
        emit(); // thread.unsettled (reason "activity")
        t.settled_override.reset();
        t.settled_at.reset();
      }
      if (v29() && t.snoozed_until) {
        emit(); // thread.unsnoozed (reason "activity")
        t.snoozed_until.reset();
        t.snoozed_at.reset();
      }
      const Json& message = c.at("message");
      Message m;
      m.id = message.at("messageId").get<std::string>();
      m.role = "user";
      m.text = message.at("text").get<std::string>();
      m.attachments = message.at("attachments");
      m.created_at = created_at;
      m.updated_at = created_at;
      add_message(t, m);
      emit(); // thread.turn-start-requested
      t.pending_start = std::make_pair(m.id, created_at);
      Intent intent;
      intent.kind = Intent::Kind::turn_start;
      intent.created_at = created_at;
      intent.message_id = m.id;
      intent.message_text = m.text;
      intent.serial = next_serial++;
      queue(t, std::move(intent));
    } else if (type == "thread.turn.interrupt") {
      Thread& t = require_thread(c);
      emit();
      Intent intent;
      intent.kind = Intent::Kind::interrupt;
      intent.created_at = created_at;
      if (c.contains("turnId")) {
        const std::string turn_id = c.at("turnId").get<std::string>();
        intent.turn_id = turn_id;
        auto row = t.turns.find(turn_id);
        if (row == t.turns.end()) {
          t.turns[turn_id] =
              TurnRow{turn_id, "interrupted", created_at, created_at, created_at, std::nullopt};
        } else {
          row->second.state = "interrupted";
          if (!row->second.completed_at) {
            row->second.completed_at = created_at;
          }
        }
      }
      queue(t, std::move(intent));
    } else if (type == "thread.approval.respond" || type == "thread.user-input.respond") {
      Thread& t = require_thread(c);
      emit();
      t.updated_at = created_at;
      Intent intent;
      intent.kind =
          type == "thread.approval.respond" ? Intent::Kind::approval : Intent::Kind::user_input;
      intent.created_at = created_at;
      intent.request_id = c.at("requestId").get<std::string>();
      intent.decision = c.value("decision", "");
      intent.answers = c.value("answers", Json::object());
      queue(t, std::move(intent));
    } else if (type == "thread.checkpoint.revert") {
      require_thread(c);
      emit(); // thread.checkpoint-revert-requested; this fake's provider has nothing to revert
    } else if (type == "thread.session.stop") {
      Thread& t = require_thread(c);
      emit();
      Intent intent;
      intent.kind = Intent::Kind::stop;
      intent.created_at = created_at;
      queue(t, std::move(intent));
    } else {
      throw std::logic_error("decide: unhandled command type " + type);
    }
  }

  HttpAnswer dispatch(const httplib::Request& req) {
    const Auth auth = authenticate(req);
    if (auth.outcome != AuthOutcome::ok) {
      return auth_error(auth.outcome);
    }
    const std::string content_type = req.get_header_value("Content-Type");
    const std::string media_type = trim(content_type.substr(0, content_type.find(';')));
    if (!media_type.empty() && lower(media_type) != "application/json") {
      return {415, "Unsupported content-type: " + media_type, "text/plain"};
    }
    if (trim(req.body).empty()) {
      return {400, "", ""};
    }
    const Json body = Json::parse(req.body, nullptr, false);
    if (body.is_discarded()) {
      return {v29() ? 400 : 500, "", ""}; // Effect ≤ beta.86 turned this into a defect
    }
    Json command;
    try {
      command = decode_command(body, version());
    } catch (const ShapeError&) {
      return {400, "", ""};
    } catch (const nlohmann::json::exception&) {
      return {400, "", ""};
    }
    if (!has_scope(auth, "orchestration:operate")) {
      return scope_error("orchestration:operate");
    }
    try {
      command = normalize(std::move(command));
    } catch (const NormalizeError&) {
      return invalid_command();
    }
    const std::string command_id = command.at("commandId").get<std::string>();
    if (const auto receipt = receipts.find(command_id); receipt != receipts.end()) {
      if (receipt->second.first) {
        return json_answer(200, Json{{"sequence", receipt->second.second}});
      }
      return internal_error("orchestration_dispatch_failed"); // previously rejected
    }
    try {
      decide(command);
    } catch (const InvariantError&) {
      receipts[command_id] = {false, 0};
      return internal_error("orchestration_dispatch_failed");
    }
    receipts[command_id] = {true, sequence};
    accepted.push_back(req.body);
    return json_answer(200, Json{{"sequence", sequence}});
  }

  HttpAnswer route(const httplib::Request& req) {
    const std::string& path = req.path;
    if (req.method == "GET") {
      if (path == "/.well-known/t3/environment") {
        return environment();
      }
      if (path == "/api/auth/session") {
        return auth_session(req);
      }
      if (path == "/api/orchestration/snapshot") {
        return read_route(req, path);
      }
      if (v29() && (path == "/api/orchestration/shell" ||
                    (path.rfind("/api/orchestration/threads/", 0) == 0 &&
                     path.size() > std::string_view("/api/orchestration/threads/").size() &&
                     path.find('/', std::string_view("/api/orchestration/threads/").size()) ==
                         std::string::npos))) {
        return read_route(req, path);
      }
      return unknown_get();
    }
    if (req.method == "POST" && path == "/api/orchestration/dispatch") {
      return dispatch(req);
    }
    return {404, "", ""};
  }

  void serve(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock lock(mutex);
    if (delay.count() > 0) {
      wake.wait_for(lock, delay, [this] { return shutting_down; });
    }
    HttpAnswer answer;
    auto rule = std::find_if(fail_rules.begin(), fail_rules.end(), [&](const FailRule& r) {
      return r.path == req.path && r.remaining > 0;
    });
    const std::string_view reason = req.path == "/api/orchestration/dispatch"
                                        ? "orchestration_dispatch_failed"
                                        : "orchestration_snapshot_failed";
    if (rule != fail_rules.end() && !rule->after_apply) {
      --rule->remaining;
      answer = internal_error(reason, rule->status);
    } else {
      answer = route(req);
      if (rule != fail_rules.end()) {
        --rule->remaining;
        answer = internal_error(reason, rule->status);
      }
    }
    res.status = answer.status;
    if (!answer.content_type.empty()) {
      res.set_content(answer.body, answer.content_type);
    }
    received.push_back(Received{req.method, req.path, req.get_header_value("Content-Type"),
                                req.get_header_value("Authorization"),
                                req.get_header_value("Cookie"), req.body, answer.status});
  }

  // --- the scripted provider ---

  [[nodiscard]] bool is_known_instance(const Thread& t) const {
    const std::string instance = t.model_selection.at("instanceId").get<std::string>();
    return std::find(options.provider_instances.begin(), options.provider_instances.end(),
                     instance) != options.provider_instances.end();
  }

  [[nodiscard]] bool root_refuses(const Thread& t) const {
    return options.runs_as_root && t.runtime_mode == "full-access" &&
           t.model_selection.at("instanceId") == "claudeAgent";
  }

  TurnContext context_for(const Thread& t, const Intent& intent) const {
    TurnContext ctx;
    ctx.thread_id = t.id;
    ctx.turn_id = intent.minted_turn_id;
    ctx.project_id = t.project_id;
    ctx.branch = t.branch.value_or("");
    const auto project = projects.find(t.project_id);
    ctx.workspace_root = project != projects.end() ? project->second.workspace_root : "";
    ctx.worktree_path = t.worktree_path.value_or(ctx.workspace_root);
    ctx.message_text = intent.message_text;
    ctx.turn_number = t.turns_started + 1;
    ctx.runtime_mode = t.runtime_mode;
    ctx.interaction_mode = t.interaction_mode;
    return ctx;
  }

  void bind_session(Thread& t) {
    for (int i = 0; i < 3; ++i) {
      set_session(t, session_like(t, "ready"));
    }
  }

  void fail_start(Thread& t, const Intent& intent, const std::string& error_text) {
    if (!t.session || t.session->status == "stopped") {
      bind_session(t);
    }
    const std::string driver = t.model_selection.at("instanceId").get<std::string>();
    Session s = session_like(t, "ready");
    s.last_error = error_text;
    set_session(t, s);
    provider_failure(t, "provider.turn.start.failed", "Provider turn start failed", error_text,
                     std::nullopt, intent.created_at);
    const std::string process_error =
        "Provider adapter process error (" + driver + ") for thread " + t.id + ": " + error_text;
    s = session_like(t, "error");
    s.last_error = process_error;
    set_session(t, s);
    add_activity(t, "error", "runtime.error", "Runtime error",
                 Json{{"message", truncate_detail(process_error)}}, std::nullopt, now_iso());
    set_session(t, s);
    s.status = "stopped";
    set_session(t, s);
    t.pending_start.reset();
  }

  void start_turn(Thread& t, const Intent& intent) {
    const TurnPlan& plan = *intent.plan;
    if (plan.ending == TurnPlan::Ending::start_failed) {
      fail_start(t, intent, plan.error_text);
      return;
    }
    if (t.active) { // a follow-up while running: the adapter closes the current turn
      auto row = t.turns.find(t.active->turn_id);
      if (row != t.turns.end() && row->second.state == "running") {
        row->second.state = "completed";
        row->second.completed_at = now_iso();
      }
      t.active.reset();
    }
    const bool bound = !t.session || t.session->status == "stopped";
    if (bound) {
      bind_session(t);
    }
    t.pending_start = std::make_pair(intent.message_id, intent.created_at);
    ++t.turns_started;
    Session running = session_like(t, "running");
    running.active_turn_id = intent.minted_turn_id;
    for (int i = 0; i < (bound ? 3 : 2); ++i) {
      set_session(t, running);
    }
    t.active = TurnRun{intent.minted_turn_id, plan, 0, 0, std::nullopt, false};
  }

  void end_with_error(Thread& t, const std::string turn_id, const std::string& text,
                      bool git_workspace) {
    add_activity(t, "error", "runtime.error", "Runtime error",
                 Json{{"message", truncate_detail(text)}}, turn_id, now_iso());
    Session s = session_like(t, "error");
    s.last_error = text;
    set_session(t, s);
    if (git_workspace) {
      checkpoint(t, turn_id, "error", {}, "assistant:" + turn_id);
    }
    t.active.reset();
  }

  void complete(Thread& t) {
    const TurnRun run = *t.active;
    Message m;
    m.id = "assistant:" + random.uuid();
    m.role = "assistant";
    m.text = run.plan.assistant_text;
    m.turn_id = run.turn_id;
    m.streaming = true;
    m.created_at = now_iso();
    m.updated_at = m.created_at;
    add_message(t, m);
    m.text.clear();
    m.streaming = false;
    add_message(t, m);
    set_session(t, session_like(t, "ready"));
    if (run.plan.git_workspace) {
      checkpoint(t, run.turn_id, "ready", run.plan.files, m.id);
    }
    t.active.reset();
  }

  // One stage of the running turn. Returns whether anything happened.
  bool progress_run(Thread& t) {
    TurnRun& run = *t.active;
    if (run.waiting || run.hanging) {
      return false;
    }
    if (run.approvals_done < run.plan.approvals.size()) {
      const std::string request_id = random.uuid();
      add_activity(
          t, "approval", "approval.requested", "Command approval requested",
          Json{{"requestId", request_id},
               {"requestKind", "command"},
               {"requestType", "command_execution_approval"},
               {"detail", truncate_detail("Bash: " + run.plan.approvals[run.approvals_done])}},
          run.turn_id, now_iso());
      run.waiting = PendingRequest{request_id, true};
      return true;
    }
    if (run.questions_done < run.plan.questions.size()) {
      const std::string request_id = random.uuid();
      const std::string& question = run.plan.questions[run.questions_done];
      Json options_list = Json::array({Json{{"label", "Yes"}, {"description", "Go ahead."}},
                                       Json{{"label", "No"}, {"description", "Do not."}}});
      Json q = Json{{"id", question},
                    {"header", "Question"},
                    {"question", question},
                    {"options", options_list},
                    {"multiSelect", false}};
      add_activity(t, "info", "user-input.requested", "User input requested",
                   Json{{"requestId", request_id}, {"questions", Json::array({q})}}, run.turn_id,
                   now_iso());
      run.waiting = PendingRequest{request_id, false};
      return true;
    }
    switch (run.plan.ending) {
    case TurnPlan::Ending::completed:
      complete(t);
      return true;
    case TurnPlan::Ending::error:
      end_with_error(t, run.turn_id, run.plan.error_text, run.plan.git_workspace);
      return true;
    case TurnPlan::Ending::interrupted_by_client:
      end_with_error(t, run.turn_id, std::string(k_interrupt_diagnostic), run.plan.git_workspace);
      return true;
    case TurnPlan::Ending::hang:
    case TurnPlan::Ending::start_failed:
      run.hanging = true;
      return false;
    }
    return false;
  }

  [[nodiscard]] static bool session_live(const Thread& t) {
    return t.session && t.session->status != "stopped";
  }

  void respond(Thread& t, const Intent& intent) {
    const bool approval = intent.kind == Intent::Kind::approval;
    const std::string kind =
        approval ? "provider.approval.respond.failed" : "provider.user-input.respond.failed";
    const std::string summary =
        approval ? "Provider approval response failed" : "Provider user input response failed";
    if (!session_live(t)) {
      provider_failure(t, kind, summary, std::string(k_no_session), std::nullopt, intent.created_at,
                       intent.request_id);
      return;
    }
    const auto waiting = pending_request(t);
    if (!waiting || waiting->approval != approval || waiting->request_id != intent.request_id) {
      provider_failure(t, kind, summary,
                       std::string("Stale pending ") + (approval ? "approval" : "user-input") +
                           " request: " + intent.request_id +
                           ". Provider callback state does not survive app restarts or recovered "
                           "sessions. Restart the turn to continue.",
                       std::nullopt, intent.created_at, intent.request_id);
      return;
    }
    TurnRun& run = *t.active;
    if (approval) {
      add_activity(t, "approval", "approval.resolved", "Approval resolved",
                   Json{{"requestId", intent.request_id},
                        {"requestKind", "command"},
                        {"requestType", "command_execution_approval"},
                        {"decision", intent.decision}},
                   run.turn_id, now_iso());
      ++run.approvals_done;
    } else {
      add_activity(t, "info", "user-input.resolved", "User input submitted",
                   Json{{"requestId", intent.request_id}, {"answers", intent.answers}}, run.turn_id,
                   now_iso());
      ++run.questions_done;
    }
    run.waiting.reset();
  }

  void stop(Thread& t) {
    const bool running = t.active.has_value();
    Session s;
    s.status = "stopped";
    s.runtime_mode = "full-access";
    if (t.session) {
      s = *t.session;
      s.status = "stopped";
      s.active_turn_id.reset();
    }
    // The brief's 0.0.27 hazard: a turn stopped mid-run keeps latestTurn pointing at it, still
    // "running" in 0.0.27 and settled to "interrupted" from 0.0.29 (set_session settles it).
    if (session_live(t)) {
      set_session(t, s, running); // the provider's own session-exited report
    }
    set_session(t, s, running);
    t.active.reset();
  }

  // Handles the front intent, or moves the running turn one stage. Returns whether it did.
  bool stage(Thread& t) {
    if (!t.intents.empty()) {
      Intent& front = t.intents.front();
      switch (front.kind) {
      case Intent::Kind::turn_start: {
        if (!is_known_instance(t)) {
          const std::string instance = t.model_selection.at("instanceId").get<std::string>();
          provider_failure(t, "provider.turn.start.failed", "Provider turn start failed",
                           "Thread '" + t.id + "' references unknown provider instance '" +
                               instance + "'. The instance is not configured in this build.",
                           std::nullopt, front.created_at);
          t.intents.pop_front();
          return true;
        }
        if (!front.plan) {
          return false; // the agent is consulted at the start of the next step
        }
        const Intent intent = front;
        t.intents.pop_front();
        start_turn(t, intent);
        return true;
      }
      case Intent::Kind::interrupt: {
        const Intent intent = front;
        t.intents.pop_front();
        if (!session_live(t)) {
          provider_failure(t, "provider.turn.interrupt.failed", "Provider turn interrupt failed",
                           std::string(k_no_session), intent.turn_id, intent.created_at);
        } else if (t.active) {
          end_with_error(t, t.active->turn_id, std::string(k_interrupt_diagnostic),
                         t.active->plan.git_workspace);
        }
        return true;
      }
      case Intent::Kind::approval:
      case Intent::Kind::user_input: {
        const Intent intent = front;
        t.intents.pop_front();
        respond(t, intent);
        return true;
      }
      case Intent::Kind::stop:
        t.intents.pop_front();
        stop(t);
        return true;
      case Intent::Kind::delete_cleanup:
        t.intents.pop_front();
        if (session_live(t)) {
          Session s = *t.session;
          s.status = "stopped";
          s.active_turn_id.reset();
          set_session(t, s, t.active.has_value());
        }
        t.active.reset();
        return true;
      }
    }
    if (t.active && !t.deleted_at) {
      return progress_run(t);
    }
    return false;
  }

  // A turn start at the front of a queue still waits for its plan (taken at a step's start).
  bool awaiting_plan() {
    std::lock_guard lock(mutex);
    return std::any_of(threads.begin(), threads.end(), [this](const auto& entry) {
      const Thread& t = entry.second;
      return !t.intents.empty() && t.intents.front().kind == Intent::Kind::turn_start &&
             !t.intents.front().plan && is_known_instance(t);
    });
  }

  // One stage of every thread; returns the threads that moved. The agent runs unlocked.
  std::set<std::string> step_once() {
    std::lock_guard step_lock(step_mutex);
    struct Call {
      std::string thread_id;
      std::uint64_t serial = 0;
      TurnContext ctx;
      std::optional<TurnPlan> plan;
    };
    std::vector<Call> calls;
    ScriptedAgent scripted;
    {
      std::lock_guard lock(mutex);
      scripted = agent;
      for (auto& [id, t] : threads) {
        if (t.intents.empty() || t.intents.front().kind != Intent::Kind::turn_start ||
            t.intents.front().plan || !is_known_instance(t)) {
          continue;
        }
        Intent& intent = t.intents.front();
        if (intent.minted_turn_id.empty()) {
          intent.minted_turn_id = random.uuid();
        }
        if (root_refuses(t)) {
          TurnPlan refused;
          refused.ending = TurnPlan::Ending::start_failed;
          refused.error_text = std::string(k_root_refusal);
          intent.plan = refused;
          continue;
        }
        calls.push_back(Call{id, intent.serial, context_for(t, intent), std::nullopt});
      }
    }
    for (auto& call : calls) {
      try {
        call.plan = scripted(call.ctx);
      } catch (const std::exception& e) {
        TurnPlan failed;
        failed.ending = TurnPlan::Ending::error;
        failed.error_text = std::string("scripted agent threw: ") + e.what();
        call.plan = failed;
      }
    }
    std::lock_guard lock(mutex);
    for (auto& call : calls) {
      const auto found = threads.find(call.thread_id);
      if (found != threads.end() && !found->second.intents.empty() &&
          found->second.intents.front().serial == call.serial) {
        found->second.intents.front().plan = std::move(call.plan);
      }
    }
    std::set<std::string> moved;
    for (auto& [id, t] : threads) {
      if (stage(t)) {
        moved.insert(id);
      }
    }
    return moved;
  }
};

FakeT3::FakeT3(FakeT3Options options)
    : m_state(std::make_unique<State>()) {
  m_state->options = std::move(options);
  m_state->environment_id = m_state->random.uuid();
  m_state->agent = [](const TurnContext&) {
    return TurnPlan{};
  };
  State* state = m_state.get();
  m_state->server = std::make_unique<LoopbackServer>(
      [state](const httplib::Request& req, httplib::Response& res) { state->serve(req, res); });
}

FakeT3::~FakeT3() {
  stop_auto_advance();
  {
    std::lock_guard lock(m_state->mutex);
    m_state->shutting_down = true;
  }
  m_state->wake.notify_all();
  m_state->server.reset();
}

std::string FakeT3::url() const {
  return m_state->server->url();
}

const FakeT3Options& FakeT3::options() const {
  return m_state->options;
}

std::string FakeT3::issue_token(std::vector<std::string> scopes, std::chrono::seconds ttl) {
  std::lock_guard lock(m_state->mutex);
  const auto now = Clock::now();
  const auto expires = now + ttl;
  const auto epoch_ms = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  nlohmann::json claims = {{"sid", m_state->random.uuid()},
                           {"scopes", scopes},
                           {"iat", epoch_ms(now)},
                           {"exp", epoch_ms(expires)}};
  std::string token = base64url(claims.dump()) + "." + base64url(m_state->random.bytes(32));
  m_state->tokens[token] = TokenRecord{std::move(scopes), expires, false};
  return token;
}

void FakeT3::revoke_token(const std::string& token) {
  std::lock_guard lock(m_state->mutex);
  if (const auto found = m_state->tokens.find(token); found != m_state->tokens.end()) {
    found->second.revoked = true;
  }
}

void FakeT3::set_agent(ScriptedAgent agent) {
  std::lock_guard lock(m_state->mutex);
  m_state->agent = std::move(agent);
}

int FakeT3::step() {
  return static_cast<int>(m_state->step_once().size());
}

int FakeT3::advance() {
  std::set<std::string> changed;
  for (;;) {
    const auto stepped = m_state->step_once();
    changed.insert(stepped.begin(), stepped.end());
    if (stepped.empty() && !m_state->awaiting_plan()) {
      break;
    }
  }
  return static_cast<int>(changed.size());
}

void FakeT3::set_auto_advance(std::chrono::milliseconds delay) {
  stop_auto_advance();
  std::lock_guard lock(m_state->mutex);
  m_state->auto_delay = delay;
  m_state->auto_thread = std::thread([this] {
    std::unique_lock guard(m_state->mutex);
    while (m_state->auto_delay && !m_state->shutting_down) {
      const auto pause = *m_state->auto_delay;
      m_state->wake.wait_for(guard, pause,
                             [this] { return !m_state->auto_delay || m_state->shutting_down; });
      if (!m_state->auto_delay || m_state->shutting_down) {
        break;
      }
      guard.unlock();
      step();
      guard.lock();
    }
  });
}

void FakeT3::stop_auto_advance() {
  std::thread worker;
  {
    std::lock_guard lock(m_state->mutex);
    m_state->auto_delay.reset();
    worker = std::move(m_state->auto_thread);
  }
  m_state->wake.notify_all();
  if (worker.joinable()) {
    worker.join();
  }
}

std::string FakeT3::snapshot_json() const {
  std::lock_guard lock(m_state->mutex);
  return m_state->snapshot(true).dump();
}

std::int64_t FakeT3::sequence() const {
  std::lock_guard lock(m_state->mutex);
  return m_state->sequence;
}

std::vector<FakeT3::Received> FakeT3::requests() const {
  std::lock_guard lock(m_state->mutex);
  return m_state->received;
}

std::vector<std::string> FakeT3::accepted_commands() const {
  std::lock_guard lock(m_state->mutex);
  return m_state->accepted;
}

void FakeT3::fail_next(const std::string& path, int status, int count, bool after_apply) {
  std::lock_guard lock(m_state->mutex);
  m_state->fail_rules.push_back(FailRule{path, status, count, after_apply});
}

void FakeT3::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(m_state->mutex);
  m_state->delay = delay;
}

} // namespace afk::test
