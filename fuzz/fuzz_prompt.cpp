// SPDX-License-Identifier: MIT
// What the agent reads from hostile issue text. sanitize_issue_text, one_line,
// compose_issue_prompt and compose_fix_prompt must keep their promises whatever the input:
// valid UTF-8; no "<!--" (a hidden comment); none of the invisible, bidi or control
// characters sanitize_issue_text drops; no "\r", U+2028 or U+2029; at most two blank lines
// in a row and none at either end. The issue prompt keeps the issue inside its fence (no
// line in the data closes it) and within max_bytes unless the framing alone is larger.
//
// Input (FuzzedDataProvider): the last bytes pick the function and sizes; the front holds
// the texts (title, body, comments, URL, stage details), each ended by a backslash and
// another character.

#include "fuzz_support.hpp"

#include <afk/issue.hpp>
#include <afk/prompt.hpp>
#include <afk/run.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using afk::fuzz::require;

// Exactly the characters sanitize_issue_text promises to drop (afk/prompt.hpp), plus the
// line separators it turns into "\n".
bool dropped(char32_t c) {
  const auto in = [c](char32_t low, char32_t high) {
    return c >= low && c <= high;
  };
  return (c < 0x20 && c != '\n' && c != '\t') || in(0x7F, 0x9F) || c == 0xAD || c == 0x34F ||
         c == 0x61C || c == 0x115F || c == 0x1160 || c == 0x180E || in(0x200B, 0x200F) ||
         in(0x202A, 0x202E) || in(0x2060, 0x2064) || in(0x2066, 0x206F) || c == 0x3164 ||
         in(0xFE00, 0xFE0F) || c == 0xFEFF || c == 0xFFA0 || in(0xFFF9, 0xFFFB) ||
         in(0x1D173, 0x1D17A) || in(0xE0000, 0xE007F) || in(0xE0100, 0xE01EF) || c == 0x2028 ||
         c == 0x2029;
}

// Properties of any text afk built out of sanitized pieces.
void check_clean(std::string_view text, const char* where) {
  const auto points = afk::fuzz::decode_utf8(text);
  require(points.has_value(), where, "not valid UTF-8");
  require(text.find("<!--") == std::string_view::npos, where, "holds \"<!--\"");
  const auto bad = std::find_if(points->begin(), points->end(), dropped);
  require(bad == points->end(), where,
          bad == points->end() ? "" : "holds U+" + std::to_string(static_cast<unsigned>(*bad)));
}

void check_sanitized(const std::string& text) {
  check_clean(text, "sanitize_issue_text's output is clean");
  require(text.empty() || (text.front() != '\n' && text.back() != '\n'),
          "sanitize_issue_text drops blank lines at either end");
  require(text.find("\n\n\n\n") == std::string::npos,
          "sanitize_issue_text keeps at most two blank lines in a row");
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = std::string_view(text).substr(pos, end - pos);
    require(line.empty() || line.find_first_not_of(" \t") != std::string_view::npos,
            "sanitize_issue_text empties whitespace-only lines");
    pos = end + 1;
  }
}

void check_one_line(const std::string& text, std::size_t max_bytes) {
  check_clean(text, "one_line's output is clean");
  require(text.size() <= max_bytes, "one_line stays within max_bytes");
  require(text.find_first_of("\n\t") == std::string::npos, "one_line is one line");
  require(text.find("  ") == std::string::npos, "one_line collapses whitespace");
  require(text.empty() || (text.front() != ' ' && text.back() != ' '), "one_line is trimmed", text);
}

std::string_view line_at(std::string_view text, std::size_t pos) {
  return text.substr(pos, std::min(text.find('\n', pos), text.size()) - pos);
}

void check_issue_prompt(const std::string& prompt, std::size_t max_bytes) {
  check_clean(prompt, "the issue prompt is clean");
  // The opening fence is the first line that starts with a backtick.
  std::size_t open = prompt.starts_with('`') ? 0 : prompt.find("\n`");
  require(open != std::string::npos, "the issue prompt has a fence");
  open += prompt[open] == '\n' ? 1 : 0;
  const std::string_view opening = line_at(prompt, open);
  const std::size_t ticks = opening.find_first_not_of('`');
  require(ticks >= 3 && opening.substr(ticks) == "issue", "the fence opens with ```issue", opening);
  const std::string fence(ticks, '`');
  // The first line that is exactly the fence closes the block: only the note may follow.
  std::size_t pos = open + opening.size() + 1;
  std::size_t close = std::string::npos;
  std::size_t head_end = std::string::npos;
  while (pos < prompt.size()) {
    const std::string_view line = line_at(prompt, pos);
    if (head_end == std::string::npos && line.starts_with("Title: ")) {
      head_end = pos + line.size() + 2;
    }
    if (line == fence) {
      close = pos;
      break;
    }
    pos += line.size() + 1;
  }
  require(close != std::string::npos, "the fence is closed");
  const std::string_view after = std::string_view(prompt).substr(close + fence.size());
  require(after == "\n" || after.starts_with("\n\nNote from afk: the issue was too long"),
          "nothing in the issue closes its fence", after.substr(0, 200));
  require(head_end != std::string::npos, "the issue prompt has a title line");
  const std::size_t framing = head_end + fence.size() + 1;
  require(prompt.size() <= max_bytes || framing + 400 >= max_bytes,
          "the issue prompt stays within max_bytes when its framing fits",
          std::to_string(prompt.size()) + " > " + std::to_string(max_bytes));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const int which = provider.ConsumeIntegralInRange<int>(0, 3);
  const auto max_bytes = provider.ConsumeIntegralInRange<std::size_t>(0, 20'000);
  const afk::IssueRef issue{*afk::RepoName::parse("acme/widgets"), 42};

  switch (which) {
  case 0:
    check_sanitized(afk::sanitize_issue_text(provider.ConsumeRemainingBytesAsString()));
    break;
  case 1:
    check_one_line(afk::one_line(provider.ConsumeRemainingBytesAsString(), max_bytes), max_bytes);
    break;
  case 2: {
    afk::IssueForPrompt input{issue,
                              provider.ConsumeRandomLengthString(2048),
                              provider.ConsumeRandomLengthString(1U << 16U),
                              {},
                              provider.ConsumeRandomLengthString(256)};
    while (provider.remaining_bytes() > 0 && input.comments.size() < 8) {
      afk::PromptComment comment;
      comment.trusted = provider.ConsumeBool();
      comment.author = provider.ConsumeRandomLengthString(128);
      comment.body = provider.ConsumeRandomLengthString(1U << 14U);
      input.comments.push_back(std::move(comment));
    }
    check_issue_prompt(
        afk::compose_issue_prompt("You are afk's agent. Do the work.\n", input, max_bytes),
        max_bytes);
    break;
  }
  default: {
    afk::FixPromptInput input{.issue = issue,
                              .sha = "0123456789abcdef0123456789abcdef01234567",
                              .default_branch = "main",
                              .stages = {},
                              .run_id = "run-1",
                              .trailer = "AFK-Run"};
    while (provider.remaining_bytes() > 0 && input.stages.size() < 6) {
      afk::StageVerdict stage;
      stage.verdict = provider.ConsumeBool() ? afk::Verdict::red : afk::Verdict::pending;
      stage.stage = provider.ConsumeRandomLengthString(256);
      stage.url = provider.ConsumeRandomLengthString(256);
      stage.detail = provider.ConsumeRandomLengthString(1U << 14U);
      input.stages.push_back(std::move(stage));
    }
    check_clean(afk::compose_fix_prompt(input, max_bytes), "the fix prompt is clean");
    break;
  }
  }
  return 0;
}
