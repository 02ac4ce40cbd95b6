// SPDX-License-Identifier: MIT
#pragma once

/// Issues as the pure core sees them: validated repository names, issue references,
/// the "Blocked by" clause of an issue body, and priority from labels. Everything here
/// is pure: no I/O, no clock.

#include "afk/time.hpp"

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

/// "owner/name", validated so that it is safe to use in a filesystem path and a URL:
/// exactly one '/', owner 1-39 characters, name 1-100, both only ASCII [A-Za-z0-9._-]
/// (so no "..", backslash, space, control character or Unicode look-alike), neither starting
/// with '.' or '-', name not ending in ".git" (any case). Comparison ignores ASCII case, as
/// GitHub and Forgejo do; canonical() is the lower-case form used for ids and paths.
class RepoName {
public:
  /// nullopt unless `text` is a valid "owner/name".
  [[nodiscard]] static std::optional<RepoName> parse(std::string_view text);

  [[nodiscard]] const std::string& owner() const noexcept { return m_owner; }
  [[nodiscard]] const std::string& name() const noexcept { return m_name; }
  /// "owner/name" as written.
  [[nodiscard]] std::string full() const { return m_owner + "/" + m_name; }
  /// "owner/name" in lower case.
  [[nodiscard]] std::string canonical() const;

  friend bool operator==(const RepoName& a, const RepoName& b) {
    return a.canonical() == b.canonical();
  }
  friend std::strong_ordering operator<=>(const RepoName& a, const RepoName& b) {
    return a.canonical() <=> b.canonical();
  }

private:
  RepoName(std::string owner, std::string name)
      : m_owner(std::move(owner))
      , m_name(std::move(name)) {}
  std::string m_owner;
  std::string m_name;
};

/// Why RepoName::parse refused `text`, for error messages; empty when it is valid. The
/// reason never echoes the input and names unprintable bytes in hex.
[[nodiscard]] std::string explain_invalid_repo_name(std::string_view text);

/// One issue: "owner/repo#42" (to_string() spells the repository as written).
struct IssueRef {
  RepoName repo;
  std::int64_t number = 0;

  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const IssueRef&, const IssueRef&) = default;
  friend std::strong_ordering operator<=>(const IssueRef& a, const IssueRef& b) {
    if (auto c = a.repo <=> b.repo; c != 0) {
      return c;
    }
    return a.number <=> b.number;
  }
};

/// Parses "owner/repo#42". A bare "#42" or "42" resolves against `default_repo` when one
/// is given. nullopt for anything else: numbers must be 1..2^53 written without sign or
/// leading zeros ("#01" is refused), and nothing may surround the reference.
[[nodiscard]] std::optional<IssueRef>
parse_issue_ref(std::string_view text, const std::optional<RepoName>& default_repo = {});

/// What an issue body says it is blocked by.
struct BlockedBy {
  std::vector<IssueRef> refs; ///< sorted, de-duplicated, self dropped
  /// Clauses that say the issue is blocked but could not (entirely) be read as references,
  /// as short printable excerpts of the text after "Blocked by" (at most 80 bytes, cut on a
  /// UTF-8 boundary and ending in "..." when cut; control, invisible and bidi characters and
  /// invalid UTF-8 replaced by '?', whitespace collapsed, '`' '<' '>' removed; never empty).
  /// Each one blocks: the issue waits until a person fixes the body. Empty when every clause
  /// was read. At most 20 are kept, first ones first, without duplicates.
  std::vector<std::string> unreadable;
  bool operator==(const BlockedBy&) const = default;
};

