// SPDX-License-Identifier: MIT
// The operator verbs end to end, in process, as test_engine.cpp drives the tick: real
// adapters built by World against the fake GitHub, the strict fake T3 and a real bare origin.
#include "support/capturing_logger.hpp"
#include "support/fake_github.hpp"
#include "support/fake_t3.hpp"
#include "support/process.hpp"

#include <afk/config.hpp>
#include <afk/engine.hpp>
#include <afk/log.hpp>
#include <afk/operators.hpp>
#include <afk/run_record.hpp>
#include <afk/time.hpp>
#include <afk/world.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

namespace {

using afk::test::CapturingLogger;

namespace fs = std::filesystem;
using afk::DispatchResult;
using afk::Phase;
using afk::WaitReason;
using afk::test::FakeGitHub;
using afk::test::FakeT3;
using afk::test::TurnPlan;
using Outcome = afk::DispatchResult::Outcome;

constexpr const char* k_repo = "acme/web";

class Operators : public testing::Test {
protected:
  void SetUp() override {
    ::setenv("no_proxy", "*", 1);
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() / ("afk-ops-" + std::to_string(::getpid()) + info->name());
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
    m_origin = m_dir / "origin" / "acme" / "web.git";
    fs::create_directories(m_origin);
    git(m_origin, {"init", "--bare", "-q", "--initial-branch=main"});
    const fs::path seed = m_dir / "seed";
    git(m_dir, {"clone", "-q", m_origin.string(), seed.string()});
    std::ofstream(seed / "README.md") << "# web\n";
    git(seed, {"add", "-A"});
    git(seed, {"commit", "-q", "-m", "Initial commit"});
    git(seed, {"push", "-q", "origin", "HEAD:main"});
    m_main = git(m_origin, {"rev-parse", "main"}).out.substr(0, 40);

    m_github.add_repo(k_repo, "main");
    m_github.mirror_git(k_repo, m_origin);
    m_github.set_permission(k_repo, "alice", "write");
    m_github.set_permission(k_repo, "mallory", "read");

    m_t3.set_agent([this](const afk::test::TurnContext&) {
      return m_agent_hangs ? TurnPlan{.ending = TurnPlan::Ending::hang}
                           : TurnPlan{.assistant_text = "I could not do it."};
    });
    std::ofstream(m_dir / "gh-token") << m_github.options().token << '\n';
    std::ofstream(m_dir / "t3-token") << m_t3.issue_token() << '\n';
  }

  void TearDown() override { fs::remove_all(m_dir); }

  afk::test::ProcessResult git(const fs::path& where, std::vector<std::string> args) {
    const auto result = afk::test::run_git(where, args, m_dir, "Seed", "seed@example.com");
    EXPECT_EQ(result.exit_code, 0) << "git " << args.front() << ": " << result.err;
    return result;
  }

  afk::Config config(bool kill_switch = false) const {
    const std::string toml = std::string("kill_switch = ") + (kill_switch ? "true" : "false") +
                             R"(
allowlist = ["acme/web"]
[tracker]
api_url = ")" + m_github.url() +
                             R"("
token_file = ")" + (m_dir / "gh-token").string() +
                             R"("
login = "afk-bot"
[t3]
url = ")" + m_t3.url() + R"("
web_url = "https://t3.example"
token_file = ")" + (m_dir / "t3-token").string() +
                             R"("
server_version = "0.0.27"
[git]
root = ")" + (m_dir / "checkouts").string() +
                             R"("
clone_url = "file://)" + (m_dir / "origin").string() +
                             R"(/{repo}.git"
[deploy]
stages = ["github_checks"]
[repos."acme/web"]
default_branch = "main"
)";
    return afk::parse_config(toml, "operators.toml", {});
  }

  // Each verb builds its own World, as each CLI invocation does.
  template <typename Verb> auto with_ports(Verb verb, bool kill_switch = false) {
    const afk::Config c = config(kill_switch);
    const auto world = afk::World::build(c, m_log, m_clock);
    afk::EnginePorts ports = world->ports();
    return verb(c, ports);
  }

  DispatchResult dispatch(std::int64_t number, afk::DispatchOverrides overrides = {},
                          bool dry_run = false, const char* repo = k_repo) {
    return with_ports([&](const afk::Config& c, afk::EnginePorts& ports) {
      return afk::dispatch_issue(c, ports, {.dry_run = dry_run, .holder = "ops@host:1"},
                                 {*afk::RepoName::parse(repo), number}, overrides);
    });
  }

