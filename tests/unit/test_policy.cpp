// SPDX-License-Identifier: MIT
#include <afk/policy.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace {

using afk::BlockerEvidence;
using afk::CandidateEvidence;
using afk::IssueRef;
using afk::IssueSummary;
using afk::LabelerEvidence;
using afk::Permission;
using afk::RepoDecision;
using afk::RepoName;
using afk::RepoSnapshot;
using afk::WaitReason;

RepoName repo(const char* text = "acme/web") {
  return RepoName::parse(text).value();
}

IssueRef ref(std::int64_t number, const char* repo_name = "acme/web") {
  return IssueRef{.repo = repo(repo_name), .number = number};
}

afk::Timestamp day(int d) {
  return afk::Timestamp{std::chrono::days(20000 + d)};
}

IssueSummary issue(std::int64_t number, std::vector<std::string> labels, int created_day = 0) {
  return IssueSummary{.ref = ref(number),
                      .title = "issue " + std::to_string(number),
                      .labels = std::move(labels),
                      .created_at = day(created_day)};
}

CandidateEvidence trusted(std::vector<BlockerEvidence> blockers = {}) {
  return CandidateEvidence{.labeler = LabelerEvidence{.login = "alice",
                                                      .actor = LabelerEvidence::Actor::human,
                                                      .permission = Permission::write},
                           .blockers = std::move(blockers)};
}

const afk::IssueVerdict& verdict_of(const RepoDecision& d, std::int64_t number) {
  for (const auto& v : d.verdicts) {
    if (v.issue.number == number) {
      return v;
    }
  }
  throw std::logic_error("no verdict for #" + std::to_string(number));
}

/// Runs the engine's protocol: gather evidence for whatever the policy asks about, from
/// `world`, until it stops asking. Returns the final decision and the issues asked about.
RepoDecision decide_fully(const RepoSnapshot& snapshot,
                          const std::map<IssueRef, CandidateEvidence>& world,
                          const afk::DispatchRules& rules, std::vector<std::int64_t>* asked) {
  std::map<IssueRef, CandidateEvidence> gathered;
  for (int round = 0; round < 100; ++round) {
    auto decision = afk::decide_dispatch(snapshot, gathered, rules);
    if (!decision.needs_evidence) {
      return decision;
    }
    asked->push_back(decision.needs_evidence->number);
    gathered.emplace(*decision.needs_evidence, world.at(*decision.needs_evidence));
  }
  throw std::logic_error("policy kept asking for evidence");
}

} // namespace

TEST(Policy, orders_by_priority_then_age_then_number) {
  const afk::LabelNames labels;
  std::vector<IssueSummary> issues{
      issue(1, {"ready-for-agent"}, 1), // unprioritised, old
      issue(2, {"ready-for-agent", "priority:2"}, 5),
      issue(3, {"ready-for-agent", "priority:1"}, 9),
      issue(4, {"ready-for-agent", "priority:2"}, 3),
      issue(5, {"ready-for-agent", "priority:2"}, 3), // same age as #4
  };
  std::sort(issues.begin(), issues.end(), [&](const auto& a, const auto& b) {
    return afk::dispatch_order_before(a, b, labels.priority_prefix);
  });
  std::vector<std::int64_t> numbers;
  for (const auto& i : issues) {
    numbers.push_back(i.ref.number);
  }
  EXPECT_EQ(numbers, (std::vector<std::int64_t>{3, 4, 5, 2, 1}));
}

TEST(Policy, asks_for_evidence_of_the_top_candidate_only) {
  RepoSnapshot snapshot{.repo = repo(),
                        .issues = {issue(7, {"ready-for-agent"}, 2),
                                   issue(8, {"ready-for-agent", "priority:1"}, 3),
                                   issue(9, {"ready-for-agent"}, 1)}};
  const auto decision = afk::decide_dispatch(snapshot, {}, afk::DispatchRules{});
  ASSERT_TRUE(decision.needs_evidence);
  EXPECT_EQ(decision.needs_evidence->number, 8);
  EXPECT_FALSE(decision.chosen);
  EXPECT_EQ(verdict_of(decision, 8).reason, WaitReason::not_checked);
  EXPECT_EQ(verdict_of(decision, 9).reason, WaitReason::not_checked);
  EXPECT_EQ(verdict_of(decision, 9).detail, "waiting for #8 to be checked");
}

