// SPDX-License-Identifier: MIT
// Load (issue 9): one tick over hundreds of repositories with thousands of issues, through
// World::build (real libcurl over loopback, libgit2, the T3 client) against the fake GitHub,
// the strict fake T3 and real bare git origins (tests/support/load_world.hpp: 60% idle,
// queued and blocked, untrusted and red-main repositories, 5% dispatched this tick, 15% with a
// run in flight). For each configuration it prints the requests made (in total, per repository
// and kind of repository, by endpoint), the tick's wall time against tick_timeout, and memory:
// the resident set before the tick and its peak during it (the peak is reset just before the
// tick; the fakes run in the same process, so the growth is an upper bound of the tick's own).
//
// The baseline is measured in the same run: a 50-repository world of the same mix at the
// same parallelism. Per-repository requests and wall time at 500 over the baseline's say
// whether the cost scales linearly (1.0); parallel 8 and 32 over parallel 1 say what the
// bounded concurrency buys. Each configuration runs in its own process (fork), so one
// cannot inherit another's heap or peak.
//
//   bench_tick_load                  50 vs 500 repositories, parallel 1, 8 and 32
//   bench_tick_load --quick          20 vs 100 repositories, parallel 1 and 8 (seconds)
//   bench_tick_load --latency-ms=N   every fake answers N ms late (as a remote GitHub would)
//   bench_tick_load --only=R,P       one run: R repositories at parallel P, no summary
//   bench_tick_load --t3=0.0.29      a T3 that serves /threads/{id} (default 0.0.27: snapshots)

#include "support/load_world.hpp"

#include <afk/engine.hpp>
#include <afk/log.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using afk::test::LoadKind;
using Steady = std::chrono::steady_clock;

constexpr double k_tick_timeout_s = 240;       // Config::tick_timeout's default, 4m
constexpr double k_github_hourly_limit = 5000; // REST requests per hour for a user token

struct RunSpec {
  std::size_t repos = 0;
  std::size_t parallel = 0;
  int latency_ms = 0;
  afk::test::T3Version t3 = afk::test::T3Version::v0_0_27;
};

// What a child sends back: plain values only.
struct RunResult {
  std::size_t repos = 0;
  std::size_t parallel = 0;
  std::size_t issues = 0;
  double seed_s = 0;
  double wall_s = 0;
  std::size_t github = 0;
  std::size_t t3 = 0;
  long rss_before_kib = 0;
  long rss_peak_kib = 0;
  bool peak_reset = false;
  std::size_t failures = 0;
  std::size_t dispatched = 0;
};

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

// Resets the kernel's peak-RSS mark (VmHWM, ru_maxrss) to the current RSS (Linux ≥ 4.0).
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

long current_rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  statm >> pages >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

long peak_rss_kib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

double mib(long kib) {
  return static_cast<double>(kib) / 1024.0;
}

void print_breakdown(const afk::test::LoadWorld& world, const afk::test::RequestTally& tally) {
  struct PerKind {
    std::size_t repos = 0, requests = 0, most = 0;
  };
  std::map<std::string, PerKind> kinds;
  for (const afk::test::LoadRepo& repo : world.repos()) {
    const auto found = tally.per_repo.find(repo.name);
    const std::size_t requests = found == tally.per_repo.end() ? 0 : found->second;
    PerKind& k = kinds[std::string(to_string(repo.kind))];
    ++k.repos;
    k.requests += requests;
    k.most = std::max(k.most, requests);
  }
  std::printf("  GitHub requests per repository, by kind of repository:\n");
  for (const auto& [kind, k] : kinds) {
    std::printf("    %-12s %4zu repos  %6.2f each (max %zu)\n", kind.c_str(), k.repos,
                static_cast<double>(k.requests) / static_cast<double>(k.repos), k.most);
  }
  std::vector<std::pair<std::size_t, std::string>> endpoints;
  for (const auto& [kind, count] : tally.kinds) {
    endpoints.emplace_back(count, kind);
  }
  std::sort(endpoints.rbegin(), endpoints.rend());
  std::printf("  requests by endpoint:\n");
  for (const auto& [count, kind] : endpoints) {
    std::printf("    %6zu  %s\n", count, kind.c_str());
  }
}

