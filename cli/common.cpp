// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <afk/error.hpp>

#include <cstdlib>

namespace afk::cli {

void add_common_options(CLI::App& app, CommonOptions& options) {
  app.add_option("-c,--config", options.config_path,
                 "TOML config file (default: $AFK_CONFIG, else built-in defaults: disarmed)")
      ->type_name("PATH");
  app.add_flag("-v,--verbose", options.verbose, "Log debug events too");
}

Config load_effective_config(const CommonOptions& options) {
  const auto env = Environment::from_process();
  std::string path = options.config_path;
  if (path.empty()) {
    if (const char* from_env = std::getenv("AFK_CONFIG"); from_env != nullptr) {
      path = from_env;
      if (path.empty()) {
        throw Error(ErrorKind::config, "environment variable AFK_CONFIG is set but empty");
      }
    }
  }
  return path.empty() ? default_config(env) : load_config(path, env);
}

} // namespace afk::cli
