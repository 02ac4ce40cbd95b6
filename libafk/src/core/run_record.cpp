// SPDX-License-Identifier: MIT
#include "detail/digest.hpp"

#include <afk/error.hpp>
#include <afk/ids.hpp>
#include <afk/run_record.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace afk {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view k_block_open = "<!-- afk:run ";
constexpr std::string_view k_comment_close = "-->";
// The checksum is the block's last member, written exactly like this.
constexpr std::string_view k_sum_open = R"(,"sum":")";
constexpr std::string_view k_sum_close = R"("})";
constexpr std::size_t k_sum_hex_digits = 64;
constexpr std::size_t k_sum_suffix_size = k_sum_open.size() + k_sum_hex_digits + k_sum_close.size();
// Longer outside text (CI output, agent summaries) stays in the block; people get a taste.
constexpr std::size_t k_display_limit = 300;

void put_timestamp(OrderedJson& json, const char* key, const std::optional<Timestamp>& value) {
  if (value) {
    json[key] = format_timestamp(*value);
  }
}

OrderedJson record_to_json(const RunRecord& record) {
  // Binding every member makes a field added to RunRecord a compile error here until the
  // codec learns it, instead of a field silently lost on the next write.
  const auto& [run_id, issue, attempt, phase, project_id, thread_id, branch, worktree_path,
               base_sha, claimed_at, dispatched_at, working_since, first_push_at, last_push_at,
               first_red_at, healthy_since, updated_at, pushed_shas, verdicts, fix_attempts, turns,
               last_turn_id, turn_seen, fix_turn_sent_at, answered_requests, lease_holder,
               lease_expires, outcome] = record;

  OrderedJson json;
  json["v"] = k_run_record_version;
  json["run_id"] = run_id;
  json["issue"] = issue.to_string();
  json["attempt"] = attempt;
  json["phase"] = std::string(to_string(phase));
  json["project_id"] = project_id;
  json["thread_id"] = thread_id;
  json["branch"] = branch;
  json["worktree_path"] = worktree_path;
  json["base_sha"] = base_sha;
  json["claimed_at"] = format_timestamp(claimed_at);
  put_timestamp(json, "dispatched_at", dispatched_at);
  put_timestamp(json, "working_since", working_since);
  put_timestamp(json, "first_push_at", first_push_at);
  put_timestamp(json, "last_push_at", last_push_at);
  put_timestamp(json, "first_red_at", first_red_at);
  put_timestamp(json, "healthy_since", healthy_since);
  json["updated_at"] = format_timestamp(updated_at);
  json["pushed_shas"] = pushed_shas;
  json["verdicts"] = OrderedJson::array();
  for (const StageVerdict& verdict : verdicts) {
    json["verdicts"].push_back(OrderedJson{
        {"stage", verdict.stage},
        {"kind", std::string(to_string(verdict.kind))},
        {"verdict", std::string(to_string(verdict.verdict))},
        {"detail", verdict.detail},
        {"url", verdict.url},
    });
  }
  json["fix_attempts"] = fix_attempts;
  json["turns"] = turns;
  json["last_turn_id"] = last_turn_id;
  json["turn_seen"] = turn_seen;
  put_timestamp(json, "fix_turn_sent_at", fix_turn_sent_at);
  json["answered_requests"] = answered_requests;
  json["lease_holder"] = lease_holder;
  put_timestamp(json, "lease_expires", lease_expires);
  json["outcome"] = outcome;
  return json;
}

// Compact, ASCII only, and free of '<' and '>': with those escaped no field value can
// close the HTML comment ("-->", "--!>") or open a second afk:run marker. Outside strings
// compact JSON has neither character, so every one replaced here is inside a string,
// where \u003c and \u003e mean the same.
std::string serialize(const OrderedJson& json) {
  const std::string text = json.dump(-1, ' ', true, Json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else {
      out += c;
    }
  }
  return out;
}

class Rejected : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

std::string quoted(std::string_view path, std::string_view key) {
  return "field \"" + std::string(path) + std::string(key) + "\"";
}

// Typed access to one JSON object's members; every failure names the field. `path` is the
// prefix for nested objects ("verdicts[2].").
class Fields {
public:
  Fields(const Json& object, std::string path)
      : m_object(object)
      , m_path(std::move(path)) {}