  afk::FreezeResult freeze(const std::string& reason, bool kill_switch = false) {
    return with_ports(
        [&](const afk::Config& c, afk::EnginePorts& ports) {
          return afk::freeze_repo(c, ports, {.holder = "ops@host:1"}, *afk::RepoName::parse(k_repo),
                                  reason);
        },
        kill_switch);
  }

  afk::ThawResult thaw() {
    return with_ports([&](const afk::Config& c, afk::EnginePorts& ports) {
      return afk::thaw_repo(c, ports, {.holder = "ops@host:1"}, *afk::RepoName::parse(k_repo));
    });
  }

  afk::StatusReport status(bool kill_switch = false) {
    return with_ports(
        [&](const afk::Config& c, afk::EnginePorts& ports) { return afk::status(c, ports); },
        kill_switch);
  }

  afk::TickReport tick() {
    return with_ports([&](const afk::Config& c, afk::EnginePorts& ports) {
      return afk::run_tick(c, ports, {.holder = "test:1"});
    });
  }

  std::int64_t ready_issue(const std::string& title, const std::string& body = "") {
    return m_github.open_issue(k_repo, title, body, {"ready-for-agent"}, "alice");
  }

  std::optional<afk::RunRecord> record(std::int64_t number) const {
    const auto issue = m_github.issue(k_repo, number);
    for (const auto& [author, body] : issue->comments) {
      auto decoded =
          afk::decode_run_record(body, afk::IssueRef{*afk::RepoName::parse(k_repo), number});
      if (auto* r = std::get_if<afk::RunRecord>(&decoded); r != nullptr && author == "afk-bot") {
        return *r;
      }
    }
    return std::nullopt;
  }

  std::vector<std::string> labels(std::int64_t number) const {
    return m_github.issue(k_repo, number)->labels;
  }

  static bool has(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
  }

  int t3_commands(const std::string& type) const {
    int count = 0;
    for (const std::string& body : m_t3.accepted_commands()) {
      count += body.find("\"" + type + "\"") != std::string::npos ? 1 : 0;
    }
    return count;
  }

  // Requests that change something on the fake GitHub.
  std::size_t github_writes() const {
    const auto requests = m_github.requests();
    return static_cast<std::size_t>(std::count_if(requests.begin(), requests.end(),
                                                  [](const auto& r) { return r.method != "GET"; }));
  }

  static std::vector<WaitReason> reasons(const DispatchResult& result) {
    std::vector<WaitReason> out;
    for (const auto& verdict : result.refusals) {
      out.push_back(verdict.reason);
    }
    return out;
  }

  fs::path m_dir;
  fs::path m_origin;
  std::string m_main;
  FakeGitHub m_github;
  FakeT3 m_t3;
  CapturingLogger m_log;
  afk::SystemClock m_clock;
  bool m_agent_hangs = true;
};

// ---- afk dispatch ------------------------------------------------------------------------

TEST_F(Operators, dispatch_starts_a_trusted_ready_issue_now) {
  const std::int64_t issue = ready_issue("Add a health endpoint");
  const DispatchResult result = dispatch(issue);
  ASSERT_EQ(result.outcome, Outcome::dispatched) << result.detail;
  ASSERT_TRUE(result.run.has_value());
  EXPECT_EQ(result.run->after, Phase::dispatched);
  EXPECT_TRUE(result.refusals.empty());
  EXPECT_TRUE(result.overridden.empty());
  const auto run = record(issue);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->phase, Phase::dispatched);
  EXPECT_EQ(run->lease_holder, "ops@host:1");
  EXPECT_TRUE(has(labels(issue), "agent-in-progress"));
  EXPECT_FALSE(has(labels(issue), "ready-for-agent"));
  EXPECT_EQ(t3_commands("thread.create"), 1);
  EXPECT_EQ(t3_commands("thread.turn.start"), 1);
  // Only afk's record: no override was used, so no audit comment.
  EXPECT_EQ(m_github.issue(k_repo, issue)->comments.size(), 1U);
}

