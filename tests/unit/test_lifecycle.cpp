// SPDX-License-Identifier: MIT
//
// Table-driven tests for afk::advance_run, the pure run lifecycle. Each row is a starting
// record, the evidence of one tick and the limits; it expects the next phase, the exact
// actions and the record fields that matter. Every step also goes through a set of
// invariants (updated_at, spend bookkeeping, terminal phases, close_issue only on green).

#include <afk/ids.hpp>
#include <afk/lifecycle.hpp>
#include <afk/run.hpp>
#include <afk/run_record.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace afk {
// Readable enum values in failure messages (found by ADL).
void PrintTo(Phase phase, std::ostream* os) {
  *os << to_string(phase);
}
void PrintTo(RunAction action, std::ostream* os) {
  *os << to_string(action);
}
void PrintTo(AgentState state, std::ostream* os) {
  *os << to_string(state);
}
void PrintTo(Verdict verdict, std::ostream* os) {
  *os << to_string(verdict);
}
void PrintTo(const RunRecord& record, std::ostream* os) {
  *os << encode_run_record(record);
}
} // namespace afk

namespace {

using namespace std::chrono_literals;
using afk::AgentState;
using afk::HumanPolicy;
using afk::Phase;
using afk::RunAction;
using afk::Seconds;
using afk::StageKind;
using afk::Verdict;
using Actions = std::vector<RunAction>;
using Strings = std::vector<std::string>;
using Offset = std::optional<Seconds>;

const std::string k_sha1 = "1111111111111111111111111111111111111111";
const std::string k_sha2 = "2222222222222222222222222222222222222222";
const std::string k_sha3 = "3333333333333333333333333333333333333333";

// ---------------------------------------------------------------------------------------
// Building records and evidence. Every time in a row is an offset from the claim.

afk::Timestamp at(Seconds offset) {
  return afk::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 24}} + offset;
}

std::optional<afk::Timestamp> when(const Offset& offset) {
  if (!offset) {
    return std::nullopt;
  }
  return at(*offset);
}

std::string describe(const std::optional<afk::Timestamp>& t) {
  if (!t) {
    return "unset";
  }
  const Seconds offset = *t - at(0s);
  return offset < 0s ? "-" + afk::format_duration(-offset) : "+" + afk::format_duration(offset);
}

afk::IssueRef issue_42() {
  return afk::IssueRef{.repo = afk::RepoName::parse("Acme/Widgets").value(), .number = 42};
}

/// The part of a RunRecord a row sets up (same order as RunRecord).
struct Start {
  Phase phase = Phase::claimed;
  Offset dispatched_at{};
  Offset working_since{};
  Offset first_push_at{};
  Offset last_push_at{};
  Offset first_red_at{};
  Offset healthy_since{};
  Seconds updated_at = 0s;
  Strings pushed_shas{};
  std::vector<afk::StageVerdict> verdicts{};
  int fix_attempts = 0;
  int turns = 0;
  std::string last_turn_id{};
  bool turn_seen = false;
  Offset fix_turn_sent_at{};
  Strings answered_requests{};
  std::string outcome{};
};

afk::RunRecord make_record(const Start& s) {
  const afk::IssueRef ref = issue_42();
  return afk::RunRecord{
      .run_id = afk::derive_run_id(ref, 1),
      .issue = ref,
      .attempt = 1,
      .phase = s.phase,
      .project_id = afk::derive_project_id(ref.repo),
      .thread_id = afk::derive_thread_id(ref, 1),
      .branch = "afk/42-add-widgets",
      .worktree_path = "/var/lib/afk/worktrees/acme/widgets/afk-42-add-widgets",
      .base_sha = "0000000000000000000000000000000000000000",
      .claimed_at = at(0s),
      .dispatched_at = when(s.dispatched_at),
      .working_since = when(s.working_since),
      .first_push_at = when(s.first_push_at),
      .last_push_at = when(s.last_push_at),
      .first_red_at = when(s.first_red_at),
      .healthy_since = when(s.healthy_since),
      .updated_at = at(s.updated_at),
      .pushed_shas = s.pushed_shas,
      .verdicts = s.verdicts,
      .fix_attempts = s.fix_attempts,
      .turns = s.turns,
      .last_turn_id = s.last_turn_id,
      .turn_seen = s.turn_seen,
      .fix_turn_sent_at = when(s.fix_turn_sent_at),
      .answered_requests = s.answered_requests,
      .lease_holder = "afk-tick-7f3a",
      .lease_expires = std::nullopt,
      .outcome = s.outcome,
  };
}

afk::StageVerdict stage(std::string name, StageKind kind, Verdict verdict) {
  std::string detail = verdict == Verdict::red ? "test_widgets failed" : "";
  return afk::StageVerdict{.stage = std::move(name),
                           .kind = kind,
                           .verdict = verdict,
                           .detail = std::move(detail),
                           .url = "https://ci.example/run/1"};
}
afk::StageVerdict ci_stage(Verdict verdict) {
  return stage("github_checks", StageKind::ci, verdict);
}
afk::StageVerdict deploy_stage(Verdict verdict) {
  return stage("kubernetes", StageKind::deploy, verdict);
}

afk::ShaVerdict sha_verdict(const std::string& sha, Verdict verdict,
                            std::vector<afk::StageVerdict> stages) {
  return afk::ShaVerdict{.sha = sha, .verdict = verdict, .stages = std::move(stages)};
}
afk::ShaVerdict green_for(const std::string& sha) {
  return sha_verdict(sha, Verdict::green, {ci_stage(Verdict::green), deploy_stage(Verdict::green)});
}
afk::ShaVerdict red_for(const std::string& sha) {
  return sha_verdict(sha, Verdict::red, {ci_stage(Verdict::red), deploy_stage(Verdict::pending)});
}
afk::ShaVerdict rollout_failed_for(const std::string& sha) {
  return sha_verdict(sha, Verdict::red, {ci_stage(Verdict::green), deploy_stage(Verdict::red)});
}
afk::ShaVerdict ci_pending_for(const std::string& sha) {
  return sha_verdict(sha, Verdict::pending,
                     {ci_stage(Verdict::pending), deploy_stage(Verdict::pending)});
}
afk::ShaVerdict deploying_for(const std::string& sha) {
  return sha_verdict(sha, Verdict::pending,
                     {ci_stage(Verdict::green), deploy_stage(Verdict::pending)});
}
afk::ShaVerdict unknown_for(const std::string& sha) {
  return sha_verdict(sha, Verdict::unknown,
                     {ci_stage(Verdict::unknown), deploy_stage(Verdict::pending)});
}

afk::PendingRequest approval(std::string id) {
  return afk::PendingRequest{
      .id = std::move(id), .kind = afk::PendingRequest::Kind::approval, .questions = {}};
}
afk::PendingRequest question(std::string id) {
  return afk::PendingRequest{.id = std::move(id),
                             .kind = afk::PendingRequest::Kind::user_input,
                             .questions = {"Which database should the widget cache use?"}};
}

/// One tick's evidence. `pushed` defaults to "read, nothing pushed"; nullopt means the
/// default branch could not be read.
struct Ev {
  Seconds now = 0s;
  AgentState agent = AgentState::unknown;
  std::string turn_id{};
  Offset last_activity{};
  std::vector<afk::PendingRequest> pending{};
  std::string error{};
  std::optional<Strings> pushed = Strings{};
  std::optional<afk::ShaVerdict> verdict{};
};

afk::RunEvidence make_evidence(const Ev& e) {
  return afk::RunEvidence{
      .now = at(e.now),
      .agent = afk::AgentEvidence{.state = e.agent,
                                  .turn_id = e.turn_id,
                                  .last_activity = when(e.last_activity),
                                  .pending = e.pending,
                                  .error = e.error},
      .pushed_shas = e.pushed,
      .verdict = e.verdict,
  };
}

// ---------------------------------------------------------------------------------------
// Expectations.

/// An expected optional timestamp: not checked (default), unset, or at an offset.
struct When {
  bool checked = false;
  Offset offset{};
};
const When k_unset{.checked = true, .offset = std::nullopt};
When set_at(Seconds offset) {
  return When{.checked = true, .offset = offset};
}

/// What a row expects. `actions` and `to_answer` are always compared exactly; optional
/// fields and empty strings are not checked.
struct Expect {
  std::optional<Phase> phase{};
  Actions actions{};
  Strings to_answer{}; ///< ids of the requests to answer
  std::optional<int> turns{};
  std::optional<int> fix_attempts{};
  When dispatched_at{};
  When working_since{};
  When first_push_at{};
  When last_push_at{};
  When first_red_at{};
  When healthy_since{};
  When fix_turn_sent_at{};
  std::optional<Strings> pushed_shas{};
  std::optional<std::vector<afk::StageVerdict>> verdicts{};
  std::optional<std::string> last_turn_id{};
  std::optional<bool> turn_seen{};
  std::optional<Strings> answered_requests{};
  std::string outcome{};  ///< substring of record.outcome
  std::string reason{};   ///< substring of step.reason
  bool unchanged = false; ///< the record comes back exactly as it went in
};

struct Row {
  std::string name{};
  Start start{};
  Ev ev{};
  afk::LifecycleLimits limits{};
  Expect expect{};
};

int count(const Actions& actions, RunAction action) {
  return static_cast<int>(std::count(actions.begin(), actions.end(), action));
}

bool has(const Actions& actions, RunAction action) {
  return count(actions, action) > 0;
}