  [[nodiscard]] const Json* find(std::string_view key) const {
    const auto it = m_object.find(key);
    return it == m_object.end() ? nullptr : &*it;
  }

  [[nodiscard]] const Json& require(std::string_view key) const {
    const Json* value = find(key);
    if (value == nullptr) {
      throw Rejected("missing " + name(key));
    }
    return *value;
  }

  [[nodiscard]] std::string string(std::string_view key) const {
    const Json& value = require(key);
    if (!value.is_string()) {
      throw Rejected(name(key) + " is not a string");
    }
    return value.get<std::string>();
  }

  [[nodiscard]] bool boolean(std::string_view key) const {
    const Json& value = require(key);
    if (!value.is_boolean()) {
      throw Rejected(name(key) + " is not true or false");
    }
    return value.get<bool>();
  }

  [[nodiscard]] int integer(std::string_view key, int minimum) const {
    const Json& value = require(key);
    if (!value.is_number_integer()) {
      throw Rejected(name(key) + " is not an integer");
    }
    // Non-negative numbers parse as unsigned and may exceed any signed type.
    constexpr int k_max = std::numeric_limits<int>::max();
    constexpr int k_min = std::numeric_limits<int>::min();
    const bool in_range = value.is_number_unsigned()
                              ? value.get<std::uint64_t>() <= static_cast<std::uint64_t>(k_max)
                              : value.get<std::int64_t>() >= k_min;
    if (!in_range || value.get<std::int64_t>() < minimum) {
      throw Rejected(name(key) + " is out of range (at least " + std::to_string(minimum) + ")");
    }
    return static_cast<int>(value.get<std::int64_t>());
  }

  [[nodiscard]] Timestamp timestamp(std::string_view key) const {
    return to_timestamp(require(key), key);
  }

  [[nodiscard]] std::optional<Timestamp> optional_timestamp(std::string_view key) const {
    const Json* value = find(key);
    if (value == nullptr || value->is_null()) {
      return std::nullopt;
    }
    return to_timestamp(*value, key);
  }