TEST_F(Operators, dispatch_refuses_what_afk_may_not_run_without_a_request_for_other_repos) {
  EXPECT_EQ(dispatch(1, {}, false, "acme/other").outcome, Outcome::not_runnable);
  EXPECT_EQ(m_github.request_count(), 0U);
  EXPECT_NE(dispatch(1, {}, false, "acme/other").detail.find("not in the allowlist"),
            std::string::npos);

  const DispatchResult missing = dispatch(404);
  EXPECT_EQ(missing.outcome, Outcome::not_runnable);
  EXPECT_NE(missing.detail.find("does not exist"), std::string::npos) << missing.detail;

  const std::int64_t pr = m_github.open_pull_request(k_repo, "A PR", {"ready-for-agent"});
  EXPECT_EQ(dispatch(pr, {.skip_label_check = true}).outcome, Outcome::not_runnable);

  const std::int64_t closed = ready_issue("Done already");
  m_github.close_issue(k_repo, closed);
  const DispatchResult closed_result = dispatch(closed, {true, true, true});
  EXPECT_EQ(closed_result.outcome, Outcome::not_runnable);
  EXPECT_NE(closed_result.detail.find("is closed"), std::string::npos);
  EXPECT_TRUE(m_t3.accepted_commands().empty());
  EXPECT_EQ(github_writes(), 0U);
}

TEST_F(Operators, dispatch_refuses_an_untrusted_labeller_unless_the_operator_vouches) {
  const std::int64_t issue = m_github.open_issue(k_repo, "Delete prod", "", {}, "mallory");
  m_github.label_issue(k_repo, issue, "ready-for-agent", "mallory");
  const DispatchResult refused = dispatch(issue);
  EXPECT_EQ(refused.outcome, Outcome::refused);
  EXPECT_EQ(reasons(refused), std::vector{WaitReason::untrusted_labeler});
  EXPECT_NE(refused.refusals[0].detail.find("@mallory has read permission"), std::string::npos)
      << refused.refusals[0].detail;
  EXPECT_FALSE(record(issue).has_value());
  EXPECT_EQ(github_writes(), 0U);

  const DispatchResult vouched = dispatch(issue, {.skip_label_check = true});
  ASSERT_EQ(vouched.outcome, Outcome::dispatched) << vouched.detail;
  ASSERT_EQ(vouched.overridden.size(), 1U);
  EXPECT_EQ(vouched.overridden[0].reason, WaitReason::untrusted_labeler);
  EXPECT_TRUE(record(issue).has_value());
  // The override is on the issue, before afk's record, and in the log.
  const auto comments = m_github.issue(k_repo, issue)->comments;
  ASSERT_EQ(comments.size(), 2U);
  EXPECT_EQ(comments[0].first, "afk-bot");
  EXPECT_NE(comments[0].second.find("afk dispatch by ops@host:1"), std::string::npos);
  EXPECT_NE(comments[0].second.find("untrusted_labeler: @mallory"), std::string::npos)
      << comments[0].second;
  EXPECT_EQ(m_log.values("dispatch_override", "reason"),
            std::vector<std::string>{"untrusted_labeler"});
}

TEST_F(Operators, dispatch_of_an_unlabelled_issue_needs_skip_label_check) {
  const std::int64_t issue = m_github.open_issue(k_repo, "Tidy up", "", {}, "alice");
  const DispatchResult refused = dispatch(issue);
  EXPECT_EQ(reasons(refused), std::vector{WaitReason::not_ready});
  const DispatchResult vouched = dispatch(issue, {.skip_label_check = true});
  ASSERT_EQ(vouched.outcome, Outcome::dispatched) << vouched.detail;
  EXPECT_TRUE(has(labels(issue), "agent-in-progress"));
}

TEST_F(Operators, dispatch_refuses_an_open_blocker_unless_ignored) {
  const std::int64_t blocker = m_github.open_issue(k_repo, "Schema first", "", {}, "alice");
  const std::int64_t issue =
      ready_issue("Use the schema", "Blocked by #" + std::to_string(blocker));
  const DispatchResult refused = dispatch(issue);
  EXPECT_EQ(reasons(refused), std::vector{WaitReason::blocked});
  EXPECT_EQ(refused.refusals[0].detail, "blocked by #" + std::to_string(blocker));
  const DispatchResult ignored = dispatch(issue, {.ignore_blockers = true});
  ASSERT_EQ(ignored.outcome, Outcome::dispatched) << ignored.detail;
  EXPECT_EQ(ignored.overridden.at(0).reason, WaitReason::blocked);
}

