// SPDX-License-Identifier: MIT
#pragma once

/// The run record codec: afk's one comment per issue carries a rendered checklist for
/// people and, at its end, a machine-readable block for afk:
///
///   <!-- afk:run {"v":1,...,"sum":"<sha256>"} -->
///
/// The block is versioned JSON. `sum` is a SHA-256 over the rest of the block, and every
/// derived id (run, project, thread) must match what the issue and attempt derive to,
/// so a hand-edited, truncated or foreign block is detected and reported, never trusted.
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
/// the block. `t3_thread_url`, when not empty, is linked from the checklist.
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
/// comment is on: a record for any other issue is invalid. Never throws for bad input.
[[nodiscard]] DecodedRunRecord decode_run_record(std::string_view comment_body,
                                                 const IssueRef& expected_issue);

} // namespace afk
