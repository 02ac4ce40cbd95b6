// SPDX-License-Identifier: MIT
#pragma once

/// Deterministic ids. Every id afk hands to T3 (project, thread, command, message) and
/// the run id in the commit trailer is derived from stable facts, never random, so that
/// a tick retrying after a crash at any step sends the same ids again: T3 applies a
/// repeated commandId once and rejects a reused thread id, so no second agent starts.
///
/// Ids are RFC 9562 UUIDv5 (SHA-1 name-based) in afk's own namespace, lower-case hex
/// with dashes: URL-safe, fixed length, no secret input. Repository names enter in
/// canonical (lower-case) form. The names hashed are "project:<repo>",
/// "run:<repo>#<n>:<attempt>", "thread:<repo>#<n>:<attempt>" (and
/// "thread:<repo>#<n>:<attempt>:fix:<k>" for a fix-forward on a new thread) and
/// "command:<repo>#<n>:<attempt>:<step>"; changing them, or afk's namespace, would make
/// every recorded id stop deriving and orphan the runs in flight.

#include "afk/issue.hpp"

#include <string>
#include <string_view>

namespace afk {

/// UUIDv5 of `name` (bytes as given) in afk's namespace.
[[nodiscard]] std::string derive_uuid(std::string_view name);

[[nodiscard]] std::string derive_project_id(const RepoName& repo);
[[nodiscard]] std::string derive_run_id(const IssueRef& issue, int attempt);
[[nodiscard]] std::string derive_thread_id(const IssueRef& issue, int attempt);
/// The thread a fix-forward attempt `fix` (1-based) moves to when the run's thread is gone
/// (deleted in T3): "thread:<repo>#<n>:<attempt>:fix:<fix>".
[[nodiscard]] std::string derive_fix_thread_id(const IssueRef& issue, int attempt, int fix);
/// The most fix-forward threads a run can have (a record naming a later one is invalid).
inline constexpr int k_max_fix_threads = 64;
/// Id of one command of a run; `step` names it ("thread.create", "turn.start:1",
/// "approval.respond:<request id>", …). The same (issue, attempt, step) always gives
/// the same id.
[[nodiscard]] std::string derive_command_id(const IssueRef& issue, int attempt,
                                            std::string_view step);

} // namespace afk
