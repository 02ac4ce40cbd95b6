// SPDX-License-Identifier: MIT
// Load (issue 9), by counting: one tick over a world of 40 repositories with a known mix
// (support/load_world.hpp) stays within a request budget derived from what the engine must
// read and write, repository by repository; a second tick with nothing changed costs no more;
// nothing is dispatched twice; every repository is processed exactly once. Counts, not time:
// the load benchmark (bench/bench_tick_load.cpp) prints the time and memory figures.
#include "support/load_world.hpp"

#include <afk/engine.hpp>
#include <afk/log.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

namespace {

using afk::test::LoadKind;
using afk::test::LoadWorld;
using afk::test::RequestTally;

constexpr std::size_t k_repos = 40;

// ---- the budget, from what the engine must ask (libafk/src/engine/tick.cpp) ---------------
//
// Every repository: its open issues for each of the 4 afk labels and its closed issues with
// the lock label, one page each here (≤ 100 issues per label).
constexpr std::size_t k_lists = 5;
// A free repository (no run in flight, not frozen): the red-main gate reads the default
// branch's name (GET repo), its head (GET branch) and that SHA's CI (check-runs, status).
constexpr std::size_t k_red_main_gate = 4;
// A candidate the policy asks about: who applied ready-for-agent (events) and their permission,
// the native blockers, and each "Blocked by #n" of the body (GET issue).
constexpr std::size_t k_candidate = 3;
// A claim and dispatch: afk's record (comments), the record (POST comment), the lock (POST
// label, DELETE label), the default branch again for the run (GET repo), the comments for the
// prompt and each distinct commenter's permission (2 here), the record again (PATCH comment).
constexpr std::size_t k_dispatch = 7 + 2;
// A run in flight: its record (comments) and the default branch (GET repo); once it pushed,
// the pushed SHA's CI (check-runs, status); when the record changed, PATCH comment.
constexpr std::size_t k_watch = 2;
constexpr std::size_t k_verdict = 2;
constexpr std::size_t k_record_write = 1;

// The most GitHub requests one tick may make in a repository of `kind`. `first` is the tick
// that sees the world as built (in-flight runs have news: the agent started or pushed);
// later ticks with nothing changed write nothing.
std::size_t github_budget(LoadKind kind, bool first) {
  const std::size_t write = first ? k_record_write : 0;
  switch (kind) {
  case LoadKind::idle:
  case LoadKind::red_main: // red main: no candidate is judged
    return k_lists + k_red_main_gate;
  case LoadKind::blocked: // three candidates, two with a "Blocked by #n" each
    return k_lists + k_red_main_gate + 3 * k_candidate + 2;
  case LoadKind::untrusted:
    return k_lists + k_red_main_gate + k_candidate;
  case LoadKind::dispatching: // dispatched in the first tick; then a run in flight
    return first ? k_lists + k_red_main_gate + k_candidate + k_dispatch
                 : k_lists + k_watch + k_record_write;
  case LoadKind::working:
    return k_lists + k_watch + write;
  case LoadKind::pushed:
    return k_lists + k_watch + k_verdict + write;
  }
  return 0;
}

// T3: the server's descriptor once before the first command; on 0.0.27 (no /threads/{id})
// one probe of /threads/{id} per reader that starts before the answer is known (at most
// max_parallel_repos); a read of the thread (the snapshot on 0.0.27) per run watched; per
// dispatch: the snapshot for the project and again for the thread, project.create (new
// repository), thread.create, a read of the thread before turn.start, turn.start.
constexpr std::size_t k_t3_per_watch = 1;
constexpr std::size_t k_t3_per_dispatch = 6;
std::size_t t3_budget(std::size_t watched, std::size_t dispatched, std::size_t max_parallel) {
  return 1 + max_parallel + watched * k_t3_per_watch + dispatched * k_t3_per_dispatch;
}

std::string describe(const RequestTally& tally) {
  std::ostringstream out;
  out << "GitHub " << tally.github << ", T3 " << tally.t3 << "\n";
  for (const auto& [kind, count] : tally.kinds) {
    out << "  " << kind << ": " << count << "\n";
  }
  return out.str();
}

std::string describe(const std::map<std::string, std::size_t>& kinds) {
  std::string out;
  for (const auto& [kind, count] : kinds) {
    out += kind + " " + std::to_string(count) + "; ";
  }
  return out;
}

std::size_t count_of(const std::map<std::string, std::size_t>& kinds, const std::string& kind) {
  const auto found = kinds.find(kind);
  return found == kinds.end() ? 0 : found->second;
}

std::size_t repos_of(const LoadWorld& world, LoadKind kind) {
  return static_cast<std::size_t>(
      std::count_if(world.repos().begin(), world.repos().end(),
                    [&](const afk::test::LoadRepo& r) { return r.kind == kind; }));
}

std::size_t accepted(afk::test::FakeT3& t3, const std::string& type) {
  const auto commands = t3.accepted_commands();
  return static_cast<std::size_t>(
      std::count_if(commands.begin(), commands.end(), [&](const std::string& body) {
        return body.find("\"type\":\"" + type + "\"") != std::string::npos;
      }));
}

class Load : public testing::Test {
protected:
  void SetUp() override { ::setenv("no_proxy", "*", 1); }