/// Properties every step must have, whatever the input.
void expect_invariants(const afk::RunRecord& before, const afk::RunEvidence& evidence,
                       const afk::RunStep& step) {
  const afk::RunRecord& after = step.record;
  const Actions& actions = step.actions;

  if (afk::is_terminal(before.phase)) {
    EXPECT_EQ(after, before) << "a terminal record must come back unchanged";
    EXPECT_TRUE(actions.empty()) << "a terminal record must produce no actions";
    EXPECT_TRUE(step.to_answer.empty());
    return;
  }

  // updated_at moves to now exactly when something else in the record changed.
  afk::RunRecord without_stamp = after;
  without_stamp.updated_at = before.updated_at;
  if (without_stamp != before) {
    EXPECT_EQ(describe(after.updated_at), describe(evidence.now)) << "record changed";
    EXPECT_TRUE(step.changed_from(before));
  } else {
    EXPECT_EQ(describe(after.updated_at), describe(before.updated_at)) << "record unchanged";
    EXPECT_FALSE(step.changed_from(before));
  }

  // Each action at most once; an interrupt comes first.
  for (const RunAction action :
       {RunAction::dispatch, RunAction::start_fix_turn, RunAction::answer_pending,
        RunAction::interrupt, RunAction::close_issue, RunAction::escalate, RunAction::freeze}) {
    EXPECT_LE(count(actions, action), 1) << afk::to_string(action);
  }
  if (has(actions, RunAction::interrupt)) {
    EXPECT_EQ(actions.front(), RunAction::interrupt);
    // An interrupt always comes with a reason to stop the agent.
    EXPECT_TRUE(has(actions, RunAction::escalate) || has(actions, RunAction::freeze) ||
                has(actions, RunAction::close_issue) || has(actions, RunAction::start_fix_turn) ||
                (before.phase == Phase::fixing && after.phase == Phase::healthy))
        << "interrupt without escalate/freeze/close/fix or a recovered fix";
  }

  // Terminal actions and terminal phases go together.
  EXPECT_EQ(has(actions, RunAction::escalate), after.phase == Phase::escalated);
  EXPECT_EQ(has(actions, RunAction::freeze), after.phase == Phase::frozen);
  EXPECT_EQ(has(actions, RunAction::close_issue), after.phase == Phase::done);
  EXPECT_LE(count(actions, RunAction::escalate) + count(actions, RunAction::freeze) +
                count(actions, RunAction::close_issue),
            1);
  if (afk::is_terminal(after.phase)) {
    EXPECT_FALSE(after.outcome.empty()) << "a terminal record says why";
  }

  // close_issue only on a green verdict for the newest pushed SHA.
  if (has(actions, RunAction::close_issue)) {
    ASSERT_TRUE(evidence.verdict.has_value());
    EXPECT_EQ(evidence.verdict->verdict, Verdict::green);
    ASSERT_FALSE(after.pushed_shas.empty());
    EXPECT_EQ(evidence.verdict->sha, after.pushed_shas.back());
  }

  // Spend bookkeeping follows the actions.
  EXPECT_EQ(after.turns - before.turns,
            count(actions, RunAction::dispatch) + count(actions, RunAction::start_fix_turn));
  EXPECT_EQ(after.fix_attempts - before.fix_attempts, count(actions, RunAction::start_fix_turn));
  EXPECT_EQ(!step.to_answer.empty(), has(actions, RunAction::answer_pending));

  // Pushed SHAs are only ever appended to.
  ASSERT_LE(before.pushed_shas.size(), after.pushed_shas.size());
  EXPECT_TRUE(
      std::equal(before.pushed_shas.begin(), before.pushed_shas.end(), after.pushed_shas.begin()))
      << "pushed SHAs must keep their order";
  EXPECT_LE(before.answered_requests.size(), after.answered_requests.size());
}

void expect_time(const char* field, const std::optional<afk::Timestamp>& actual, const When& want) {
  if (want.checked) {
    EXPECT_EQ(describe(actual), describe(when(want.offset))) << field;
  }
}

void expect_matches(const afk::RunRecord& before, const afk::RunStep& step, const Expect& want) {
  const afk::RunRecord& after = step.record;
  if (want.phase) {
    EXPECT_EQ(after.phase, *want.phase) << "reason: " << step.reason;
  }
  EXPECT_EQ(step.actions, want.actions) << "reason: " << step.reason;
  Strings answered;
  for (const auto& request : step.to_answer) {
    answered.push_back(request.id);
  }
  EXPECT_EQ(answered, want.to_answer);
  if (want.turns) {
    EXPECT_EQ(after.turns, *want.turns);
  }
  if (want.fix_attempts) {
    EXPECT_EQ(after.fix_attempts, *want.fix_attempts);
  }
  expect_time("dispatched_at", after.dispatched_at, want.dispatched_at);
  expect_time("working_since", after.working_since, want.working_since);
  expect_time("first_push_at", after.first_push_at, want.first_push_at);
  expect_time("last_push_at", after.last_push_at, want.last_push_at);
  expect_time("first_red_at", after.first_red_at, want.first_red_at);
  expect_time("healthy_since", after.healthy_since, want.healthy_since);
  expect_time("fix_turn_sent_at", after.fix_turn_sent_at, want.fix_turn_sent_at);
  if (want.pushed_shas) {
    EXPECT_EQ(after.pushed_shas, *want.pushed_shas);
  }
  if (want.verdicts) {
    EXPECT_EQ(after.verdicts, *want.verdicts);
  }
  if (want.last_turn_id) {
    EXPECT_EQ(after.last_turn_id, *want.last_turn_id);
  }
  if (want.turn_seen) {
    EXPECT_EQ(after.turn_seen, *want.turn_seen);
  }
  if (want.answered_requests) {
    EXPECT_EQ(after.answered_requests, *want.answered_requests);
  }
  if (!want.outcome.empty()) {
    EXPECT_NE(after.outcome.find(want.outcome), std::string::npos)
        << "outcome: \"" << after.outcome << "\", want it to contain \"" << want.outcome << "\"";
  }
  if (!want.reason.empty()) {
    EXPECT_NE(step.reason.find(want.reason), std::string::npos)
        << "reason: \"" << step.reason << "\", want it to contain \"" << want.reason << "\"";
  }
  if (want.unchanged) {
    EXPECT_EQ(after, before) << "record should be unchanged";
  }
}

/// Advances `before` by one tick and checks the invariants.
afk::RunStep advance(const afk::RunRecord& before, const Ev& ev,
                     const afk::LifecycleLimits& limits) {
  const afk::RunEvidence evidence = make_evidence(ev);
  afk::RunStep step = afk::advance_run(before, evidence, limits);
  expect_invariants(before, evidence, step);
  return step;
}

void check(const Row& row) {
  SCOPED_TRACE(row.name);
  const afk::RunRecord before = make_record(row.start);
  const afk::RunStep step = advance(before, row.ev, row.limits);
  expect_matches(before, step, row.expect);
}

void check_all(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    check(row);
  }
}

// Common starting points, spelled out in full where rows need a variation.

/// Turn sent at 0s, agent not seen yet.
const Start k_dispatched{.phase = Phase::dispatched, .dispatched_at = 0s, .turns = 1};

/// Agent seen busy on t1 since 2m.
const Start k_working{.phase = Phase::working,
                      .dispatched_at = 0s,
                      .working_since = 2min,
                      .turns = 1,
                      .last_turn_id = "t1",
                      .turn_seen = true};

/// k_sha1 pushed at 40m, CI running.
const Start k_ci{.phase = Phase::ci,
                 .dispatched_at = 0s,
                 .working_since = 2min,
                 .first_push_at = 40min,
                 .last_push_at = 40min,
                 .pushed_shas = {k_sha1},
                 .verdicts = {ci_stage(Verdict::pending), deploy_stage(Verdict::pending)},
                 .turns = 1,
                 .last_turn_id = "t1",
                 .turn_seen = true};

/// k_sha1 went red at 50m; fix turn sent at 50m, the agent not seen on it yet (T3 still
/// shows the previous turn t1).
const Start k_fixing{.phase = Phase::fixing,
                     .dispatched_at = 0s,
                     .working_since = 2min,
                     .first_push_at = 40min,
                     .last_push_at = 40min,
                     .first_red_at = 50min,
                     .pushed_shas = {k_sha1},
                     .verdicts = {ci_stage(Verdict::red), deploy_stage(Verdict::pending)},
                     .fix_attempts = 1,
                     .turns = 2,
                     .last_turn_id = "t1",
                     .turn_seen = false,
                     .fix_turn_sent_at = 50min};

/// Like k_fixing, the agent seen busy on the fix turn t2.
Start fixing_seen() {
  Start s = k_fixing;
  s.last_turn_id = "t2";
  s.turn_seen = true;
  return s;
}

// ---------------------------------------------------------------------------------------
// Terminal phases

TEST(Lifecycle, terminal_phases_come_back_unchanged_with_no_actions) {
  const std::vector<Ev> evidence = {
      Ev{.now = 1min},
      Ev{.now = 3h, .agent = AgentState::busy, .turn_id = "t9", .last_activity = 0s},
      Ev{.now = 5min, .agent = AgentState::idle, .turn_id = "t9", .pushed = Strings{k_sha3}},
      Ev{.now = 5min,
         .agent = AgentState::waiting_on_human,
         .turn_id = "t9",
         .pending = {approval("a9")}},
      Ev{.now = 24h, .agent = AgentState::failed, .error = "boom", .pushed = std::nullopt},
      Ev{.now = 24h, .pushed = Strings{k_sha1}, .verdict = green_for(k_sha1)},
      Ev{.now = 24h, .pushed = Strings{k_sha1}, .verdict = red_for(k_sha1)},
  };
  for (const Phase phase : {Phase::done, Phase::escalated, Phase::frozen}) {
    for (std::size_t i = 0; i < evidence.size(); ++i) {
      for (const HumanPolicy policy : {HumanPolicy::escalate, HumanPolicy::proceed}) {
        check(Row{
            .name = std::string(afk::to_string(phase)) + " / evidence " + std::to_string(i) +
                    " / " + std::string(afk::to_string(policy)),
            .start = Start{.phase = phase,
                           .dispatched_at = 0s,
                           .first_push_at = 40min,
                           .last_push_at = 40min,
                           .first_red_at = 50min,
                           .updated_at = 90min,
                           .pushed_shas = {k_sha1},
                           .fix_attempts = 1,
                           .turns = 2,
                           .last_turn_id = "t1",
                           .outcome = "already decided"},
            .ev = evidence[i],
            .limits = {.healthy_for = 0s, .on_waiting_human = policy},
            .expect =
                {.phase = phase, .actions = {}, .outcome = "already decided", .unchanged = true},
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Claim and dispatch

TEST(Lifecycle, claimed_run_is_dispatched) {
  check_all({
      {.name = "nothing known yet",
       .start = {.phase = Phase::claimed},
       .ev = {.now = 1min, .pushed = std::nullopt},
       .expect = {.phase = Phase::dispatched,
                  .actions = {RunAction::dispatch},
                  .turns = 1,
                  .fix_attempts = 0,
                  .dispatched_at = set_at(1min),
                  .working_since = k_unset,
                  .turn_seen = false}},
      {.name = "agent not visible, nothing pushed",
       .start = {.phase = Phase::claimed},
       .ev = {.now = 2min, .agent = AgentState::not_visible},
       .expect = {.phase = Phase::dispatched,
                  .actions = {RunAction::dispatch},
                  .turns = 1,
                  .dispatched_at = set_at(2min),
                  .turn_seen = false}},
      {.name = "agent state unknown",
       .start = {.phase = Phase::claimed},
       .ev = {.now = 0s, .agent = AgentState::unknown},
       .expect = {.phase = Phase::dispatched,
                  .actions = {RunAction::dispatch},
                  .turns = 1,
                  .dispatched_at = set_at(0s)}},
  });
}

// ---------------------------------------------------------------------------------------
// Before the first push

TEST(Lifecycle, dispatched_agent_not_seen_waits_until_the_start_timeout) {
  Start stale = k_dispatched;
  stale.last_turn_id = "t-old"; // the turn before afk's request, still shown by T3
  check_all({
      {.name = "not visible within start_timeout",
       .start = k_dispatched,
       .ev = {.now = 9min + 59s, .agent = AgentState::not_visible},
       .expect = {.phase = Phase::dispatched, .actions = {}, .unchanged = true}},
      {.name = "not visible at start_timeout",
       .start = k_dispatched,
       .ev = {.now = 10min, .agent = AgentState::not_visible},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "did not start within 10m"}},
      {.name = "not visible with a custom start_timeout",
       .start = k_dispatched,
       .ev = {.now = 45s, .agent = AgentState::not_visible},
       .limits = {.start_timeout = 45s},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "did not start within 45s"}},
      {.name = "stale idle turn reads as not visible",
       .start = stale,
       .ev = {.now = 5min, .agent = AgentState::idle, .turn_id = "t-old"},
       .expect = {.phase = Phase::dispatched,
                  .actions = {},
                  .last_turn_id = "t-old",
                  .turn_seen = false,
                  .unchanged = true}},
      {.name = "stale busy turn does not mark the run working",
       .start = stale,
       .ev = {.now = 5min, .agent = AgentState::busy, .turn_id = "t-old", .last_activity = 5min},
       .expect = {.phase = Phase::dispatched,
                  .actions = {},
                  .working_since = k_unset,
                  .unchanged = true}},
      {.name = "stale failed turn is not news",
       .start = stale,
       .ev = {.now = 5min, .agent = AgentState::failed, .turn_id = "t-old", .error = "old error"},
       .expect = {.phase = Phase::dispatched, .actions = {}, .unchanged = true}},
      {.name = "stale turn at start_timeout escalates without interrupt",
       .start = stale,
       .ev = {.now = 10min, .agent = AgentState::busy, .turn_id = "t-old", .last_activity = 10min},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "did not start"}},
      {.name = "a fresh turn id after a stale one is seen",
       .start = stale,
       .ev = {.now = 5min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 5min},
       .expect = {.phase = Phase::working,
                  .actions = {},
                  .working_since = set_at(5min),
                  .last_turn_id = "t1",
                  .turn_seen = true}},
  });
}

TEST(Lifecycle, busy_agent_marks_the_run_working) {
  check_all({
      {.name = "dispatched, first seen busy",
       .start = k_dispatched,
       .ev = {.now = 2min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 2min},
       .expect = {.phase = Phase::working,
                  .actions = {},
                  .turns = 1,
                  .working_since = set_at(2min),
                  .last_turn_id = "t1",
                  .turn_seen = true}},
      {.name = "dispatched, busy without any activity timestamp",
       .start = k_dispatched,
       .ev = {.now = 3min, .agent = AgentState::busy, .turn_id = "t1"},
       .expect = {.phase = Phase::working, .actions = {}, .working_since = set_at(3min)}},
      {.name = "already working keeps working_since",
       .start = k_working,
       .ev = {.now = 30min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 29min},
       .expect = {.phase = Phase::working,
                  .actions = {},
                  .working_since = set_at(2min),
                  .unchanged = true}},
  });
}

TEST(Lifecycle, stalled_agent_is_interrupted_and_escalated) {
  check_all({
      {.name = "no activity for exactly stall_timeout",
       .start = k_working,
       .ev = {.now = 30min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 10min},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::interrupt, RunAction::escalate},
                  .outcome = "stalled"}},
      {.name = "just under stall_timeout",
       .start = k_working,
       .ev =
           {.now = 29min + 59s, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 10min},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "first seen busy but already stalled",
       .start = k_dispatched,
       .ev = {.now = 25min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 1min},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::interrupt, RunAction::escalate},
                  .outcome = "stalled"}},
      {.name = "custom stall_timeout",
       .start = k_working,
       .ev = {.now = 11min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 10min},
       .limits = {.stall_timeout = 1min},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::interrupt, RunAction::escalate},
                  .outcome = "stalled"}},
  });
}

