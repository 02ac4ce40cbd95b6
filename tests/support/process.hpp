// SPDX-License-Identifier: MIT
#pragma once

// Runs a program to completion with a chosen environment and captures what it printed.
// For end-to-end tests of the built `afk` binary.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace afk::test {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) with exactly `env` as its environment. Never uses a shell.
inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env,
                                 const std::filesystem::path& scratch) {
  std::filesystem::create_directories(scratch);
  const auto out_path = scratch / "stdout";
  const auto err_path = scratch / "stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);

  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env) {
    env_strings.push_back(key + "=" + value);
  }
  std::vector<char*> c_argv;
  for (const auto& a : argv) {
    c_argv.push_back(const_cast<char*>(a.c_str()));
  }
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (auto& e : env_strings) {
    c_env.push_back(e.data());
  }
  c_env.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + argv[0]);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    throw std::runtime_error("waitpid failed for " + argv[0]);
  }
  const auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  return result;
}

// Runs /usr/bin/git -C `where` `args` as the person `name` <`email`>, with HOME `home`, no
// system configuration and nothing else from this process's environment; output is kept
// under `home`/git-scratch.
inline ProcessResult run_git(const std::filesystem::path& where,
                             const std::vector<std::string>& args,
                             const std::filesystem::path& home, const std::string& name,
                             const std::string& email) {
  std::vector<std::string> argv{"/usr/bin/git", "-C", where.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv,
                     {{"PATH", "/usr/bin:/bin"},
                      {"HOME", home.string()},
                      {"GIT_AUTHOR_NAME", name},
                      {"GIT_AUTHOR_EMAIL", email},
                      {"GIT_COMMITTER_NAME", name},
                      {"GIT_COMMITTER_EMAIL", email},
                      {"GIT_CONFIG_NOSYSTEM", "1"}},
                     home / "git-scratch");
}

} // namespace afk::test