  [[nodiscard]] std::vector<std::string> strings(std::string_view key) const {
    const Json& value = require(key);
    if (!value.is_array()) {
      throw Rejected(name(key) + " is not a list");
    }
    std::vector<std::string> out;
    out.reserve(value.size());
    for (const Json& item : value) {
      if (!item.is_string()) {
        throw Rejected(name(key) + " holds something other than strings");
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  [[nodiscard]] std::string name(std::string_view key) const { return quoted(m_path, key); }

private:
  // Only the canonical form is accepted, so a decoded record re-encodes to the same bytes.
  [[nodiscard]] Timestamp to_timestamp(const Json& value, std::string_view key) const {
    if (value.is_string()) {
      const auto& text = value.get_ref<const std::string&>();
      if (const std::optional<Timestamp> parsed = parse_timestamp(text);
          parsed && format_timestamp(*parsed) == text) {
        return *parsed;
      }
    }
    throw Rejected(name(key) + " is not a UTC timestamp like 2026-11-24T15:05:00Z");
  }

  const Json& m_object;
  std::string m_path;
};

void check_version(const Fields& fields) {
  const Json& v = fields.require("v");
  if (!v.is_number_integer()) {
    throw Rejected(fields.name("v") + " is not an integer");
  }
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > k_run_record_version) {
    throw Rejected("future version " + std::to_string(v.get<std::uint64_t>()) +
                   ", this afk understands " + std::to_string(k_run_record_version));
  }
  if (v.get<std::int64_t>() < 1) {
    throw Rejected(fields.name("v") + " is not a version (" +
                   std::to_string(v.get<std::int64_t>()) + ")");
  }
}

bool is_lower_hex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

void check_sum(const Fields& fields, std::string_view text) {
  const Json& sum = fields.require("sum");
  if (!sum.is_string()) {
    throw Rejected(fields.name("sum") + " is not a string");
  }
  const std::string_view written = sum.get_ref<const std::string&>();
  if (text.size() < k_sum_suffix_size || written.size() != k_sum_hex_digits ||
      !is_lower_hex(written) ||
      text.substr(text.size() - k_sum_suffix_size) !=
          std::string(k_sum_open) + std::string(written) + std::string(k_sum_close)) {
    throw Rejected(fields.name("sum") +
                   " is not the last member as 64 lower-case hex digits, as afk writes it");
  }
  std::string covered(text.substr(0, text.size() - k_sum_suffix_size));
  covered += '}';
  if (detail::sha256_hex(covered) != written) {
    throw Rejected("checksum mismatch: the block was edited or damaged");
  }
}

StageVerdict to_stage_verdict(const Json& value, std::size_t index) {
  if (!value.is_object()) {
    throw Rejected("field \"verdicts\" holds something other than objects");
  }
  const Fields fields(value, "verdicts[" + std::to_string(index) + "].");
  StageVerdict verdict;
  verdict.stage = fields.string("stage");
  const std::optional<StageKind> kind = stage_kind_from_string(fields.string("kind"));
  if (!kind) {
    throw Rejected(fields.name("kind") + " is neither \"ci\" nor \"deploy\"");
  }
  verdict.kind = *kind;
  const std::optional<Verdict> stage_verdict = verdict_from_string(fields.string("verdict"));
  if (!stage_verdict) {
    throw Rejected(fields.name("verdict") + " is not pending, green, red or unknown");
  }
  verdict.verdict = *stage_verdict;
  verdict.detail = fields.string("detail");
  verdict.url = fields.string("url");
  return verdict;
}

void check_ids(const RunRecord& record) {
  const std::string key = record.issue.to_string() + " attempt " + std::to_string(record.attempt);
  if (record.run_id != derive_run_id(record.issue, record.attempt)) {
    throw Rejected(quoted("", "run_id") + " does not derive from " + key);
  }
  bool derived = record.thread_id == derive_thread_id(record.issue, record.attempt);
  for (int fix = 1; !derived && fix <= k_max_fix_threads; ++fix) {
    derived = record.thread_id == derive_fix_thread_id(record.issue, record.attempt, fix);
  }
  if (!derived) {
    throw Rejected(quoted("", "thread_id") + " does not derive from " + key);
  }
}

bool is_object_id(std::string_view sha) {
  return (sha.size() == 40 || sha.size() == 64) && std::all_of(sha.begin(), sha.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20U || u == 0x7FU;
  });
}

// A branch afk could have made: git's ref rules, narrowed to the characters afk's slugs use,
// so the value is safe as a git argument (no leading '-') and as a path segment.
bool is_safe_branch(std::string_view branch) {
  if (branch.empty() || branch.size() > 200 || branch.front() == '-' || branch.front() == '/' ||
      branch.back() == '/' || branch.back() == '.' || branch.find("..") != std::string_view::npos ||
      branch.find("//") != std::string_view::npos || branch.ends_with(".lock")) {
    return false;
  }
  return std::all_of(branch.begin(), branch.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

// An absolute path with no ".." component and not the root itself.
bool is_safe_worktree_path(std::string_view path) {
  if (path.size() < 2 || path.front() != '/' || has_control(path)) {
    return false;
  }
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    if (path.substr(start, end - start) == "..") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// The record feeds git commands and filesystem operations in later ticks, and its checksum
// is no signature: values that afk itself could not have written are rejected here.
void check_values(const RunRecord& record) {
  if (!record.branch.empty() && !is_safe_branch(record.branch)) {
    throw Rejected(quoted("", "branch") + " is not a branch name afk writes");
  }
  if (!record.worktree_path.empty() && !is_safe_worktree_path(record.worktree_path)) {
    throw Rejected(quoted("", "worktree_path") + " is not an absolute path without \"..\"");
  }
  if (!record.base_sha.empty() && !is_object_id(record.base_sha)) {
    throw Rejected(quoted("", "base_sha") + " is not a 40 or 64 digit lower-case hex object id");
  }
  for (const auto& sha : record.pushed_shas) {
    if (!is_object_id(sha)) {
      throw Rejected(quoted("", "pushed_shas") +
                     " holds something other than 40 or 64 digit lower-case hex object ids");
    }
  }
  const auto check_text = [](std::string_view name, std::string_view value) {
    if (value.size() > 200 || has_control(value)) {
      throw Rejected(quoted("", name) + " holds control characters or is over 200 bytes");
    }
  };
  // The T3 project is afk's derived one, or one ensure_project() adopted (adr/0007).
  check_text("project_id", record.project_id);
  if (record.project_id.empty()) {
    throw Rejected(quoted("", "project_id") + " is empty");
  }
  check_text("last_turn_id", record.last_turn_id);
  check_text("lease_holder", record.lease_holder);
  for (const auto& id : record.answered_requests) {
    check_text("answered_requests", id);
  }
}

RunRecord decode_json(std::string_view text, const IssueRef& expected_issue) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::parse_error& error) {
    // Not error.what(): it quotes the offending bytes, which may be anything.
    throw Rejected("not valid JSON (error at byte " + std::to_string(error.byte) + ")");
  } catch (const Json::out_of_range&) {
    throw Rejected("not valid JSON (a number is out of range)");
  }
  if (!json.is_object()) {
    throw Rejected("not a JSON object");
  }
  const Fields fields(json, "");
  // Version first: a future version may checksum differently.
  check_version(fields);
  check_sum(fields, text);

  std::optional<IssueRef> issue = parse_issue_ref(fields.string("issue"));
  if (!issue) {
    throw Rejected(fields.name("issue") + " is not an owner/repo#number reference");
  }
  if (*issue != expected_issue) {
    throw Rejected("the record is for " + issue->to_string() + ", not " +
                   expected_issue.to_string());
  }
  const std::optional<Phase> phase = phase_from_string(fields.string("phase"));
  if (!phase) {
    throw Rejected(fields.name("phase") + " names no phase of a run");
  }

  RunRecord record{
      .run_id = fields.string("run_id"),
      .issue = std::move(*issue),
      .attempt = fields.integer("attempt", 1),
      .phase = *phase,
      .project_id = fields.string("project_id"),
      .thread_id = fields.string("thread_id"),
      .branch = fields.string("branch"),
      .worktree_path = fields.string("worktree_path"),
      .base_sha = fields.string("base_sha"),
      .claimed_at = fields.timestamp("claimed_at"),
      .dispatched_at = fields.optional_timestamp("dispatched_at"),
      .working_since = fields.optional_timestamp("working_since"),
      .first_push_at = fields.optional_timestamp("first_push_at"),
      .last_push_at = fields.optional_timestamp("last_push_at"),
      .first_red_at = fields.optional_timestamp("first_red_at"),
      .healthy_since = fields.optional_timestamp("healthy_since"),
      .updated_at = fields.timestamp("updated_at"),
      .pushed_shas = fields.strings("pushed_shas"),
      .verdicts = {},
      .fix_attempts = fields.integer("fix_attempts", 0),
      .turns = fields.integer("turns", 0),
      .last_turn_id = fields.string("last_turn_id"),
      .turn_seen = fields.boolean("turn_seen"),
      .fix_turn_sent_at = fields.optional_timestamp("fix_turn_sent_at"),
      .answered_requests = fields.strings("answered_requests"),
      .lease_holder = fields.string("lease_holder"),
      .lease_expires = fields.optional_timestamp("lease_expires"),
      .outcome = fields.string("outcome"),
  };
  const Json& verdicts = fields.require("verdicts");
  if (!verdicts.is_array()) {
    throw Rejected(fields.name("verdicts") + " is not a list");
  }
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    record.verdicts.push_back(to_stage_verdict(verdicts[i], i));
  }
  check_ids(record);
  check_values(record);
  return record;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view k_space = " \t\r\n";
  const std::size_t first = text.find_first_not_of(k_space);
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(k_space) - first + 1);
}

