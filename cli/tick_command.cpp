// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <afk/engine.hpp>
#include <afk/world.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace afk::cli {

namespace {

struct TickOptions {
  bool dry_run = false;
};

// Ends the process when a tick runs past its deadline by more than a grace period. The
// deadline stops every HTTP request, but not what cannot be interrupted from outside (a git
// fetch from a server that stopped answering: libgit2 1.5 has no network timeout), and that
// must not hold the CronJob's slot. Every step of a tick is crash-safe
// (tests/cli/test_failpoints.cpp), so ending here leaves what a kill would leave, and the
// next tick goes on from it.
class Watchdog {
public:
  Watchdog(Logger& log, std::chrono::milliseconds limit)
      : m_thread([this, &log, limit] {
        std::unique_lock lock(m_mutex);
        if (m_done.wait_for(lock, limit, [this] { return m_finished; })) {
          return;
        }
        log.error("tick_overran", {{"limit", format_duration(std::chrono::ceil<Seconds>(limit))},
                                   {"exit_code", std::to_string(k_exit_temporary)}});
        std::cerr << "afk: the tick ran past its deadline and was ended; the next tick "
                     "continues from where it stopped\n"
                  << std::flush;
        std::_Exit(k_exit_temporary);
      }) {}
  ~Watchdog() {
    {
      const std::lock_guard lock(m_mutex);
      m_finished = true;
    }
    m_done.notify_one();
    m_thread.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

private:
  std::mutex m_mutex;
  std::condition_variable m_done;
  bool m_finished = false;
  std::thread m_thread; // last: starts once the members it uses exist
};

// How long past its deadline a tick may run before the watchdog ends it: a quarter of the
// budget, at most a minute.
std::chrono::milliseconds watchdog_limit(Seconds tick_timeout) {
  const std::chrono::milliseconds budget = tick_timeout;
  return budget + std::min<std::chrono::milliseconds>(budget / 4, std::chrono::minutes(1));
}

// "host:pid": who holds a run's lease, for people reading the record.
std::string holder_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) {
    host[0] = '\0';
  }
  return std::string(host[0] != '\0' ? host : "afk") + ':' + std::to_string(::getpid());
}

// One line per repository and per run, for the person or CronJob log reading stdout.
void print_report(const TickReport& report, bool dry_run) {
  for (const RepoReport& repo : report.repos) {
    std::cout << repo.repo.full() << ": ";
    if (!repo.error.empty()) {
      std::cout << "failed: " << repo.error << '\n';
      continue;
    }
    if (!repo.deferred.empty() && repo.runs.empty() && repo.queue.empty()) {
      std::cout << "left for the next tick (" << repo.deferred << ")\n";
      continue;
    }
    std::cout << (repo.frozen ? "frozen" : repo.runs.empty() ? "idle" : "active");
    if (repo.dispatched) {
      std::cout << (dry_run ? ", would dispatch " : ", dispatched ")
                << repo.dispatched->to_string();
    }
    std::cout << '\n';
    for (const RunReport& run : repo.runs) {
      std::cout << "  " << run.issue.to_string() << ": " << to_string(run.before);
      if (run.after != run.before) {
        std::cout << " -> " << to_string(run.after);
      }
      std::cout << (run.error.empty() ? " (" + run.reason + ")" : " FAILED: " + run.error) << '\n';
    }
    for (const std::string& problem : repo.problems) {
      std::cout << "  needs a person: " << problem << '\n';
    }
    if (!repo.deferred.empty()) {
      std::cout << "  left for the next tick: " << repo.deferred << '\n';
    }
  }
  if (report.deadline_passed) {
    std::cout << "the tick reached its deadline (tick_timeout); the next tick continues\n";
  }
  std::cout << (report.failures() == 0 ? "tick done"
                                       : "tick done with " + std::to_string(report.failures()) +
                                             " failure(s), see the log")
            << (dry_run ? " (dry run: nothing was changed)" : "") << '\n';
}

int tick(Context& context, const TickOptions& options) {
  const Config config = load_effective_config(context.options);
  const std::string source = config.source.empty() ? "built-in defaults" : config.source.string();
  if (!config.armed()) {
    // Disarmed means no I/O at all: not one request, not one file besides the config.
    context.log->info("tick_disabled", {{"reason", config.disarmed_reason()}, {"config", source}});
    std::cout << "afk is disabled (" << config.disarmed_reason() << " in " << source
              << "); nothing to do.\n"
              << "To arm it, set kill_switch = false and list repos in allowlist"
                 " (or AFK_KILL_SWITCH / AFK_ALLOWLIST).\n";
    return k_exit_ok;
  }
  const Deadline deadline = Deadline::after(config.tick_timeout);
  const Watchdog watchdog(*context.log, watchdog_limit(config.tick_timeout));
  const auto world = World::build(config, *context.log, context.clock, deadline);
  EnginePorts ports = world->ports();
  afk::TickOptions tick_options;
  tick_options.deadline = deadline;
  tick_options.dry_run = options.dry_run;
  tick_options.holder = holder_name();
  tick_options.preamble = load_preamble(config);
  const TickReport report = run_tick(config, ports, tick_options);
  print_report(report, options.dry_run);
  context.log->info("tick_done", {{"repos", std::to_string(report.repos.size())},
                                  {"failures", std::to_string(report.failures())},
                                  {"dry_run", options.dry_run ? "1" : "0"}});
  return k_exit_ok; // per-item failures are reported and logged; the next tick retries
}

} // namespace

void add_tick_command(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<TickOptions>();
  auto* command = app.add_subcommand(
      "tick", "One stateless pass: watch in-flight runs, then dispatch at most one issue per free "
              "repo. Disabled (kill switch on or empty allowlist) means no I/O and exit 0.");
  command->add_flag("--dry-run", options->dry_run, "Show the decisions without side effects");
  command->callback([&context, &exit_code, options] { exit_code = tick(context, *options); });
}

} // namespace afk::cli
