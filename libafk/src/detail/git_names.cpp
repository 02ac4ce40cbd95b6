// SPDX-License-Identifier: MIT
// The pure parts of <afk/worktree.hpp>: names, slugs, commit attribution, path confinement.
// No libgit2 here; tests check these against libgit2's own name rules.

#include <afk/worktree.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace afk {

namespace {

constexpr std::size_t k_slug_max = 40;
constexpr std::size_t k_uuid_length = 36;

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return to_lower(x) == to_lower(y); });
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (is_blank(text.front()) || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    lines.push_back(line);
    if (end == std::string_view::npos) {
      break;
    }
    text.remove_prefix(end + 1);
  }
  return lines;
}

bool is_blank_line(std::string_view line) {
  return trim(line).empty();
}

struct TrailerLine {
  std::string_view key;
  std::string_view value;
};

// "Key: value" with Key in [A-Za-z0-9-], not starting with '-'; git also allows spaces
// before the separator.
std::optional<TrailerLine> parse_trailer_line(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && (is_ascii_alnum(line[i]) || (i > 0 && line[i] == '-'))) {
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  const std::string_view key = line.substr(0, i);
  while (i < line.size() && is_blank(line[i])) {
    ++i;
  }
  if (i >= line.size() || line[i] != ':') {
    return std::nullopt;
  }
  return TrailerLine{key, trim(line.substr(i + 1))};
}

// The trailer lines of the message's final paragraph, if it is a trailer block as git
// reads one with `trailer` configured: a paragraph after the subject, every line a trailer
// or an indented continuation, or at least a quarter of them trailers with one of them
// `trailer`.
std::vector<TrailerLine> final_trailers(std::string_view message, std::string_view trailer) {
  std::vector<std::string_view> lines = split_lines(message);
  while (!lines.empty() && is_blank_line(lines.back())) {
    lines.pop_back();
  }
  std::size_t start = lines.size();
  while (start > 0 && !is_blank_line(lines[start - 1])) {
    --start;
  }
  // No blank line before the paragraph: it is the subject's, which holds no trailers.
  const bool after_subject = std::any_of(lines.begin(), lines.begin() + static_cast<long>(start),
                                         [](std::string_view l) { return !is_blank_line(l); });
  if (!after_subject || start == lines.size()) {
    return {};
  }
  std::vector<TrailerLine> trailers;
  std::size_t others = 0;
  bool ours = false;
  for (std::size_t i = start; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (is_blank(line.front())) {
      if (trailers.empty() && others == 0) {
        ++others; // a paragraph cannot open with a continuation
      }
      continue;
    }
    if (const auto t = parse_trailer_line(line)) {
      ours = ours || iequals(t->key, trailer);
      trailers.push_back(*t);
    } else {
      ++others;
    }
  }
  const bool block = others == 0 || (ours && trailers.size() * 3 >= others);
  return block ? trailers : std::vector<TrailerLine>{};
}

constexpr std::array<std::string_view, 9> k_closing_keywords = {
    "closes", "closed", "close", "fixes", "fixed", "fix", "resolves", "resolved", "resolve"};

// The issue number written at `text` ("#N" or "owner/repo#N" naming `issue`'s repository),
// or nullopt.
std::optional<std::int64_t> issue_number_at(std::string_view text, const IssueRef& issue) {
  if (!text.empty() && text.front() != '#') {
    const auto hash = text.find('#');
    if (hash == std::string_view::npos) {
      return std::nullopt;
    }
    const auto repo = RepoName::parse(text.substr(0, hash));
    if (!repo || !(*repo == issue.repo)) {
      return std::nullopt;
    }
    text.remove_prefix(hash);
  }
  if (text.size() < 2 || text.front() != '#' || !is_digit(text[1]) || text[1] == '0') {
    return std::nullopt;
  }
  std::int64_t number = 0;
  std::size_t i = 1;
  constexpr std::size_t k_max_digits = 16;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    if (i > k_max_digits) {
      return std::nullopt;
    }
    number = number * 10 + (text[i] - '0');
  }
  if (i < text.size() && (is_ascii_alnum(text[i]) || text[i] == '_')) {
    return std::nullopt; // "#12abc" is not a reference
  }
  return number;
}

bool closes_issue(std::string_view message, const IssueRef& issue) {
  for (std::size_t pos = 0; pos < message.size(); ++pos) {
    if (pos > 0 && (is_ascii_alnum(message[pos - 1]) || message[pos - 1] == '_')) {
      continue;
    }
    for (const std::string_view keyword : k_closing_keywords) {
      if (!istarts_with(message.substr(pos), keyword)) {
        continue;
      }
      std::size_t i = pos + keyword.size();
      if (i < message.size() && message[i] == ':') {
        ++i;
      }
      const std::size_t spaces_from = i;
      while (i < message.size() && is_blank(message[i])) {
        ++i;
      }
      if (i == spaces_from && (i == pos + keyword.size())) {
        break; // "Fixes#3": GitHub wants a separator
      }
      const std::string_view rest = message.substr(i);
      const std::string_view word = rest.substr(0, rest.find_first_of(" \t\r\n,;)"));
      if (issue_number_at(word, issue) == issue.number) {
        return true;
      }
      break;
    }
  }
  return false;
}

} // namespace