// Rendering for people. Everything that comes from outside afk (outcome, stage details,
// branch names, URLs) is escaped so that it cannot open an HTML comment, a tag or a code
// fence that would hide or forge the block, break out of its list item, or mention people.

// Invalid UTF-8 becomes U+FFFD; nlohmann already knows how, through a JSON round trip.
std::string valid_utf8(std::string_view text) {
  return Json::parse(Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace))
      .get<std::string>();
}

std::string clip(std::string_view text) {
  if (text.size() <= k_display_limit) {
    return std::string(text);
  }
  std::size_t cut = k_display_limit;
  // Back off to the start of a UTF-8 sequence so the cut does not split a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  return std::string(text.substr(0, cut)) + "…";
}

std::string escape(std::string_view text) {
  std::string out;
  for (const char c : valid_utf8(clip(text))) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '`':
      out += "&#96;";
      break;
    case '@': // "@someone" would notify them
      out += "&#64;";
      break;
    case '\\':
    case '*':
    case '_':
    case '[':
    case ']':
    case '~':
    case '|':
      out += '\\';
      out += c;
      break;
    default:
      // Newlines would end the list item and let the text start its own checklist lines.
      out += (static_cast<unsigned char>(c) < 0x20U || c == '\x7f') ? ' ' : c;
      break;
    }
  }
  return out;
}

