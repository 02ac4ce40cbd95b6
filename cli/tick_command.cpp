// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <iostream>

namespace afk::cli {

namespace {

struct TickOptions {
  bool dry_run = false;
};

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
  context.log->error("tick_unavailable",
                     {{"reason", "adapters not built"}, {"dry_run", options.dry_run ? "1" : "0"}});
  std::cerr << "afk tick: armed for " << config.allowlist.size()
            << " repo(s), but this build has no tracker, T3, git or deploy adapters yet;"
               " nothing was done.\n";
  return k_exit_unavailable;
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