TEST(Lifecycle, agent_that_stops_without_pushing_is_escalated) {
  check_all({
      {.name = "idle: turn finished without a push",
       .start = k_working,
       .ev = {.now = 30min, .agent = AgentState::idle, .turn_id = "t1"},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "finished its turn without pushing"}},
      {.name = "idle on a fresh turn never seen busy",
       .start = k_dispatched,
       .ev = {.now = 3min, .agent = AgentState::idle, .turn_id = "t1"},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "without pushing"}},
      {.name = "failed with an error",
       .start = k_working,
       .ev = {.now = 30min,
              .agent = AgentState::failed,
              .turn_id = "t1",
              .error = "provider rate limit exceeded"},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "provider rate limit exceeded"}},
      {.name = "failed to start: empty turn id",
       .start = k_dispatched,
       .ev = {.now = 1min,
              .agent = AgentState::failed,
              .turn_id = "",
              .error = "provider.turn.start.failed: codex not installed"},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "codex not installed"}},
      {.name = "failed without error text",
       .start = k_working,
       .ev = {.now = 30min, .agent = AgentState::failed, .turn_id = "t1"},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "agent failed"}},
      {.name = "interrupted",
       .start = k_working,
       .ev = {.now = 30min, .agent = AgentState::interrupted, .turn_id = "t1"},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "interrupted"}},
      {.name = "gone while working",
       .start = k_working,
       .ev = {.now = 30min, .agent = AgentState::gone},
       .expect = {.phase = Phase::escalated, .actions = {RunAction::escalate}, .outcome = "gone"}},
      {.name = "gone right after dispatch",
       .start = k_dispatched,
       .ev = {.now = 1min, .agent = AgentState::gone},
       .expect = {.phase = Phase::escalated, .actions = {RunAction::escalate}, .outcome = "gone"}},
  });
}

TEST(Lifecycle, unknown_agent_state_waits) {
  check_all({
      {.name = "dispatched, unknown",
       .start = k_dispatched,
       .ev = {.now = 5min, .agent = AgentState::unknown},
       .expect = {.phase = Phase::dispatched, .actions = {}, .unchanged = true}},
      {.name = "dispatched, unknown past start_timeout",
       .start = k_dispatched,
       .ev = {.now = 30min, .agent = AgentState::unknown, .turn_id = "t1"},
       .expect = {.phase = Phase::dispatched, .actions = {}}},
      {.name = "working, unknown just before the pre-push deadline",
       .start = k_working,
       .ev = {.now = 1h + 59min, .agent = AgentState::unknown},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "fixing, unknown",
       .start = k_fixing,
       .ev = {.now = 1h + 30min, .agent = AgentState::unknown, .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::fixing, .actions = {}, .unchanged = true}},
  });
}

TEST(Lifecycle, unreadable_default_branch_waits_even_past_deadlines) {
  check_all({
      {.name = "idle agent",
       .start = k_working,
       .ev = {.now = 30min, .agent = AgentState::idle, .turn_id = "t1", .pushed = std::nullopt},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "failed agent",
       .start = k_working,
       .ev = {.now = 30min, .agent = AgentState::failed, .turn_id = "t1", .pushed = std::nullopt},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "not visible past start_timeout",
       .start = k_dispatched,
       .ev = {.now = 1h, .agent = AgentState::not_visible, .pushed = std::nullopt},
       .expect = {.phase = Phase::dispatched, .actions = {}, .unchanged = true}},
      {.name = "stalled",
       .start = k_working,
       .ev = {.now = 1h,
              .agent = AgentState::busy,
              .turn_id = "t1",
              .last_activity = 5min,
              .pushed = std::nullopt},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "past the pre-push deadline",
       .start = k_working,
       .ev = {.now = 3h, .agent = AgentState::busy, .turn_id = "t1", .pushed = std::nullopt},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "past the time budget",
       .start = k_working,
       .ev = {.now = 7h, .agent = AgentState::idle, .turn_id = "t1", .pushed = std::nullopt},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "waiting on a human",
       .start = k_working,
       .ev = {.now = 30min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1")},
              .pushed = std::nullopt},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "fixing, fix turn finished (no next attempt without git)",
       .start = fixing_seen(),
       .ev = {.now = 1h, .agent = AgentState::idle, .turn_id = "t2", .pushed = std::nullopt},
       .expect = {.phase = Phase::fixing, .actions = {}, .fix_attempts = 1, .unchanged = true}},
  });
}

TEST(Lifecycle, pre_push_deadline_and_time_budget_escalate) {
  check_all({
      {.name = "busy at the pre-push deadline",
       .start = k_working,
       .ev = {.now = 2h, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 2h},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::interrupt, RunAction::escalate},
                  .outcome = "pre-push deadline of 2h"}},
      {.name = "busy just before the pre-push deadline",
       .start = k_working,
       .ev = {.now = 2h - 1s, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 2h - 1s},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "waiting on a human at the deadline is interrupted",
       .start = k_working,
       .ev = {.now = 2h,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1")}},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::interrupt, RunAction::escalate},
                  .outcome = "pre-push deadline"}},
      {.name = "not visible at the deadline: nothing to interrupt",
       .start = k_dispatched,
       .ev = {.now = 2h, .agent = AgentState::not_visible},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "pre-push deadline"}},
      {.name = "unknown agent at the deadline",
       .start = k_working,
       .ev = {.now = 2h, .agent = AgentState::unknown},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "pre-push deadline"}},
      {.name = "custom pre-push deadline",
       .start = k_working,
       .ev = {.now = 5min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 5min},
       .limits = {.pre_push_deadline = 5min},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::interrupt, RunAction::escalate},
                  .outcome = "pre-push deadline of 5m"}},
      {.name = "time budget used up before the pre-push deadline",
       .start = k_working,
       .ev = {.now = 1h, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 1h},
       .limits = {.budget_time = 1h},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::interrupt, RunAction::escalate},
                  .outcome = "run budget of 1h"}},
      {.name = "time budget with an idle agent",
       .start = k_working,
       .ev = {.now = 1h, .agent = AgentState::idle, .turn_id = "t1"},
       .limits = {.budget_time = 30min},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "run budget of 30m"}},
  });
}

