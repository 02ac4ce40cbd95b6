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

constexpr std::size_t k_max_excerpt = 80;
constexpr std::size_t k_max_unreadable = 20;
// Link text longer than this is not looked for: it keeps the search for ']' bounded.
constexpr std::size_t k_max_link_text = 512;
// Stands in the visible line for an inline code span (see strip_code_and_comments).
constexpr char k_code_marker = '\x02';

enum class TokenKind {
  filler,      ///< Punctuation, emphasis or a filler word alone: the clause goes on.
  conjunction, ///< "and"/"or": the clause goes on and expects more.
  reference,   ///< An issue reference.
  skipped,     ///< A pull-request URL: recognised, not a blocker, the clause goes on.
  invalid,     ///< Looks like a reference but is not one: unreadable, the clause goes on.
  other,       ///< Any other word: the clause ends before it.
};

struct Token {
  TokenKind kind = TokenKind::other;
  std::optional<IssueRef> ref;
  bool ends_clause = false; ///< It ended a sentence ("#3." or "#3)").
};

struct CodeSpan {
  std::size_t at;           ///< Where its marker sits in the visible line.
  std::string_view content; ///< Its text without the backticks.
};

// One line as the clause reader sees it: code spans collapsed to markers, comments gone.
struct VisibleLine {
  std::string_view text;
  const std::vector<CodeSpan>* codes;
  const IssueRef* self;

  [[nodiscard]] std::optional<std::string_view> code_at(std::size_t at) const {
    const auto it = std::lower_bound(codes->begin(), codes->end(), at,
                                     [](const CodeSpan& c, std::size_t a) { return c.at < a; });
    if (it == codes->end() || it->at != at) {
      return std::nullopt;
    }
    return it->content;
  }
};

bool is_clause_separator(char c) {
  return is_blank(c) || c == ',' || c == '&' || c == '|';
}
bool is_terminator(char c) {
  return c == '.' || c == ';' || c == ':' || c == '!' || c == '?' || c == ')';
}
// The '/' of "#3/#4": between a digit and a '#'.
bool is_list_slash(std::string_view line, std::size_t i) {
  return line[i] == '/' && i > 0 && is_digit(line[i - 1]) && i + 1 < line.size() &&
         line[i + 1] == '#';
}

