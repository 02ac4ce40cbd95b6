// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <afk/error.hpp>

#include <cstdlib>
#include <iostream>

namespace {

constexpr const char* k_footer = R"(Exit codes:
  0   done (a tick that finished is 0 even when single items failed; see the log)
  64  bad command line
  69  could not run: a part afk needs is not available
  70  internal error in afk
  75  could not run now, or a tick overran tick_timeout and ended itself;
      the next run may succeed
  78  configuration invalid or unreadable

Environment:
  AFK_CONFIG       config file when --config is not given
  AFK_KILL_SWITCH  overrides kill_switch (true/false, 1/0, yes/no, on/off)
  AFK_ALLOWLIST    overrides allowlist (comma-separated owner/repo; empty means none)
Logs go to stderr as JSON lines; stdout carries the command's output.)";

int run(int argc, char** argv) {
  afk::cli::Context context;
  int exit_code = afk::cli::k_exit_ok;
  CLI::App app{"afk: turns issues labelled ready-for-agent into tested, deployed code", "afk"};
  app.set_version_flag("--version", std::string("afk ") + AFK_VERSION);
  app.footer(k_footer);
  app.require_subcommand(1);
  app.fallthrough(); // common options may follow the verb: `afk tick --config x`
  afk::cli::add_common_options(app, context.options);
  afk::cli::add_tick_command(app, context, exit_code);
  afk::cli::add_dispatch_command(app, context, exit_code);
  afk::cli::add_freeze_commands(app, context, exit_code);
  afk::cli::add_status_command(app, context, exit_code);
  afk::cli::add_doctor_command(app, context, exit_code);
  afk::cli::add_config_command(app, context, exit_code);
  // Subcommand callbacks run inside parse(), after the common options are known.
  app.parse_complete_callback([&] {
    context.log = afk::make_json_lines_logger(
        std::cerr, context.clock, context.options.verbose ? afk::Level::debug : afk::Level::info);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? afk::cli::k_exit_ok : afk::cli::k_exit_usage;
  }
  return exit_code;
}

// The one line a log collector must not miss: a JSON event, then the same words for a
// person reading the terminal.
int fatal(std::string_view kind, const std::string& message, int exit_code) {
  const afk::SystemClock clock;
  afk::make_json_lines_logger(std::cerr, clock)
      ->error("fatal", {{"kind", std::string(kind)}, {"error", message}});
  std::cerr << "afk: " << message << '\n';
  return exit_code;
}

int exit_code_for(afk::ErrorKind kind) {
  switch (kind) {
  case afk::ErrorKind::config:
    return afk::cli::k_exit_config;
  case afk::ErrorKind::transient:
    return afk::cli::k_exit_temporary;
  case afk::ErrorKind::conflict:
  case afk::ErrorKind::protocol:
  case afk::ErrorKind::permanent:
    return afk::cli::k_exit_unavailable;
  }
  return afk::cli::k_exit_software;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const afk::Error& e) {
    return fatal(afk::to_string(e.kind()), e.what(), exit_code_for(e.kind()));
  } catch (const std::exception& e) {
    return fatal("internal", std::string("internal error: ") + e.what(), afk::cli::k_exit_software);
  } catch (...) {
    std::cerr << "afk: internal error\n";
    return afk::cli::k_exit_software;
  }
}
