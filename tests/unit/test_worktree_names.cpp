// SPDX-License-Identifier: MIT
// The pure pieces of <afk/worktree.hpp>, table-driven. Branch names are checked against
// libgit2's own rule (git_branch_name_is_valid), so "valid" means what git means.

#include <afk/ids.hpp>
#include <afk/worktree.hpp>

#include <git2.h>
#include <gtest/gtest.h>

#include <string>

namespace afk {
namespace {

IssueRef issue(std::string_view repo, std::int64_t number) {
  return IssueRef{*RepoName::parse(repo), number};
}

class Libgit2 : public ::testing::Test {
protected:
  static void SetUpTestSuite() { git_libgit2_init(); }
  static void TearDownTestSuite() { git_libgit2_shutdown(); }

  static bool git_says_valid_branch(const std::string& name) {
    int valid = 0;
    EXPECT_EQ(git_branch_name_is_valid(&valid, name.c_str()), 0);
    return valid != 0;
  }
};

TEST(RunId, accepts_exactly_afk_uuids) {
  EXPECT_TRUE(is_valid_run_id(derive_run_id(issue("o/r", 42), 1)));
  EXPECT_TRUE(is_valid_run_id("7b561ec9-ba72-43b9-bb9c-1571db499334"));
  for (const std::string_view bad :
       {"", "7B561EC9-BA72-43B9-BB9C-1571DB499334", "7b561ec9ba7243b9bb9c1571db499334",
        "7b561ec9-ba72-43b9-bb9c-1571db49933", "7b561ec9-ba72-43b9-bb9c-1571db4993345",
        "7b561ec9-ba72-43b9-bb9c_1571db499334", "../../../../../../../../../../etc/pa",
        "7b561ec9-ba72-43b9-bb9c-1571db49933g", "7b561ec9/ba72-43b9-bb9c-1571db499334"}) {
    EXPECT_FALSE(is_valid_run_id(bad)) << bad;
  }
}

TEST_F(Libgit2, branch_name_rules_agree_with_libgit2) {
  for (const std::string name :
       {"afk/42-fix", "main",     "a",       "feature/x.y", "afk/1-issue", "a-b_c",    "x@y",
        "HEAD",       "-leading", "a..b",    "a/.hidden",   ".hidden",     "a.lock",   "a/b.lock/c",
        "a/",         "a.",       "a//b",    "/a",          "a b",         "a~b",      "a^b",
        "a:b",        "a?b",      "a*b",     "a[b",         "a\\b",        "a@{b",     "tab\tname",
        "a/b.lock",   "lock.a",   "x.lockx", "a/-b",        "afk/",        "afk//1-x", "afk/.x"}) {
    EXPECT_EQ(is_valid_branch_name(name), git_says_valid_branch(name)) << name;
  }
  // Stricter than libgit2 where the git CLI is: check-ref-format refuses DEL, and
  // `git branch @` refuses "@" (it means HEAD).
  EXPECT_FALSE(is_valid_branch_name("del\x7f"));
  EXPECT_FALSE(is_valid_branch_name("@"));
}

TEST(BranchSlug, lower_case_ascii_words_joined_by_dashes) {
  struct Case {
    std::string_view title;
    std::string_view slug;
  };
  for (const auto& [title, slug] : std::initializer_list<Case>{
           {"Fix the login page", "fix-the-login-page"},
           {"  --Leading and trailing--  ", "leading-and-trailing"},
           {"CamelCase API v2", "camelcase-api-v2"},
           {"../../etc/passwd", "etc-passwd"},
           {"refs.lock", "refs-lock"},
           {"a..b", "a-b"},
           {"-rf /", "rf"},
           {"Ünïcödé ☃ title", "n-c-d-title"},
           {"日本語", "issue"},
           {"", "issue"},
           {"!!!", "issue"},
           {"HEAD", "head"},
           {"feat: add @{upstream} and ~1^2", "feat-add-upstream-and-1-2"},
       }) {
    EXPECT_EQ(branch_slug(title), slug) << title;
  }
}

TEST(BranchSlug, is_bounded_and_never_ends_in_a_dash) {
  const std::string slug = branch_slug(std::string(30, 'a') + " " + std::string(30, 'b'));
  EXPECT_EQ(slug, std::string(30, 'a') + "-" + std::string(9, 'b'));
  EXPECT_LE(branch_slug(std::string(500, 'x')).size(), 40U);
  const std::string cut = branch_slug(std::string(39, 'a') + " b");
  EXPECT_EQ(cut, std::string(39, 'a'));
}

TEST_F(Libgit2, hostile_titles_make_valid_branches) {
  for (const std::string& title : std::vector<std::string>{
           "../../../etc", "a.lock", ".hidden", "-n", "x\ny", "\x01\x02", "@{-1}", "HEAD",
           "refs/heads/main", "  ", std::string(300, '/'), "\xff\xfe", "foo.lock.lock",
           "emoji 🚀 rocket", "tab\there", "$(rm -rf /)", "`id`", "a\\b"}) {
    const std::string branch = run_branch_name("afk/", 12, title);
    EXPECT_TRUE(is_valid_branch_name(branch)) << branch;
    EXPECT_TRUE(git_says_valid_branch(branch)) << branch;
    EXPECT_EQ(branch.rfind("afk/12-", 0), 0U) << branch;
  }
}

TEST(Attribution, a_real_trailer_in_the_final_paragraph_counts) {
  const std::string run = "7b561ec9-ba72-43b9-bb9c-1571db499334";
  const IssueRef self = issue("acme/web", 42);
  struct Case {
    std::string message;
    Attribution expected;
  };
  for (const auto& [message, expected] : std::vector<Case>{
           {"Fix login\n\nAFK-Run: " + run + "\n", Attribution::trailer},
           {"Fix login\n\nBody text.\n\nSigned-off-by: A <a@x>\nAFK-Run: " + run,
            Attribution::trailer},
           {"Fix login\n\nafk-run:   " + run + "  \n\n\n", Attribution::trailer},
           {"Fix login\r\n\r\nAFK-Run: " + run + "\r\n", Attribution::trailer},
           // git's rule with a configured trailer: a quarter of the lines are trailers
           {"Fix login\n\nCloses #42\nAFK-Run: " + run, Attribution::trailer},
           // only in the subject: no trailer, and nothing closes the issue
           {"AFK-Run: " + run, Attribution::none},
           // in a middle paragraph
           {"Fix login\n\nAFK-Run: " + run + "\n\nThe end of the story.", Attribution::none},
           // in prose
           {"Fix login\n\nThis is not AFK-Run: " + run, Attribution::none},
           // indented: a continuation, not a trailer
           {"Fix login\n\n    AFK-Run: " + run, Attribution::none},
           // the final paragraph is mostly prose
           {"Fix login\n\nline one\nline two\nline three\nline four\nAFK-Run: " + run,
            Attribution::none},
           {"Fix login\n\nline one\nline two\nline three\nAFK-Run: " + run, Attribution::trailer},
           // a prefix of the id, or a longer id
           {"Fix login\n\nAFK-Run: " + run.substr(0, 35), Attribution::none},
           {"Fix login\n\nAFK-Run: " + run + "0", Attribution::none},
           {"Fix login\n\nAFK-Runner: " + run, Attribution::none},
       }) {
    EXPECT_EQ(attribute_commit(message, "AFK-Run", run, self), expected) << message;
  }
}

TEST(Attribution, closing_keywords_name_the_exact_issue) {
  const std::string run = "7b561ec9-ba72-43b9-bb9c-1571db499334";
  const IssueRef self = issue("acme/web", 12);
  struct Case {
    std::string message;
    Attribution expected;
  };
  for (const auto& [message, expected] : std::vector<Case>{
           {"Fix login\n\nCloses #12", Attribution::closes},
           {"Fixes #12: the login page", Attribution::closes},
           {"fix login (resolves #12)", Attribution::closes},
           {"Fix login\n\nCLOSED #12.", Attribution::closes},
           {"Fix login\n\nFixes: #12", Attribution::closes},
           {"Fix login\n\nResolved acme/web#12", Attribution::closes},
           {"Fix login\n\nResolved ACME/Web#12", Attribution::closes},
           {"Fix login\n\nfix #12, fix #13", Attribution::closes},
           {"Fix login\n\nCloses #123", Attribution::none},
           {"Fix login\n\nCloses #1", Attribution::none},
           {"Fix login\n\nCloses #012", Attribution::none},
           {"Fix login\n\nCloses #12abc", Attribution::none},
           {"Fix login\n\nCloses other/repo#12", Attribution::none},
           {"Fix login\n\nSee #12", Attribution::none},
           {"Fix login\n\nprefixes #12", Attribution::none},
           {"Fix login\n\nFixes#12", Attribution::none},
           {"Fix login\n\nCloses # 12", Attribution::none},
           {"Revert \"Fix login\"\n\nThis reverts commit abc.\n\nCloses #12", Attribution::none},
           // another run's trailer wins over a closing keyword
           {"Fix login\n\nCloses #12\n\nAFK-Run: 00000000-0000-0000-0000-000000000000",
            Attribution::none},
       }) {
    EXPECT_EQ(attribute_commit(message, "AFK-Run", run, self), expected) << message;
  }
}

TEST(Attribution, the_trailer_key_is_configurable) {
  const std::string run = "7b561ec9-ba72-43b9-bb9c-1571db499334";
  EXPECT_EQ(attribute_commit("x\n\nRun-Id: " + run, "Run-Id", run, issue("o/r", 1)),
            Attribution::trailer);
  EXPECT_EQ(attribute_commit("x\n\nAFK-Run: " + run, "Run-Id", run, issue("o/r", 1)),
            Attribution::none);
}

TEST(Layout, paths_come_from_the_canonical_repo_name_and_the_run_id) {
  const auto layout = repo_layout("/srv/afk", *RepoName::parse("Acme/Web.App"));
  EXPECT_EQ(layout.repo_dir, "/srv/afk/acme/web.app");
  EXPECT_EQ(layout.checkout, "/srv/afk/acme/web.app/checkout");
  EXPECT_EQ(layout.lock_file, "/srv/afk/acme/web.app/.afk.lock");
  const std::string run = "7b561ec9-ba72-43b9-bb9c-1571db499334";
  EXPECT_EQ(worktree_path("/srv/afk", *RepoName::parse("acme/web"), run),
            std::filesystem::path("/srv/afk/acme/web/worktrees/" + run));
  EXPECT_EQ(worktree_path("/srv/afk", *RepoName::parse("acme/web"), "../../../etc"), std::nullopt);
  EXPECT_EQ(worktree_path("/srv/afk", *RepoName::parse("acme/web"), ""), std::nullopt);
  EXPECT_TRUE(is_confined("/srv/afk", *worktree_path("/srv/afk", *RepoName::parse("a/b"), run)));
}

TEST(Layout, confinement_is_lexical_and_refuses_dot_dot) {
  struct Case {
    std::string_view path;
    bool confined;
  };
  for (const auto& [path, confined] : std::initializer_list<Case>{
           {"/srv/afk", true},
           {"/srv/afk/a/b", true},
           {"/srv/afk/a/../b", false},
           {"/srv/afk/..", false},
           {"/srv/afk/./a", false},
           {"/srv/afkx/a", false},
           {"/srv", false},
           {"/etc/passwd", false},
           {"srv/afk/a", false},
       }) {
    EXPECT_EQ(is_confined("/srv/afk", path), confined) << path;
    EXPECT_EQ(is_confined("/srv/afk/", path), confined) << path;
  }
}

TEST(CloneUrl, expands_the_repo_and_refuses_credentials) {
  const auto repo = *RepoName::parse("Acme/web");
  EXPECT_EQ(expand_clone_url("https://github.com/{repo}.git", repo),
            "https://github.com/Acme/web.git");
  EXPECT_EQ(expand_clone_url("file:///srv/git/{repo}.git", repo), "file:///srv/git/Acme/web.git");
  EXPECT_EQ(expand_clone_url("http://127.0.0.1:8080/{repo}", repo),
            "http://127.0.0.1:8080/Acme/web");
  for (const std::string_view bad :
       {"https://user:token@github.com/{repo}.git", "https://token@github.com/{repo}",
        "ssh://git@github.com/{repo}", "git@github.com:{repo}.git", "/srv/git/{repo}",
        "https:///{repo}", "https://github.com/{repo} .git", "file://", "ftp://x/{repo}", ""}) {
    EXPECT_EQ(expand_clone_url(bad, repo), std::nullopt) << bad;
  }
}

} // namespace
} // namespace afk
