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

/// The issues an issue body says it is blocked by. Reads every "Blocked by" clause
/// (case-insensitive, "Blocked-by" too, optionally "Blocked by:", anywhere in a line, so
/// also after a list bullet or heading marker and wrapped in Markdown emphasis): "#12",
/// "owner/repo#7", "https://<host>/[prefix/]owner/repo/issues/7" (host ignored) and
/// Markdown links to such URLs, separated by commas, "and", "&" or whitespace. The clause
/// ends at the first word that is none of these, or after a reference followed by
/// '.', ';', ':', '!', '?' or ')'. Pull-request URLs (".../pull/7", ".../pulls/7") are
/// skipped without ending the clause: they are not issues to wait for. A clause left
/// open at the end of its line ("blocked by #3 and") continues on the next non-blank
/// line; a "Blocked by" with nothing after it (a heading or "**Blocked by:**" line)
/// reads the list that follows ("- #3", "1. #4", "- [ ] #5"), blank lines allowed.
/// Fenced code blocks (``` and ~~~), inline code and HTML comments are ignored. Same-repo
/// references resolve against `self`; a reference to `self` is dropped. Sorted and
/// de-duplicated. Linear in the size of `body`; throws nothing but std::bad_alloc.
[[nodiscard]] std::vector<IssueRef> parse_blocked_by(std::string_view body, const IssueRef& self);

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
