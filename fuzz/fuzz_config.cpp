// SPDX-License-Identifier: MIT
// parse_config over hostile TOML: only Error{config} may come out.
//
// Input (FuzzedDataProvider): the last byte picks the environment (bit 0: AFK_KILL_SWITCH
// set, bit 1: AFK_ALLOWLIST set); the front holds their values, each ended by a backslash
// and another character, then the TOML text to the end.

#include "fuzz_support.hpp"

#include <afk/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const auto present = provider.ConsumeIntegral<std::uint8_t>();
  afk::Environment env;
  if ((present & 1U) != 0) {
    env.kill_switch = provider.ConsumeRandomLengthString(64);
  }
  if ((present & 2U) != 0) {
    env.allowlist = provider.ConsumeRandomLengthString(512);
  }
  const std::string text = provider.ConsumeRemainingBytesAsString();
  afk::fuzz::expect_only_errors(
      [&] {
        const afk::Config config = afk::parse_config(text, "afk.toml", env);
        afk::fuzz::require(config.armed() == config.disarmed_reason().empty(),
                           "armed exactly when there is no disarmed reason");
      },
      {afk::ErrorKind::config}, "parse_config throws only Error{config}");
  return 0;
}
