// SPDX-License-Identifier: MIT
// The pure half of the T3 client: time stamps, compatibility, token fitness and the
// liveness rules (afk/t3.hpp). No I/O.
#include <afk/t3.hpp>

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

namespace afk {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool starts_with_icase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           const auto lower = [](char c) {
             return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(a) == lower(b);
         });
}

std::string_view trim(std::string_view text) {
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  while (!text.empty() && space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool at_or_after(const std::optional<T3Time>& time, const std::optional<T3Time>& mark) {
  // Without a mark nothing can be called stale; without a time nothing can be called new.
  return !mark || (time && *time >= *mark);
}

void newest(std::optional<T3Time>& best, const std::optional<T3Time>& candidate) {
  if (candidate && (!best || *candidate > *best)) {
    best = candidate;
  }
}

// Approvals and questions raised in this turn and not yet resolved, in the order raised.
std::vector<PendingRequest> unresolved_requests(const T3Thread& thread, const std::string& turn,
                                                const std::optional<T3Time>& since) {
  std::vector<PendingRequest> pending;
  std::set<std::string> resolved;
  for (const T3Activity& activity : thread.activities) {
    const bool this_turn =
        (!turn.empty() && activity.turn_id == turn) || at_or_after(activity.created_at, since);
    if (!this_turn || activity.request_id.empty()) {
      continue;
    }
    if (activity.kind == "approval.requested") {
      pending.push_back(
          {.id = activity.request_id, .kind = PendingRequest::Kind::approval, .questions = {}});
    } else if (activity.kind == "user-input.requested") {
      pending.push_back({.id = activity.request_id,
                         .kind = PendingRequest::Kind::user_input,
                         .questions = activity.questions});
    } else if (activity.kind == "approval.resolved" || activity.kind == "user-input.resolved") {
      resolved.insert(activity.request_id);
    }
  }
  std::erase_if(pending, [&](const PendingRequest& r) { return resolved.count(r.id) > 0; });
  return pending;
}

} // namespace

std::optional<T3Time> parse_t3_time(std::string_view text) {
  // Whole seconds through the shared parser; the fraction (any digits) kept to the ms.
  const auto dot = text.find('.');
  std::string whole(text);
  std::chrono::milliseconds fraction{0};
  if (dot != std::string_view::npos) {
    std::size_t end = dot + 1;
    int digits = 0;
    int millis = 0;
    while (end < text.size() && is_digit(text[end])) {
      if (digits < 3) {
        millis = millis * 10 + (text[end] - '0');
      }
      ++digits;
      ++end;
    }
    if (digits == 0) {
      return std::nullopt;
    }
    for (int i = digits; i < 3; ++i) {
      millis *= 10;
    }
    fraction = std::chrono::milliseconds{millis};
    whole = std::string(text.substr(0, dot)) + std::string(text.substr(end));
  }
  const auto seconds = parse_timestamp(whole);
  if (!seconds) {
    return std::nullopt;
  }
  return std::chrono::time_point_cast<std::chrono::milliseconds>(*seconds) + fraction;
}

std::string format_t3_time(T3Time time) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  const auto millis = (time - seconds).count();
  std::string text = format_timestamp(seconds); // "…:SSZ"
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(millis));
  text.insert(text.size() - 1, fraction);
  return text;
}

std::string_view to_string(T3SessionStatus status) noexcept {
  switch (status) {
  case T3SessionStatus::idle:
    return "idle";
  case T3SessionStatus::starting:
    return "starting";
  case T3SessionStatus::running:
    return "running";
  case T3SessionStatus::ready:
    return "ready";
  case T3SessionStatus::interrupted:
    return "interrupted";
  case T3SessionStatus::stopped:
    return "stopped";
  case T3SessionStatus::error:
    return "error";
  case T3SessionStatus::unknown:
    break;
  }
  return "unknown";
}

