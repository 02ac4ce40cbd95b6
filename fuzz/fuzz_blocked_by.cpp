// SPDX-License-Identifier: MIT
// parse_blocked_by over hostile issue bodies (the whole input is the body, on
// acme/widgets#42). It throws nothing; its result keeps every promise of BlockedBy: refs
// sorted, unique, valid and never the issue itself; at most 20 unreadable excerpts, unique,
// none empty, each at most 80 bytes of valid, printable UTF-8 without '`', '<' or '>'.

#include "fuzz_support.hpp"

#include <afk/issue.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <set>
#include <string>
#include <string_view>

namespace {

// Control, invisible and bidi characters the excerpts replace with '?'.
bool hidden(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xAD || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF || c == 0x061C;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const afk::IssueRef self{*afk::RepoName::parse("acme/widgets"), 42};
  afk::BlockedBy blocked;
  try {
    blocked = afk::parse_blocked_by(body, self);
  } catch (const std::exception& error) {
    afk::fuzz::violated("parse_blocked_by throws nothing", error.what());
  }
  using afk::fuzz::require;
  require(std::is_sorted(blocked.refs.begin(), blocked.refs.end()), "refs are sorted");
  require(std::adjacent_find(blocked.refs.begin(), blocked.refs.end()) == blocked.refs.end(),
          "refs are unique");
  for (const afk::IssueRef& ref : blocked.refs) {
    require(ref != self, "the issue itself is dropped", ref.to_string());
    require(ref.number > 0, "a ref has a positive number", ref.to_string());
    require(afk::parse_issue_ref(ref.to_string()) == ref, "a ref is a valid reference",
            ref.to_string());
  }
  require(blocked.unreadable.size() <= 20, "at most 20 unreadable excerpts");
  require(std::set<std::string>(blocked.unreadable.begin(), blocked.unreadable.end()).size() ==
              blocked.unreadable.size(),
          "unreadable excerpts are unique");
  for (const std::string& excerpt : blocked.unreadable) {
    require(!excerpt.empty(), "an excerpt is never empty");
    require(excerpt.size() <= 80, "an excerpt is at most 80 bytes", excerpt);
    require(excerpt.find_first_of("`<>") == std::string::npos, "an excerpt has no ` < >", excerpt);
    const auto points = afk::fuzz::decode_utf8(excerpt);
    require(points.has_value(), "an excerpt is valid UTF-8", excerpt);
    require(std::none_of(points->begin(), points->end(), hidden),
            "an excerpt has no control, invisible or bidi character", excerpt);
  }
  return 0;
}