/// Reads every "Blocked by" clause of an issue body. It FAILS CLOSED: a clause that says the
/// issue is blocked but cannot be read lands in `unreadable`, which blocks as surely as a ref.
///
/// Finding clauses: "Blocked by" in any case, "Blocked-by" too, optionally "Blocked by:",
/// anywhere in a line (after a list bullet, heading or quote marker, wrapped in Markdown
/// emphasis, in a table cell). Unicode spaces (U+00A0, U+1680, U+2000-U+200B, U+202F, U+205F,
/// U+2060, U+3000, U+FEFF) count as spaces everywhere, also between "Blocked" and "by".
/// Fenced code blocks (``` and ~~~), HTML comments and inline code outside a clause are
/// ignored: "`Blocked by #1`" is not a clause. "Blocked" and "by" on different lines are not
/// a clause.
///
/// Reading a clause, word by word: references are "#12", "owner/repo#7",
/// "https://<host>/[prefix/]owner/repo/issues/7" (host ignored), "<url>", Markdown links with
/// any link text ("[API rework](https://host/o/r/issues/4)") and inline code holding exactly
/// one reference ("`#3`"). Between them: whitespace, ',', '&', '|' (table cells), '/' between
/// two refs ("#3/#4"), "and", "or" (read as "and": waiting for both is the safe reading),
/// and the filler words "issue", "issues", "ticket", "tickets", "the" ("Blocked by issues #3
/// and #4"). "PR" is not a filler word. Pull-request URLs (".../pull/7", ".../pulls/7") are
/// skipped: afk waits only for issues. The clause ends at the first other word, or after a
/// reference followed by '.', ';', ':', '!', '?' or ')'. Text after that is not read and does
/// not make a clause that yielded a reference unreadable ("Blocked by #3 which needs #4": #3).
///
/// What is unreadable (each clause adds at most one excerpt):
///  - a clause with a word that looks like a reference but is not a valid one ("#0", "#01",
///    "#3x", "../etc#3", ".../issues/07", "ftp://.../issues/7": anything with "#<digit>" or
///    "/issues/<digit>"). The clause goes on: "Blocked by #0 and #3" still yields #3.
///  - a clause from which no issue reference was read, whatever its text ("Blocked by
///    issue 3", "Blocked by the database migration", "Blocked by PR #5", a clause naming only
///    a pull request): a person says the issue is blocked and afk cannot check it. Except a
///    clause whose whole text is "none", "nothing", "n/a", "no response" (GitHub issue forms'
///    empty field), "-", U+2013 or U+2014 (any case, optionally in emphasis, parentheses or
///    table pipes, with a trailing '.'): not blocked. "None yet, see #5" is not that.
///  - a table row ("| Blocked by | ... |") with nothing after "Blocked by": afk reads the
///    cells that follow on the same row only, and an empty one may head a column below.
///
/// Lead-ins: a clause with nothing after it (a "## Blocked by" heading, "**Blocked by:**")
/// reads what follows, blank lines and comments allowed: a list ("- #3", "1. #4", "- [ ] #5",
/// indented lines within it allowed), each item a clause judged as above; or else the next
/// line, judged as a clause. A heading or thematic break right after it, or the end of the
/// body, or another "Blocked by" clause, means an empty section: not blocked (an unfilled
/// template). A code block right after it is unreadable. A clause left open at the end of
/// its line ("blocked by #3 and") continues on the next non-blank line; there, nothing
/// readable simply ends the clause. A table row never continues onto the next line.
///
/// Same-repo references resolve against `self`; a reference to `self` is dropped (it still
/// counts as read). Linear in the size of `body`; throws nothing but std::bad_alloc.
[[nodiscard]] BlockedBy parse_blocked_by(std::string_view body, const IssueRef& self);

/// The label names afk reads and writes (configurable; these are the defaults).
struct LabelNames {
  std::string ready = "ready-for-agent";
  std::string in_progress = "agent-in-progress";
  std::string human = "ready-for-human";
  std::string frozen = "afk-frozen";
  std::string priority_prefix = "priority:";
  bool operator==(const LabelNames&) const = default;
};

/// The lowest N among labels "<prefix>N" (N a non-negative decimal int, e.g. "priority:1";
/// the prefix matches ignoring ASCII case, as forge label names do). nullopt when no label
/// carries a valid priority; other "<prefix>…" labels ("priority:high", "priority:",
/// "priority:-1", "priority: 1", values above INT_MAX) are ignored.
[[nodiscard]] std::optional<int> priority_from_labels(const std::vector<std::string>& labels,
                                                      std::string_view prefix);

/// An open issue as the tick lists it: cheap facts only (one list request per label).
struct IssueSummary {
  IssueRef ref;
  std::string title;
  std::vector<std::string> labels;
  Timestamp created_at{};

  /// Compares ignoring ASCII case: forges treat "Ready" and "ready" as one label.
  [[nodiscard]] bool has_label(std::string_view label) const;
};

} // namespace afk