TEST_F(Operators, dispatch_refuses_a_red_default_branch_unless_ignored) {
  m_github.add_check_run(k_repo, m_main, "build", "completed", "failure");
  const std::int64_t issue = ready_issue("Add a health endpoint");
  const DispatchResult refused = dispatch(issue);
  EXPECT_EQ(reasons(refused), std::vector{WaitReason::default_branch_red});
  EXPECT_NE(refused.refusals[0].detail.find("main is red at " + m_main.substr(0, 12)),
            std::string::npos)
      << refused.refusals[0].detail;
  const DispatchResult ignored = dispatch(issue, {.ignore_red_main = true});
  ASSERT_EQ(ignored.outcome, Outcome::dispatched) << ignored.detail;
}

TEST_F(Operators, dispatch_names_every_overridable_gate_at_once_and_overrides_only_those_asked) {
  m_github.add_check_run(k_repo, m_main, "build", "completed", "failure");
  const std::int64_t blocker = m_github.open_issue(k_repo, "Schema first", "", {}, "alice");
  const std::int64_t issue = m_github.open_issue(
      k_repo, "Use the schema", "Blocked by #" + std::to_string(blocker), {}, "mallory");
  m_github.label_issue(k_repo, issue, "ready-for-agent", "mallory");
  const DispatchResult all = dispatch(issue);
  EXPECT_EQ(reasons(all), (std::vector{WaitReason::default_branch_red,
                                       WaitReason::untrusted_labeler, WaitReason::blocked}));
  const DispatchResult some = dispatch(issue, {.ignore_red_main = true});
  EXPECT_EQ(some.outcome, Outcome::refused);
  EXPECT_EQ(reasons(some), (std::vector{WaitReason::untrusted_labeler, WaitReason::blocked}));
  ASSERT_EQ(some.overridden.size(), 1U);
  EXPECT_EQ(some.overridden[0].reason, WaitReason::default_branch_red);
  EXPECT_FALSE(record(issue).has_value());
  EXPECT_EQ(github_writes(), 0U);
}

TEST_F(Operators, a_dry_run_dispatch_changes_nothing) {
  const std::int64_t issue = ready_issue("Add a health endpoint");
  const DispatchResult result = dispatch(issue, {}, /*dry_run=*/true);
  EXPECT_EQ(result.outcome, Outcome::would_dispatch);
  EXPECT_FALSE(result.run.has_value());
  EXPECT_EQ(github_writes(), 0U);
  EXPECT_TRUE(m_t3.accepted_commands().empty());
  EXPECT_FALSE(fs::exists(m_dir / "checkouts" / "acme"));
}

TEST_F(Operators, dispatch_refuses_an_issue_in_flight_and_a_locked_repo_whatever_the_flags) {
  const std::int64_t first = ready_issue("First");
  const std::int64_t second = ready_issue("Second");
  ASSERT_EQ(dispatch(first).outcome, Outcome::dispatched);
  const DispatchResult again = dispatch(first, {true, true, true});
  EXPECT_EQ(reasons(again), std::vector{WaitReason::in_flight});
  const DispatchResult locked = dispatch(second, {true, true, true});
  EXPECT_EQ(reasons(locked), std::vector{WaitReason::repo_locked});
  EXPECT_EQ(locked.refusals[0].detail.find("repo locked by #" + std::to_string(first)), 0U)
      << locked.refusals[0].detail;
  EXPECT_EQ(t3_commands("thread.create"), 1);
  EXPECT_FALSE(record(second).has_value());
}

TEST_F(Operators, dispatch_leaves_an_issue_handed_to_a_person_alone) {
  const std::int64_t issue =
      m_github.open_issue(k_repo, "Hard one", "", {"ready-for-agent", "ready-for-human"}, "alice");
  const DispatchResult result = dispatch(issue, {true, true, true});
  EXPECT_EQ(reasons(result), std::vector{WaitReason::awaiting_human});
}

// ---- afk freeze / afk thaw ---------------------------------------------------------------

