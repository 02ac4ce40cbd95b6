// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <afk/operators.hpp>
#include <afk/world.hpp>

#include <iostream>
#include <string>

namespace afk::cli {

namespace {

struct DispatchOptions {
  std::string issue;
  DispatchOverrides overrides;
  bool dry_run = false;
};

// The flag that overrides a gate, or "" when nothing does.
std::string override_flag(WaitReason reason) {
  switch (reason) {
  case WaitReason::blocked:
    return "--ignore-blockers";
  case WaitReason::default_branch_red:
    return "--ignore-red-main";
  case WaitReason::not_ready:
  case WaitReason::untrusted_labeler:
    return "--skip-label-check";
  default:
    return "";
  }
}

int dispatch(Context& context, const DispatchOptions& options) {
  const Config config = load_effective_config(context.options);
  const IssueRef issue = *parse_issue_ref(options.issue); // checked by the option's validator
  if (!config.armed()) {
    std::cerr << "afk: not dispatching " << issue.to_string() << ": afk is disabled ("
              << config.disarmed_reason() << " in "
              << (config.source.empty() ? "built-in defaults" : config.source.string())
              << "). Arm it first (kill_switch = false and the repo in allowlist).\n";
    return k_exit_unavailable;
  }
  const auto world = World::build(config, *context.log, context.clock);
  EnginePorts ports = world->ports();
  afk::TickOptions tick_options;
  tick_options.dry_run = options.dry_run;
  tick_options.holder = operator_identity();
  tick_options.preamble = load_preamble(config);
  const DispatchResult result =
      dispatch_issue(config, ports, tick_options, issue, options.overrides);
  const bool going = result.outcome == DispatchResult::Outcome::dispatched ||
                     result.outcome == DispatchResult::Outcome::would_dispatch;
  for (const IssueVerdict& verdict : going ? result.overridden : std::vector<IssueVerdict>{}) {
    std::cout << "overriding " << to_string(verdict.reason) << ": " << verdict.detail << '\n';
  }
  switch (result.outcome) {
  case DispatchResult::Outcome::dispatched:
    std::cout << "dispatched " << issue.to_string() << ": run " << result.run->run_id << ", "
              << to_string(result.run->before) << " -> " << to_string(result.run->after) << " ("
              << result.run->reason << ")\n";
    return k_exit_ok;
  case DispatchResult::Outcome::would_dispatch:
    std::cout << "would dispatch " << issue.to_string()
              << " (dry run: every gate passed; nothing was changed)\n";
    return k_exit_ok;
  case DispatchResult::Outcome::not_runnable:
    std::cerr << "afk: not dispatching " << issue.to_string() << ": " << result.detail << '\n';
    return k_exit_unavailable;
  case DispatchResult::Outcome::failed:
    std::cerr << "afk: dispatching " << issue.to_string() << " failed: " << result.detail
              << "\nThe issue is claimed; the next tick retries (see afk status).\n";
    return k_exit_temporary;
  case DispatchResult::Outcome::refused:
    break;
  }
  std::cerr << "afk: not dispatching " << issue.to_string() << ":\n";
  for (const IssueVerdict& verdict : result.refusals) {
    const std::string flag = override_flag(verdict.reason);
    std::cerr << "  " << to_string(verdict.reason) << ": " << verdict.detail
              << (flag.empty() ? " (no override)" : " (override: " + flag + ")") << '\n';
  }
  return k_exit_temporary;
}

} // namespace

void add_dispatch_command(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<DispatchOptions>();
  auto* command = app.add_subcommand(
      "dispatch",
      "Dispatch one issue now, through the gates a tick applies (allowlisted, open, repo not "
      "frozen or locked, not ready-for-human, default branch not red, ready label applied by a "
      "trusted human, blockers closed). Exit 0 dispatched, 75 refused by a gate (each is named "
      "with the flag that overrides it) or failed part way (the next tick resumes), 69 disarmed "
      "or not an issue afk may run.");
  command->add_option("issue", options->issue, "The issue to dispatch, as owner/repo#N")
      ->required()
      ->type_name("OWNER/REPO#N")
      ->check(CLI::Validator(
          [](std::string& text) {
            return parse_issue_ref(text) ? std::string()
                                         : "expected an issue as owner/repo#N, e.g. acme/web#12";
          },
          ""));
  command->add_flag("--ignore-blockers", options->overrides.ignore_blockers,
                    "Dispatch even if a blocker is open or unreadable");
  command->add_flag("--ignore-red-main", options->overrides.ignore_red_main,
                    "Dispatch even if the default branch is red");
  command->add_flag("--skip-label-check", options->overrides.skip_label_check,
                    "Dispatch without the ready label or a trusted labeller: you vouch for the "
                    "issue (recorded in a comment on it)");
  command->add_flag("--dry-run", options->dry_run, "Apply the gates, change nothing");
  command->callback([&context, &exit_code, options] { exit_code = dispatch(context, *options); });
}

} // namespace afk::cli
