// SPDX-License-Identifier: MIT
#include <afk/issue.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <utility>

namespace afk {

namespace {

constexpr std::size_t k_max_owner_length = 39;
constexpr std::size_t k_max_name_length = 100;
// Beyond 2^53 a number no longer survives a trip through a JSON double.
constexpr std::int64_t k_max_issue_number = std::int64_t{1} << 53;
constexpr std::size_t k_max_issue_digits = 16;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// Issue numbers as humans and forges write them: 1..2^53, no sign, no leading zeros.
std::optional<std::int64_t> parse_issue_number(std::string_view digits) {
  if (digits.empty() || digits.size() > k_max_issue_digits || digits.front() == '0') {
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (const char c : digits) {
    if (!is_digit(c)) {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  if (value > k_max_issue_number) {
    return std::nullopt;
  }
  return value;
}

// Names a byte without echoing it raw: hostile names may carry control characters or
// invisible Unicode that would garble a log line or terminal.
std::string describe_byte(char c) {
  if (c > ' ' && c < '\x7f') {
    return std::string{"'"} + c + "'";
  }
  constexpr std::string_view k_hex = "0123456789ABCDEF";
  const auto byte = static_cast<unsigned char>(c);
  std::string out = "byte 0x";
  out += k_hex[byte >> 4U];
  out += k_hex[byte & 0xFU];
  return out;
}

std::string explain_invalid_part(std::string_view part, std::string_view what, std::size_t max) {
  const std::string label(what);
  if (part.empty()) {
    return label + " is empty";
  }
  if (part.size() > max) {
    return label + " is longer than " + std::to_string(max) + " characters";
  }
  for (const char c : part) {
    if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '_' && c != '-') {
      return label + " contains " + describe_byte(c) +
             "; only ASCII letters, digits, '.', '_' and '-' are allowed";
    }
  }
  if (part.front() == '.' || part.front() == '-') {
    return label + " must not start with '.' or '-'";
  }
  return {};
}

enum class TokenKind {
  filler,      ///< Punctuation or emphasis alone: the clause goes on.
  conjunction, ///< "and": the clause goes on and expects more.
  reference,   ///< An issue reference.
  skipped,     ///< A pull-request URL: recognised, not a blocker, the clause goes on.
  other,       ///< Any other word: the clause ends before it.
};

struct Token {
  TokenKind kind = TokenKind::other;
  std::optional<IssueRef> ref;
  bool ends_clause = false; ///< It ended a sentence ("#3." or "#3)").
};

bool is_clause_separator(char c) {
  return is_blank(c) || c == ',' || c == '&';
}
bool is_terminator(char c) {
  return c == '.' || c == ';' || c == ':' || c == '!' || c == '?' || c == ')';
}

// "http(s)://<host>/<any prefix>/owner/repo/issues/N": the host and any prefix (a forge
// served under a sub-path) are ignored, the last four path segments decide.
Token classify_url(std::string_view url) {
  const std::size_t scheme = istarts_with(url, "https://")  ? 8
                             : istarts_with(url, "http://") ? 7
                                                            : 0;
  if (scheme == 0) {
    return {};
  }
  url.remove_prefix(scheme);
  url = url.substr(0, url.find_first_of("?#"));
  if (!url.empty() && url.back() == '/') {
    url.remove_suffix(1);
  }
  const std::size_t host_end = url.find('/');
  if (host_end == 0 || host_end == std::string_view::npos) {
    return {};
  }
  std::string_view path = url.substr(host_end + 1);
  std::array<std::string_view, 4> segments;
  for (std::size_t i = segments.size(); i-- > 0;) {
    const std::size_t slash = path.rfind('/');
    segments[i] = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (segments[i].empty() || (slash == std::string_view::npos && i != 0)) {
      return {};
    }
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
  }
  const auto repo = RepoName::parse(std::string(segments[0]) + "/" + std::string(segments[1]));
  const auto number = parse_issue_number(segments[3]);
  if (!repo || !number) {
    return {};
  }
  if (segments[2] == "issues") {
    return {TokenKind::reference, IssueRef{*repo, *number}, false};
  }
  if (segments[2] == "pull" || segments[2] == "pulls") {
    return {TokenKind::skipped, std::nullopt, false};
  }
  return {};
}

// `strip_underscore` is a second attempt: '_' is Markdown emphasis but also legal in an
// owner name, so "_org/repo#3" must first be tried as written.
Token classify_word(std::string_view word, const IssueRef& self, bool strip_underscore) {
  const auto is_wrapper = [strip_underscore](char c) {
    return c == '*' || c == '~' || c == '<' || c == '>' || (strip_underscore && c == '_');
  };
  while (!word.empty() &&
         (is_wrapper(word.front()) || word.front() == ':' || word.front() == '(')) {
    word.remove_prefix(1);
  }

  std::string_view target = word;
  std::string_view tail;
  const std::size_t link_middle = word.find("](");
  const std::size_t link_close =
      link_middle == std::string_view::npos ? link_middle : word.find(')', link_middle + 2);
  if (!word.empty() && word.front() == '[' && link_close != std::string_view::npos) {
    // A Markdown link "[#3](https://host/o/r/issues/3)": what it points at counts.
    target = word.substr(link_middle + 2, link_close - link_middle - 2);
    tail = word.substr(link_close + 1);
  } else {
    std::size_t end = word.size();
    while (end > 0 && (is_wrapper(word[end - 1]) || is_terminator(word[end - 1]))) {
      --end;
    }
    target = word.substr(0, end);
    tail = word.substr(end);
  }

  Token token;
  for (const char c : tail) {
    if (is_terminator(c)) {
      token.ends_clause = true;
    } else if (!is_wrapper(c)) {
      return {};
    }
  }

  if (target.empty()) {
    token.kind = TokenKind::filler;
  } else if (iequals(target, "and")) {
    token.kind = TokenKind::conjunction;
  } else if (target.front() == '#') {
    if (const auto number = parse_issue_number(target.substr(1))) {
      token.kind = TokenKind::reference;
      token.ref = IssueRef{self.repo, *number};
    }
  } else if (const auto url = classify_url(target); url.kind != TokenKind::other) {
    token.kind = url.kind;
    token.ref = url.ref;
  } else if (auto ref = parse_issue_ref(target)) {
    token.kind = TokenKind::reference;
    token.ref = std::move(ref);
  }
  return token.kind == TokenKind::other ? Token{} : token;
}

Token classify(std::string_view word, const IssueRef& self) {
  Token token = classify_word(word, self, false);
  if (token.kind == TokenKind::other) {
    token = classify_word(word, self, true);
  }
  return token;
}

struct ClauseEnd {
  std::size_t resume; ///< Where scanning for the next clause picks up.
  bool empty;         ///< No reference at all before the end of the line.
  bool open;          ///< The line ended where a reference could still follow.
};

ClauseEnd read_clause(std::string_view line, std::size_t pos, const IssueRef& self,
                      std::vector<IssueRef>& out) {
  bool empty = true;
  bool open = true;
  for (;;) {
    while (pos < line.size() && is_clause_separator(line[pos])) {
      if (line[pos] == ',' || line[pos] == '&') {
        open = true;
      }
      ++pos;
    }
    if (pos == line.size()) {
      return {pos, empty, open};
    }
    const std::size_t start = pos;
    while (pos < line.size() && !is_clause_separator(line[pos])) {
      ++pos;
    }
    Token token = classify(line.substr(start, pos - start), self);
    switch (token.kind) {
    case TokenKind::other:
      return {start, empty, false};
    case TokenKind::filler:
      break;
    case TokenKind::conjunction:
      open = true;
      break;
    case TokenKind::reference:
    case TokenKind::skipped:
      empty = false;
      open = false;
      break;
    }
    if (token.ref && !(*token.ref == self)) {
      out.push_back(std::move(*token.ref));
    }
    if (token.ends_clause) {
      return {pos, empty, false};
    }
  }
}

// The position just past "blocked by" (any case, "blocked-by" too) at or after `pos`. Only
// letters and digits glue words together: "__Blocked by__" is emphasis, "unblocked" is not.
std::optional<std::size_t> find_blocked_by(std::string_view line, std::size_t pos) {
  constexpr std::string_view k_blocked = "blocked";
  for (std::size_t i = pos; i + k_blocked.size() < line.size(); ++i) {
    if (lower(line[i]) != 'b' || (i > 0 && is_alnum(line[i - 1])) ||
        !istarts_with(line.substr(i), k_blocked)) {
      continue;
    }
    std::size_t j = i + k_blocked.size();
    const std::size_t gap = j;
    while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) {
      ++j;
    }
    if (j == gap && j < line.size() && line[j] == '-') {
      ++j;
    }
    if (j == gap || !istarts_with(line.substr(j), "by")) {
      continue;
    }
    j += 2;
    if (j < line.size() && is_alnum(line[j])) {
      continue;
    }
    return j;
  }
  return std::nullopt;
}

// Where the text of a list item starts ("- ", "* ", "+ ", "1. ", "1) ", with an optional
// task box "[ ]"/"[x]"); nullopt when `line` is not a list item.
std::optional<std::size_t> list_item_text(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is_blank(line[i])) {
    ++i;
  }
  if (i < line.size() && (line[i] == '-' || line[i] == '*' || line[i] == '+')) {
    ++i;
  } else {
    const std::size_t digits = i;
    while (i < line.size() && i - digits < 9 && is_digit(line[i])) {
      ++i;
    }
    if (i == digits || i == line.size() || (line[i] != '.' && line[i] != ')')) {
      return std::nullopt;
    }
    ++i;
  }
  if (i < line.size() && !is_blank(line[i])) {
    return std::nullopt;
  }
  while (i < line.size() && is_blank(line[i])) {
    ++i;
  }
  const std::string_view rest = line.substr(i);
  if (rest.size() >= 3 && rest[0] == '[' && rest[2] == ']' &&
      (rest[1] == ' ' || rest[1] == 'x' || rest[1] == 'X') &&
      (rest.size() == 3 || is_blank(rest[3]))) {
    i += 3;
  }
  return i;
}

struct Fence {
  char marker;
  std::size_t length;
};

// An opening code fence: three or more '`' or '~' (any indentation, so fences inside
// list items count too). A backtick run followed by another backtick is inline code.
std::optional<Fence> fence_opening(std::string_view line) {
  std::size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos || (line[i] != '`' && line[i] != '~')) {
    return std::nullopt;
  }
  const char marker = line[i];
  const std::size_t start = i;
  while (i < line.size() && line[i] == marker) {
    ++i;
  }
  if (i - start < 3 || (marker == '`' && line.find('`', i) != std::string_view::npos)) {
    return std::nullopt;
  }
  return Fence{marker, i - start};
}

bool closes_fence(std::string_view line, const Fence& fence) {
  std::size_t i = line.find_first_not_of(" \t");
  const std::size_t start = i;
  while (i < line.size() && line[i] == fence.marker) {
    ++i;
  }
  return start != std::string_view::npos && i - start >= fence.length &&
         line.find_first_not_of(" \t\r", i) == std::string_view::npos;
}

struct BacktickRun {
  std::size_t start;
  std::size_t length;
  std::size_t closer; ///< Index of the next run of the same length, or npos.
};

// Copies `line` into `out` without HTML comments (which may span lines, hence
// `in_comment`) and with each inline code span collapsed to a single '`': an opaque word
// that ends any clause it interrupts. Linear: every run's closer is found in one
// backwards pass instead of a search per opener.
void strip_code_and_comments(std::string_view line, bool& in_comment, std::string& out,
                             std::vector<BacktickRun>& runs) {
  runs.clear();
  for (std::size_t i = 0; i < line.size();) {
    if (line[i] != '`') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < line.size() && line[i] == '`') {
      ++i;
    }
    runs.push_back({start, i - start, std::string_view::npos});
  }
  if (runs.size() > 1) {
    std::unordered_map<std::size_t, std::size_t> next_of_length;
    for (std::size_t r = runs.size(); r-- > 0;) {
      auto [it, inserted] = next_of_length.try_emplace(runs[r].length, r);
      if (!inserted) {
        runs[r].closer = it->second;
        it->second = r;
      }
    }
  }

