// SPDX-License-Identifier: MIT
#pragma once

// What the verbs share: exit codes, the config path rule and the logger. The CLI is thin:
// each verb parses its options, builds what it needs and calls into libafk.

#include <afk/config.hpp>
#include <afk/log.hpp>
#include <afk/time.hpp>

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>

namespace afk::cli {

// Exit codes (documented in `afk --help` and the README). They follow sysexits(3).
inline constexpr int k_exit_ok = 0;           // done, even if single items failed (logged)
inline constexpr int k_exit_usage = 64;       // bad command line
inline constexpr int k_exit_software = 70;    // a bug in afk
inline constexpr int k_exit_temporary = 75;   // could not run now; the next run may succeed
inline constexpr int k_exit_unavailable = 69; // could not run: a needed part is unavailable
inline constexpr int k_exit_config = 78;      // configuration invalid or unreadable

// Options every verb takes.
struct CommonOptions {
  std::string config_path; // --config; falls back to $AFK_CONFIG, then built-in defaults
  bool verbose = false;
};

// The process-wide pieces a verb runs with, owned by main().
struct Context {
  CommonOptions options;
  SystemClock clock;
  std::unique_ptr<Logger> log;
};

void add_common_options(CLI::App& app, CommonOptions& options);

// --config, else $AFK_CONFIG, else the built-in defaults; then AFK_KILL_SWITCH and
// AFK_ALLOWLIST. Throws Error{config}.
[[nodiscard]] Config load_effective_config(const CommonOptions& options);

// The agent's standing instructions: agent.preamble_file's text, or "" for the built-in
// ones. Throws Error{config} naming the file when it cannot be read or has problems
// (prompt.hpp preamble_problems), every one listed.
[[nodiscard]] std::string load_preamble(const Config& config);

void add_tick_command(CLI::App& app, Context& context, int& exit_code);
void add_dispatch_command(CLI::App& app, Context& context, int& exit_code);
void add_freeze_commands(CLI::App& app, Context& context, int& exit_code); // freeze and thaw
void add_status_command(CLI::App& app, Context& context, int& exit_code);
// "user@host:pid": who ran an operator verb, for records, comments and pages.
[[nodiscard]] std::string operator_identity();
// An owner/repo argument: CLI11 reports anything else as a usage error (exit 64).
[[nodiscard]] CLI::Validator repo_name_validator();
void add_doctor_command(CLI::App& app, Context& context, int& exit_code);
void add_config_command(CLI::App& app, Context& context, int& exit_code);

} // namespace afk::cli
