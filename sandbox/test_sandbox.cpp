// SPDX-License-Identifier: MIT
// The built afk-sandbox tells its whole story: exit 0, every item of its checklist ticked, and
// the turns of the story in afk's own words along the way.
#include "support/process.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> child_environment(const fs::path& tmp) {
  std::map<std::string, std::string> env{
      {"PATH", "/usr/bin:/bin"}, {"HOME", tmp.string()}, {"TMPDIR", tmp.string()}};
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) { // NOLINT(concurrency-mt-unsafe)
      env.emplace(name, value);
    }
  }
  return env;
}

class Sandbox : public testing::Test {
protected:
  void SetUp() override {
    m_tmp = fs::temp_directory_path() / ("afk-sandbox-test-" + std::to_string(::getpid()));
    fs::remove_all(m_tmp);
    fs::create_directories(m_tmp);
  }
  void TearDown() override { fs::remove_all(m_tmp); }

  afk::test::ProcessResult run(const std::string& flag) {
    return afk::test::run_process({AFK_SANDBOX_BINARY, flag}, child_environment(m_tmp),
                                  m_tmp / "scratch");
  }

  fs::path m_tmp;
};

TEST_F(Sandbox, tells_the_whole_story_and_cleans_up) {
  const auto result = run("--quiet");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::string& out = result.out;
  for (const char* line : {
           "[x] #1 dispatched, pushed, CI green, rolled out, closed",
           "[x] #2 waited while #1 was open, then ran and closed",
           "[x] #3 refused (labelled by an untrusted account), never touched",
           "[x] #4 went red, fixed forward, recovered and closed",
           "[x] no tick failed",
           "The story is complete.",
           // afk's own words on the way there.
           "#2 \"Cache product pages\" waiting: blocked by #1",
           "#3 \"Drop the users table\" refused: @mallory has triage permission; write or more "
           "is needed",
           "-> fixing",
           "is idle: nothing in flight, nothing to dispatch",
       }) {
    EXPECT_NE(out.find(line), std::string::npos) << "missing: " << line << "\n" << out;
  }
  // Only what the scratch directory holds is left: the temporary world was removed.
  for (const auto& entry : fs::directory_iterator(m_tmp)) {
    EXPECT_EQ(entry.path().filename(), "scratch") << entry.path();
  }
}

TEST_F(Sandbox, refuses_an_unknown_option) {
  const auto result = run("--bogus");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("usage: afk-sandbox"), std::string::npos) << result.err;
}

} // namespace