// "#<digit>" or "/issues/<digit>" anywhere: someone meant a reference.
bool looks_like_reference(std::string_view word) {
  constexpr std::string_view k_issues = "/issues/";
  for (std::size_t i = 0; i + 1 < word.size(); ++i) {
    if (word[i] == '#' && is_digit(word[i + 1])) {
      return true;
    }
    if (word[i] == '/' && i + k_issues.size() < word.size() &&
        iequals(word.substr(i, k_issues.size()), k_issues) && is_digit(word[i + k_issues.size()])) {
      return true;
    }
  }
  return false;
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

bool is_filler_word(std::string_view word) {
  return iequals(word, "issue") || iequals(word, "issues") || iequals(word, "ticket") ||
         iequals(word, "tickets") || iequals(word, "the");
}

Token classify(std::string_view word, const VisibleLine& line, bool allow_code);

// `strip_underscore` is a second attempt: '_' is Markdown emphasis but also legal in an
// owner name, so "_org/repo#3" must first be tried as written. Never returns `invalid`.
Token classify_word(std::string_view word, const VisibleLine& line, bool strip_underscore,
                    bool allow_code) {
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
    // A Markdown link "[any text](https://host/o/r/issues/3)": what it points at counts.
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
  } else if (target.size() == 1 && target.front() == k_code_marker) {
    // Inline code inside a clause counts when it holds exactly one reference ("`#3`").
    const auto code = allow_code
                          ? line.code_at(static_cast<std::size_t>(target.data() - line.text.data()))
                          : std::nullopt;
    if (!code) {
      return {};
    }
    Token inner = classify(*code, line, false);
    if (inner.kind != TokenKind::reference && inner.kind != TokenKind::skipped &&
        inner.kind != TokenKind::invalid) {
      return {};
    }
    token.kind = inner.kind;
    token.ref = std::move(inner.ref);
  } else if (iequals(target, "and") || iequals(target, "or")) {
    token.kind = TokenKind::conjunction;
  } else if (is_filler_word(target)) {
    token.kind = TokenKind::filler;
  } else if (target.front() == '#') {
    if (const auto number = parse_issue_number(target.substr(1))) {
      token.kind = TokenKind::reference;
      token.ref = IssueRef{line.self->repo, *number};
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

Token classify(std::string_view word, const VisibleLine& line, bool allow_code) {
  while (!word.empty() && is_blank(word.front())) {
    word.remove_prefix(1);
  }
  while (!word.empty() && is_blank(word.back())) {
    word.remove_suffix(1);
  }
  Token token = classify_word(word, line, false, allow_code);
  if (token.kind == TokenKind::other) {
    token = classify_word(word, line, true, allow_code);
  }
  if (token.kind == TokenKind::other && looks_like_reference(word)) {
    token.kind = TokenKind::invalid;
  }
  return token;
}

// The end of the word at `start`: the next separator, except that a Markdown link's text
// may hold separators ("[API rework](url)").
std::size_t word_end(std::string_view line, std::size_t start) {
  std::size_t i = start;
  while (i < line.size() && (line[i] == '*' || line[i] == '_' || line[i] == '~' || line[i] == '(' ||
                             line[i] == ':' || line[i] == '<')) {
    ++i;
  }
  if (i < line.size() && line[i] == '[') {
    const std::size_t limit = std::min(line.size(), i + 1 + k_max_link_text);
    std::size_t close = i + 1;
    while (close < limit && line[close] != ']') {
      ++close;
    }
    if (close + 1 < line.size() && line[close] == ']' && line[close + 1] == '(') {
      std::size_t paren = close + 2;
      while (paren < line.size() && line[paren] != ')' && !is_blank(line[paren])) {
        ++paren;
      }
      if (paren < line.size() && line[paren] == ')') {
        i = paren + 1;
      }
    }
  }
  if (i < start) {
    i = start;
  }
  while (i < line.size() && !is_clause_separator(line[i]) && !is_list_slash(line, i)) {
    ++i;
  }
  return i;
}

struct ClauseEnd {
  std::size_t resume; ///< Where scanning for the next clause picks up.
  std::size_t refs;   ///< Issue references read (self included).
  bool open;          ///< The line ended where a reference could still follow.
  bool invalid;       ///< A word looked like a reference but was not one.
};

ClauseEnd read_clause(const VisibleLine& visible, std::size_t pos, std::vector<IssueRef>& out) {
  const std::string_view line = visible.text;
  ClauseEnd end{pos, 0, true, false};
  for (;;) {
    while (pos < line.size() && (is_clause_separator(line[pos]) || is_list_slash(line, pos))) {
      if (line[pos] == ',' || line[pos] == '&' || line[pos] == '/') {
        end.open = true;
      }
      ++pos;
    }
    if (pos == line.size()) {
      end.resume = pos;
      return end;
    }
    const std::size_t start = pos;
    pos = word_end(line, start);
    Token token = classify(line.substr(start, pos - start), visible, true);
    switch (token.kind) {
    case TokenKind::other:
      end.resume = start;
      end.open = false;
      return end;
    case TokenKind::filler:
      break;
    case TokenKind::conjunction:
      end.open = true;
      break;
    case TokenKind::reference:
      ++end.refs;
      end.open = false;
      break;
    case TokenKind::invalid:
      end.invalid = true;
      end.open = false;
      break;
    case TokenKind::skipped:
      end.open = false;
      break;
    }
    if (token.ref && !(*token.ref == *visible.self)) {
      out.push_back(std::move(*token.ref));
    }
    if (token.ends_clause) {
      end.resume = pos;
      end.open = false;
      return end;
    }
  }
}

struct Match {
  std::size_t start; ///< Where "blocked" starts.
  std::size_t after; ///< Just past "by".
};

// The next "blocked by" (any case, "blocked-by" too) at or after `pos`. Only letters and
// digits glue words together: "__Blocked by__" is emphasis, "unblocked" is not.
std::optional<Match> find_blocked_by(std::string_view line, std::size_t pos) {
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
    return Match{i, j};
  }
  return std::nullopt;
}

// A clause saying there is no blocker: "none", "nothing", "n/a", "no response" (what GitHub
// issue forms write for an empty field), "-", en or em dash, alone but for emphasis,
// parentheses, table pipes and a trailing '.'.
bool says_none(std::string_view text) {
  const auto is_trim = [](char c) {
    return is_blank(c) || c == '*' || c == '_' || c == '~' || c == ':' || c == '|' || c == '(' ||
           c == ')' || c == '[' || c == ']';
  };
  while (!text.empty() && is_trim(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (is_trim(text.back()) || text.back() == '.')) {
    text.remove_suffix(1);
  }
  return iequals(text, "none") || iequals(text, "nothing") || iequals(text, "n/a") ||
         iequals(text, "no response") || text == "-" || text == "\xe2\x80\x93" ||
         text == "\xe2\x80\x94";
}

// A Markdown heading ("## Notes") or thematic break ("---"): the end of a section.
bool ends_section(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is_blank(line[i])) {
    ++i;
  }
  if (i < line.size() && line[i] == '#') {
    const std::size_t start = i;
    while (i < line.size() && line[i] == '#') {
      ++i;
    }
    return i - start <= 6 && (i == line.size() || is_blank(line[i]));
  }
  if (i == line.size() || (line[i] != '-' && line[i] != '*' && line[i] != '_')) {
    return false;
  }
  const char marker = line[i];
  std::size_t count = 0;
  for (; i < line.size(); ++i) {
    if (line[i] == marker) {
      ++count;
    } else if (!is_blank(line[i])) {
      return false;
    }
  }
  return count >= 3;
}

// Unicode spaces as ASCII ones, so that "Blocked\u00A0by" and "#3\u00A0and #4" read as
// written. Zero-width spaces and word joiners count too: they separate, never join.
void normalize_spaces(std::string_view line, std::string& out) {
  out.clear();
  const auto byte = [&line](std::size_t i) {
    return static_cast<unsigned char>(line[i]);
  };
  for (std::size_t i = 0; i < line.size();) {
    std::size_t length = 0;
    if (byte(i) == 0xC2 && i + 1 < line.size() && byte(i + 1) == 0xA0) {
      length = 2; // U+00A0
    } else if (i + 2 < line.size()) {
      const unsigned b0 = byte(i);
      const unsigned b1 = byte(i + 1);
      const unsigned b2 = byte(i + 2);
      if ((b0 == 0xE1 && b1 == 0x9A && b2 == 0x80) ||                 // U+1680
          (b0 == 0xE2 && b1 == 0x80 && b2 >= 0x80 && b2 <= 0x8B) ||   // U+2000-U+200B
          (b0 == 0xE2 && b1 == 0x80 && b2 == 0xAF) ||                 // U+202F
          (b0 == 0xE2 && b1 == 0x81 && (b2 == 0x9F || b2 == 0xA0)) || // U+205F, U+2060
          (b0 == 0xE3 && b1 == 0x80 && b2 == 0x80) ||                 // U+3000
          (b0 == 0xEF && b1 == 0xBB && b2 == 0xBF)) {                 // U+FEFF
        length = 3;
      }
    }
    if (length == 0) {
      out += line[i];
      ++i;
    } else {
      out += ' ';
      i += length;
    }
  }
}

// The code point of the UTF-8 sequence at `i` and its length; length 0 when invalid.
std::pair<std::uint32_t, std::size_t> decode_utf8(std::string_view text, std::size_t i) {
  const auto byte = [&text](std::size_t at) {
    return static_cast<unsigned char>(text[at]);
  };
  const unsigned lead = byte(i);
  std::size_t length = 0;
  std::uint32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1FU;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0FU;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07U;
  } else {
    return {0, 0};
  }
  if (i + length > text.size()) {
    return {0, 0};
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0U) != 0x80U) {
      return {0, 0};
    }
    cp = (cp << 6U) | (byte(i + k) & 0x3FU);
  }
  constexpr std::array<std::uint32_t, 5> k_min = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < k_min[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return {0, 0};
  }
  return {cp, length};
}

