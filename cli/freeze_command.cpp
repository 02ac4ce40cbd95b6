// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <afk/error.hpp>
#include <afk/operators.hpp>
#include <afk/world.hpp>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>

namespace afk::cli {

namespace {

struct FreezeOptions {
  std::string repo;
  std::string reason;
};

// Freeze runs disarmed too, but it needs the tracker to write anything.
void require_tracker(const Config& config) {
  if (config.tracker.token_file.empty() || config.tracker.login.empty()) {
    throw Error(ErrorKind::config,
                "afk freeze needs the tracker: set tracker.token_file and tracker.login in " +
                    (config.source.empty() ? std::string("the config (--config)")
                                           : config.source.string()));
  }
}

int freeze(Context& context, const FreezeOptions& options) {
  const Config config = load_effective_config(context.options);
  const RepoName repo = *RepoName::parse(options.repo); // checked by the option's validator
  require_tracker(config);
  if (!config.armed()) {
    std::cout << "note: afk is disabled (" << config.disarmed_reason()
              << "); freezing anyway: an emergency stop always works.\n";
  } else if (!config.allowlisted(repo)) {
    std::cout << "note: " << repo.full() << " is not in the allowlist; freezing anyway.\n";
  }
  const auto world = World::build(config, *context.log, context.clock);
  EnginePorts ports = world->ports();
  afk::TickOptions tick_options;
  tick_options.holder = operator_identity();
  const FreezeResult result = freeze_repo(config, ports, tick_options, repo, options.reason);
  for (const RunReport& run : result.runs) {
    if (run.error.empty()) {
      const bool interrupted = std::find(run.actions.begin(), run.actions.end(),
                                         RunAction::interrupt) != run.actions.end();
      std::cout << "froze " << run.issue.to_string() << ": run " << run.run_id << " ("
                << (interrupted ? "agent interrupted" : "agent was not working")
                << "; worktree kept; forensics in the issue)\n";
    } else {
      std::cerr << "afk: could NOT freeze the run on " << run.issue.to_string() << ": " << run.error
                << "\nIts agent may still be working. Retry afk freeze " << repo.full() << ".\n";
    }
  }
  if (result.already_frozen) {
    std::cout << repo.full() << " is already frozen (by";
    for (const IssueRef& issue : result.frozen_by) {
      std::cout << ' ' << issue.to_string();
    }
    std::cout << "); nothing changed.\n";
  } else if (result.tracking_issue) {
    std::cout << "froze " << repo.full() << ": opened " << result.tracking_issue->to_string()
              << " (" << freeze_tracking_title(repo) << ")\n";
  }
  if (!result.already_frozen) {
    std::cout << "no issue is dispatched in " << repo.full() << " until: afk thaw " << repo.full()
              << '\n';
  }
  return result.failed() ? k_exit_temporary : k_exit_ok;
}

int thaw(Context& context, const std::string& repo_text) {
  const Config config = load_effective_config(context.options);
  const RepoName repo = *RepoName::parse(repo_text); // checked by the option's validator
  if (!config.armed()) {
    std::cerr << "afk: not thawing " << repo.full() << ": afk is disabled ("
              << config.disarmed_reason()
              << "). Arm it first: a frozen repository stays frozen, so arming is safe.\n";
    return k_exit_unavailable;
  }
  const auto world = World::build(config, *context.log, context.clock);
  EnginePorts ports = world->ports();
  afk::TickOptions tick_options;
  tick_options.holder = operator_identity();
  const ThawResult result = thaw_repo(config, ports, tick_options, repo);
  if (!result.was_frozen()) {
    std::cout << repo.full() << " is not frozen; nothing changed.\n";
    return k_exit_ok;
  }
  for (const IssueRef& issue : result.unlabelled) {
    const bool closed =
        std::find(result.closed.begin(), result.closed.end(), issue) != result.closed.end();
    std::cout << (closed ? "closed " : "unfroze ") << issue.to_string()
              << (closed ? " (afk's freeze tracking issue)"
                         : " (" + config.labels.human + " kept: relabel it to retry)")
              << '\n';
  }
  std::cout << "thawed " << repo.full() << ": the next tick may dispatch here again.\n";
  return k_exit_ok;
}

} // namespace

std::string operator_identity() {
  const passwd* user = ::getpwuid(::geteuid()); // NOLINT(concurrency-mt-unsafe): one thread
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) {
    host[0] = '\0';
  }
  return std::string(user != nullptr ? user->pw_name : "uid " + std::to_string(::geteuid())) + '@' +
         (host[0] != '\0' ? host : "localhost") + ':' + std::to_string(::getpid());
}

CLI::Validator repo_name_validator() {
  return CLI::Validator(
      [](std::string& text) {
        const std::string why = explain_invalid_repo_name(text);
        return why.empty() ? std::string() : "expected a repository as owner/repo: " + why;
      },
      "");
}

void add_freeze_commands(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<FreezeOptions>();
  auto* freeze_command = app.add_subcommand(
      "freeze",
      "Stop a repository now: interrupt the run in flight (its worktree and forensics are kept "
      "in the issue) or, with nothing in flight, open a tracking issue labelled frozen; then no "
      "issue is dispatched there until afk thaw. Works while afk is disabled (an emergency stop "
      "always works); needs tracker.token_file and tracker.login. Exit 0 frozen or already "
      "frozen, 75 a run could not be frozen (the repo is still marked frozen; retry).");
  freeze_command->add_option("repo", options->repo, "The repository, as owner/repo")
      ->required()
      ->type_name("OWNER/REPO")
      ->check(repo_name_validator());
  freeze_command->add_option("--reason", options->reason, "Why, for the issue and the page")
      ->type_name("TEXT");
  freeze_command->callback(
      [&context, &exit_code, options] { exit_code = freeze(context, *options); });

  auto repo = std::make_shared<std::string>();
  auto* thaw_command = app.add_subcommand(
      "thaw", "Unfreeze a repository: remove the frozen label from its open issues and close "
              "afk's tracking issue. Issues handed to a person keep ready-for-human. Exit 69 "
              "while afk is disabled.");
  thaw_command->add_option("repo", *repo, "The repository, as owner/repo")
      ->required()
      ->type_name("OWNER/REPO")
      ->check(repo_name_validator());
  thaw_command->callback([&context, &exit_code, repo] { exit_code = thaw(context, *repo); });
}

} // namespace afk::cli