TEST(Lifecycle, waiting_on_human_escalates_under_the_escalate_policy) {
  check_all({
      {.name = "one pending approval",
       .start = k_working,
       .ev = {.now = 30min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1")}},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .to_answer = {},
                  .outcome = "waiting on a human (1 pending request)"}},
      {.name = "two pending requests right after dispatch",
       .start = k_dispatched,
       .ev = {.now = 3min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1"), question("q1")}},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "2 pending requests"}},
      {.name = "only requests afk already answered",
       .start = {.phase = Phase::working,
                 .dispatched_at = 0s,
                 .working_since = 2min,
                 .turns = 1,
                 .last_turn_id = "t1",
                 .turn_seen = true,
                 .answered_requests = {"a1"}},
       .ev = {.now = 30min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1")}},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
  });
}

TEST(Lifecycle, waiting_on_human_is_answered_once_under_the_proceed_policy) {
  const afk::LifecycleLimits proceed{.on_waiting_human = HumanPolicy::proceed};
  Start answered_a1 = k_working;
  answered_a1.answered_requests = {"a1"};
  Start answered_both = k_working;
  answered_both.answered_requests = {"a1", "q2"};
  Start fixing_answered = fixing_seen();
  fixing_answered.answered_requests = {"a1"};
  check_all({
      {.name = "new approval and question",
       .start = k_working,
       .ev = {.now = 30min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1"), question("q2")}},
       .limits = proceed,
       .expect = {.phase = Phase::working,
                  .actions = {RunAction::answer_pending},
                  .to_answer = {"a1", "q2"},
                  .answered_requests = Strings{"a1", "q2"}}},
      {.name = "only the unanswered one",
       .start = answered_a1,
       .ev = {.now = 30min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1"), question("q2")}},
       .limits = proceed,
       .expect = {.phase = Phase::working,
                  .actions = {RunAction::answer_pending},
                  .to_answer = {"q2"},
                  .answered_requests = Strings{"a1", "q2"}}},
      {.name = "everything already answered",
       .start = answered_both,
       .ev = {.now = 31min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1"), question("q2")}},
       .limits = proceed,
       .expect = {.phase = Phase::working, .actions = {}, .to_answer = {}, .unchanged = true}},
      {.name = "right after dispatch: working and answered",
       .start = k_dispatched,
       .ev = {.now = 3min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {question("q1")}},
       .limits = proceed,
       .expect = {.phase = Phase::working,
                  .actions = {RunAction::answer_pending},
                  .to_answer = {"q1"},
                  .working_since = set_at(3min),
                  .answered_requests = Strings{"q1"}}},
      {.name = "while fixing",
       .start = fixing_answered,
       .ev = {.now = 55min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t2",
              .pending = {approval("a1"), approval("a2")},
              .pushed = Strings{k_sha1}},
       .limits = proceed,
       .expect = {.phase = Phase::fixing,
                  .actions = {RunAction::answer_pending},
                  .to_answer = {"a2"},
                  .answered_requests = Strings{"a1", "a2"}}},
  });
}

TEST(Lifecycle, second_tick_with_the_same_pending_request_answers_nothing) {
  const afk::LifecycleLimits proceed{.on_waiting_human = HumanPolicy::proceed};
  const Ev waiting{.now = 30min,
                   .agent = AgentState::waiting_on_human,
                   .turn_id = "t1",
                   .pending = {approval("a1")}};
  const afk::RunStep first = advance(make_record(k_working), waiting, proceed);
  EXPECT_EQ(first.actions, Actions{RunAction::answer_pending});
  ASSERT_EQ(first.to_answer.size(), 1U);
  EXPECT_EQ(first.to_answer.front(), approval("a1"));

  Ev later = waiting;
  later.now = 35min;
  const afk::RunStep second = advance(first.record, later, proceed);
  EXPECT_EQ(second.actions, Actions{});
  EXPECT_TRUE(second.to_answer.empty());
  EXPECT_EQ(second.record, first.record);
  EXPECT_EQ(second.record.answered_requests, Strings{"a1"});
}

// ---------------------------------------------------------------------------------------
// Push and verification

TEST(Lifecycle, push_is_detected_and_verification_starts) {
  Start fixing_pushed_before = fixing_seen();
  check_all({
      {.name = "from dispatched",
       .start = k_dispatched,
       .ev = {.now = 5min, .agent = AgentState::not_visible, .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::pushed,
                  .actions = {},
                  .first_push_at = set_at(5min),
                  .last_push_at = set_at(5min),
                  .pushed_shas = Strings{k_sha1}}},
      {.name = "from working, agent still busy (not interrupted)",
       .start = k_working,
       .ev = {.now = 40min,
              .agent = AgentState::busy,
              .turn_id = "t1",
              .last_activity = 40min,
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::pushed,
                  .actions = {},
                  .first_push_at = set_at(40min),
                  .last_push_at = set_at(40min),
                  .pushed_shas = Strings{k_sha1}}},
      {.name = "from working, agent idle: pushed, not escalated",
       .start = k_working,
       .ev = {.now = 40min, .agent = AgentState::idle, .turn_id = "t1", .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::pushed, .actions = {}, .pushed_shas = Strings{k_sha1}}},
      {.name = "from working, agent failed after pushing",
       .start = k_working,
       .ev = {.now = 40min,
              .agent = AgentState::failed,
              .turn_id = "t1",
              .error = "boom",
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::pushed, .actions = {}}},
      {.name = "from working past the pre-push deadline: the push wins",
       .start = k_working,
       .ev = {.now = 3h, .agent = AgentState::busy, .turn_id = "t1", .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::pushed, .actions = {}, .last_push_at = set_at(3h)}},
      {.name = "two commits at once, oldest first",
       .start = k_working,
       .ev = {.now = 40min,
              .agent = AgentState::idle,
              .turn_id = "t1",
              .pushed = Strings{k_sha1, k_sha2}},
       .expect = {.phase = Phase::pushed, .actions = {}, .pushed_shas = Strings{k_sha1, k_sha2}}},
      {.name = "from fixing",
       .start = fixing_pushed_before,
       .ev = {.now = 70min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 70min,
              .pushed = Strings{k_sha1, k_sha2}},
       .expect = {.phase = Phase::pushed,
                  .actions = {},
                  .fix_attempts = 1,
                  .first_push_at = set_at(40min),
                  .last_push_at = set_at(70min),
                  .first_red_at = set_at(50min),
                  .pushed_shas = Strings{k_sha1, k_sha2},
                  .verdicts = std::vector<afk::StageVerdict>{}}},
      {.name = "push and its pending verdict in one tick",
       .start = k_working,
       .ev = {.now = 40min,
              .agent = AgentState::idle,
              .turn_id = "t1",
              .pushed = Strings{k_sha1},
              .verdict = ci_pending_for(k_sha1)},
       .expect = {.phase = Phase::ci, .actions = {}, .verdicts = ci_pending_for(k_sha1).stages}},
  });
}

TEST(Lifecycle, newer_push_restarts_verification) {
  const Start healthy{.phase = Phase::healthy,
                      .dispatched_at = 0s,
                      .working_since = 2min,
                      .first_push_at = 40min,
                      .last_push_at = 40min,
                      .healthy_since = 50min,
                      .pushed_shas = {k_sha1},
                      .verdicts = green_for(k_sha1).stages,
                      .turns = 1,
                      .last_turn_id = "t1",
                      .turn_seen = true};
  Start deploying = k_ci;
  deploying.phase = Phase::deploying;
  deploying.verdicts = deploying_for(k_sha1).stages;
  check_all({
      {.name = "healthy, a newer SHA lands; old SHA's green is ignored",
       .start = healthy,
       .ev = {.now = 55min,
              .agent = AgentState::idle,
              .turn_id = "t1",
              .pushed = Strings{k_sha1, k_sha2},
              .verdict = green_for(k_sha1)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::pushed,
                  .actions = {},
                  .first_push_at = set_at(40min),
                  .last_push_at = set_at(55min),
                  .healthy_since = k_unset,
                  .pushed_shas = Strings{k_sha1, k_sha2},
                  .verdicts = std::vector<afk::StageVerdict>{}}},
      {.name = "ci, a newer SHA lands with its own pending verdict",
       .start = k_ci,
       .ev = {.now = 45min,
              .agent = AgentState::idle,
              .turn_id = "t1",
              .pushed = Strings{k_sha1, k_sha2},
              .verdict = ci_pending_for(k_sha2)},
       .expect = {.phase = Phase::ci,
                  .actions = {},
                  .last_push_at = set_at(45min),
                  .pushed_shas = Strings{k_sha1, k_sha2},
                  .verdicts = ci_pending_for(k_sha2).stages}},
      {.name = "deploying, a newer SHA lands without a verdict",
       .start = deploying,
       .ev = {.now = 45min,
              .agent = AgentState::idle,
              .turn_id = "t1",
              .pushed = Strings{k_sha1, k_sha2}},
       .expect = {.phase = Phase::pushed,
                  .actions = {},
                  .last_push_at = set_at(45min),
                  .verdicts = std::vector<afk::StageVerdict>{}}},
      {.name = "the verify deadline runs from the newest push",
       .start = k_ci,
       .ev = {.now = 2h + 30min, .pushed = Strings{k_sha1, k_sha2}},
       .expect = {.phase = Phase::pushed, .actions = {}, .last_push_at = set_at(2h + 30min)}},
      {.name = "known SHAs seen again are no new push",
       .start = k_ci,
       .ev = {.now = 45min, .pushed = Strings{k_sha1}, .verdict = ci_pending_for(k_sha1)},
       .expect = {.phase = Phase::ci,
                  .actions = {},
                  .last_push_at = set_at(40min),
                  .pushed_shas = Strings{k_sha1},
                  .unchanged = true}},
  });
}

TEST(Lifecycle, verdict_for_another_sha_is_ignored) {
  Start two = k_ci;
  two.pushed_shas = {k_sha1, k_sha2};
  check_all({
      {.name = "green for an older SHA",
       .start = two,
       .ev = {.now = 50min, .pushed = Strings{k_sha1, k_sha2}, .verdict = green_for(k_sha1)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::ci, .actions = {}, .healthy_since = k_unset, .unchanged = true}},
      {.name = "red for an older SHA",
       .start = two,
       .ev = {.now = 50min, .pushed = Strings{k_sha1, k_sha2}, .verdict = red_for(k_sha1)},
       .expect = {.phase = Phase::ci,
                  .actions = {},
                  .fix_attempts = 0,
                  .first_red_at = k_unset,
                  .unchanged = true}},
      {.name = "green for a SHA that is not the run's",
       .start = k_ci,
       .ev = {.now = 50min, .pushed = Strings{k_sha1}, .verdict = green_for(k_sha3)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::ci, .actions = {}, .unchanged = true}},
      {.name = "verdict with git unreadable still uses the recorded newest SHA",
       .start = k_ci,
       .ev = {.now = 50min, .pushed = std::nullopt, .verdict = deploying_for(k_sha1)},
       .expect = {.phase = Phase::deploying, .actions = {}}},
  });
}

TEST(Lifecycle, pending_verdict_tracks_ci_then_deploying) {
  Start pushed = k_ci;
  pushed.phase = Phase::pushed;
  pushed.verdicts = {};
  check_all({
      {.name = "pending ci stage",
       .start = pushed,
       .ev = {.now = 45min, .pushed = Strings{k_sha1}, .verdict = ci_pending_for(k_sha1)},
       .expect = {.phase = Phase::ci, .actions = {}, .verdicts = ci_pending_for(k_sha1).stages}},
      {.name = "green ci, pending deploy",
       .start = k_ci,
       .ev = {.now = 50min, .pushed = Strings{k_sha1}, .verdict = deploying_for(k_sha1)},
       .expect = {.phase = Phase::deploying,
                  .actions = {},
                  .verdicts = deploying_for(k_sha1).stages}},
      {.name = "straight from pushed to deploying",
       .start = pushed,
       .ev = {.now = 50min, .pushed = Strings{k_sha1}, .verdict = deploying_for(k_sha1)},
       .expect = {.phase = Phase::deploying, .actions = {}}},
      {.name = "pending without stages",
       .start = pushed,
       .ev = {.now = 45min,
              .pushed = Strings{k_sha1},
              .verdict = sha_verdict(k_sha1, Verdict::pending, {})},
       .expect = {.phase = Phase::ci, .actions = {}}},
      {.name = "unknown verdict waits",
       .start = pushed,
       .ev = {.now = 45min, .pushed = Strings{k_sha1}, .verdict = unknown_for(k_sha1)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::pushed, .actions = {}, .reason = "unknown"}},
      {.name = "unknown verdict in ci keeps ci",
       .start = k_ci,
       .ev = {.now = 45min, .pushed = Strings{k_sha1}, .verdict = unknown_for(k_sha1)},
       .expect = {.phase = Phase::ci, .actions = {}}},
      {.name = "no verdict gathered waits",
       .start = k_ci,
       .ev = {.now = 45min, .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::ci, .actions = {}, .unchanged = true}},
  });
}

TEST(Lifecycle, verify_deadline_escalates) {
  Start deploying = k_ci;
  deploying.phase = Phase::deploying;
  check_all({
      {.name = "pending at the verify deadline",
       .start = k_ci,
       .ev = {.now = 2h + 40min, .pushed = Strings{k_sha1}, .verdict = ci_pending_for(k_sha1)},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "no verdict for 111111111111 within 2h"}},
      {.name = "pending just before the verify deadline",
       .start = k_ci,
       .ev = {.now = 2h + 40min - 1s, .pushed = Strings{k_sha1}, .verdict = ci_pending_for(k_sha1)},
       .expect = {.phase = Phase::ci, .actions = {}}},
      {.name = "unknown at the verify deadline",
       .start = k_ci,
       .ev = {.now = 2h + 40min, .pushed = Strings{k_sha1}, .verdict = unknown_for(k_sha1)},
       .expect = {.phase = Phase::escalated, .actions = {RunAction::escalate}}},
      {.name = "no verdict at all at the verify deadline",
       .start = k_ci,
       .ev = {.now = 2h + 40min, .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::escalated, .actions = {RunAction::escalate}}},
      {.name = "rollout stuck with the agent still busy: interrupted",
       .start = deploying,
       .ev = {.now = 2h + 40min,
              .agent = AgentState::busy,
              .turn_id = "t1",
              .last_activity = 2h + 40min,
              .pushed = Strings{k_sha1},
              .verdict = deploying_for(k_sha1)},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::interrupt, RunAction::escalate},
                  .outcome = "no verdict"}},
      {.name = "custom verify deadline",
       .start = k_ci,
       .ev = {.now = 45min, .pushed = Strings{k_sha1}, .verdict = ci_pending_for(k_sha1)},
       .limits = {.verify_deadline = 5min},
       .expect = {.phase = Phase::escalated,
                  .actions = {RunAction::escalate},
                  .outcome = "within 5m"}},
  });
}

TEST(Lifecycle, green_becomes_healthy_then_done_after_healthy_for) {
  Start deploying = k_ci;
  deploying.phase = Phase::deploying;
  deploying.verdicts = deploying_for(k_sha1).stages;
  Start healthy = k_ci;
  healthy.phase = Phase::healthy;
  healthy.healthy_since = 60min;
  healthy.verdicts = green_for(k_sha1).stages;
  check_all({
      {.name = "first green",
       .start = deploying,
       .ev = {.now = 60min, .pushed = Strings{k_sha1}, .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy,
                  .actions = {},
                  .healthy_since = set_at(60min),
                  .verdicts = green_for(k_sha1).stages}},
      {.name = "green again keeps healthy_since",
       .start = healthy,
       .ev = {.now = 65min, .pushed = Strings{k_sha1}, .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy,
                  .actions = {},
                  .healthy_since = set_at(60min),
                  .unchanged = true}},
      {.name = "green just before healthy_for",
       .start = healthy,
       .ev = {.now = 70min - 1s, .pushed = Strings{k_sha1}, .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy, .actions = {}}},
      {.name = "green for healthy_for: done",
       .start = healthy,
       .ev = {.now = 70min, .pushed = Strings{k_sha1}, .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::done,
                  .actions = {RunAction::close_issue},
                  .healthy_since = set_at(60min),
                  .outcome = "healthy"}},
      {.name = "healthy_for 0: done on the first green",
       .start = k_ci,
       .ev = {.now = 50min, .pushed = Strings{k_sha1}, .verdict = green_for(k_sha1)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::done,
                  .actions = {RunAction::close_issue},
                  .healthy_since = set_at(50min),
                  .outcome = "healthy"}},
      {.name = "green with the agent unknown",
       .start = deploying,
       .ev = {.now = 60min,
              .agent = AgentState::unknown,
              .pushed = std::nullopt,
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy, .actions = {}, .healthy_since = set_at(60min)}},
      {.name = "done while the agent still works: interrupt, then close",
       .start = healthy,
       .ev = {.now = 70min,
              .agent = AgentState::busy,
              .turn_id = "t1",
              .last_activity = 70min,
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::done,
                  .actions = {RunAction::interrupt, RunAction::close_issue},
                  .outcome = "healthy"}},
      {.name = "done while the agent waits on a human: interrupt, then close",
       .start = healthy,
       .ev = {.now = 70min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {question("q1")},
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::done,
                  .actions = {RunAction::interrupt, RunAction::close_issue},
                  .to_answer = {}}},
      {.name = "healthy but not long enough: a working agent is left alone",
       .start = deploying,
       .ev = {.now = 60min,
              .agent = AgentState::busy,
              .turn_id = "t1",
              .last_activity = 60min,
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy, .actions = {}, .healthy_since = set_at(60min)}},
      {.name = "done with the agent idle: nothing to interrupt",
       .start = healthy,
       .ev = {.now = 70min,
              .agent = AgentState::idle,
              .turn_id = "t1",
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::done, .actions = {RunAction::close_issue}}},
      {.name = "green after the verify deadline still counts",
       .start = deploying,
       .ev = {.now = 5h, .pushed = Strings{k_sha1}, .verdict = green_for(k_sha1)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::done, .actions = {RunAction::close_issue}}},
  });
}

// ---------------------------------------------------------------------------------------
// Fix-forward

TEST(Lifecycle, red_after_a_push_starts_a_fix_turn) {
  Start healthy = k_ci;
  healthy.phase = Phase::healthy;
  healthy.healthy_since = 55min;
  healthy.verdicts = green_for(k_sha1).stages;
  Start deploying = k_ci;
  deploying.phase = Phase::deploying;
  // A pushed fix (k_sha2) for an earlier red, now verifying.
  const Start pushed_fix{.phase = Phase::ci,
                         .dispatched_at = 0s,
                         .working_since = 2min,
                         .first_push_at = 40min,
                         .last_push_at = 70min,
                         .first_red_at = 50min,
                         .pushed_shas = {k_sha1, k_sha2},
                         .fix_attempts = 1,
                         .turns = 2,
                         .last_turn_id = "t2",
                         .turn_seen = true,
                         .fix_turn_sent_at = 50min};
  check_all({
      {.name = "ci red",
       .start = k_ci,
       .ev = {.now = 50min,
              .agent = AgentState::idle,
              .turn_id = "t1",
              .pushed = Strings{k_sha1},
              .verdict = red_for(k_sha1)},
       .expect = {.phase = Phase::fixing,
                  .actions = {RunAction::start_fix_turn},
                  .turns = 2,
                  .fix_attempts = 1,
                  .first_red_at = set_at(50min),
                  .healthy_since = k_unset,
                  .fix_turn_sent_at = set_at(50min),
                  .verdicts = red_for(k_sha1).stages,
                  .last_turn_id = "t1",
                  .turn_seen = false}},
      {.name = "rollout failed",
       .start = deploying,
       .ev = {.now = 55min, .pushed = Strings{k_sha1}, .verdict = rollout_failed_for(k_sha1)},
       .expect = {.phase = Phase::fixing,
                  .actions = {RunAction::start_fix_turn},
                  .turns = 2,
                  .fix_attempts = 1,
                  .first_red_at = set_at(55min),
                  .fix_turn_sent_at = set_at(55min)}},
      {.name = "regression after healthy resets healthy_since",
       .start = healthy,
       .ev = {.now = 60min, .pushed = Strings{k_sha1}, .verdict = red_for(k_sha1)},
       .expect = {.phase = Phase::fixing,
                  .actions = {RunAction::start_fix_turn},
                  .fix_attempts = 1,
                  .first_red_at = set_at(60min),
                  .healthy_since = k_unset}},
      {.name = "the first turn is still busy: interrupt it first",
       .start = k_ci,
       .ev = {.now = 50min,
              .agent = AgentState::busy,
              .turn_id = "t1",
              .last_activity = 50min,
              .pushed = Strings{k_sha1},
              .verdict = red_for(k_sha1)},
       .expect = {.phase = Phase::fixing,
                  .actions = {RunAction::interrupt, RunAction::start_fix_turn},
                  .turns = 2,
                  .fix_attempts = 1}},
      {.name = "the pushed fix is red too: next attempt, first red kept",
       .start = pushed_fix,
       .ev = {.now = 80min,
              .agent = AgentState::idle,
              .turn_id = "t2",
              .pushed = Strings{k_sha1, k_sha2},
              .verdict = red_for(k_sha2)},
       .expect = {.phase = Phase::fixing,
                  .actions = {RunAction::start_fix_turn},
                  .turns = 3,
                  .fix_attempts = 2,
                  .first_red_at = set_at(50min),
                  .fix_turn_sent_at = set_at(80min),
                  .last_turn_id = "t2",
                  .turn_seen = false}},
  });
}

TEST(Lifecycle, fix_turn_outcomes_start_the_next_attempt) {
  const Start seen = fixing_seen();
  // The next attempt: one more turn and fix attempt, sent now, agent not seen on it.
  const auto next = [](Seconds now, std::string last_turn) {
    return Expect{.phase = Phase::fixing,
                  .actions = {RunAction::start_fix_turn},
                  .turns = 3,
                  .fix_attempts = 2,
                  .first_red_at = set_at(50min),
                  .fix_turn_sent_at = set_at(now),
                  .last_turn_id = std::move(last_turn),
                  .turn_seen = false};
  };
  Expect stalled = next(80min, "t2");
  stalled.actions = {RunAction::interrupt, RunAction::start_fix_turn};
  Expect failed = next(55min, "t2");
  failed.reason = "oom killed";
  check_all({
      {.name = "stale evidence within start_timeout waits",
       .start = k_fixing,
       .ev = {.now = 55min, .agent = AgentState::idle, .turn_id = "t1", .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::fixing, .actions = {}, .unchanged = true}},
      {.name = "stale evidence at start_timeout",
       .start = k_fixing,
       .ev = {.now = 60min, .agent = AgentState::idle, .turn_id = "t1", .pushed = Strings{k_sha1}},
       .expect = next(60min, "t1")},
      {.name = "not visible within start_timeout waits",
       .start = k_fixing,
       .ev = {.now = 60min - 1s, .agent = AgentState::not_visible, .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::fixing, .actions = {}, .unchanged = true}},
      {.name = "not visible at start_timeout",
       .start = k_fixing,
       .ev = {.now = 60min, .agent = AgentState::not_visible, .pushed = Strings{k_sha1}},
       .expect = next(60min, "t1")},
      {.name = "fresh turn busy: keep fixing",
       .start = k_fixing,
       .ev = {.now = 55min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 55min,
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::fixing,
                  .actions = {},
                  .fix_attempts = 1,
                  .last_turn_id = "t2",
                  .turn_seen = true}},
      {.name = "fresh turn idle without a push",
       .start = k_fixing,
       .ev = {.now = 55min, .agent = AgentState::idle, .turn_id = "t2", .pushed = Strings{k_sha1}},
       .expect = next(55min, "t2")},
      {.name = "seen turn idle without a push",
       .start = seen,
       .ev = {.now = 70min, .agent = AgentState::idle, .turn_id = "t2", .pushed = Strings{k_sha1}},
       .expect = next(70min, "t2")},
      {.name = "stalled fix turn is interrupted first",
       .start = seen,
       .ev = {.now = 80min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 60min,
              .pushed = Strings{k_sha1}},
       .expect = stalled},
      {.name = "failed fix turn",
       .start = k_fixing,
       .ev = {.now = 55min,
              .agent = AgentState::failed,
              .turn_id = "t2",
              .error = "oom killed",
              .pushed = Strings{k_sha1}},
       .expect = failed},
      {.name = "fix turn failed to start (empty turn id)",
       .start = k_fixing,
       .ev = {.now = 51min,
              .agent = AgentState::failed,
              .turn_id = "",
              .error = "provider.turn.start.failed",
              .pushed = Strings{k_sha1}},
       .expect = next(51min, "t1")},
      {.name = "interrupted fix turn",
       .start = seen,
       .ev = {.now = 70min,
              .agent = AgentState::interrupted,
              .turn_id = "t2",
              .pushed = Strings{k_sha1}},
       .expect = next(70min, "t2")},
      {.name = "thread gone",
       .start = seen,
       .ev = {.now = 70min, .agent = AgentState::gone, .pushed = Strings{k_sha1}},
       .expect = next(70min, "t2")},
      {.name = "the red SHA is still red",
       .start = seen,
       .ev = {.now = 70min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 70min,
              .pushed = Strings{k_sha1},
              .verdict = red_for(k_sha1)},
       .expect = {.phase = Phase::fixing, .actions = {}, .fix_attempts = 1}},
  });
}

TEST(Lifecycle, fix_forward_limits_freeze_the_run) {
  Start five = fixing_seen();
  five.fix_attempts = 5;
  five.turns = 6;
  Start budget = fixing_seen();
  budget.fix_attempts = 2;
  budget.turns = 3;
  Start ci_after_five = k_ci;
  ci_after_five.first_red_at = 50min;
  ci_after_five.fix_attempts = 5;
  ci_after_five.turns = 6;
  check_all({
      {.name = "fifth attempt finished without a push",
       .start = five,
       .ev = {.now = 90min, .agent = AgentState::idle, .turn_id = "t2", .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::freeze},
                  .turns = 6,
                  .fix_attempts = 5,
                  .outcome = "exhausted after 5 attempts"}},
      {.name = "fifth attempt stalled: interrupted and frozen",
       .start = five,
       .ev = {.now = 100min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 60min,
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::interrupt, RunAction::freeze},
                  .outcome = "exhausted"}},
      {.name = "red after five attempts",
       .start = ci_after_five,
       .ev = {.now = 90min, .pushed = Strings{k_sha1}, .verdict = red_for(k_sha1)},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::freeze},
                  .fix_attempts = 5,
                  .outcome = "exhausted"}},
      {.name = "no fix-forward allowed at all",
       .start = k_ci,
       .ev = {.now = 50min, .pushed = Strings{k_sha1}, .verdict = red_for(k_sha1)},
       .limits = {.fix_forward_attempts = 0},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::freeze},
                  .fix_attempts = 0,
                  .first_red_at = set_at(50min),
                  .outcome = "exhausted after 0 attempts"}},
      {.name = "fix window over while the agent is busy",
       .start = fixing_seen(),
       .ev = {.now = 110min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 110min,
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::interrupt, RunAction::freeze},
                  .outcome = "fix-forward window of 1h"}},
      {.name = "fix window over while the agent waits on a human",
       .start = fixing_seen(),
       .ev = {.now = 110min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t2",
              .pending = {approval("a1")},
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::interrupt, RunAction::freeze},
                  .outcome = "window"}},
      {.name = "fix window over, agent idle",
       .start = fixing_seen(),
       .ev = {.now = 110min, .agent = AgentState::idle, .turn_id = "t2", .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::frozen, .actions = {RunAction::freeze}, .outcome = "window"}},
      {.name = "fix window over, agent unknown",
       .start = fixing_seen(),
       .ev = {.now = 110min, .agent = AgentState::unknown, .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::frozen, .actions = {RunAction::freeze}, .outcome = "window"}},
      {.name = "just inside the fix window",
       .start = fixing_seen(),
       .ev = {.now = 110min - 1s,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 110min - 1s,
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::fixing, .actions = {}, .unchanged = true}},
      {.name = "red on a pushed fix after the window",
       .start = {.phase = Phase::ci,
                 .first_push_at = 40min,
                 .last_push_at = 100min,
                 .first_red_at = 50min,
                 .pushed_shas = {k_sha1, k_sha2},
                 .fix_attempts = 1,
                 .turns = 2,
                 .last_turn_id = "t2",
                 .turn_seen = true},
       .ev = {.now = 115min, .pushed = Strings{k_sha1, k_sha2}, .verdict = red_for(k_sha2)},
       .expect = {.phase = Phase::frozen, .actions = {RunAction::freeze}, .outcome = "window"}},
      {.name = "turn budget used up",
       .start = budget,
       .ev = {.now = 70min, .agent = AgentState::idle, .turn_id = "t2", .pushed = Strings{k_sha1}},
       .limits = {.budget_turns = 3},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::freeze},
                  .turns = 3,
                  .outcome = "turn budget of 3"}},
      {.name = "turn budget used up by the first turn",
       .start = k_ci,
       .ev = {.now = 50min, .pushed = Strings{k_sha1}, .verdict = red_for(k_sha1)},
       .limits = {.budget_turns = 1},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::freeze},
                  .turns = 1,
                  .outcome = "turn budget of 1"}},
  });
}