std::string_view to_string(T3TurnState state) noexcept {
  switch (state) {
  case T3TurnState::running:
    return "running";
  case T3TurnState::interrupted:
    return "interrupted";
  case T3TurnState::completed:
    return "completed";
  case T3TurnState::error:
    return "error";
  case T3TurnState::unknown:
    break;
  }
  return "unknown";
}

T3Compatibility t3_compatibility(const T3Environment& environment,
                                 std::string_view pinned_version) {
  T3Compatibility result;
  if (environment.protocol_version > k_t3_protocol_version) {
    result.refusal = "T3 " + environment.server_version + " speaks orchestration protocol " +
                     std::to_string(environment.protocol_version) + "; this afk speaks " +
                     std::to_string(k_t3_protocol_version) + " and will not talk to it";
  }
  if (!pinned_version.empty() && environment.server_version != pinned_version) {
    result.warning = "T3 server version is " + environment.server_version + ", pinned " +
                     std::string(pinned_version);
  }
  return result;
}

bool T3AuthSession::has_scope(std::string_view scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

std::vector<std::string> t3_token_problems(const T3AuthSession& session, Timestamp now,
                                           Seconds warn_within) {
  if (!session.authenticated) {
    return {"T3 does not accept the token (not authenticated)"};
  }
  std::vector<std::string> problems;
  for (const std::string_view scope : {"orchestration:read", "orchestration:operate"}) {
    if (!session.has_scope(scope)) {
      problems.push_back("the T3 token lacks the " + std::string(scope) + " scope");
    }
  }
  if (session.expires_at && *session.expires_at <= now) {
    problems.push_back("the T3 token expired at " + format_timestamp(*session.expires_at));
  } else if (session.expires_at && *session.expires_at - now <= warn_within) {
    problems.push_back("the T3 token expires at " + format_timestamp(*session.expires_at) +
                       ", within " + format_duration(warn_within));
  }
  return problems;
}

bool t3_is_provider_failure_text(std::string_view text) {
  const std::string_view answer = trim(text);
  return starts_with_icase(answer, "Not logged in") ||
         starts_with_icase(answer, "Failed to authenticate") ||
         starts_with_icase(answer, "Invalid API key") || starts_with_icase(answer, "API Error:") ||
         answer.find("API Error: ") != std::string_view::npos;
}

AgentEvidence t3_agent_evidence(const T3ThreadRead& read, const T3TurnWatch& watch) {
  AgentEvidence evidence;
  if (!read.thread || read.thread->deleted_at) {
    evidence.state = AgentState::gone;
    evidence.error = "the thread is not in T3 (deleted or never created)";
    return evidence;
  }
  const T3Thread& thread = *read.thread;
  if (watch.dispatch_sequence > read.sequence) {
    evidence.state = AgentState::unknown; // a read from before the turn start: ask again
    return evidence;
  }

  // afk's own message marks where this turn's evidence starts.
  const auto mine = std::find_if(thread.messages.begin(), thread.messages.end(),
                                 [&](const T3Message& m) { return m.id == watch.message_id; });
  if (!watch.message_id.empty() && mine == thread.messages.end()) {
    evidence.state = AgentState::not_visible;
    return evidence;
  }
  const std::optional<T3Time> since =
      mine == thread.messages.end() ? std::nullopt : mine->created_at;
  const auto after_mine = mine == thread.messages.end() ? thread.messages.begin() : mine + 1;

  // The new turn's id: the first id other than the previous turn's, from the freshest
  // sources first.
  const auto fresh_id = [&](const std::string& id) {
    return !id.empty() && id != watch.previous_turn_id;
  };
  const std::optional<T3Session>& session = thread.session;
  const bool session_fresh = session && at_or_after(session->updated_at, since);
  std::string turn;
  if (session_fresh && fresh_id(session->active_turn_id)) {
    turn = session->active_turn_id;
  } else if (thread.latest_turn && fresh_id(thread.latest_turn->turn_id)) {
    turn = thread.latest_turn->turn_id;
  } else {
    for (auto it = after_mine; it != thread.messages.end() && turn.empty(); ++it) {
      if (it->role == T3Role::assistant && fresh_id(it->turn_id)) {
        turn = it->turn_id;
      }
    }
    for (const T3Activity& activity : thread.activities) {
      if (turn.empty() && fresh_id(activity.turn_id) && at_or_after(activity.created_at, since)) {
        turn = activity.turn_id;
      }
    }
  }
  evidence.turn_id = turn;
  const std::optional<T3LatestTurn> latest =
      thread.latest_turn && !turn.empty() && thread.latest_turn->turn_id == turn
          ? thread.latest_turn
          : std::nullopt;

  // Newest sign of life, for stall detection.
  std::optional<T3Time> activity_at = thread.updated_at;
  if (session) {
    newest(activity_at, session->updated_at);
  }
  for (const T3Message& message : thread.messages) {
    newest(activity_at, message.updated_at);
  }
  for (const T3Activity& activity : thread.activities) {
    newest(activity_at, activity.created_at);
  }
  if (activity_at) {
    evidence.last_activity = std::chrono::floor<std::chrono::seconds>(*activity_at);
  }

  // A turn that fails to start leaves no latestTurn, only this activity (and a session
  // that ends `stopped` with lastError).
  std::string start_failure;
  for (const T3Activity& activity : thread.activities) {
    if (activity.kind == "provider.turn.start.failed" && at_or_after(activity.created_at, since)) {
      start_failure = activity.detail.empty() ? activity.summary : activity.detail;
    }
  }
  const T3SessionStatus status = session_fresh ? session->status : T3SessionStatus::unknown;
  const bool busy = status == T3SessionStatus::starting || status == T3SessionStatus::running;
  const bool session_failed = status == T3SessionStatus::error ||
                              (status == T3SessionStatus::stopped && !session->last_error.empty());

  // With T3's clock behind afk's, a fresh session can look older than afk's message; the
  // new turn still shows as running.
  if (busy || (!session_fresh && latest && latest->state == T3TurnState::running)) {
    evidence.pending = unresolved_requests(thread, turn, since);
    evidence.state = evidence.pending.empty() ? AgentState::busy : AgentState::waiting_on_human;
    return evidence;
  }
  if (!start_failure.empty() || session_failed || (latest && latest->state == T3TurnState::error)) {
    if (watch.interrupt_requested) {
      evidence.state = AgentState::interrupted; // T3 ends an interrupted turn as `error`
      return evidence;
    }
    evidence.state = AgentState::failed;
    evidence.error = session_failed && !session->last_error.empty() ? session->last_error
                     : !start_failure.empty()                       ? start_failure
                                                                    : "the turn ended in error";
    return evidence;
  }
  if ((latest && latest->state == T3TurnState::interrupted) || status == T3SessionStatus::stopped ||
      status == T3SessionStatus::interrupted) {
    evidence.state = AgentState::interrupted;
    return evidence;
  }
  if ((status == T3SessionStatus::ready || status == T3SessionStatus::idle) && !turn.empty()) {
    const T3Message* answer = nullptr;
    for (auto it = after_mine; it != thread.messages.end(); ++it) {
      if (it->role == T3Role::assistant && it->turn_id == turn) {
        answer = &*it;
      }
    }
    if (answer != nullptr || (latest && latest->state == T3TurnState::completed)) {
      if (answer != nullptr && t3_is_provider_failure_text(answer->text)) {
        evidence.state = AgentState::failed;
        evidence.error = "the agent's provider failed: " + answer->text;
        return evidence;
      }
      evidence.state = AgentState::idle;
      return evidence;
    }
  }
  const bool strange = (session_fresh && status == T3SessionStatus::unknown) ||
                       (latest && latest->state == T3TurnState::unknown);
  evidence.state = strange ? AgentState::unknown : AgentState::not_visible;
  return evidence;
}

} // namespace afk
