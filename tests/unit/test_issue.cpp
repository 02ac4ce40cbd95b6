// SPDX-License-Identifier: MIT
#include <afk/issue.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using afk::IssueRef;
using afk::RepoName;

RepoName repo(std::string_view text) {
  auto parsed = RepoName::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(*RepoName::parse("invalid/invalid"));
}

IssueRef ref(std::string_view repo_text, std::int64_t number) {
  return IssueRef{repo(repo_text), number};
}

std::vector<std::string> names(const std::vector<IssueRef>& refs) {
  std::vector<std::string> out;
  for (const auto& r : refs) {
    out.push_back(r.to_string());
  }
  return out;
}

using Names = std::vector<std::string>;

TEST(RepoName, parses_valid_names) {
  const std::vector<std::string_view> cases = {
      "owner/repo",   "o/r",       "Owner-1/repo.name", "my_org/my_repo",
      "a.b/c_d-e",    "_org/repo", "owner/git",         "owner/repo.gitx",
      "owner/a.git2", "0/0",       "owner/r..",         "owner/repo-",
  };
  for (const auto text : cases) {
    const auto parsed = RepoName::parse(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(parsed->full(), text);
    EXPECT_EQ(afk::explain_invalid_repo_name(text), "");
  }
}

TEST(RepoName, splits_and_lowercases) {
  const auto name = repo("Octo-Org/Hello.World");
  EXPECT_EQ(name.owner(), "Octo-Org");
  EXPECT_EQ(name.name(), "Hello.World");
  EXPECT_EQ(name.full(), "Octo-Org/Hello.World");
  EXPECT_EQ(name.canonical(), "octo-org/hello.world");
}

TEST(RepoName, compares_ignoring_case) {
  EXPECT_EQ(repo("Owner/Repo"), repo("owner/repo"));
  EXPECT_NE(repo("owner/repo"), repo("owner/repo2"));
  EXPECT_LT(repo("a/b"), repo("B/a"));
}

TEST(RepoName, accepts_maximum_lengths) {
  EXPECT_TRUE(RepoName::parse(std::string(39, 'o') + "/" + std::string(100, 'r')));
  EXPECT_FALSE(RepoName::parse(std::string(40, 'o') + "/r"));
  EXPECT_FALSE(RepoName::parse("o/" + std::string(101, 'r')));
}

TEST(RepoName, rejects_hostile_names) {
  const std::vector<std::string_view> cases = {
      "",
      "owner",
      "/",
      "owner/",
      "/repo",
      "owner//repo",
      "owner/repo/",
      "owner/repo/extra",
      "../repo",
      "owner/..",
      "owner/.",
      "./repo",
      "owner/.hidden",
      ".owner/repo",
      "-owner/repo",
      "owner/-repo",
      "owner/repo.git",
      "owner/repo.GIT",
      "owner\\repo",
      "owner/re\\po",
      "owner/re po",
      " owner/repo",
      "owner/repo ",
      "owner/repo\n",
      "owner/re\tpo",
      "owner/repo;rm -rf ~",
      "owner/$(reboot)",
      "owner/`id`",
      "owner/repo|cat",
      "owner/repo&&x",
      "owner/re'po",
      "owner/re\"po",
      "owner/repo#1",
      "owner/re*po",
      "owner/re?po",
      "owner/re:po",
      "owner/re%2fpo",
      "owner/re\xe2\x80\x8bpo", // zero-width space
      "owner/r\xd0\xb5po",      // Cyrillic small ie looks like 'e'
      "owner/re\xef\xbc\x8fpo", // fullwidth solidus
      "own\xc3\xa9r/repo",      // é
      std::string_view{"owner/re\0po", 11},
      "owner/re\x7fpo",
  };
  for (const auto text : cases) {
    EXPECT_FALSE(RepoName::parse(text).has_value()) << text;
    EXPECT_NE(afk::explain_invalid_repo_name(text), "") << text;
  }
}

TEST(RepoName, explains_without_echoing_raw_bytes) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  const std::vector<Case> cases = {
      {"", "repository name is empty"},
      {"owner", "repository name has no '/'; expected \"owner/name\""},
      {"a/b/c", "repository name has more than one '/'; expected \"owner/name\""},
      {"/repo", "owner is empty"},
      {"owner/", "name is empty"},
      {"owner/.git", "name must not start with '.' or '-'"},
      {"owner/repo.git", "name must not end in \".git\""},
      {"owner/re po",
       "name contains byte 0x20; only ASCII letters, digits, '.', '_' and '-' are allowed"},
      {"owner/re;po",
       "name contains ';'; only ASCII letters, digits, '.', '_' and '-' are allowed"},
      {"owner/re\xe2\x80\x8bpo",
       "name contains byte 0xE2; only ASCII letters, digits, '.', '_' and '-' are allowed"},
      {"owner/re\npo",
       "name contains byte 0x0A; only ASCII letters, digits, '.', '_' and '-' are allowed"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(afk::explain_invalid_repo_name(c.text), c.expected) << c.text;
  }
  EXPECT_EQ(afk::explain_invalid_repo_name(std::string(40, 'o') + "/r"),
            "owner is longer than 39 characters");
}

TEST(IssueRef, formats_as_owner_repo_hash_number) {
  EXPECT_EQ(ref("Owner/Repo", 42).to_string(), "Owner/Repo#42");
  EXPECT_EQ(ref("o/r", 9007199254740992).to_string(), "o/r#9007199254740992");
}

TEST(IssueRef, orders_by_repo_then_number) {
  EXPECT_LT(ref("a/a", 9), ref("a/b", 1));
  EXPECT_LT(ref("a/a", 2), ref("a/a", 10));
  EXPECT_EQ(ref("A/A", 2), ref("a/a", 2));
}

TEST(IssueRef, parses_full_and_bare_references) {
  const std::optional<RepoName> fallback = repo("dflt/repo");
  struct Case {
    std::string_view text;
    std::optional<RepoName> default_repo;
    std::string_view expected;
  };
  const std::vector<Case> cases = {
      {"owner/repo#42", std::nullopt, "owner/repo#42"},
      {"owner/repo#42", fallback, "owner/repo#42"},
      {"#42", fallback, "dflt/repo#42"},
      {"42", fallback, "dflt/repo#42"},
      {"#1", fallback, "dflt/repo#1"},
      {"o/r#9007199254740992", std::nullopt, "o/r#9007199254740992"},
  };
  for (const auto& c : cases) {
    const auto parsed = afk::parse_issue_ref(c.text, c.default_repo);
    ASSERT_TRUE(parsed.has_value()) << c.text;
    EXPECT_EQ(parsed->to_string(), c.expected);
  }
}

TEST(IssueRef, rejects_anything_else) {
  const std::optional<RepoName> fallback = repo("dflt/repo");
  const std::vector<std::string_view> cases = {
      "",
      "#",
      "#0",
      "0",
      "#-1",
      "-1",
      "#+1",
      "#01",
      "007",
      "#9007199254740993",
      "#99999999999999999999999",
      "#42 ",
      " #42",
      "#42x",
      "#4 2",
      "#42#43",
      "owner/repo#",
      "owner/repo#x",
      "owner/repo",
      "owner#42",
      "../etc#42",
      "owner/repo.git#42",
      "owner/repo #42",
      "owner/re\xe2\x80\x8bpo#42",
      "https://github.com/owner/repo/issues/42",
      "#４２", // fullwidth digits
  };
  for (const auto text : cases) {
    EXPECT_FALSE(afk::parse_issue_ref(text, fallback).has_value()) << text;
  }
  EXPECT_FALSE(afk::parse_issue_ref("#42").has_value());
  EXPECT_FALSE(afk::parse_issue_ref("42").has_value());
}

TEST(IssueRef, round_trips_through_to_string) {
  for (const auto& r :
       {ref("Owner/Repo", 1), ref("a.b/c_d", 123456), ref("o/r", 9007199254740992)}) {
    EXPECT_EQ(afk::parse_issue_ref(r.to_string()), r);
  }
}

const IssueRef k_self = IssueRef{*RepoName::parse("owner/repo"), 10};

TEST(BlockedBy, reads_clause_forms) {
  struct Case {
    std::string_view body;
    Names expected;
  };
  const std::vector<Case> cases = {
      {"Blocked by #3", {"owner/repo#3"}},
      {"blocked by #3", {"owner/repo#3"}},
      {"BLOCKED BY #3", {"owner/repo#3"}},
      {"Blocked by: #3", {"owner/repo#3"}},
      {"Blocked by:#3", {"owner/repo#3"}},
      {"Blocked-by: #3", {"owner/repo#3"}},
      {"Blocked  \t by #3", {"owner/repo#3"}},
      {"**Blocked by:** #3", {"owner/repo#3"}},
      {"**Blocked by**: #3", {"owner/repo#3"}},
      {"__Blocked by__ #3", {"owner/repo#3"}},
      {"*Blocked by* **#3**", {"owner/repo#3"}},
      {"- Blocked by #3", {"owner/repo#3"}},
      {"* Blocked by #3", {"owner/repo#3"}},
      {"### Blocked by #3", {"owner/repo#3"}},
      {"> Blocked by #3", {"owner/repo#3"}},
      {"This is blocked by #3", {"owner/repo#3"}},
      {"(blocked by #3)", {"owner/repo#3"}},
      {"Blocked by #3, #4", {"owner/repo#3", "owner/repo#4"}},
      {"Blocked by #3,#4", {"owner/repo#3", "owner/repo#4"}},
      {"Blocked by #3 and #4", {"owner/repo#3", "owner/repo#4"}},
      {"Blocked by #3 AND #4", {"owner/repo#3", "owner/repo#4"}},
      {"Blocked by #3 & #4", {"owner/repo#3", "owner/repo#4"}},
      {"Blocked by #3 #4 #5", {"owner/repo#3", "owner/repo#4", "owner/repo#5"}},
      {"Blocked by #3, #4, and #5", {"owner/repo#3", "owner/repo#4", "owner/repo#5"}},
      {"Blocked by other/lib#7", {"other/lib#7"}},
      {"Blocked by Other/Lib#7 and #2", {"Other/Lib#7", "owner/repo#2"}},
      {"Blocked by _org/repo#7", {"_org/repo#7"}},
      {"Blocked by _other/lib#7_", {"other/lib#7"}},
      {"Blocked by https://github.com/other/lib/issues/7", {"other/lib#7"}},
      {"Blocked by http://forge.example:3000/other/lib/issues/7/", {"other/lib#7"}},
      {"Blocked by https://forge.example/git/other/lib/issues/7", {"other/lib#7"}},
      {"Blocked by https://github.com/other/lib/issues/7#issuecomment-1", {"other/lib#7"}},
      {"Blocked by https://github.com/owner/repo/issues/7.", {"owner/repo#7"}},
      {"Blocked by <https://github.com/other/lib/issues/7>", {"other/lib#7"}},
      {"Blocked by [#7](https://github.com/other/lib/issues/7)", {"other/lib#7"}},
      {"Blocked by [#7](https://github.com/other/lib/issues/7), #2",
       {"other/lib#7", "owner/repo#2"}},
      {"Blocked by ~~#3~~", {"owner/repo#3"}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(names(afk::parse_blocked_by(c.body, k_self)), c.expected) << c.body;
  }
}

TEST(BlockedBy, clause_ends_at_the_first_other_word) {
  struct Case {
    std::string_view body;
    Names expected;
  };
  const std::vector<Case> cases = {
      {"Blocked by #3 which needs #4", {"owner/repo#3"}},
      {"Blocked by #3 or #4", {"owner/repo#3"}},
      {"Blocked by #3. #4 is related", {"owner/repo#3"}},
      {"Blocked by #3; see #4", {"owner/repo#3"}},
      {"Blocked by #3: see #4", {"owner/repo#3"}},
      {"Blocked by #3 (the schema), #4", {"owner/repo#3"}},
      {"Blocked by 3", {}},
      {"Blocked by issue #3", {}},
      {"Blocked by nothing", {}},
      {"Blocked by #0 and #3", {}},
      {"Blocked by #01", {}},
      {"Blocked by #-1", {}},
      {"Blocked by #3x #4", {}},
      {"Blocked by ../etc#3", {}},
      {"Blocked by own\xe2\x80\x8b"
       "er/repo#3",
       {}},
      {"Blocked by https://github.com/o/r/tree/7 #4", {}},
      {"Blocked by https://github.com/o/r/issues/07", {}},
      {"Blocked by ftp://github.com/o/r/issues/7", {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(names(afk::parse_blocked_by(c.body, k_self)), c.expected) << c.body;
  }
}

TEST(BlockedBy, pull_request_urls_are_skipped_not_counted) {
  EXPECT_EQ(
      names(afk::parse_blocked_by(
          "Blocked by https://github.com/o/r/pull/5, #7 and https://forge/o/r/pulls/6", k_self)),
      (Names{"owner/repo#7"}));
}

TEST(BlockedBy, ignores_mentions_outside_the_clause) {
  struct Case {
    std::string_view body;
    Names expected;
  };
  const std::vector<Case> cases = {
      {"See #5. Blocked by #6", {"owner/repo#6"}},
      {"Related to #5\nFixes #7", {}},
      {"Unblocked by #5", {}},
      {"blockedby #5", {}},
      {"Blocked bypass #5", {}},
      {"Blocked\nby #5", {}},
      {"Blocks #5", {}},
      {"Nothing to see here", {}},
      {"", {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(names(afk::parse_blocked_by(c.body, k_self)), c.expected) << c.body;
  }
}

TEST(BlockedBy, every_clause_counts_sorted_and_deduplicated) {
  const std::string_view body = "Blocked by #9 and #3.\n"
                                "Some prose.\n"
                                "Also blocked by Other/Lib#1, #3 and other/lib#1. Blocked by #2";
  EXPECT_EQ(names(afk::parse_blocked_by(body, k_self)),
            (Names{"Other/Lib#1", "owner/repo#2", "owner/repo#3", "owner/repo#9"}));
}

TEST(BlockedBy, drops_self_references) {
  EXPECT_EQ(
      names(afk::parse_blocked_by("Blocked by #10, #11, Owner/Repo#10, other/repo#10", k_self)),
      (Names{"other/repo#10", "owner/repo#11"}));
}

TEST(BlockedBy, ignores_code_and_comments) {
  struct Case {
    std::string_view body;
    Names expected;
  };
  const std::vector<Case> cases = {
      {"```\nBlocked by #1\n```\nBlocked by #2", {"owner/repo#2"}},
      {"~~~markdown\nBlocked by #1\n~~~\nBlocked by #2", {"owner/repo#2"}},
      {"````\n```\nBlocked by #1\n```\nBlocked by #3\n````\nBlocked by #2", {"owner/repo#2"}},
      {"  ```\n  Blocked by #1\n  ```\n", {}},
      {"```\nBlocked by #1 (never closed)\n", {}},
      {"~~~\nBlocked by #1\n```\nBlocked by #4\n~~~\n", {}},
      {"`Blocked by #1` Blocked by #2", {"owner/repo#2"}},
      {"Blocked by `#1`", {}},
      {"Blocked by `x` #1", {}},
      {"Blocked by #2 `#1`", {"owner/repo#2"}},
      {"``Blocked by ` #1`` Blocked by #2", {"owner/repo#2"}},
      {"``` inline ``` Blocked by #2", {"owner/repo#2"}},
      {"Unmatched ` tick. Blocked by #2", {"owner/repo#2"}},
      {"<!-- Blocked by #1 --> Blocked by #2", {"owner/repo#2"}},
      {"<!--\nTemplate: write \"Blocked by #123\" here\n-->\nBlocked by #2", {"owner/repo#2"}},
      {"Blocked by #2 <!-- and #1? --> #3", {"owner/repo#2", "owner/repo#3"}},
      {"<!-- unclosed\nBlocked by #1", {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(names(afk::parse_blocked_by(c.body, k_self)), c.expected) << c.body;
  }
}

TEST(BlockedBy, follows_a_lead_in_into_the_list_below) {
  struct Case {
    std::string_view body;
    Names expected;
  };
  const std::vector<Case> cases = {
      {"## Blocked by\n- #3\n- #4\n\nOther text #5", {"owner/repo#3", "owner/repo#4"}},
      {"**Blocked by:**\n\n* #3 (schema)\n* other/lib#4\n", {"other/lib#4", "owner/repo#3"}},
      {"Blocked by:\n1. #3\n2) #4\n", {"owner/repo#3", "owner/repo#4"}},
      {"### Blocked by\n- [ ] #3\n- [x] #4\n  - #5\n## Notes\n- #6",
       {"owner/repo#3", "owner/repo#4", "owner/repo#5"}},
      {"## Blocked by\nNone yet, see #5", {}},
      {"## Blocked by\n#3 and #4", {"owner/repo#3", "owner/repo#4"}},
      {"This is blocked by\n#3 and #4, but #5 is unrelated", {"owner/repo#3", "owner/repo#4"}},
      {"Blocked by #3 and\n#4 then #5", {"owner/repo#3", "owner/repo#4"}},
      {"Blocked by #3,\r\n#4", {"owner/repo#3", "owner/repo#4"}},
      {"Blocked by #3 and\n\n#4", {"owner/repo#3"}},
      {"Blocked by #3\n#4", {"owner/repo#3"}},
      {"Blocked by #3\n- #4", {"owner/repo#3"}},
      {"## Blocked by\n```\n- #4\n```\n- #5", {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(names(afk::parse_blocked_by(c.body, k_self)), c.expected) << c.body;
  }
}

TEST(BlockedBy, handles_crlf_line_endings) {
  EXPECT_EQ(names(afk::parse_blocked_by("Intro\r\nBlocked by #3\r\n```\r\nBlocked by #4\r\n```\r\n"
                                        "Blocked by #5\r\n",
                                        k_self)),
            (Names{"owner/repo#3", "owner/repo#5"}));
}

TEST(BlockedBy, survives_hostile_bodies) {
  const std::vector<std::string> cases = {
      std::string(1 << 16, '`'),
      std::string(1 << 16, '#'),
      std::string(1 << 16, '\n'),
      std::string("Blocked by ") + std::string(1 << 16, '9'),
      std::string("Blocked by #") + std::string(1 << 16, '*'),
      std::string("Blocked by [") + std::string(1 << 16, ']'),
      std::string("<!--<!--<!--") + std::string(1 << 16, '-'),
      std::string{"Blocked by #3\0#4", 16},
      "Blocked by \xff\xfe #3",
      "Blocked by https://",
      "Blocked by https:///o/r/issues/3",
      "Blocked by https://h//r/issues/3",
      "Blocked by https://h/issues/3",
      "Blocked by [#3](",
      "Blocked by [](https://h/o/r/issues/3",
  };
  for (const auto& body : cases) {
    EXPECT_NO_THROW((void)afk::parse_blocked_by(body, k_self));
  }
}

// Builds "`" runs of every length 1..n: a naive matcher rescans the rest of the line for
// each opener and goes quadratic.
std::string backtick_staircase(std::size_t n) {
  std::string out;
  for (std::size_t i = 1; i <= n; ++i) {
    out.append(i, '`');
    out += ' ';
  }
  return out;
}

TEST(BlockedBy, megabyte_bodies_parse_in_linear_time) {
  constexpr std::size_t k_mebibyte = std::size_t{1} << 20;
  std::string many_lines;
  for (std::size_t i = 0; many_lines.size() < k_mebibyte; ++i) {
    many_lines += "Blocked by #" + std::to_string(i % 5000 + 1) + ", #12345 and other/lib#7\r\n";
  }
  std::string one_line = "Blocked by";
  std::size_t refs_on_one_line = 0;
  while (one_line.size() < k_mebibyte) {
    one_line += " #" + std::to_string(++refs_on_one_line);
  }
  std::string near_misses;
  while (near_misses.size() < k_mebibyte) {
    near_misses += "blocked blocked-be blockedby by `x` <!-- --> [#1]( ";
  }
  const std::string staircase = backtick_staircase(1400) + " Blocked by #2";
  const std::string letters(k_mebibyte, 'b');

  const auto start = std::chrono::steady_clock::now();
  // 1..5000 without #10 (self), plus #12345 and other/lib#7.
  EXPECT_EQ(afk::parse_blocked_by(many_lines, k_self).size(), 5001U);
  EXPECT_EQ(afk::parse_blocked_by(one_line, k_self).size(), refs_on_one_line - 1);
  EXPECT_TRUE(afk::parse_blocked_by(near_misses, k_self).empty());
  EXPECT_EQ(names(afk::parse_blocked_by(staircase, k_self)), (Names{"owner/repo#2"}));
  EXPECT_TRUE(afk::parse_blocked_by(letters, k_self).empty());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Generous for an unoptimised, sanitised build; a quadratic scan takes minutes.
  EXPECT_LT(elapsed, std::chrono::seconds(30));
}

TEST(Priority, lowest_valid_number_wins) {
  struct Case {
    std::vector<std::string> labels;
    std::optional<int> expected;
  };
  const std::vector<Case> cases = {
      {{}, std::nullopt},
      {{"bug"}, std::nullopt},
      {{"priority:1"}, 1},
      {{"priority:0"}, 0},
      {{"priority:3", "priority:1", "priority:2"}, 1},
      {{"Priority:2"}, 2},
      {{"PRIORITY:2", "bug"}, 2},
      {{"priority:007"}, 7},
      {{"priority:2147483647"}, 2147483647},
      {{"priority:high"}, std::nullopt},
      {{"priority:"}, std::nullopt},
      {{"priority:-1"}, std::nullopt},
      {{"priority:+1"}, std::nullopt},
      {{"priority: 1"}, std::nullopt},
      {{"priority:1 "}, std::nullopt},
      {{"priority:1a"}, std::nullopt},
      {{"priority:2147483648"}, std::nullopt},
      {{"priority:99999999999999999999"}, std::nullopt},
      {{"priority:99999999999999999999", "priority:5"}, 5},
      {{"priority:high", "priority:4"}, 4},
      {{"xpriority:1"}, std::nullopt},
      {{"priority"}, std::nullopt},
      {{"priority:１"}, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(afk::priority_from_labels(c.labels, "priority:"), c.expected)
        << (c.labels.empty() ? "" : c.labels.front());
  }
}

TEST(Priority, honours_a_configured_prefix) {
  EXPECT_EQ(afk::priority_from_labels({"p1", "p0", "priority:0"}, "p"), 0);
  EXPECT_EQ(afk::priority_from_labels({"prio/3", "priority:1"}, "prio/"), 3);
}

TEST(IssueSummary, has_label_ignores_case) {
  const afk::IssueSummary summary{
      .ref = ref("o/r", 1), .title = "t", .labels = {"Ready-For-Agent", "bug"}, .created_at = {}};
  EXPECT_TRUE(summary.has_label("ready-for-agent"));
  EXPECT_TRUE(summary.has_label("READY-FOR-AGENT"));
  EXPECT_TRUE(summary.has_label("Bug"));
  EXPECT_FALSE(summary.has_label("ready-for-agen"));
  EXPECT_FALSE(summary.has_label("ready-for-agent "));
  EXPECT_FALSE(summary.has_label(""));
}

} // namespace