TEST(Lifecycle, fixing_agent_waiting_on_human_freezes_under_the_escalate_policy) {
  check_all({
      {.name = "fix turn waits on an approval",
       .start = k_fixing,
       .ev = {.now = 55min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t2",
              .pending = {approval("a1")},
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::frozen,
                  .actions = {RunAction::freeze},
                  .to_answer = {},
                  .fix_attempts = 1,
                  .outcome = "while fixing a red default branch"}},
      {.name = "stale waiting evidence from the earlier turn is not news",
       .start = k_fixing,
       .ev = {.now = 55min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t1",
              .pending = {approval("a1")},
              .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::fixing, .actions = {}, .unchanged = true}},
  });
}

TEST(Lifecycle, pushed_fix_is_verified_like_any_push) {
  const Start seen = fixing_seen();
  const Start healthy_after_fix{.phase = Phase::healthy,
                                .dispatched_at = 0s,
                                .first_push_at = 40min,
                                .last_push_at = 70min,
                                .first_red_at = 50min,
                                .healthy_since = 80min,
                                .pushed_shas = {k_sha1, k_sha2},
                                .verdicts = green_for(k_sha2).stages,
                                .fix_attempts = 1,
                                .turns = 2,
                                .last_turn_id = "t2",
                                .turn_seen = true,
                                .fix_turn_sent_at = 50min};
  check_all({
      {.name = "fix pushed, pending",
       .start = seen,
       .ev = {.now = 70min,
              .agent = AgentState::idle,
              .turn_id = "t2",
              .pushed = Strings{k_sha1, k_sha2},
              .verdict = ci_pending_for(k_sha2)},
       .expect = {.phase = Phase::ci,
                  .actions = {},
                  .fix_attempts = 1,
                  .last_push_at = set_at(70min),
                  .pushed_shas = Strings{k_sha1, k_sha2}}},
      {.name = "fix pushed, green",
       .start = seen,
       .ev = {.now = 70min,
              .agent = AgentState::idle,
              .turn_id = "t2",
              .pushed = Strings{k_sha1, k_sha2},
              .verdict = green_for(k_sha2)},
       .expect = {.phase = Phase::healthy,
                  .actions = {},
                  .healthy_since = set_at(70min),
                  .verdicts = green_for(k_sha2).stages}},
      {.name = "fix pushed, green, healthy_for 0: recovered",
       .start = seen,
       .ev = {.now = 70min,
              .agent = AgentState::idle,
              .turn_id = "t2",
              .pushed = Strings{k_sha1, k_sha2},
              .verdict = green_for(k_sha2)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::done,
                  .actions = {RunAction::close_issue},
                  .outcome = "recovered and healthy"}},
      {.name = "healthy after a fix, healthy_for passed: recovered",
       .start = healthy_after_fix,
       .ev = {.now = 90min, .pushed = Strings{k_sha1, k_sha2}, .verdict = green_for(k_sha2)},
       .expect = {.phase = Phase::done,
                  .actions = {RunAction::close_issue},
                  .healthy_since = set_at(80min),
                  .outcome = "recovered and healthy"}},
      {.name = "fix pushed, red: next attempt",
       .start = seen,
       .ev = {.now = 70min,
              .agent = AgentState::idle,
              .turn_id = "t2",
              .pushed = Strings{k_sha1, k_sha2},
              .verdict = red_for(k_sha2)},
       .expect = {.phase = Phase::fixing,
                  .actions = {RunAction::start_fix_turn},
                  .turns = 3,
                  .fix_attempts = 2,
                  .first_red_at = set_at(50min),
                  .fix_turn_sent_at = set_at(70min),
                  .pushed_shas = Strings{k_sha1, k_sha2}}},
      {.name = "fix pushed, red while the fix turn is still busy",
       .start = seen,
       .ev = {.now = 70min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 70min,
              .pushed = Strings{k_sha1, k_sha2},
              .verdict = red_for(k_sha2)},
       .expect = {.phase = Phase::fixing,
                  .actions = {RunAction::interrupt, RunAction::start_fix_turn},
                  .fix_attempts = 2}},
  });
}