TEST_F(Operators, freezing_an_idle_repo_opens_a_tracking_issue_that_every_tick_obeys) {
  const afk::FreezeResult frozen = freeze("db migration in progress");
  ASSERT_TRUE(frozen.tracking_issue.has_value());
  EXPECT_FALSE(frozen.already_frozen);
  EXPECT_FALSE(frozen.failed());
  EXPECT_TRUE(frozen.runs.empty());
  const auto tracking = m_github.issue(k_repo, frozen.tracking_issue->number);
  ASSERT_TRUE(tracking.has_value());
  EXPECT_EQ(tracking->title, "afk: acme/web is frozen");
  EXPECT_EQ(tracking->author, "afk-bot");
  EXPECT_TRUE(has(tracking->labels, "afk-frozen"));
  EXPECT_NE(tracking->body.find("Reason: db migration in progress"), std::string::npos);
  EXPECT_NE(tracking->body.find("Frozen by: ops@host:1 at "), std::string::npos);
  EXPECT_NE(tracking->body.find("`afk thaw acme/web`"), std::string::npos) << tracking->body;
  EXPECT_EQ(m_log.values("notification", "notify_event"), std::vector<std::string>{"frozen"});

  // A ready issue now waits, and dispatching it by hand is refused too.
  const std::int64_t issue = ready_issue("Add a health endpoint");
  const auto report = tick();
  EXPECT_TRUE(report.repos[0].frozen);
  EXPECT_FALSE(report.repos[0].dispatched.has_value());
  bool waits = false;
  for (const auto& verdict : report.repos[0].queue) {
    waits = waits || (verdict.issue.number == issue && verdict.reason == WaitReason::repo_frozen);
  }
  EXPECT_TRUE(waits);
  const DispatchResult refused = dispatch(issue, {true, true, true});
  EXPECT_EQ(reasons(refused), std::vector{WaitReason::repo_frozen});
  EXPECT_TRUE(m_t3.accepted_commands().empty());

  // Freezing again changes nothing.
  m_github.clear_requests();
  const afk::FreezeResult again = freeze("again");
  EXPECT_TRUE(again.already_frozen);
  EXPECT_FALSE(again.tracking_issue.has_value());
  EXPECT_EQ(again.frozen_by, std::vector{*frozen.tracking_issue});
  EXPECT_EQ(github_writes(), 0U);
  EXPECT_EQ(m_log.values("notification", "notify_event").size(), 1U);
}

TEST_F(Operators, freeze_works_while_the_kill_switch_is_on) {
  const afk::FreezeResult frozen = freeze("incident", /*kill_switch=*/true);
  ASSERT_TRUE(frozen.tracking_issue.has_value());
  EXPECT_TRUE(has(labels(frozen.tracking_issue->number), "afk-frozen"));
}

TEST_F(Operators, freezing_mid_run_interrupts_the_agent_and_records_forensics) {
  const std::int64_t issue = ready_issue("Add a health endpoint");
  ASSERT_EQ(dispatch(issue).outcome, Outcome::dispatched);
  m_t3.advance(); // the agent is working (and hangs)
  const afk::FreezeResult frozen = freeze("prod is on fire");
  ASSERT_EQ(frozen.runs.size(), 1U);
  EXPECT_TRUE(frozen.runs[0].error.empty()) << frozen.runs[0].error;
  EXPECT_EQ(frozen.runs[0].after, Phase::frozen);
  EXPECT_FALSE(frozen.tracking_issue.has_value()); // the run's issue carries the label
  EXPECT_EQ(t3_commands("thread.turn.interrupt"), 1);
  const auto run = record(issue);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->phase, Phase::frozen);
  EXPECT_EQ(run->outcome, "frozen by an operator: prod is on fire");
  EXPECT_TRUE(fs::exists(run->worktree_path));
  EXPECT_TRUE(has(labels(issue), "afk-frozen"));
  EXPECT_TRUE(has(labels(issue), "ready-for-human"));
  EXPECT_FALSE(has(labels(issue), "agent-in-progress"));
  std::string comment;
  const auto view = m_github.issue(k_repo, issue);
  for (const auto& [author, body] : view->comments) {
    comment = author == "afk-bot" ? body : comment;
  }
  EXPECT_NE(comment.find("Forensics (frozen)"), std::string::npos) << comment;
  EXPECT_NE(comment.find("https://t3.example/" + run->thread_id), std::string::npos) << comment;
  EXPECT_NE(comment.find("agent: busy"), std::string::npos) << comment;
  EXPECT_NE(comment.find("HEAD `" + m_main), std::string::npos) << comment;
  EXPECT_EQ(m_log.values("notification", "notify_event"), std::vector<std::string>{"frozen"});

  // Frozen now: another ready issue waits, and freezing again is a no-op.
  const std::int64_t next = ready_issue("Another");
  EXPECT_FALSE(tick().repos[0].dispatched.has_value());
  EXPECT_FALSE(record(next).has_value());
  const afk::FreezeResult again = freeze("again");
  EXPECT_TRUE(again.already_frozen);
  EXPECT_EQ(t3_commands("thread.turn.interrupt"), 1);
}