  out.clear();
  std::size_t run = 0;
  std::size_t pos = 0;
  while (pos < line.size()) {
    if (in_comment) {
      const std::size_t end = line.find("-->", pos);
      if (end == std::string_view::npos) {
        return;
      }
      pos = end + 3;
      in_comment = false;
      out += ' ';
      continue;
    }
    if (line[pos] == '`') {
      while (runs[run].start < pos) {
        ++run;
      }
      const BacktickRun& opener = runs[run];
      if (opener.closer != std::string_view::npos) {
        out += '`';
        pos = runs[opener.closer].start + runs[opener.closer].length;
      } else {
        out.append(opener.length, '`');
        pos += opener.length;
      }
      continue;
    }
    if (line.compare(pos, 4, "<!--") == 0) {
      in_comment = true;
      pos += 4;
      continue;
    }
    out += line[pos];
    ++pos;
  }
}

} // namespace

std::string explain_invalid_repo_name(std::string_view text) {
  if (text.empty()) {
    return "repository name is empty";
  }
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return "repository name has no '/'; expected \"owner/name\"";
  }
  if (text.find('/', slash + 1) != std::string_view::npos) {
    return "repository name has more than one '/'; expected \"owner/name\"";
  }
  const std::string_view owner = text.substr(0, slash);
  const std::string_view name = text.substr(slash + 1);
  if (auto why = explain_invalid_part(owner, "owner", k_max_owner_length); !why.empty()) {
    return why;
  }
  if (auto why = explain_invalid_part(name, "name", k_max_name_length); !why.empty()) {
    return why;
  }
  // Clones live at "<name>.git"-like paths and forges strip the suffix from URLs, so
  // "repo.git" would be an alias of "repo".
  if (name.size() >= 4 && iequals(name.substr(name.size() - 4), ".git")) {
    return "name must not end in \".git\"";
  }
  return {};
}

