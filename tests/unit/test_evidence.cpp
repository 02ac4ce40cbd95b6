// SPDX-License-Identifier: MIT
// Which tracker calls gathering a candidate's evidence makes, and which it must not.

#include "support/mocks.hpp"

#include <afk/error.hpp>
#include <afk/evidence.hpp>

#include <gtest/gtest.h>

namespace {

using afk::BlockerEvidence;
using afk::IssueRef;
using afk::LabelerEvidence;
using afk::LabelEvent;
using afk::Permission;
using afk::TrackerIssue;
using afk::test::MockTracker;
using trompeloeil::_;

afk::RepoName repo(const char* text = "acme/web") {
  return afk::RepoName::parse(text).value();
}

IssueRef ref(std::int64_t number, const char* repo_name = "acme/web") {
  return IssueRef{.repo = repo(repo_name), .number = number};
}

TrackerIssue candidate(std::string body) {
  return TrackerIssue{.summary = {.ref = ref(9), .title = "t", .labels = {"ready-for-agent"}},
                      .body = std::move(body),
                      .open = true,
                      .author = "alice"};
}

std::optional<TrackerIssue> issue_in_state(const IssueRef& r, bool open) {
  return TrackerIssue{.summary = {.ref = r}, .body = {}, .open = open, .author = "x"};
}

} // namespace

TEST(GatherEvidence, asks_the_permission_of_a_human_labeller) {
  MockTracker tracker;
  REQUIRE_CALL(tracker, last_labeled(ref(9), "ready-for-agent"))
      .RETURN(LabelEvent{.login = "alice", .actor = LabelerEvidence::Actor::human});
  REQUIRE_CALL(tracker, permission(repo(), "alice")).RETURN(Permission::maintain);
  REQUIRE_CALL(tracker, native_blockers(ref(9))).RETURN(std::vector<BlockerEvidence>{});
  const auto evidence = afk::gather_candidate_evidence(tracker, candidate("no blockers"), {});
  EXPECT_EQ(evidence.labeler.login, "alice");
  EXPECT_EQ(evidence.labeler.permission, Permission::maintain);
  EXPECT_TRUE(evidence.blockers.empty());
  EXPECT_TRUE(evidence.unreadable_blockers.empty());
}

TEST(GatherEvidence, never_asks_the_permission_of_a_bot_or_an_app) {
  for (const auto actor : {LabelerEvidence::Actor::bot, LabelerEvidence::Actor::app}) {
    MockTracker tracker;
    REQUIRE_CALL(tracker, last_labeled(ref(9), _))
        .RETURN(LabelEvent{.login = "renovate[bot]", .actor = actor});
    FORBID_CALL(tracker, permission(_, _));
    ALLOW_CALL(tracker, native_blockers(_)).RETURN(std::vector<BlockerEvidence>{});
    const auto evidence = afk::gather_candidate_evidence(tracker, candidate(""), {});
    EXPECT_EQ(evidence.labeler.actor, actor);
    EXPECT_FALSE(evidence.labeler.permission);
  }
}

TEST(GatherEvidence, no_label_event_means_no_labeller_and_no_permission_call) {
  MockTracker tracker;
  REQUIRE_CALL(tracker, last_labeled(_, _)).RETURN(std::nullopt);
  FORBID_CALL(tracker, permission(_, _));
  ALLOW_CALL(tracker, native_blockers(_)).RETURN(std::vector<BlockerEvidence>{});
  EXPECT_FALSE(afk::gather_candidate_evidence(tracker, candidate(""), {}).labeler.login);
}