// A red SHA that turns green while a fix turn runs (a re-run, a flaky check) is recovered:
// the fix turn is no longer needed. (Found as a discrepancy against the first version of
// lifecycle.cpp, fixed in 7984ff5.)
TEST(Lifecycle, red_sha_turning_green_while_fixing_stops_the_fix) {
  const Start seen = fixing_seen();
  check_all({
      {.name = "re-run green, fix turn busy: interrupt, healthy",
       .start = seen,
       .ev = {.now = 60min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 60min,
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy,
                  .actions = {RunAction::interrupt},
                  .fix_attempts = 1,
                  .healthy_since = set_at(60min),
                  .verdicts = green_for(k_sha1).stages}},
      {.name = "re-run green, fix turn idle: healthy, no new fix turn",
       .start = seen,
       .ev = {.now = 60min,
              .agent = AgentState::idle,
              .turn_id = "t2",
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy,
                  .actions = {},
                  .fix_attempts = 1,
                  .healthy_since = set_at(60min)}},
      {.name = "re-run green, fix turn not started yet: healthy",
       .start = k_fixing,
       .ev = {.now = 52min,
              .agent = AgentState::idle,
              .turn_id = "t1",
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy, .actions = {}, .healthy_since = set_at(52min)}},
      {.name = "re-run green, healthy_for 0: interrupt and close, recovered",
       .start = seen,
       .ev = {.now = 60min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 60min,
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::done,
                  .actions = {RunAction::interrupt, RunAction::close_issue},
                  .outcome = "recovered and healthy"}},
      {.name = "re-run green, fix turn waiting on a human: interrupt, healthy",
       .start = seen,
       .ev = {.now = 60min,
              .agent = AgentState::waiting_on_human,
              .turn_id = "t2",
              .pending = {approval("a1")},
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy,
                  .actions = {RunAction::interrupt},
                  .to_answer = {},
                  .healthy_since = set_at(60min)}},
      {.name = "re-run green past the fix window: still recovered, not frozen",
       .start = seen,
       .ev = {.now = 2h,
              .agent = AgentState::idle,
              .turn_id = "t2",
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha1)},
       .expect = {.phase = Phase::healthy, .actions = {}, .healthy_since = set_at(2h)}},
      {.name = "still red while fixing: verdicts refreshed, keep fixing",
       .start = seen,
       .ev = {.now = 60min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 60min,
              .pushed = Strings{k_sha1},
              .verdict = rollout_failed_for(k_sha1)},
       .expect = {.phase = Phase::fixing,
                  .actions = {},
                  .fix_attempts = 1,
                  .verdicts = rollout_failed_for(k_sha1).stages}},
      {.name = "re-run pending while fixing: keep fixing",
       .start = seen,
       .ev = {.now = 60min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 60min,
              .pushed = Strings{k_sha1},
              .verdict = ci_pending_for(k_sha1)},
       .expect = {.phase = Phase::fixing, .actions = {}, .healthy_since = k_unset}},
      {.name = "green for another SHA while fixing is ignored",
       .start = seen,
       .ev = {.now = 60min,
              .agent = AgentState::busy,
              .turn_id = "t2",
              .last_activity = 60min,
              .pushed = Strings{k_sha1},
              .verdict = green_for(k_sha3)},
       .limits = {.healthy_for = 0s},
       .expect = {.phase = Phase::fixing, .actions = {}, .unchanged = true}},
  });
}

