// SPDX-License-Identifier: MIT
#pragma once

/// What the coding agent reads: the standing issue-implementer preamble (afk's rules, with
/// the run's facts filled in), then the issue as clearly delimited data; and the follow-up
/// turn after a post-push red. Issue text is hostile input: it is cleaned of hidden HTML and
/// invisible characters, fenced so it cannot end its own block, and bounded in size. Pure:
/// no I/O, no clock.

#include "afk/issue.hpp"
#include "afk/run.hpp"
#include "afk/time.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

/// T3's soft limit for one turn's text, in bytes.
inline constexpr std::size_t k_prompt_max_bytes = 120'000;

/// afk's built-in preamble, with placeholders (see render_preamble). An operator may
/// replace it with a file using the same placeholders.
[[nodiscard]] std::string_view default_preamble() noexcept;

/// The facts render_preamble fills in.
struct PreambleContext {
  IssueRef issue;
  std::string worktree;       ///< {worktree}
  std::string branch;         ///< {branch}
  std::string default_branch; ///< {default_branch}
  std::string base_sha;       ///< {base_sha}
  std::string run_id;         ///< {run_id}
  std::string trailer;        ///< {trailer}: the trailer key, e.g. "AFK-Run"
};

/// Every placeholder render_preamble knows, braces included: {worktree} {branch}
/// {default_branch} {base_sha} {issue} ("owner/repo#42") {issue_number} ("42") {repo}
/// ("owner/repo") {run_id} {trailer}.
[[nodiscard]] const std::vector<std::string_view>& preamble_placeholders() noexcept;

/// Replaces each known placeholder in `text` with its value, in one pass (a value that
/// contains a placeholder is not expanded again). Anything else in braces, an unknown
/// "{name}" included, is left verbatim. Linear in the size of the result.
[[nodiscard]] std::string render_preamble(std::string_view text, const PreambleContext& context);

/// What is wrong with a preamble (an operator's file), one short line each, for `afk config
/// check` and `afk doctor`; empty when nothing is. Reports: empty text; invalid UTF-8; an
/// unknown placeholder "{name}" (name of [a-z0-9_], at most 40 characters; each distinct
/// one once, with its line); a missing {run_id}, {trailer} or {issue_number} (without them
/// the agent cannot write the commit afk looks for); a preamble over 16 KiB (it is never
/// cut and crowds the issue out of the prompt).
[[nodiscard]] std::vector<std::string> preamble_problems(std::string_view text);

/// Cleans untrusted issue text for the agent (and for one-line fields elsewhere):
///  - strips HTML comments "<!-- ... -->" as GitHub hides them (also "<!-->" and
///    "<!--->"; an unterminated comment runs to the end of the text; comments do not nest,
///    so text after the first "-->" stays, as it is shown to people);
///  - writes an opener that only appears once a comment or an invisible character is
///    removed ("<!<!-- a -->--", "<!-\u200B-"; people see that text) as "<! --", so the
///    result never holds "<!--";
///  - replaces invalid UTF-8 (bad bytes, overlong forms, surrogates, > U+10FFFF) with
///    U+FFFD, one per bad byte;
///  - drops invisible and formatting characters: C0 controls except \n and \t, DEL, C1
///    controls, U+00AD, U+034F, U+061C, U+115F, U+1160, U+180E, U+200B-U+200F,
///    U+202A-U+202E, U+2060-U+2064, U+2066-U+206F, U+3164, U+FE00-U+FE0F, U+FEFF,
///    U+FFA0, U+FFF9-U+FFFB, U+1D173-U+1D17A, U+E0000-U+E007F (tags) and
///    U+E0100-U+E01EF (variation selectors can smuggle hidden bytes);
///  - turns "\r\n", a lone "\r", U+2028 and U+2029 into "\n";
///  - makes whitespace-only lines empty, keeps at most 2 blank lines in a row, and drops
///    blank lines at the start and end.
/// Linear in the size of the input, whatever it holds.
[[nodiscard]] std::string sanitize_issue_text(std::string_view text);

/// Cleans untrusted text for a one-line field: sanitize_issue_text, then every run of
/// whitespace (line breaks included) becomes one space, trimmed, cut on a UTF-8 boundary to
/// at most `max_bytes` bytes including a trailing "..." when cut.
[[nodiscard]] std::string one_line(std::string_view text, std::size_t max_bytes);

/// `url` when it is a plausible link to put in a message: http:// or https:// with a host,
/// at most 2048 bytes, only visible ASCII and none of < > | " ` \ { } (which would break
/// Slack's and Markdown's link syntax); nullopt otherwise.
[[nodiscard]] std::optional<std::string> safe_link(std::string_view url);

struct PromptComment {
  std::string author;   ///< login
  std::string body;     ///< raw; sanitized by compose_issue_prompt
  bool trusted = false; ///< the author holds the trusted permission (decided by the caller)
};

struct IssueForPrompt {
  IssueRef issue;
  std::string title;
  std::string body;
  std::vector<PromptComment> comments; ///< oldest first
  std::string url;
};

/// The first turn: `preamble_rendered` as is, then the issue as data: a short explanation,
/// then one fenced block (backticks, longer than any backtick run in the issue text, so
/// nothing inside can close it; ``` or ~~~~ in the text cannot end it) holding the issue
/// reference, URL, title (one line, at most 1 KiB), body and the trusted comments (author
/// named, oldest first), each sanitized; untrusted comments are left out entirely. When the
/// result would exceed `max_bytes`, the body is cut first-come: body, then comments in order
/// (a comment that does not fit is cut, later ones dropped), with "[... cut by afk ...]" at
/// the cut and a note after the block saying how many bytes and comments were omitted. The
/// preamble is never cut: the result exceeds `max_bytes` only when the preamble and the
/// fixed framing alone do.
[[nodiscard]] std::string compose_issue_prompt(std::string_view preamble_rendered,
                                               const IssueForPrompt& issue, std::size_t max_bytes);

struct FixPromptInput {
  IssueRef issue;
  std::string sha; ///< the red commit on the default branch
  std::string default_branch;
  std::vector<StageVerdict> stages; ///< as the deploy watcher reported them, in order
  int attempt = 1;                  ///< this fix-forward attempt, 1-based
  int max_attempts = 5;
  Seconds time_left{0}; ///< left in the fix-forward window
  std::string run_id;
  std::string trailer; ///< trailer key, e.g. "AFK-Run"
};

/// The follow-up turn after a post-push red: which SHA, which stages are red (each stage
/// with its verdict, link and details; details sanitized and fenced as data), attempt N of
/// M and the time left, and what to do: fix forward on top of the current default branch
/// (revert only when that is the fix), the same commit rules (Closes #N, the trailer line),
/// push with `git push origin HEAD:<default_branch>`, never force, never skip CI; stop with
/// "BLOCKED:" when it cannot be fixed. Stage details are cut to fit `max_bytes`, with a note.
[[nodiscard]] std::string compose_fix_prompt(const FixPromptInput& input, std::size_t max_bytes);

} // namespace afk