TEST_F(Operators, thaw_closes_the_tracking_issue_and_the_next_tick_dispatches) {
  const afk::FreezeResult frozen = freeze("maintenance");
  const std::int64_t issue = ready_issue("Add a health endpoint");
  const afk::ThawResult thawed = thaw();
  EXPECT_TRUE(thawed.was_frozen());
  EXPECT_EQ(thawed.closed, std::vector{*frozen.tracking_issue});
  const auto tracking = m_github.issue(k_repo, frozen.tracking_issue->number);
  EXPECT_EQ(tracking->state, "closed");
  EXPECT_FALSE(has(tracking->labels, "afk-frozen"));
  ASSERT_FALSE(tracking->comments.empty());
  EXPECT_EQ(tracking->comments.back().second.find("Thawed by ops@host:1 at "), 0U);

  const auto report = tick();
  EXPECT_FALSE(report.repos[0].frozen);
  ASSERT_TRUE(report.repos[0].dispatched.has_value());
  EXPECT_EQ(report.repos[0].dispatched->number, issue);

  // Nothing left to thaw.
  m_github.clear_requests();
  EXPECT_FALSE(thaw().was_frozen());
  EXPECT_EQ(github_writes(), 0U);
}

TEST_F(Operators, thaw_after_a_frozen_run_keeps_it_with_a_person) {
  const std::int64_t issue = ready_issue("Add a health endpoint");
  ASSERT_EQ(dispatch(issue).outcome, Outcome::dispatched);
  m_t3.advance();
  ASSERT_EQ(freeze("stop").runs.size(), 1U);
  const afk::ThawResult thawed = thaw();
  const afk::IssueRef ref{*afk::RepoName::parse(k_repo), issue};
  EXPECT_EQ(thawed.unlabelled, std::vector{ref});
  EXPECT_TRUE(thawed.closed.empty());
  EXPECT_FALSE(has(labels(issue), "afk-frozen"));
  EXPECT_TRUE(has(labels(issue), "ready-for-human"));
  EXPECT_EQ(m_github.issue(k_repo, issue)->state, "open");
  // Not frozen any more, and the handed-back issue is not picked up again by itself.
  const auto report = tick();
  EXPECT_FALSE(report.repos[0].frozen);
  EXPECT_FALSE(report.repos[0].dispatched.has_value());
}

// ---- afk status --------------------------------------------------------------------------