// "Unknown evidence always means wait" (lifecycle.hpp), and verify_deadline is for a SHA
// that never had a verdict: one unreadable verdict (a CI API blip) after the deadline must
// not escalate a run that is already healthy.
TEST(Lifecycle, healthy_run_with_an_unreadable_verdict_waits) {
  const Start healthy{.phase = Phase::healthy,
                      .dispatched_at = 0s,
                      .first_push_at = 10min,
                      .last_push_at = 10min,
                      .healthy_since = 2h + 5min,
                      .pushed_shas = {k_sha1},
                      .verdicts = green_for(k_sha1).stages,
                      .turns = 1,
                      .last_turn_id = "t1",
                      .turn_seen = true};
  check_all({
      {.name = "unknown verdict within the verify deadline waits",
       .start = healthy,
       .ev = {.now = 2h + 8min, .pushed = Strings{k_sha1}, .verdict = unknown_for(k_sha1)},
       .expect = {.actions = {}}},
      {.name = "unknown verdict past the verify deadline still waits",
       .start = healthy,
       .ev = {.now = 2h + 12min, .pushed = Strings{k_sha1}, .verdict = unknown_for(k_sha1)},
       .expect = {.phase = Phase::healthy, .actions = {}}},
      {.name = "no verdict gathered past the verify deadline still waits",
       .start = healthy,
       .ev = {.now = 2h + 12min, .pushed = Strings{k_sha1}},
       .expect = {.phase = Phase::healthy, .actions = {}}},
  });
}

// Crash recovery. A tick that dispatched but crashed before writing the record leaves the
// record `claimed` while T3 already runs turn t1. The next tick repeats the dispatch (T3
// applies the same command ids once), and the running turn must be adopted as the first
// turn, not taken for a stale one and escalated after start_timeout.
TEST(Lifecycle, claim_resumed_after_a_crash_keeps_the_running_turn) {
  const afk::LifecycleLimits limits{};
  const afk::RunRecord claimed = make_record(Start{.phase = Phase::claimed});
  const afk::RunStep first = advance(
      claimed, Ev{.now = 1min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 1min},
      limits);
  EXPECT_EQ(first.record.phase, Phase::dispatched);
  EXPECT_EQ(first.actions, Actions{RunAction::dispatch});

  SCOPED_TRACE("busy on the turn the repeated dispatch returned");
  const afk::RunStep second = advance(
      first.record,
      Ev{.now = 15min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 15min}, limits);
  EXPECT_EQ(second.record.phase, Phase::working) << second.reason;
  EXPECT_EQ(second.actions, Actions{}) << second.reason;
}

// ---------------------------------------------------------------------------------------
// Record bookkeeping

TEST(Lifecycle, updated_at_changes_only_with_the_record) {
  Start stamped = k_working;
  stamped.updated_at = 5min;
  check_all({
      {.name = "waiting: record and updated_at unchanged",
       .start = stamped,
       .ev = {.now = 30min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 29min},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "unknown agent: unchanged",
       .start = stamped,
       .ev = {.now = 30min, .agent = AgentState::unknown, .pushed = std::nullopt},
       .expect = {.phase = Phase::working, .actions = {}, .unchanged = true}},
      {.name = "a person started another turn: recorded",
       .start = stamped,
       .ev =
           {.now = 30min, .agent = AgentState::busy, .turn_id = "t-human", .last_activity = 30min},
       .expect = {.phase = Phase::working, .actions = {}, .last_turn_id = "t-human"}},
  });

  // And explicitly: the stamp is `now` after a change, the old one otherwise.
  const afk::RunRecord before = make_record(stamped);
  const afk::RunStep same =
      advance(before, Ev{.now = 30min, .agent = AgentState::busy, .turn_id = "t1"}, {});
  EXPECT_EQ(describe(same.record.updated_at), "+5m");
  EXPECT_FALSE(same.changed_from(before));
  const afk::RunStep moved =
      advance(before, Ev{.now = 30min, .agent = AgentState::busy, .pushed = Strings{k_sha1}}, {});
  EXPECT_EQ(describe(moved.record.updated_at), "+30m");
  EXPECT_TRUE(moved.changed_from(before));
}

// ---------------------------------------------------------------------------------------
// A whole run, tick by tick

TEST(Lifecycle, scripted_run_from_claim_through_fix_forward_to_done) {
  const afk::LifecycleLimits limits{};
  afk::RunRecord record = make_record(Start{.phase = Phase::claimed});
  const auto tick = [&](const std::string& name, const Ev& ev, const Expect& want) {
    SCOPED_TRACE(name);
    const afk::RunRecord before = record;
    const afk::RunStep step = advance(before, ev, limits);
    expect_matches(before, step, want);
    record = step.record;
  };

  tick("claim: dispatch", {.now = 1min, .agent = AgentState::not_visible},
       {.phase = Phase::dispatched,
        .actions = {RunAction::dispatch},
        .turns = 1,
        .dispatched_at = set_at(1min)});
  tick("agent not visible yet", {.now = 2min, .agent = AgentState::not_visible},
       {.phase = Phase::dispatched, .actions = {}, .unchanged = true});
  tick("agent busy",
       {.now = 3min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 3min},
       {.phase = Phase::working,
        .actions = {},
        .working_since = set_at(3min),
        .last_turn_id = "t1",
        .turn_seen = true});
  tick("still busy",
       {.now = 20min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 19min},
       {.phase = Phase::working, .actions = {}, .unchanged = true});
  tick("pushed",
       {.now = 40min, .agent = AgentState::idle, .turn_id = "t1", .pushed = Strings{k_sha1}},
       {.phase = Phase::pushed,
        .actions = {},
        .first_push_at = set_at(40min),
        .last_push_at = set_at(40min),
        .pushed_shas = Strings{k_sha1}});
  tick("ci running",
       {.now = 45min,
        .agent = AgentState::idle,
        .turn_id = "t1",
        .pushed = Strings{k_sha1},
        .verdict = ci_pending_for(k_sha1)},
       {.phase = Phase::ci, .actions = {}});
  tick("ci green, deploying",
       {.now = 50min,
        .agent = AgentState::idle,
        .turn_id = "t1",
        .pushed = Strings{k_sha1},
        .verdict = deploying_for(k_sha1)},
       {.phase = Phase::deploying, .actions = {}});
  tick("rollout red: fix-forward",
       {.now = 55min,
        .agent = AgentState::idle,
        .turn_id = "t1",
        .pushed = Strings{k_sha1},
        .verdict = rollout_failed_for(k_sha1)},
       {.phase = Phase::fixing,
        .actions = {RunAction::start_fix_turn},
        .turns = 2,
        .fix_attempts = 1,
        .first_red_at = set_at(55min),
        .fix_turn_sent_at = set_at(55min),
        .turn_seen = false});
  tick("T3 still shows the first turn",
       {.now = 57min,
        .agent = AgentState::idle,
        .turn_id = "t1",
        .pushed = Strings{k_sha1},
        .verdict = rollout_failed_for(k_sha1)},
       {.phase = Phase::fixing, .actions = {}, .unchanged = true});
  tick("fix turn busy",
       {.now = 60min,
        .agent = AgentState::busy,
        .turn_id = "t2",
        .last_activity = 60min,
        .pushed = Strings{k_sha1},
        .verdict = rollout_failed_for(k_sha1)},
       {.phase = Phase::fixing, .actions = {}, .last_turn_id = "t2", .turn_seen = true});
  tick("fix pushed",
       {.now = 75min,
        .agent = AgentState::busy,
        .turn_id = "t2",
        .last_activity = 75min,
        .pushed = Strings{k_sha1, k_sha2}},
       {.phase = Phase::pushed,
        .actions = {},
        .first_push_at = set_at(40min),
        .last_push_at = set_at(75min),
        .pushed_shas = Strings{k_sha1, k_sha2},
        .verdicts = std::vector<afk::StageVerdict>{}});
  tick("fix in ci",
       {.now = 80min,
        .agent = AgentState::idle,
        .turn_id = "t2",
        .pushed = Strings{k_sha1, k_sha2},
        .verdict = ci_pending_for(k_sha2)},
       {.phase = Phase::ci, .actions = {}});
  tick("fix green and rolled out",
       {.now = 90min,
        .agent = AgentState::idle,
        .turn_id = "t2",
        .pushed = Strings{k_sha1, k_sha2},
        .verdict = green_for(k_sha2)},
       {.phase = Phase::healthy, .actions = {}, .healthy_since = set_at(90min)});
  tick("still healthy",
       {.now = 95min,
        .agent = AgentState::idle,
        .turn_id = "t2",
        .pushed = Strings{k_sha1, k_sha2},
        .verdict = green_for(k_sha2)},
       {.phase = Phase::healthy, .actions = {}, .healthy_since = set_at(90min), .unchanged = true});
  tick("healthy long enough: done",
       {.now = 100min,
        .agent = AgentState::idle,
        .turn_id = "t2",
        .pushed = Strings{k_sha1, k_sha2},
        .verdict = green_for(k_sha2)},
       {.phase = Phase::done,
        .actions = {RunAction::close_issue},
        .turns = 2,
        .fix_attempts = 1,
        .first_red_at = k_unset, // recovered: a later red opens a new window
        .outcome = "recovered and healthy"});
  tick("done stays done",
       {.now = 2h, .agent = AgentState::gone, .pushed = Strings{k_sha1, k_sha2, k_sha3}},
       {.phase = Phase::done, .actions = {}, .unchanged = true});
}

