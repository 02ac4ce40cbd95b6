// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <afk/operators.hpp>
#include <afk/world.hpp>

#include <iostream>
#include <string>

namespace afk::cli {

namespace {

struct StatusOptions {
  bool json = false;
  std::string repo; // empty: every allowlisted repository
};

int show_status(Context& context, const StatusOptions& options) {
  Config config = load_effective_config(context.options);
  if (!options.repo.empty()) {
    const RepoName repo = *RepoName::parse(options.repo); // checked by the option's validator
    if (config.armed() && !config.allowlisted(repo)) {
      std::cerr << "afk: " << repo.full() << " is not in the allowlist; afk does nothing there.\n";
      return k_exit_unavailable;
    }
    if (config.armed()) {
      config.allowlist = {repo};
    }
  }
  StatusReport report;
  if (config.armed()) {
    const auto world = World::build(config, *context.log, context.clock);
    EnginePorts ports = world->ports();
    report = status(config, ports);
  } else {
    // Disarmed: no I/O at all, as for a tick.
    report.disarmed_reason = config.disarmed_reason();
    report.at = context.clock.now();
  }
  if (options.json) {
    std::cout << render_status_json(report) << '\n';
  } else {
    std::cout << render_status_text(report);
  }
  return report.failures() == 0 ? k_exit_ok : k_exit_temporary;
}

} // namespace

void add_status_command(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<StatusOptions>();
  auto* command = app.add_subcommand(
      "status",
      "Per repository: the run holding the lock (phase, since when, T3 thread), whether it is "
      "frozen and why, and each waiting issue with the reason it is not running. Reads the "
      "tracker, T3, git and CI; changes nothing. Disabled: says so, no I/O, exit 0. Exit 75 when "
      "a repository could not be read.");
  command->add_flag("--json", options->json,
                    "One JSON object: armed, disarmed_reason, at, repos[] {repo, frozen, "
                    "frozen_by, default_branch, runs, queue, problems, error}");
  command->add_option("repo", options->repo, "Only this repository (owner/repo, allowlisted)")
      ->type_name("OWNER/REPO")
      ->check(repo_name_validator());
  command->callback(
      [&context, &exit_code, options] { exit_code = show_status(context, *options); });
}

} // namespace afk::cli