TEST_F(Operators, status_shows_the_lock_and_why_each_issue_waits_and_changes_nothing) {
  const std::int64_t running = ready_issue("Running");
  ASSERT_EQ(dispatch(running).outcome, Outcome::dispatched);
  const std::int64_t waiting = ready_issue("Waiting");
  const std::int64_t untrusted = m_github.open_issue(k_repo, "Untrusted", "", {}, "mallory");
  m_github.label_issue(k_repo, untrusted, "ready-for-agent", "mallory");
  m_github.clear_requests();
  const std::size_t t3_before = m_t3.accepted_commands().size();

  const afk::StatusReport report = status();
  EXPECT_EQ(github_writes(), 0U);
  EXPECT_EQ(m_t3.accepted_commands().size(), t3_before);
  EXPECT_EQ(report.failures(), 0U);

  const auto doc = nlohmann::json::parse(afk::render_status_json(report));
  EXPECT_EQ(doc.at("armed"), true);
  EXPECT_EQ(doc.at("disarmed_reason"), "");
  ASSERT_EQ(doc.at("repos").size(), 1U);
  const auto& repo = doc.at("repos")[0];
  EXPECT_EQ(repo.at("repo"), "acme/web");
  EXPECT_EQ(repo.at("frozen"), false);
  EXPECT_EQ(repo.at("error"), "");
  EXPECT_TRUE(repo.at("problems").empty());
  EXPECT_TRUE(repo.at("default_branch").is_string());
  ASSERT_EQ(repo.at("runs").size(), 1U);
  const auto& run = repo.at("runs")[0];
  const auto rec = record(running);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(run.at("issue"), "acme/web#" + std::to_string(running));
  EXPECT_EQ(run.at("run_id"), rec->run_id);
  EXPECT_EQ(run.at("phase"), "dispatched");
  EXPECT_TRUE(run.at("next").is_string());
  EXPECT_TRUE(run.at("actions").is_array());
  EXPECT_EQ(run.at("error"), "");
  EXPECT_EQ(run.at("attempt"), 1);
  EXPECT_EQ(run.at("claimed_at"), afk::format_timestamp(rec->claimed_at));
  EXPECT_EQ(run.at("thread_url"), "https://t3.example/" + rec->thread_id);
  EXPECT_EQ(run.at("lease_holder"), "ops@host:1");
  std::map<std::string, std::pair<std::string, std::string>> queue;
  for (const auto& entry : repo.at("queue")) {
    queue[entry.at("issue")] = {entry.at("reason"), entry.at("detail")};
  }
  const auto key = [](std::int64_t n) {
    return "acme/web#" + std::to_string(n);
  };
  EXPECT_EQ(queue.at(key(running)).first, "in_flight");
  EXPECT_EQ(queue.at(key(waiting)), std::make_pair(std::string("repo_locked"),
                                                   "repo locked by #" + std::to_string(running)));
  EXPECT_EQ(queue.at(key(untrusted)).first, "repo_locked");

  const std::string text = afk::render_status_text(report);
  EXPECT_NE(text.find("acme/web: busy"), std::string::npos) << text;
  EXPECT_NE(text.find("lock: acme/web#" + std::to_string(running)), std::string::npos) << text;
  EXPECT_NE(text.find("#" + std::to_string(waiting) + " repo_locked: repo locked by #"),
            std::string::npos)
      << text;
}

TEST_F(Operators, status_says_why_a_repo_is_frozen_and_names_the_untrusted_labeller) {
  const std::int64_t untrusted = m_github.open_issue(k_repo, "Untrusted", "", {}, "mallory");
  m_github.label_issue(k_repo, untrusted, "ready-for-agent", "mallory");
  const auto idle = nlohmann::json::parse(afk::render_status_json(status()));
  const auto& queue = idle.at("repos")[0].at("queue");
  ASSERT_EQ(queue.size(), 1U);
  EXPECT_EQ(queue[0].at("reason"), "untrusted_labeler");
  EXPECT_NE(queue[0].at("detail").get<std::string>().find("@mallory"), std::string::npos);

  const auto tracking = freeze("release freeze").tracking_issue;
  ASSERT_TRUE(tracking.has_value());
  const afk::StatusReport report = status();
  const auto doc = nlohmann::json::parse(afk::render_status_json(report));
  const auto& repo = doc.at("repos")[0];
  EXPECT_EQ(repo.at("frozen"), true);
  ASSERT_EQ(repo.at("frozen_by").size(), 1U);
  EXPECT_EQ(repo.at("frozen_by")[0].at("issue"), tracking->to_string());
  EXPECT_EQ(repo.at("frozen_by")[0].at("why"), "frozen by an operator: release freeze");
  const std::string text = afk::render_status_text(report);
  EXPECT_NE(text.find("acme/web: FROZEN"), std::string::npos) << text;
  EXPECT_NE(text.find("thaw with: afk thaw acme/web"), std::string::npos) << text;
}

TEST_F(Operators, status_while_disarmed_reads_nothing) {
  const afk::StatusReport report = status(/*kill_switch=*/true);
  EXPECT_FALSE(report.armed);
  EXPECT_EQ(report.disarmed_reason, "kill switch on");
  EXPECT_TRUE(report.repos.empty());
  EXPECT_EQ(m_github.request_count(), 0U);
  const auto doc = nlohmann::json::parse(afk::render_status_json(report));
  EXPECT_EQ(doc.at("armed"), false);
  EXPECT_EQ(doc.at("disarmed_reason"), "kill switch on");
  EXPECT_TRUE(doc.at("repos").empty());
  EXPECT_NE(afk::render_status_text(report).find("afk is disabled (kill switch on)"),
            std::string::npos);
}

} // namespace