// Characters that would hide, reorder or garble what a person reads in a log or terminal.
bool is_invisible(std::uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x115F ||
         cp == 0x1160 || cp == 0x17B4 || cp == 0x17B5 || cp == 0x180E ||
         (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
         (cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 || (cp >= 0xFE00 && cp <= 0xFE0F) ||
         cp == 0xFEFF || cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFFB) ||
         (cp >= 0x1D173 && cp <= 0x1D17A) || (cp >= 0xE0000 && cp <= 0xE0FFF);
}

// A short printable excerpt of `raw` (see BlockedBy::unreadable).
std::string make_excerpt(std::string_view raw) {
  std::string out;
  bool space = false;
  const auto put = [&out, &space](std::string_view piece) {
    if (space && !out.empty()) {
      out += ' ';
    }
    space = false;
    out += piece;
  };
  for (std::size_t i = 0; i < raw.size();) {
    const char c = raw[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      ++i;
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
        space = true;
      } else if (c == '`' || c == '<' || c == '>') {
        continue;
      } else if (byte < 0x20 || byte == 0x7F) {
        put("?");
      } else {
        put(std::string_view(&raw[i - 1], 1));
      }
      continue;
    }
    const auto [cp, length] = decode_utf8(raw, i);
    if (length == 0 || is_invisible(cp)) {
      put("?");
      i += length == 0 ? 1 : length;
    } else {
      put(raw.substr(i, length));
      i += length;
    }
  }
  // Leading punctuation left over from "Blocked by:**" or a table cell says nothing.
  const std::size_t first = out.find_first_not_of(" :*_|");
  out.erase(0, first == std::string::npos ? out.size() : first);
  while (!out.empty() && (out.back() == ' ' || out.back() == '|')) {
    out.pop_back();
  }
  if (out.size() > k_max_excerpt) {
    std::size_t cut = k_max_excerpt - 3;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0U) == 0x80U) {
      --cut;
    }
    out.resize(cut);
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    out += "...";
  }
  return out.empty() ? std::string{"(nothing after it)"} : out;
}