bool is_valid_run_id(std::string_view run_id) {
  if (run_id.size() != k_uuid_length) {
    return false;
  }
  for (std::size_t i = 0; i < run_id.size(); ++i) {
    const char c = run_id[i];
    const bool dash_place = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_place ? c != '-' : !(is_digit(c) || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool is_valid_branch_name(std::string_view name) {
  if (name.empty() || name == "@" || name == "HEAD" || name.front() == '-' || name.back() == '/' ||
      name.back() == '.') {
    return false;
  }
  if (name.find("..") != std::string_view::npos || name.find("@{") != std::string_view::npos) {
    return false;
  }
  constexpr std::string_view k_forbidden = " ~^:?*[\\";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || k_forbidden.find(c) != std::string_view::npos) {
      return false;
    }
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('/', start), name.size());
    const std::string_view component = name.substr(start, end - start);
    constexpr std::string_view k_lock = ".lock";
    if (component.empty() || component.front() == '.' ||
        (component.size() >= k_lock.size() &&
         component.substr(component.size() - k_lock.size()) == k_lock)) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

std::string branch_slug(std::string_view title) {
  std::string slug;
  bool separator = false;
  for (const char c : title) {
    if (slug.size() >= k_slug_max) {
      break;
    }
    if (is_ascii_alnum(c)) {
      if (separator && !slug.empty()) {
        if (slug.size() + 2 > k_slug_max) {
          break; // no room for '-' and a word: stop at a word boundary
        }
        slug.push_back('-');
      }
      separator = false;
      slug.push_back(to_lower(c));
    } else {
      separator = true;
    }
  }
  while (!slug.empty() && slug.back() == '-') {
    slug.pop_back();
  }
  return slug.empty() ? "issue" : slug;
}

std::string run_branch_name(std::string_view prefix, std::int64_t issue_number,
                            std::string_view title) {
  return std::string(prefix) + std::to_string(issue_number) + '-' + branch_slug(title);
}

Attribution attribute_commit(std::string_view message, std::string_view trailer,
                             std::string_view run_id, const IssueRef& issue) {
  bool other_run = false;
  for (const TrailerLine& t : final_trailers(message, trailer)) {
    if (iequals(t.key, trailer)) {
      if (iequals(t.value, run_id)) {
        return Attribution::trailer;
      }
      other_run = true;
    }
  }
  if (other_run) {
    return Attribution::none;
  }
  const std::string_view subject = message.substr(0, message.find('\n'));
  if (istarts_with(subject, "Revert \"")) {
    return Attribution::none;
  }
  return closes_issue(message, issue) ? Attribution::closes : Attribution::none;
}

RepoLayout repo_layout(const std::filesystem::path& root, const RepoName& repo) {
  const std::string canonical = repo.canonical();
  const auto slash = canonical.find('/');
  RepoLayout layout;
  layout.repo_dir = root / canonical.substr(0, slash) / canonical.substr(slash + 1);
  layout.checkout = layout.repo_dir / "checkout";
  layout.partial = layout.repo_dir / "checkout.partial";
  layout.worktrees = layout.repo_dir / "worktrees";
  layout.lock_file = layout.repo_dir / ".afk.lock";
  return layout;
}

std::optional<std::filesystem::path> worktree_path(const std::filesystem::path& root,
                                                   const RepoName& repo, std::string_view run_id) {
  if (!is_valid_run_id(run_id)) {
    return std::nullopt;
  }
  return repo_layout(root, repo).worktrees / std::string(run_id);
}

bool is_confined(const std::filesystem::path& root, const std::filesystem::path& path) {
  const auto base = root.lexically_normal();
  auto r = base.begin();
  auto p = path.begin();
  for (; r != base.end(); ++r, ++p) {
    if (r->empty() && std::next(r) == base.end()) {
      break; // root written with a trailing '/'
    }
    if (p == path.end() || *p != *r) {
      return false;
    }
  }
  for (; p != path.end(); ++p) {
    if (*p == ".." || *p == ".") {
      return false;
    }
  }
  return true;
}

std::optional<std::string> expand_clone_url(std::string_view clone_url, const RepoName& repo) {
  std::string url;
  constexpr std::string_view k_placeholder = "{repo}";
  for (std::size_t i = 0; i < clone_url.size();) {
    if (clone_url.substr(i, k_placeholder.size()) == k_placeholder) {
      url += repo.full();
      i += k_placeholder.size();
    } else {
      url.push_back(clone_url[i++]);
    }
  }
  if (std::any_of(url.begin(), url.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u >= 0x7f;
      })) {
    return std::nullopt;
  }
  std::string_view rest;
  for (const std::string_view scheme : {"https://", "http://", "file://"}) {
    if (istarts_with(url, scheme)) {
      rest = std::string_view(url).substr(scheme.size());
      if (scheme == "file://") {
        return rest.empty() ? std::nullopt : std::optional<std::string>(url);
      }
      const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
      if (authority.empty() || authority.find('@') != std::string_view::npos) {
        return std::nullopt;
      }
      return url;
    }
  }
  return std::nullopt;
}

} // namespace afk
