// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <iostream>

namespace afk::cli {

namespace {

int check(Context& context) {
  const Config config = load_effective_config(context.options);
  const std::string source = config.source.empty() ? "built-in defaults" : config.source.string();
  (void)load_preamble(config); // its problems make the config invalid too
  std::cout << source << ": valid\n";
  if (config.armed()) {
    std::cout << "armed for " << config.allowlist.size() << " repo(s):";
    for (const auto& repo : config.allowlist) {
      std::cout << ' ' << repo.full();
    }
    std::cout << '\n';
  } else {
    std::cout << "disarmed: " << config.disarmed_reason() << '\n';
  }
  context.log->debug("config_checked", {{"config", source}});
  return k_exit_ok;
}

} // namespace

void add_config_command(CLI::App& app, Context& context, int& exit_code) {
  auto* config = app.add_subcommand("config", "Inspect the configuration");
  config->require_subcommand(1);
  config->fallthrough();
  auto* check_command = config->add_subcommand(
      "check", "Validate the config (file, then AFK_KILL_SWITCH / AFK_ALLOWLIST) and say whether "
               "afk is armed. Exit 78 with every problem listed when it is invalid.");
  check_command->callback([&context, &exit_code] { exit_code = check(context); });
}

} // namespace afk::cli
