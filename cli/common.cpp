// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <afk/error.hpp>
#include <afk/prompt.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

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

std::string load_preamble(const Config& config) {
  const auto& path = config.agent.preamble_file;
  if (path.empty()) {
    return {};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::config,
                "cannot read agent.preamble_file " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::vector<std::string> problems = preamble_problems(text.str());
  if (!problems.empty()) {
    std::string message = "agent.preamble_file " + path.string() + ":";
    for (const std::string& problem : problems) {
      message += "\n  " + problem;
    }
    throw Error(ErrorKind::config, message);
  }
  return text.str();
}

} // namespace afk::cli