// Short machine tokens (SHAs, ids, branch names) read best as code; anything else is
// escaped text, because inside a code span nothing could be escaped.
std::string code(std::string_view text) {
  const bool token = !text.empty() && text.size() <= k_display_limit &&
                     text.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:-") ==
                         std::string_view::npos;
  return token ? "`" + std::string(text) + "`" : escape(text);
}

// http(s) only; characters that could end the Markdown link or start markup are
// percent-encoded, so the URL stays one link destination.
std::optional<std::string> safe_url(std::string_view url) {
  if (!url.starts_with("https://") && !url.starts_with("http://")) {
    return std::nullopt;
  }
  constexpr std::string_view k_allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789-._~:/?#@!$&*+,;=%";
  static constexpr std::string_view k_digits = "0123456789ABCDEF";
  std::string out;
  for (const char c : url) {
    if (k_allowed.find(c) != std::string_view::npos) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += k_digits[byte >> 4U];
      out += k_digits[byte & 0x0FU];
    }
  }
  return out;
}

std::string link(std::string_view label, std::string_view url) {
  if (const std::optional<std::string> safe = safe_url(url)) {
    return "[" + std::string(label) + "](" + *safe + ")";
  }
  return escape(url);
}

std::string box(bool checked, std::string_view text) {
  return std::string(checked ? "- [x] " : "- [ ] ") + std::string(text) + "\n";
}

std::string at(const std::optional<Timestamp>& when) {
  return when ? " (" + format_timestamp(*when) + ")" : std::string();
}

bool all_green(const RunRecord& record, StageKind kind) {
  bool any = false;
  for (const StageVerdict& verdict : record.verdicts) {
    if (verdict.kind == kind) {
      if (verdict.verdict != Verdict::green) {
        return false;
      }
      any = true;
    }
  }
  return any;
}

std::string checklist(const RunRecord& record, std::string_view t3_thread_url) {
  const Phase phase = record.phase;
  const bool done = phase == Phase::done;
  // Escalation can happen at any point, so for it the timestamps tell what happened.
  const bool dispatched =
      record.dispatched_at || (phase != Phase::claimed && phase != Phase::escalated);
  const bool pushed = !record.pushed_shas.empty() || record.first_push_at || is_post_push(phase);
  const bool ci_green = phase == Phase::deploying || phase == Phase::healthy || done ||
                        (pushed && all_green(record, StageKind::ci));
  const bool rolled_out =
      phase == Phase::healthy || done || (pushed && all_green(record, StageKind::deploy));

  std::string dispatched_text = "agent dispatched" + at(record.dispatched_at);
  if (!t3_thread_url.empty()) {
    dispatched_text += " · " + link("T3 thread", t3_thread_url);
  }
  std::string out;
  out += box(true, "claimed" + at(record.claimed_at));
  out += box(dispatched, dispatched_text);
  out += box(pushed, "pushed" + at(record.first_push_at));
  out += box(ci_green, "CI green");
  out += box(rolled_out, "rolled out");
  out += box(done, record.healthy_since ? "healthy for the configured period, since " +
                                              format_timestamp(*record.healthy_since)
                                        : std::string("healthy for the configured period"));
  out += box(done, "done, issue closed");
  if (phase == Phase::escalated) {
    out += "- **escalated to a human:** " + escape(record.outcome) + "\n";
  } else if (phase == Phase::frozen) {
    out += "- **frozen, broken state kept for forensics:** " + escape(record.outcome) + "\n";
  }
  if (record.fix_attempts > 0) {
    out += "- fix-forward attempts: " + std::to_string(record.fix_attempts);
    if (record.first_red_at) {
      out += ", first red at " + format_timestamp(*record.first_red_at);
    }
    out += "\n";
  }
  return out;
}

