// SPDX-License-Identifier: MIT
// T3's small bodies over hostile input: the environment descriptor, the auth session, a
// dispatch answer's sequence, and the error body afk quotes in its errors and logs. Parsers
// throw only Error{protocol}; the error summary never throws and is one clean, bounded line.
//
// Input: the first byte picks the parser (mod 4); the rest is the body.

#include "adapters/t3_wire.hpp"
#include "fuzz_support.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  namespace wire = afk::t3_wire;
  switch (data[0] % 4) {
  case 0:
    afk::fuzz::expect_only_errors([&] { (void)wire::parse_environment(body); },
                                  {afk::ErrorKind::protocol},
                                  "parse_environment throws only Error{protocol}");
    break;
  case 1:
    afk::fuzz::expect_only_errors(
        [&] {
          const afk::T3AuthSession session = wire::parse_auth_session(body);
          (void)afk::t3_token_problems(session, afk::fuzz::FixedClock().now(),
                                       std::chrono::hours(24 * 7));
        },
        {afk::ErrorKind::protocol}, "parse_auth_session throws only Error{protocol}");
    break;
  case 2:
    afk::fuzz::expect_only_errors([&] { (void)wire::parse_sequence(body); },
                                  {afk::ErrorKind::protocol},
                                  "parse_sequence throws only Error{protocol}");
    break;
  default: {
    // An exception escaping here ends the run: libFuzzer keeps the input.
    const std::string summary = wire::error_summary(body);
    afk::fuzz::require(summary.size() <= wire::k_max_error_summary_bytes,
                       "an error summary is at most k_max_error_summary_bytes", summary);
    for (const char c : summary) {
      afk::fuzz::require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f,
                         "an error summary has no control characters", summary);
    }
    break;
  }
  }
  return 0;
}