TEST(Policy, chooses_the_first_trusted_unblocked_candidate_and_queues_the_rest) {
  RepoSnapshot snapshot{.repo = repo(),
                        .issues = {issue(7, {"ready-for-agent"}, 1),
                                   issue(8, {"ready-for-agent"}, 2),
                                   issue(9, {"ready-for-agent"}, 3)}};
  std::map<IssueRef, CandidateEvidence> world{
      {ref(7), trusted()}, {ref(8), trusted()}, {ref(9), trusted()}};
  std::vector<std::int64_t> asked;
  const auto decision = decide_fully(snapshot, world, afk::DispatchRules{}, &asked);
  ASSERT_TRUE(decision.chosen);
  EXPECT_EQ(decision.chosen->number, 7);
  EXPECT_EQ(asked, (std::vector<std::int64_t>{7})); // never one check per queued issue
  EXPECT_EQ(verdict_of(decision, 7).reason, WaitReason::chosen);
  EXPECT_EQ(verdict_of(decision, 8).reason, WaitReason::queued);
  EXPECT_EQ(verdict_of(decision, 8).detail, "queued behind #7");
}

TEST(Policy, skips_rejected_candidates_up_to_the_check_budget) {
  const auto bot = CandidateEvidence{.labeler = {.login = "renovate[bot]",
                                                 .actor = LabelerEvidence::Actor::bot,
                                                 .permission = Permission::admin}};
  RepoSnapshot snapshot{
      .repo = repo(),
      .issues = {issue(1, {"ready-for-agent"}, 1), issue(2, {"ready-for-agent"}, 2),
                 issue(3, {"ready-for-agent"}, 3), issue(4, {"ready-for-agent"}, 4)}};
  std::map<IssueRef, CandidateEvidence> world{
      {ref(1), bot},
      {ref(2), trusted({{.ref = ref(1), .state = BlockerEvidence::State::open}})},
      {ref(3), bot},
      {ref(4), trusted()}};
  afk::DispatchRules rules;
  rules.max_candidates_checked = 3;
  std::vector<std::int64_t> asked;
  const auto decision = decide_fully(snapshot, world, rules, &asked);
  EXPECT_FALSE(decision.chosen);
  EXPECT_EQ(asked, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(verdict_of(decision, 1).reason, WaitReason::untrusted_labeler);
  EXPECT_EQ(verdict_of(decision, 2).reason, WaitReason::blocked);
  EXPECT_EQ(verdict_of(decision, 2).detail, "blocked by #1");
  EXPECT_EQ(verdict_of(decision, 3).reason, WaitReason::untrusted_labeler);
  EXPECT_EQ(verdict_of(decision, 4).reason, WaitReason::not_checked);
  EXPECT_EQ(verdict_of(decision, 4).detail, "not checked this tick (3 candidates already checked)");

  rules.max_candidates_checked = 4;
  asked.clear();
  const auto wider = decide_fully(snapshot, world, rules, &asked);
  ASSERT_TRUE(wider.chosen);
  EXPECT_EQ(wider.chosen->number, 4);
}

TEST(Policy, repo_gates_come_before_any_expensive_check) {
  struct Row {
    const char* name;
    RepoSnapshot snapshot;
    WaitReason reason;
    std::string detail;
  };
  const std::vector<Row> rows{
      {"frozen",
       {.repo = repo(), .issues = {issue(5, {"ready-for-agent"})}, .frozen = true},
       WaitReason::repo_frozen,
       "repo frozen"},
      {"locked by label",
       {.repo = repo(),
        .issues = {issue(5, {"ready-for-agent"}), issue(12, {"agent-in-progress"})}},
       WaitReason::repo_locked,
       "repo locked by #12"},
      {"locked by a record whose issue is not listed",
       {.repo = repo(), .issues = {issue(5, {"ready-for-agent"})}, .in_flight = {31}},
       WaitReason::repo_locked,
       "repo locked by #31"},
      {"default branch red",
       {.repo = repo(),
        .issues = {issue(5, {"ready-for-agent"})},
        .default_branch = afk::Verdict::red},
       WaitReason::default_branch_red,
       "default branch red"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    const auto decision = afk::decide_dispatch(row.snapshot, {}, afk::DispatchRules{});
    EXPECT_FALSE(decision.chosen);
    EXPECT_FALSE(decision.needs_evidence);
    EXPECT_EQ(verdict_of(decision, 5).reason, row.reason);
    EXPECT_EQ(verdict_of(decision, 5).detail, row.detail);
  }
}

TEST(Policy, pending_or_unknown_default_branch_does_not_block) {
  for (auto v : {afk::Verdict::pending, afk::Verdict::unknown, afk::Verdict::green}) {
    RepoSnapshot snapshot{
        .repo = repo(), .issues = {issue(5, {"ready-for-agent"})}, .default_branch = v};
    const auto decision = afk::decide_dispatch(snapshot, {{ref(5), trusted()}}, {});
    ASSERT_TRUE(decision.chosen) << afk::to_string(v);
  }
}

TEST(Policy, labels_decide_who_is_a_candidate) {
  RepoSnapshot snapshot{.repo = repo(),
                        .issues = {issue(1, {"ready-for-human"}),
                                   issue(2, {"ready-for-agent", "ready-for-human"}),
                                   issue(3, {"afk-frozen"}), issue(4, {"Ready-For-Agent"}),
                                   issue(6, {"agent-in-progress", "ready-for-agent"})}};
  // #6 holds the lock, so #4 (the only candidate) waits on it.
  const auto decision = afk::decide_dispatch(snapshot, {}, afk::DispatchRules{});
  EXPECT_EQ(verdict_of(decision, 1).reason, WaitReason::awaiting_human);
  EXPECT_EQ(verdict_of(decision, 2).reason, WaitReason::awaiting_human);
  EXPECT_EQ(verdict_of(decision, 3).reason, WaitReason::not_ready);
  EXPECT_EQ(verdict_of(decision, 4).reason, WaitReason::repo_locked);
  EXPECT_EQ(verdict_of(decision, 6).reason, WaitReason::in_flight);
}

TEST(Policy, custom_label_names_are_honoured) {
  afk::DispatchRules rules;
  rules.labels.ready = "afk:go";
  rules.labels.priority_prefix = "p";
  RepoSnapshot snapshot{.repo = repo(),
                        .issues = {issue(1, {"ready-for-agent"}, 1), issue(2, {"afk:go"}, 3),
                                   issue(3, {"afk:go", "p0"}, 4)}};
  const auto decision = afk::decide_dispatch(snapshot, {}, rules);
  ASSERT_TRUE(decision.needs_evidence);
  EXPECT_EQ(decision.needs_evidence->number, 3);
  EXPECT_EQ(verdict_of(decision, 1).reason, WaitReason::not_ready);
}

TEST(Policy, disarmed_explains_every_issue_and_asks_for_nothing) {
  afk::DispatchRules rules;
  rules.disarmed_reason = "kill switch on";
  RepoSnapshot snapshot{.repo = repo(), .issues = {issue(1, {"ready-for-agent"})}};
  const auto decision = afk::decide_dispatch(snapshot, {{ref(1), trusted()}}, rules);
  EXPECT_FALSE(decision.chosen);
  EXPECT_FALSE(decision.needs_evidence);
  EXPECT_EQ(verdict_of(decision, 1).reason, WaitReason::disarmed);
  EXPECT_EQ(verdict_of(decision, 1).detail, "kill switch on");
}

TEST(Policy, trust_gate) {
  struct Row {
    const char* name;
    LabelerEvidence labeler;
    Permission required;
    std::string detail; // "" = trusted
  };
  using Actor = LabelerEvidence::Actor;
  const std::vector<Row> rows{
      {"writer",
       {.login = "alice", .actor = Actor::human, .permission = Permission::write},
       Permission::write,
       ""},
      {"admin",
       {.login = "alice", .actor = Actor::human, .permission = Permission::admin},
       Permission::maintain,
       ""},
      {"reader",
       {.login = "bob", .actor = Actor::human, .permission = Permission::read},
       Permission::write,
       "@bob has read permission; write or more is needed"},
      {"triager",
       {.login = "bob", .actor = Actor::human, .permission = Permission::triage},
       Permission::write,
       "@bob has triage permission; write or more is needed"},
      {"writer below maintain",
       {.login = "bob", .actor = Actor::human, .permission = Permission::write},
       Permission::maintain,
       "@bob has write permission; maintain or more is needed"},
      {"lost access",
       {.login = "carol", .actor = Actor::human, .permission = Permission::none},
       Permission::write,
       "@carol has none permission; write or more is needed"},
      {"bot",
       {.login = "dependabot[bot]", .actor = Actor::bot, .permission = Permission::admin},
       Permission::write,
       "ready-for-agent applied by bot @dependabot[bot]"},
      {"app",
       {.login = "some-app", .actor = Actor::app, .permission = Permission::admin},
       Permission::write,
       "ready-for-agent applied by an app (@some-app)"},
      {"no label event",
       {.login = std::nullopt},
       Permission::write,
       "no record of who applied ready-for-agent"},
      {"permission unreadable",
       {.login = "dave", .actor = Actor::human},
       Permission::write,
       "cannot read the permission of @dave"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    afk::DispatchRules rules;
    rules.trusted_permission = row.required;
    const auto verdict = afk::judge_candidate(ref(1), {.labeler = row.labeler}, rules);
    if (row.detail.empty()) {
      EXPECT_FALSE(verdict);
    } else {
      ASSERT_TRUE(verdict);
      EXPECT_EQ(verdict->reason, WaitReason::untrusted_labeler);
      EXPECT_EQ(verdict->detail, row.detail);
    }
  }
}

TEST(Policy, blockers_open_or_unreadable_block_and_closed_ones_do_not) {
  using State = BlockerEvidence::State;
  const auto verdict =
      afk::judge_candidate(ref(9),
                           trusted({{.ref = ref(3), .state = State::closed},
                                    {.ref = ref(4), .state = State::open},
                                    {.ref = ref(7, "acme/api"), .state = State::unknown}}),
                           afk::DispatchRules{});
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->reason, WaitReason::blocked);
  EXPECT_EQ(verdict->detail, "blocked by #4, acme/api#7 (cannot be read)");

  EXPECT_FALSE(afk::judge_candidate(ref(9), trusted({{.ref = ref(3), .state = State::closed}}),
                                    afk::DispatchRules{}));
}

TEST(Policy, a_blocked_issue_runs_once_its_blocker_closes) {
  RepoSnapshot snapshot{
      .repo = repo(),
      .issues = {issue(2, {"ready-for-agent", "priority:1"}), issue(3, {"ready-for-agent"})}};
  std::map<IssueRef, CandidateEvidence> world{
      {ref(2), trusted({{.ref = ref(1), .state = BlockerEvidence::State::open}})},
      {ref(3), trusted()}};
  std::vector<std::int64_t> asked;
  auto decision = decide_fully(snapshot, world, afk::DispatchRules{}, &asked);
  ASSERT_TRUE(decision.chosen);
  EXPECT_EQ(decision.chosen->number, 3);
  EXPECT_EQ(verdict_of(decision, 2).reason, WaitReason::blocked);

  world[ref(2)].blockers[0].state = BlockerEvidence::State::closed;
  asked.clear();
  decision = decide_fully(snapshot, world, afk::DispatchRules{}, &asked);
  ASSERT_TRUE(decision.chosen);
  EXPECT_EQ(decision.chosen->number, 2);
  EXPECT_EQ(asked, (std::vector<std::int64_t>{2}));
}

TEST(Policy, every_issue_gets_exactly_one_verdict_in_priority_order) {
  RepoSnapshot snapshot{.repo = repo(),
                        .issues = {issue(1, {"ready-for-agent"}, 3), issue(2, {"x"}, 2),
                                   issue(3, {"ready-for-agent", "priority:0"}, 9)}};
  const auto decision = afk::decide_dispatch(snapshot, {}, afk::DispatchRules{});
  ASSERT_EQ(decision.verdicts.size(), 3U);
  EXPECT_EQ(decision.verdicts[0].issue.number, 3);
  EXPECT_EQ(decision.verdicts[1].issue.number, 2);
  EXPECT_EQ(decision.verdicts[2].issue.number, 1);
}

TEST(Policy, wait_reasons_have_stable_names) {
  EXPECT_EQ(afk::to_string(WaitReason::untrusted_labeler), "untrusted_labeler");
  EXPECT_EQ(afk::to_string(WaitReason::default_branch_red), "default_branch_red");
  EXPECT_EQ(afk::to_string(WaitReason::not_checked), "not_checked");
}

TEST(Policy, a_label_applied_by_afks_own_account_is_not_trusted) {
  afk::DispatchRules rules;
  rules.self_login = "afk-bot";
  const auto verdict = afk::judge_candidate(ref(1),
                                            {.labeler = {.login = "AFK-Bot",
                                                         .actor = LabelerEvidence::Actor::human,
                                                         .permission = Permission::admin}},
                                            rules);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->reason, WaitReason::untrusted_labeler);
  EXPECT_EQ(verdict->detail, "ready-for-agent applied by afk's own account @AFK-Bot");
}

TEST(Policy, an_unreadable_blocked_by_clause_blocks) {
  auto evidence = trusted({{.ref = ref(4), .state = BlockerEvidence::State::closed}});
  evidence.unreadable_blockers = {"the database migration"};
  const auto verdict = afk::judge_candidate(ref(9), evidence, afk::DispatchRules{});
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->reason, WaitReason::blocked);
  EXPECT_EQ(verdict->detail,
            "blocked by an unreadable \"Blocked by\" clause (\"the database migration\")");
}