TEST(GatherEvidence, looks_up_each_body_blocker_once_unless_native_dependencies_cover_it) {
  MockTracker tracker;
  ALLOW_CALL(tracker, last_labeled(_, _)).RETURN(std::nullopt);
  REQUIRE_CALL(tracker, native_blockers(ref(9)))
      .RETURN(
          std::vector<BlockerEvidence>{{.ref = ref(3), .state = BlockerEvidence::State::closed}});
  FORBID_CALL(tracker, get_issue(ref(3)));
  REQUIRE_CALL(tracker, get_issue(ref(4))).RETURN(issue_in_state(ref(4), true));
  REQUIRE_CALL(tracker, get_issue(ref(7, "acme/api")))
      .RETURN(issue_in_state(ref(7, "acme/api"), false));
  REQUIRE_CALL(tracker, get_issue(ref(8))).RETURN(std::nullopt); // deleted or invisible
  const auto evidence = afk::gather_candidate_evidence(
      tracker, candidate("Blocked by #3, #4, acme/api#7 and #8\nAlso blocked by #4"), {});
  ASSERT_EQ(evidence.blockers.size(), 4U);
  EXPECT_EQ(evidence.blockers[0], (BlockerEvidence{ref(3), BlockerEvidence::State::closed}));
  EXPECT_EQ(evidence.blockers[1],
            (BlockerEvidence{ref(7, "acme/api"), BlockerEvidence::State::closed}));
  EXPECT_EQ(evidence.blockers[2], (BlockerEvidence{ref(4), BlockerEvidence::State::open}));
  EXPECT_EQ(evidence.blockers[3], (BlockerEvidence{ref(8), BlockerEvidence::State::unknown}));
}

TEST(GatherEvidence, a_blocker_the_token_cannot_read_is_unknown_but_a_transient_failure_is_thrown) {
  MockTracker tracker;
  ALLOW_CALL(tracker, last_labeled(_, _)).RETURN(std::nullopt);
  ALLOW_CALL(tracker, native_blockers(_)).RETURN(std::vector<BlockerEvidence>{});
  REQUIRE_CALL(tracker, get_issue(ref(7, "other/secret")))
      .THROW(afk::Error(afk::ErrorKind::config, "forbidden (403)"));
  const auto evidence =
      afk::gather_candidate_evidence(tracker, candidate("Blocked by other/secret#7"), {});
  ASSERT_EQ(evidence.blockers.size(), 1U);
  EXPECT_EQ(evidence.blockers[0].state, BlockerEvidence::State::unknown);

  MockTracker flaky;
  ALLOW_CALL(flaky, last_labeled(_, _)).RETURN(std::nullopt);
  ALLOW_CALL(flaky, native_blockers(_)).RETURN(std::vector<BlockerEvidence>{});
  REQUIRE_CALL(flaky, get_issue(_)).THROW(afk::Error(afk::ErrorKind::transient, "503"));
  EXPECT_THROW((void)afk::gather_candidate_evidence(flaky, candidate("Blocked by #2"), {}),
               afk::Error);
}

TEST(GatherEvidence, unreadable_clauses_are_passed_on_so_they_block) {
  MockTracker tracker;
  ALLOW_CALL(tracker, last_labeled(_, _)).RETURN(std::nullopt);
  ALLOW_CALL(tracker, native_blockers(_)).RETURN(std::vector<BlockerEvidence>{});
  FORBID_CALL(tracker, get_issue(_));
  const auto evidence =
      afk::gather_candidate_evidence(tracker, candidate("Blocked by the database migration"), {});
  ASSERT_EQ(evidence.unreadable_blockers.size(), 1U);
  EXPECT_EQ(evidence.unreadable_blockers[0], "the database migration");
}

TEST(GatherEvidence, uses_the_configured_ready_label) {
  MockTracker tracker;
  afk::LabelNames labels;
  labels.ready = "afk:go";
  REQUIRE_CALL(tracker, last_labeled(ref(9), "afk:go")).RETURN(std::nullopt);
  ALLOW_CALL(tracker, native_blockers(_)).RETURN(std::vector<BlockerEvidence>{});
  (void)afk::gather_candidate_evidence(tracker, candidate(""), labels);
}
