// SPDX-License-Identifier: MIT
#pragma once

/// The run record codec: afk's one comment per issue carries a rendered checklist for
/// people and, at its end, a machine-readable block for afk:
///
///   <!-- afk:run {"v":1,...,"sum":"<sha256>"} -->
///
/// The block is one line of compact, ASCII-only JSON with a fixed member order: v, run_id,
/// issue ("owner/repo#N"), attempt, phase, project_id, thread_id, branch, worktree_path,
/// base_sha, claimed_at, dispatched_at?, working_since?, first_push_at?, last_push_at?,
/// first_red_at?, healthy_since?, updated_at, pushed_shas, verdicts (objects: stage, kind,
/// verdict, detail, url), fix_attempts, turns, last_turn_id, turn_seen, fix_turn_sent_at?,
/// answered_requests, lease_holder, lease_expires?, outcome, sum. Timestamps are
/// format_timestamp() strings; the `?` ones are omitted when absent (null is read as absent).
/// Non-ASCII is written as \uXXXX and '<' and '>' as \u003c and \u003e, so no value can
/// close the HTML comment or open a second block.
///
/// `sum` is the lower-case hex SHA-256 of the block's JSON without it: the exact bytes of
/// the object as written, up to the `,"sum":"` that opens the last member, followed by `}`.
/// It detects edits and damage; it is not a signature (nothing is secret), so trust still
/// comes from who wrote the comment.
///
/// The run and thread ids must match what the issue and attempt derive to (the thread, or a
/// fix-forward thread that replaced a deleted one: derive_fix_thread_id), so a
/// hand-edited, truncated or foreign block is detected and reported, never trusted. The
/// project id is the T3 project the run lives in: afk's derived one, or one
/// T3Client::ensure_project adopted (adr/0007-t3-client.md).
/// The codec is pure: no I/O, no clock.

#include "afk/run.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace afk {

inline constexpr int k_run_record_version = 1;

/// The block alone: "<!-- afk:run {...} -->". Deterministic: the same record always
/// encodes to the same bytes.
[[nodiscard]] std::string encode_run_record(const RunRecord& record);

/// The whole comment body: a heading, the phase checklist and details for people, then
/// the block. `t3_thread_url`, when not empty, is linked from the checklist. Text from
/// outside afk (outcome, stage names and details, branch, URLs) is escaped so that it cannot
/// hide or forge the block, break out of its list item or mention anyone; only http(s) URLs
/// become links, and long text is shortened (the block keeps it whole).
[[nodiscard]] std::string render_run_comment(const RunRecord& record,
                                             std::string_view t3_thread_url = {});

/// The comment holds no afk:run block at all (an ordinary comment).
struct NoRunRecord {};

/// The comment holds a block afk cannot trust; `reason` says why (garbage JSON,
/// truncated, future version, checksum mismatch, ids that do not derive from the
/// issue, a value of the wrong type, …).
struct InvalidRunRecord {
  std::string reason;
};

using DecodedRunRecord = std::variant<NoRunRecord, RunRecord, InvalidRunRecord>;

/// Finds and checks the block in a comment body. `expected_issue` is the issue the
/// comment is on: a record for any other issue is invalid. NoRunRecord when the body has
/// no "<!-- afk:run " marker; InvalidRunRecord when it has two or more, when no "-->"
/// follows, or when the JSON fails any check: version (newer than k_run_record_version
/// says "future version"), checksum, a missing or mistyped field, a timestamp not in
/// format_timestamp() form, a negative count, an attempt below 1, ids that do not derive.
/// Unknown members are ignored (later v1 writers may add some); the checksum covers them.
/// Values afk could not have written are invalid too: a branch that is not a safe ref name,
/// a worktree path that is relative or has "..", SHAs that are not lower-case hex object
/// ids, control characters in ids. Never throws for bad input; throws Error{permanent}
/// only when hashing itself fails (OpenSSL), which says nothing about the record.
[[nodiscard]] DecodedRunRecord decode_run_record(std::string_view comment_body,
                                                 const IssueRef& expected_issue);

} // namespace afk