std::optional<RepoName> RepoName::parse(std::string_view text) {
  if (!explain_invalid_repo_name(text).empty()) {
    return std::nullopt;
  }
  const std::size_t slash = text.find('/');
  return RepoName{std::string(text.substr(0, slash)), std::string(text.substr(slash + 1))};
}

std::string RepoName::canonical() const {
  return ascii_lower(full());
}

std::string IssueRef::to_string() const {
  return repo.full() + "#" + std::to_string(number);
}

std::optional<IssueRef> parse_issue_ref(std::string_view text,
                                        const std::optional<RepoName>& default_repo) {
  const std::size_t hash = text.find('#');
  if (hash == std::string_view::npos || hash == 0) {
    const auto number = parse_issue_number(hash == 0 ? text.substr(1) : text);
    if (!number || !default_repo) {
      return std::nullopt;
    }
    return IssueRef{*default_repo, *number};
  }
  auto repo = RepoName::parse(text.substr(0, hash));
  const auto number = parse_issue_number(text.substr(hash + 1));
  if (!repo || !number) {
    return std::nullopt;
  }
  return IssueRef{std::move(*repo), *number};
}

std::vector<IssueRef> parse_blocked_by(std::string_view body, const IssueRef& self) {
  // What the previous line leaves the next one to finish.
  enum class Expect {
    nothing,
    lead_in_followup, ///< "## Blocked by" alone: a list or a wrapped line may follow.
    list_item,        ///< Inside the list that followed such a lead-in.
    continuation,     ///< A hard-wrapped clause ("blocked by #3 and" + newline).
  };
  const auto expect_after = [](const ClauseEnd& end) {
    if (!end.open) {
      return Expect::nothing;
    }
    return end.empty ? Expect::lead_in_followup : Expect::continuation;
  };

  std::vector<IssueRef> found;
  std::optional<Fence> fence;
  bool in_comment = false;
  Expect expect = Expect::nothing;
  std::string visible;
  std::vector<BacktickRun> runs;

  while (!body.empty()) {
    const std::size_t newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view{} : body.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }

    if (fence) {
      if (closes_fence(line, *fence)) {
        fence.reset();
      }
      continue;
    }
    if (!in_comment) {
      fence = fence_opening(line);
      if (fence) {
        expect = Expect::nothing;
        continue;
      }
    }

    strip_code_and_comments(line, in_comment, visible, runs);
    if (visible.find_first_not_of(" \t\r\f\v") == std::string::npos) {
      // A blank line ends a paragraph but not a list, nor the gap after a heading.
      if (expect == Expect::continuation) {
        expect = Expect::nothing;
      }
      continue;
    }

    std::size_t pos = 0;
    Expect next = Expect::nothing;
    const auto item = list_item_text(visible);
    if (item && (expect == Expect::list_item || expect == Expect::lead_in_followup)) {
      pos = read_clause(visible, *item, self, found).resume;
      next = Expect::list_item;
    } else if (expect == Expect::continuation || expect == Expect::lead_in_followup) {
      const ClauseEnd end = read_clause(visible, item.value_or(0), self, found);
      pos = end.resume;
      next = expect_after(end);
    }
    while (const auto after = find_blocked_by(visible, pos)) {
      const ClauseEnd end = read_clause(visible, *after, self, found);
      if (const Expect e = expect_after(end); e != Expect::nothing) {
        next = e;
      }
      pos = end.resume;
    }
    expect = next;
  }

  // Sort on precomputed keys: comparing RepoNames directly lower-cases both on every call.
  std::vector<std::pair<std::string, std::size_t>> keys;
  keys.reserve(found.size());
  for (std::size_t i = 0; i < found.size(); ++i) {
    keys.emplace_back(found[i].repo.canonical(), i);
  }
  std::stable_sort(keys.begin(), keys.end(), [&found](const auto& a, const auto& b) {
    if (const int c = a.first.compare(b.first); c != 0) {
      return c < 0;
    }
    return found[a.second].number < found[b.second].number;
  });
  std::vector<IssueRef> result;
  const std::pair<std::string, std::size_t>* previous = nullptr;
  for (const auto& key : keys) {
    if (previous == nullptr || previous->first != key.first ||
        found[previous->second].number != found[key.second].number) {
      result.push_back(found[key.second]);
    }
    previous = &key;
  }
  return result;
}

std::optional<int> priority_from_labels(const std::vector<std::string>& labels,
                                        std::string_view prefix) {
  std::optional<int> best;
  for (const std::string& label : labels) {
    if (label.size() <= prefix.size() || !istarts_with(label, prefix)) {
      continue;
    }
    int value = 0;
    bool valid = true;
    for (const char c : std::string_view(label).substr(prefix.size())) {
      const int digit = c - '0';
      if (!is_digit(c) || value > (std::numeric_limits<int>::max() - digit) / 10) {
        valid = false;
        break;
      }
      value = value * 10 + digit;
    }
    if (valid && (!best || value < *best)) {
      best = value;
    }
  }
  return best;
}

bool IssueSummary::has_label(std::string_view label) const {
  return std::any_of(labels.begin(), labels.end(),
                     [label](const std::string& mine) { return iequals(mine, label); });
}

} // namespace afk