std::string details(const RunRecord& record, std::string_view t3_thread_url) {
  std::string out;
  out += "- run " + code(record.run_id) + ", attempt " + std::to_string(record.attempt) +
         ", phase " + std::string(to_string(record.phase)) + "\n";
  if (!record.branch.empty()) {
    out += "- branch " + code(record.branch) + "\n";
  }
  if (!record.base_sha.empty()) {
    out += "- base " + code(record.base_sha) + "\n";
  }
  if (!record.pushed_shas.empty()) {
    out += "- pushed";
    for (std::size_t i = 0; i < record.pushed_shas.size(); ++i) {
      out += (i == 0 ? " " : ", ") + code(record.pushed_shas[i]);
    }
    out += "\n";
  }
  for (const StageVerdict& verdict : record.verdicts) {
    out += "- " + std::string(to_string(verdict.kind)) + " " + code(verdict.stage) + ": **" +
           std::string(to_string(verdict.verdict)) + "**";
    if (!verdict.detail.empty()) {
      out += " — " + escape(verdict.detail);
    }
    if (!verdict.url.empty()) {
      out += " (" + link("details", verdict.url) + ")";
    }
    out += "\n";
  }
  out += "- agent turns: " + std::to_string(record.turns) + "\n";
  if (!t3_thread_url.empty()) {
    out += "- T3 thread: " +
           link(record.thread_id.empty() ? "open" : escape(record.thread_id), t3_thread_url) + "\n";
  }
  if (!record.outcome.empty() && !is_terminal(record.phase)) {
    out += "- last decision: " + escape(record.outcome) + "\n";
  } else if (!record.outcome.empty() && record.phase == Phase::done) {
    out += "- outcome: " + escape(record.outcome) + "\n";
  }
  out += "- updated " + format_timestamp(record.updated_at) + "\n";
  return out;
}

} // namespace

std::string encode_run_record(const RunRecord& record) {
  std::string json = serialize(record_to_json(record));
  const std::string sum = detail::sha256_hex(json);
  json.pop_back(); // the closing '}', reopened for the sum
  return std::string(k_block_open) + json + std::string(k_sum_open) + sum +
         std::string(k_sum_close) + " " + std::string(k_comment_close);
}

std::string render_run_comment(const RunRecord& record, std::string_view t3_thread_url) {
  std::string out = "### afk run for #" + std::to_string(record.issue.number) + "\n\n";
  out += checklist(record, t3_thread_url);
  // A paragraph between the lists keeps Markdown from merging them into one loose list.
  out += "\n**Details**\n\n";
  out += details(record, t3_thread_url);
  out += "\n";
  out += encode_run_record(record);
  out += "\n";
  return out;
}

DecodedRunRecord decode_run_record(std::string_view comment_body, const IssueRef& expected_issue) {
  const std::size_t open = comment_body.find(k_block_open);
  if (open == std::string_view::npos) {
    return NoRunRecord{};
  }
  // Two blocks mean someone pasted one; neither can be told to be afk's own.
  if (comment_body.find(k_block_open, open + 1) != std::string_view::npos) {
    return InvalidRunRecord{"the comment holds more than one afk:run block"};
  }
  const std::size_t start = open + k_block_open.size();
  const std::size_t close = comment_body.find(k_comment_close, start);
  if (close == std::string_view::npos) {
    return InvalidRunRecord{"the afk:run block is truncated: no closing -->"};
  }
  try {
    return decode_json(trim(comment_body.substr(start, close - start)), expected_issue);
  } catch (const Rejected& rejected) {
    return InvalidRunRecord{rejected.what()};
  } catch (const Json::exception& error) {
    return InvalidRunRecord{"unreadable afk:run block (JSON error " + std::to_string(error.id) +
                            ")"};
  } catch (const Error&) {
    throw; // hashing failed (OpenSSL): afk's fault, not the record's
  } catch (const std::exception& error) {
    return InvalidRunRecord{std::string("unreadable afk:run block: ") + error.what()};
  } catch (...) {
    return InvalidRunRecord{"unreadable afk:run block"};
  }
}

} // namespace afk