// `text` (part of a visible line) with each code marker replaced by the code it stands
// for; only as much as an excerpt can show, so that rendering stays cheap.
std::string render(const VisibleLine& line, std::size_t from, std::size_t to) {
  constexpr std::size_t k_enough = 4 * k_max_excerpt;
  std::string out;
  for (std::size_t i = from; i < to && out.size() < k_enough; ++i) {
    if (line.text[i] == k_code_marker) {
      if (const auto code = line.code_at(i)) {
        out += code->substr(0, k_enough);
        continue;
      }
    }
    out += line.text[i];
  }
  return out;
}

void add_unreadable(std::vector<std::string>& unreadable, std::string excerpt) {
  if (unreadable.size() < k_max_unreadable &&
      std::find(unreadable.begin(), unreadable.end(), excerpt) == unreadable.end()) {
    unreadable.push_back(std::move(excerpt));
  }
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
// `in_comment`) and with each inline code span collapsed to one k_code_marker, its text
// kept in `codes` (views into `line`): only the clause reader looks inside, so a "Blocked
// by" in code is never a clause. Linear: every run's closer is found in one backwards pass
// instead of a search per opener.
void strip_code_and_comments(std::string_view line, bool& in_comment, std::string& out,
                             std::vector<BacktickRun>& runs, std::vector<CodeSpan>& codes) {
  runs.clear();
  codes.clear();
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
        const std::size_t content = opener.start + opener.length;
        codes.push_back({out.size(), line.substr(content, runs[opener.closer].start - content)});
        out += k_code_marker;
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

BlockedBy parse_blocked_by(std::string_view body, const IssueRef& self) {
  // What the previous line leaves the next one to finish.
  enum class Expect {
    nothing,
    lead_in_followup, ///< "## Blocked by" alone: a list or a wrapped line may follow.
    list_item,        ///< Inside the list that followed such a lead-in.
    continuation,     ///< A hard-wrapped clause ("blocked by #3 and" + newline).
  };

  std::vector<IssueRef> found;
  BlockedBy result;
  std::optional<Fence> fence;
  bool in_comment = false;
  Expect expect = Expect::nothing;
  std::string normalized;
  std::string visible;
  std::vector<BacktickRun> runs;
  std::vector<CodeSpan> codes;

  const auto unreadable = [&result](const VisibleLine& line, std::size_t from, std::size_t to) {
    add_unreadable(result.unreadable, make_excerpt(render(line, from, to)));
  };

  while (!body.empty()) {
    const std::size_t newline = body.find('\n');
    std::string_view raw = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view{} : body.substr(newline + 1);
    if (!raw.empty() && raw.back() == '\r') {
      raw.remove_suffix(1);
    }
    normalize_spaces(raw, normalized);
    const std::string_view line = normalized;

    if (fence) {
      if (closes_fence(line, *fence)) {
        fence.reset();
      }
      continue;
    }
    if (!in_comment) {
      fence = fence_opening(line);
      if (fence) {
        if (expect == Expect::lead_in_followup) {
          add_unreadable(result.unreadable, "(a code block)");
        }
        expect = Expect::nothing;
        continue;
      }
    }

    strip_code_and_comments(line, in_comment, visible, runs, codes);
    if (visible.find_first_not_of(" \t\r\f\v") == std::string::npos) {
      // A blank line ends a paragraph but not a list, nor the gap after a heading.
      if (expect == Expect::continuation) {
        expect = Expect::nothing;
      }
      continue;
    }

    const VisibleLine view{visible, &codes, &self};
    const bool table_row = visible[visible.find_first_not_of(" \t\r\f\v")] == '|';
    std::size_t pos = 0;
    Expect next = Expect::nothing;
    const auto item = list_item_text(visible);
    if (item && (expect == Expect::list_item || expect == Expect::lead_in_followup)) {
      // Each item of the list under a lead-in is a clause of its own.
      const ClauseEnd end = read_clause(view, *item, found);
      if (end.invalid ||
          (end.refs == 0 && !end.open && !says_none(std::string_view(visible).substr(*item)))) {
        unreadable(view, *item, visible.size());
      }
      pos = end.resume;
      next = Expect::list_item;
    } else if (expect == Expect::list_item && is_blank(visible.front())) {
      // An indented line within the list: the list goes on.
      next = Expect::list_item;
    } else if (expect == Expect::continuation || expect == Expect::lead_in_followup) {
      const std::size_t start = item.value_or(0);
      const ClauseEnd end = read_clause(view, start, found);
      if (end.invalid) {
        unreadable(view, start, visible.size());
      } else if (expect == Expect::lead_in_followup && end.refs == 0) {
        if (end.open) {
          next = Expect::lead_in_followup; // Only emphasis or filler: still waiting.
        } else if (const auto clause = find_blocked_by(visible, start);
                   (!clause || clause->start != end.resume) && !ends_section(visible) &&
                   !says_none(std::string_view(visible).substr(start))) {
          // Neither an empty section (a heading follows, or another clause) nor "none".
          unreadable(view, start, visible.size());
        }
      }
      if (end.open && next == Expect::nothing && !table_row) {
        next = end.refs == 0 && !end.invalid ? Expect::lead_in_followup : Expect::continuation;
      }
      pos = end.resume;
    }

    auto match = find_blocked_by(visible, pos);
    while (match) {
      const ClauseEnd end = read_clause(view, match->after, found);
      const auto following = find_blocked_by(visible, std::max(end.resume, match->after));
      const std::size_t clause_end = following ? following->start : visible.size();
      const std::string_view text =
          std::string_view(visible).substr(match->after, clause_end - match->after);
      if (end.invalid) {
        unreadable(view, match->after, clause_end);
      } else if (end.refs == 0) {
        if (end.open && !table_row) {
          next = Expect::lead_in_followup;
        } else if (end.open || !says_none(text)) {
          unreadable(view, match->after, clause_end);
        }
      }
      if (end.open && !table_row && (end.refs > 0 || end.invalid)) {
        next = Expect::continuation;
      }
      pos = end.resume;
      match = following;
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
  const std::pair<std::string, std::size_t>* previous = nullptr;
  for (const auto& key : keys) {
    if (previous == nullptr || previous->first != key.first ||
        found[previous->second].number != found[key.second].number) {
      result.refs.push_back(found[key.second]);
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