RunResult measure(const RunSpec& spec) {
  RunResult result{.repos = spec.repos, .parallel = spec.parallel};
  const auto seeding = Steady::now();
  afk::test::LoadWorld world({.repos = spec.repos, .github_threads = 64, .t3 = spec.t3});
  result.seed_s = seconds_since(seeding);
  result.issues = world.issue_count();
  if (spec.latency_ms > 0) {
    world.github().set_delay(std::chrono::milliseconds(spec.latency_ms));
    world.t3().set_delay(std::chrono::milliseconds(spec.latency_ms));
  }

  afk::NullLogger log;
  result.peak_reset = reset_peak_rss();
  result.rss_before_kib = current_rss_kib();
  const auto start = Steady::now();
  const afk::TickReport report = world.tick(spec.parallel, log);
  result.wall_s = seconds_since(start);
  result.rss_peak_kib = peak_rss_kib();

  const afk::test::RequestTally tally = world.tally();
  result.github = tally.github;
  result.t3 = tally.t3;
  result.failures = report.failures();
  std::size_t watched = 0;
  for (const afk::RepoReport& repo : report.repos) {
    result.dispatched += repo.dispatched ? 1U : 0U;
    watched += repo.runs.size() - (repo.dispatched ? 1U : 0U);
  }

  std::printf("== %zu repositories, max_parallel_repos %zu, T3 %s%s ==\n", spec.repos,
              spec.parallel, std::string(afk::test::server_version(spec.t3)).c_str(),
              spec.latency_ms > 0 ? (", " + std::to_string(spec.latency_ms) + " ms latency").c_str()
                                  : "");
  std::printf("  world: %zu issues; built and seeded in %.1f s\n", result.issues, result.seed_s);
  std::printf("  tick: %.3f s wall (%.2f%% of tick_timeout 4m), %.2f ms per repository; "
              "%zu dispatched, %zu runs watched, %zu failures%s\n",
              result.wall_s, 100.0 * result.wall_s / k_tick_timeout_s,
              1000.0 * result.wall_s / static_cast<double>(spec.repos), result.dispatched, watched,
              result.failures, report.deadline_passed ? ", DEADLINE PASSED" : "");
  std::printf("  requests: GitHub %zu (%.2f per repository), T3 %zu\n", tally.github,
              static_cast<double>(tally.github) / static_cast<double>(spec.repos), tally.t3);
  const std::size_t snapshot_reads =
      tally.kinds.count("T3 GET snapshot") > 0 ? tally.kinds.at("T3 GET snapshot") : 0;
  std::printf("  T3 snapshot after the tick: %.1f KiB; read %zu times this tick (each read is "
              "the whole snapshot)\n",
              static_cast<double>(world.t3().snapshot_json().size()) / 1024.0, snapshot_reads);
  std::printf(
      "  memory: RSS before the tick %.1f MiB, peak during it %.1f MiB, growth %.1f MiB%s\n",
      mib(result.rss_before_kib), mib(result.rss_peak_kib),
      mib(result.rss_peak_kib - result.rss_before_kib),
      result.peak_reset ? "" : " (peak not resettable here: lifetime peak)");
  print_breakdown(world, tally);
  std::printf("\n");
  return result;
}

// Runs `spec` in a child process and returns what it measured.
RunResult run_in_child(const RunSpec& spec) {
  std::fflush(stdout);
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    int code = 0;
    RunResult result;
    try {
      result = measure(spec);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "bench_tick_load: %zu repositories: %s\n", spec.repos, error.what());
      code = 1;
    }
    std::fflush(stdout);
    const bool sent =
        ::write(pipe_fds[1], &result, sizeof result) == static_cast<ssize_t>(sizeof result);
    ::_exit(sent ? code : 1);
  }
  ::close(pipe_fds[1]);
  RunResult result;
  const ssize_t got = ::read(pipe_fds[0], &result, sizeof result);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (got != static_cast<ssize_t>(sizeof result) || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    throw std::runtime_error("the run over " + std::to_string(spec.repos) + " repositories failed");
  }
  return result;
}

