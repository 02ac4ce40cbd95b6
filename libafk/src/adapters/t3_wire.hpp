// SPDX-License-Identifier: MIT
#pragma once

// T3's wire format: the JSON bodies of the commands afk sends to
// POST /api/orchestration/dispatch, and the answer to one. Field rules from the contract
// (../shared/reference/t3-orchestration-api.md §1, §4.3): required keys always present,
// required-nullable keys (thread.create's branch and worktreePath) present as null when
// unused, optional keys omitted, every id/title/model/path a non-blank string — a blank
// one is refused here (Error{permanent}) rather than sent for a 400.

#include <afk/t3.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace afk::t3_wire {

/// The longest message text afk sends (T3's soft limit on input is 120,000 characters).
inline constexpr std::size_t k_max_message_bytes = 120'000;

[[nodiscard]] std::string project_create(std::string_view command_id, std::string_view project_id,
                                         const T3ProjectSpec& spec, T3Time at);
[[nodiscard]] std::string thread_create(const T3ThreadSpec& spec, T3Time at);
[[nodiscard]] std::string turn_start(const T3TurnSpec& spec, T3Time at);
[[nodiscard]] std::string approval_respond(std::string_view command_id, std::string_view thread_id,
                                           std::string_view request_id, T3Decision decision,
                                           T3Time at);
[[nodiscard]] std::string user_input_respond(std::string_view command_id,
                                             std::string_view thread_id,
                                             std::string_view request_id, const T3Answers& answers,
                                             T3Time at);
[[nodiscard]] std::string turn_interrupt(std::string_view command_id, std::string_view thread_id,
                                         T3Time at);
[[nodiscard]] std::string session_stop(std::string_view command_id, std::string_view thread_id,
                                       T3Time at);
[[nodiscard]] std::string thread_archive(std::string_view command_id, std::string_view thread_id);
[[nodiscard]] std::string thread_delete(std::string_view command_id, std::string_view thread_id);

/// {"sequence": N} → N. Throws Error{protocol} for anything else.
[[nodiscard]] std::int64_t parse_sequence(std::string_view body);

/// The `type` of a command body built above ("" if it has none).
[[nodiscard]] std::string command_type(std::string_view body);

/// Parses GET /.well-known/t3/environment and GET /api/auth/session bodies.
[[nodiscard]] T3Environment parse_environment(std::string_view body);
[[nodiscard]] T3AuthSession parse_auth_session(std::string_view body);

/// T3's error body ({"_tag","code","reason","requiredScope",…}): `code`, and `reason` or
/// `requiredScope` after a colon, as one sanitized line of at most k_max_error_summary_bytes
/// (one_line); "" when the body is empty or not such an object. Never throws.
inline constexpr std::size_t k_max_error_summary_bytes = 300;
[[nodiscard]] std::string error_summary(std::string_view body);

} // namespace afk::t3_wire
