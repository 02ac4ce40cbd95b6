// SPDX-License-Identifier: MIT
// parse_t3_thread_detail over hostile /threads/{id} bodies (the whole input is the body):
// only Error{protocol} may come out; what parses goes through t3_agent_evidence.

#include "fuzz_support.hpp"
#include "t3_evidence.hpp"

#include <afk/t3.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  afk::fuzz::expect_only_errors(
      [&] { afk::fuzz::check_evidence(afk::parse_t3_thread_detail(body)); },
      {afk::ErrorKind::protocol}, "parse_t3_thread_detail throws only Error{protocol}");
  return 0;
}