  // Checks each repository's requests against its budget and that it was processed once.
  void expect_within_budget(const afk::TickReport& report, const RequestTally& tally, bool first) {
    ASSERT_EQ(report.repos.size(), k_repos);
    for (std::size_t i = 0; i < k_repos; ++i) {
      const afk::test::LoadRepo& repo = m_world.repos()[i];
      SCOPED_TRACE(repo.name + " (" + std::string(to_string(repo.kind)) + ")");
      EXPECT_EQ(report.repos[i].repo.full(), repo.name);
      EXPECT_TRUE(report.repos[i].error.empty()) << report.repos[i].error;
      const auto kinds = tally.per_repo_kind.find(repo.name);
      ASSERT_NE(kinds, tally.per_repo_kind.end());
      // Processed exactly once: each label listed once.
      EXPECT_EQ(count_of(kinds->second, "GET issues (open)"), 4U) << describe(kinds->second);
      EXPECT_EQ(count_of(kinds->second, "GET issues (closed)"), 1U) << describe(kinds->second);
      EXPECT_LE(tally.per_repo.at(repo.name), github_budget(repo.kind, first))
          << describe(kinds->second);
    }
    // Nothing outside the allowlisted repositories.
    EXPECT_EQ(tally.per_repo.count(""), 0U) << describe(tally);
  }

  LoadWorld m_world{{.repos = k_repos}};
  afk::NullLogger m_log;
};

TEST_F(Load, one_tick_stays_within_its_request_budget) {
  const afk::TickReport report = m_world.tick(8, m_log);
  const RequestTally tally = m_world.tally();
  SCOPED_TRACE(describe(tally));
  expect_within_budget(report, tally, /*first=*/true);

  std::size_t budget = 0;
  for (const afk::test::LoadRepo& repo : m_world.repos()) {
    budget += github_budget(repo.kind, true);
  }
  EXPECT_LE(tally.github, budget);

  const std::size_t dispatching = repos_of(m_world, LoadKind::dispatching);
  const std::size_t in_flight =
      repos_of(m_world, LoadKind::working) + repos_of(m_world, LoadKind::pushed);
  EXPECT_LE(tally.t3, t3_budget(in_flight, dispatching, 8));
  std::size_t dispatched = 0;
  std::size_t watched = 0;
  for (const afk::RepoReport& repo : report.repos) {
    dispatched += repo.dispatched ? 1U : 0U;
    watched += repo.runs.size() - (repo.dispatched ? 1U : 0U);
  }
  EXPECT_EQ(dispatched, dispatching);
  EXPECT_EQ(watched, in_flight);
}

TEST_F(Load, a_second_tick_with_nothing_changed_costs_no_more_and_dispatches_nothing) {
  (void)m_world.tick(8, m_log);
  const RequestTally first = m_world.tally();
  const std::size_t threads = accepted(m_world.t3(), "thread.create");
  const std::size_t turns = accepted(m_world.t3(), "thread.turn.start");

  m_world.mark();
  const afk::TickReport report = m_world.tick(8, m_log);
  const RequestTally second = m_world.tally();
  SCOPED_TRACE("first: " + describe(first) + "second: " + describe(second));
  expect_within_budget(report, second, /*first=*/false);
  EXPECT_LE(second.github, first.github);
  EXPECT_LE(second.t3, first.t3);

  // One thread and one turn per run, ever: none of the second tick's.
  const std::size_t runs = repos_of(m_world, LoadKind::dispatching) +
                           repos_of(m_world, LoadKind::working) +
                           repos_of(m_world, LoadKind::pushed);
  EXPECT_EQ(threads, runs);
  EXPECT_EQ(turns, runs);
  EXPECT_EQ(accepted(m_world.t3(), "thread.create"), threads);
  EXPECT_EQ(accepted(m_world.t3(), "thread.turn.start"), turns);
  for (const afk::RepoReport& repo : report.repos) {
    EXPECT_FALSE(repo.dispatched.has_value()) << repo.repo.full();
  }
  // Each run's issue holds exactly one record.
  for (const afk::test::LoadRepo& repo : m_world.repos()) {
    if (repo.kind != LoadKind::dispatching && !afk::test::in_flight(repo.kind)) {
      continue;
    }
    const auto comments = m_world.github().comments(repo.name, repo.ready);
    EXPECT_EQ(std::count_if(comments.begin(), comments.end(),
                            [](const auto& c) {
                              return c.author == "afk-bot" &&
                                     c.body.find("<!-- afk:run ") != std::string::npos;
                            }),
              1)
        << repo.name;
  }
}

TEST_F(Load, a_serial_tick_asks_exactly_what_a_parallel_one_asks) {
  // Two identical worlds, ticked one repository at a time and eight at a time: the same
  // requests in every repository; in T3 the same, except the probe of /threads/{id}.
  LoadWorld twin({.repos = k_repos,
                  .dir = std::filesystem::temp_directory_path() /
                         ("afk-load-twin-" + std::to_string(::getpid()))});
  const afk::TickReport serial_report = twin.tick(1, m_log);
  const RequestTally serial = twin.tally();
  const afk::TickReport parallel_report = m_world.tick(8, m_log);
  const RequestTally parallel = m_world.tally();
  SCOPED_TRACE("serial: " + describe(serial) + "parallel: " + describe(parallel));
  expect_within_budget(parallel_report, parallel, /*first=*/true);
  EXPECT_EQ(serial.per_repo_kind, parallel.per_repo_kind);
  for (const auto& [kind, count] : serial.kinds) {
    if (kind != "T3 GET thread") {
      EXPECT_EQ(count, count_of(parallel.kinds, kind)) << kind;
    }
  }
  EXPECT_LE(count_of(serial.kinds, "T3 GET thread"), 1U);
  EXPECT_EQ(serial_report.failures(), 0U);
}

} // namespace