double per_repo(double value, std::size_t repos) {
  return value / static_cast<double>(repos);
}

} // namespace

int main(int argc, char** argv) {
  ::setenv("no_proxy", "*", 1);
  bool quick = false;
  int latency_ms = 0;
  RunSpec only;
  afk::test::T3Version t3 = afk::test::T3Version::v0_0_27;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (std::sscanf(arg.c_str(), "--only=%zu,%zu", &only.repos, &only.parallel) == 2) {
      only.parallel = std::max<std::size_t>(only.parallel, 1);
    } else if (arg == "--t3=0.0.29" || arg == "--t3=0.0.32") {
      t3 = arg == "--t3=0.0.29" ? afk::test::T3Version::v0_0_29 : afk::test::T3Version::v0_0_32;
    } else if (arg.starts_with("--latency-ms=")) {
      latency_ms = std::atoi(arg.c_str() + std::strlen("--latency-ms="));
    } else {
      std::fprintf(stderr, "usage: bench_tick_load [--quick] [--latency-ms=N] "
                           "[--only=REPOS,PARALLEL] [--t3=0.0.29|0.0.32]\n");
      return 2;
    }
  }
  const std::size_t base = quick ? 20 : 50;
  const std::size_t large = quick ? 100 : 500;
  std::vector<std::size_t> parallels{1, 8};
  if (!quick) {
    parallels.push_back(32);
  }

  try {
    if (only.repos > 0) {
      only.latency_ms = latency_ms;
      only.t3 = t3;
      (void)run_in_child(only);
      return 0;
    }
    // The baseline at each parallelism, then the large world at the same.
    std::vector<std::pair<RunResult, RunResult>> runs;
    for (const std::size_t parallel : parallels) {
      const RunResult baseline = run_in_child({base, parallel, latency_ms, t3});
      runs.emplace_back(baseline, run_in_child({large, parallel, latency_ms, t3}));
    }

    std::printf("== summary ==\n");
    std::printf("  repos  parallel  wall s   ms/repo  GitHub  per repo   T3  "
                "RSS before  peak MiB  growth\n");
    const auto row = [](const RunResult& r) {
      std::printf("  %5zu  %8zu  %6.2f  %8.2f  %6zu  %8.2f  %4zu  %10.1f  %8.1f  %6.1f\n", r.repos,
                  r.parallel, r.wall_s, 1000.0 * per_repo(r.wall_s, r.repos), r.github,
                  per_repo(static_cast<double>(r.github), r.repos), r.t3, mib(r.rss_before_kib),
                  mib(r.rss_peak_kib), mib(r.rss_peak_kib - r.rss_before_kib));
    };
    for (const auto& [baseline, result] : runs) {
      row(baseline);
      row(result);
    }
    std::printf("\n  %zu vs %zu repositories, per repository (1.0 = linear):\n", large, base);
    for (const auto& [baseline, result] : runs) {
      std::printf("    parallel %2zu: GitHub requests %.3f, T3 requests %.3f, wall time %.2f\n",
                  result.parallel,
                  per_repo(static_cast<double>(result.github), large) /
                      per_repo(static_cast<double>(baseline.github), base),
                  per_repo(static_cast<double>(result.t3), large) /
                      per_repo(static_cast<double>(baseline.t3), base),
                  per_repo(result.wall_s, large) / per_repo(baseline.wall_s, base));
    }
    const RunResult& serial = runs.front().second;
    for (std::size_t i = 1; i < runs.size(); ++i) {
      std::printf("  %zu repositories, parallel %zu vs 1: %.2fx faster\n", large,
                  runs[i].second.parallel, serial.wall_s / runs[i].second.wall_s);
    }
    std::printf("  time bound: the slowest %zu-repository tick took %.1f%% of tick_timeout (4m)\n",
                large, 100.0 * serial.wall_s / k_tick_timeout_s);
    std::printf("  rate limit: %zu GitHub requests per tick; at %.0f requests/h (a user token) "
                "that allows %.1f ticks per hour\n",
                serial.github, k_github_hourly_limit,
                k_github_hourly_limit / static_cast<double>(serial.github));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_tick_load: %s\n", error.what());
    return 1;
  }
  return 0;
}