TEST(Lifecycle, scripted_run_that_finishes_without_pushing_is_escalated) {
  const afk::LifecycleLimits limits{.on_waiting_human = HumanPolicy::proceed};
  afk::RunRecord record = make_record(Start{.phase = Phase::claimed});
  const auto tick = [&](const std::string& name, const Ev& ev, const Expect& want) {
    SCOPED_TRACE(name);
    const afk::RunRecord before = record;
    const afk::RunStep step = advance(before, ev, limits);
    expect_matches(before, step, want);
    record = step.record;
  };
  tick("claim: dispatch", {.now = 0s},
       {.phase = Phase::dispatched, .actions = {RunAction::dispatch}, .turns = 1});
  tick("asks a question",
       {.now = 4min,
        .agent = AgentState::waiting_on_human,
        .turn_id = "t1",
        .pending = {question("q1")}},
       {.phase = Phase::working,
        .actions = {RunAction::answer_pending},
        .to_answer = {"q1"},
        .working_since = set_at(4min),
        .answered_requests = Strings{"q1"}});
  tick("question still shown",
       {.now = 5min,
        .agent = AgentState::waiting_on_human,
        .turn_id = "t1",
        .pending = {question("q1")}},
       {.phase = Phase::working, .actions = {}, .unchanged = true});
  tick("busy again",
       {.now = 10min, .agent = AgentState::busy, .turn_id = "t1", .last_activity = 10min},
       {.phase = Phase::working, .actions = {}, .unchanged = true});
  tick("finished without pushing", {.now = 30min, .agent = AgentState::idle, .turn_id = "t1"},
       {.phase = Phase::escalated, .actions = {RunAction::escalate}, .outcome = "without pushing"});
}

// ---------------------------------------------------------------------------------------
// Properties over every combination

/// A plausible record in `phase`, every timestamp at the claim (0s), k_sha1 pushed for
/// post-push phases, the agent last seen on "t-old".
afk::RunRecord record_in(Phase phase) {
  Start s{.phase = phase, .last_turn_id = "t-old"};
  if (phase != Phase::claimed) {
    s.dispatched_at = 0s;
    s.turns = 1;
    s.turn_seen = phase != Phase::dispatched;
  }
  if (afk::is_post_push(phase) || phase == Phase::escalated) {
    s.first_push_at = 0s;
    s.last_push_at = 0s;
    s.pushed_shas = {k_sha1};
  }
  if (phase == Phase::fixing || phase == Phase::frozen) {
    s.first_red_at = 0s;
    s.fix_turn_sent_at = 0s;
    s.fix_attempts = 1;
    s.turns = 2;
    s.turn_seen = false;
  }
  if (phase == Phase::healthy) {
    s.healthy_since = 0s;
  }
  if (afk::is_terminal(phase)) {
    s.outcome = "decided earlier";
  }
  return make_record(s);
}

TEST(Lifecycle, invariants_hold_for_every_phase_agent_state_and_verdict) {
  constexpr std::array k_phases = {
      Phase::claimed, Phase::dispatched, Phase::working, Phase::pushed,
      Phase::ci,      Phase::deploying,  Phase::healthy, Phase::fixing,
      Phase::done,    Phase::escalated,  Phase::frozen,
  };
  constexpr std::array k_states = {
      AgentState::unknown,          AgentState::not_visible, AgentState::busy,
      AgentState::waiting_on_human, AgentState::idle,        AgentState::failed,
      AgentState::interrupted,      AgentState::gone,
  };
  // nullopt: no verdict gathered.
  const std::vector<std::optional<afk::ShaVerdict>> verdicts = {
      std::nullopt,          sha_verdict(k_sha1, Verdict::pending, {ci_stage(Verdict::pending)}),
      deploying_for(k_sha1), green_for(k_sha1),
      red_for(k_sha1),       unknown_for(k_sha1),
      green_for(k_sha2), // newest only when k_sha2 was pushed this tick
      red_for(k_sha3),   // never the run's
  };
  const std::vector<std::optional<Strings>> pushes = {std::nullopt, Strings{}, Strings{k_sha1},
                                                      Strings{k_sha1, k_sha2}};
  const std::array<std::string, 3> turn_ids = {"", "t-old", "t-new"};
  // Early: no deadline or healthy_for has passed. Late: every one has.
  const std::array<Seconds, 2> times = {Seconds{1min}, Seconds{24h * 30}};

  int combinations = 0;
  for (const Phase phase : k_phases) {
    const afk::RunRecord before = record_in(phase);
    for (const AgentState state : k_states) {
      for (const std::string& turn_id : turn_ids) {
        for (const auto& verdict : verdicts) {
          for (const auto& pushed : pushes) {
            for (const HumanPolicy policy : {HumanPolicy::escalate, HumanPolicy::proceed}) {
              for (const Seconds now : times) {
                const afk::RunEvidence evidence = make_evidence(Ev{
                    .now = now,
                    .agent = state,
                    .turn_id = turn_id,
                    .last_activity = now,
                    .pending = state == AgentState::waiting_on_human
                                   ? std::vector<afk::PendingRequest>{approval("a1")}
                                   : std::vector<afk::PendingRequest>{},
                    .error = state == AgentState::failed ? "boom" : "",
                    .pushed = pushed,
                    .verdict = verdict,
                });
                const afk::LifecycleLimits limits{.on_waiting_human = policy};
                SCOPED_TRACE(
                    std::string(afk::to_string(phase)) + " / " +
                    std::string(afk::to_string(state)) + " turn '" + turn_id + "' / verdict " +
                    (verdict ? verdict->sha.substr(0, 4) + " " +
                                   std::string(afk::to_string(verdict->verdict))
                             : std::string("none")) +
                    " / pushed " +
                    (pushed ? std::to_string(pushed->size()) : std::string("unknown")) + " / " +
                    std::string(afk::to_string(policy)) + " / now " + afk::format_duration(now));
                ++combinations;

                std::optional<afk::RunStep> step;
                EXPECT_NO_THROW(step.emplace(afk::advance_run(before, evidence, limits)));
                ASSERT_TRUE(step.has_value());
                expect_invariants(before, evidence, *step);

                const auto& shas = step->record.pushed_shas;
                const bool usable = verdict && !shas.empty() && verdict->sha == shas.back();
                const Verdict v = usable ? verdict->verdict : Verdict::unknown;
                if (has(step->actions, RunAction::close_issue)) {
                  EXPECT_EQ(v, Verdict::green) << "close_issue without a green newest SHA";
                }
                if (afk::is_terminal(phase)) {
                  EXPECT_EQ(step->record.phase, phase);
                }
                if (state == AgentState::unknown && v != Verdict::green && v != Verdict::red &&
                    now == times[0]) {
                  EXPECT_FALSE(has(step->actions, RunAction::escalate)) << step->reason;
                  EXPECT_FALSE(has(step->actions, RunAction::freeze)) << step->reason;
                  EXPECT_FALSE(has(step->actions, RunAction::close_issue)) << step->reason;
                }
                if (HasFailure()) {
                  return; // report the first failing combination only
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(combinations, 11 * 8 * 3 * 8 * 4 * 2 * 2);
}

} // namespace

TEST(Lifecycle, red_again_after_recovery_gets_a_new_fix_forward_window) {
  const afk::LifecycleLimits limits{.healthy_for = std::chrono::hours(1)};
  const afk::RunRecord record = make_record(Start{.phase = Phase::fixing,
                                                  .first_red_at = 10min,
                                                  .pushed_shas = Strings{k_sha1},
                                                  .fix_attempts = 1,
                                                  .turns = 2});
  // Recovered at +30m, still inside healthy_for when it regresses at +3h.
  auto step = advance(record,
                      Ev{.now = 30min,
                         .agent = AgentState::idle,
                         .turn_id = "t9",
                         .pushed = Strings{k_sha1},
                         .verdict = green_for(k_sha1)},
                      limits);
  ASSERT_EQ(step.record.phase, Phase::healthy);
  EXPECT_FALSE(step.record.first_red_at);
  step = advance(step.record,
                 Ev{.now = 3h,
                    .agent = AgentState::idle,
                    .turn_id = "t9",
                    .pushed = Strings{k_sha1},
                    .verdict = rollout_failed_for(k_sha1)},
                 limits);
  EXPECT_EQ(step.record.phase, Phase::fixing);
  EXPECT_EQ(step.actions, (std::vector<RunAction>{RunAction::start_fix_turn}));
  EXPECT_EQ(step.record.fix_attempts, 2);
  ASSERT_TRUE(step.record.first_red_at);
  EXPECT_EQ(*step.record.first_red_at, at(3h));
}

// A tick that died after sending a fix turn: the record caught up by the next tick must be
// what the sending tick would have written, or the attempt would not count.
TEST(AccountForUnrecordedFixTurn, books_the_turn_as_the_sending_tick_would) {
  const afk::RunRecord before = make_record(k_ci); // turn t1 seen, k_sha1 in CI
  const afk::RunStep sent = advance(before,
                                    {.now = 50min,
                                     .agent = AgentState::idle,
                                     .turn_id = "t1",
                                     .pushed = Strings{k_sha1},
                                     .verdict = red_for(k_sha1)},
                                    afk::LifecycleLimits{});
  ASSERT_EQ(sent.actions, (std::vector<RunAction>{RunAction::start_fix_turn}));
  const afk::RunRecord caught_up = afk::account_for_unrecorded_fix_turn(before, at(50min));
  EXPECT_EQ(caught_up.phase, sent.record.phase);
  EXPECT_EQ(caught_up.turns, sent.record.turns);
  EXPECT_EQ(caught_up.fix_attempts, sent.record.fix_attempts);
  EXPECT_EQ(caught_up.turn_seen, sent.record.turn_seen);
  EXPECT_EQ(caught_up.last_turn_id, sent.record.last_turn_id);
  EXPECT_EQ(caught_up.first_red_at, sent.record.first_red_at);
  EXPECT_EQ(caught_up.fix_turn_sent_at, sent.record.fix_turn_sent_at);
  EXPECT_EQ(caught_up.healthy_since, sent.record.healthy_since);
  // An earlier first red stays: the fix-forward window runs from it.
  Start fixing = k_ci;
  fixing.first_red_at = 10min;
  EXPECT_EQ(afk::account_for_unrecorded_fix_turn(make_record(fixing), at(50min)).first_red_at,
            at(10min));
}
