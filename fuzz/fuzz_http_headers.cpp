// SPDX-License-Identifier: MIT
// The response headers afk reads: link_next (Link pagination) and requested_wait
// (Retry-After, GitHub's rate-limit headers). Neither may throw; a wait is never negative.
//
// Input (FuzzedDataProvider): the last byte picks which headers requested_wait sees; the
// front holds the values (Link, Retry-After, x-ratelimit-remaining, x-ratelimit-reset), each
// ended by a backslash and another character, the last running to the end.

#include "fuzz_support.hpp"

#include <afk/http.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const auto present = provider.ConsumeIntegral<std::uint8_t>();
  const std::string link = provider.ConsumeRandomLengthString(4096);
  const std::string retry_after = provider.ConsumeRandomLengthString(256);
  const std::string remaining = provider.ConsumeRandomLengthString(64);
  const std::string reset = provider.ConsumeRemainingBytesAsString();

  try {
    if (const auto next = afk::link_next(link)) {
      afk::fuzz::require(!next->empty() && link.find(*next) != std::string::npos,
                         "link_next returns a URL from the header", *next);
    }
    afk::HttpResponse response;
    response.status = (present & 0x10U) != 0 ? 429 : 403;
    if ((present & 1U) != 0) {
      response.headers.emplace_back("retry-after", retry_after);
    }
    if ((present & 2U) != 0) {
      response.headers.emplace_back("x-ratelimit-remaining", remaining);
    }
    if ((present & 4U) != 0) {
      response.headers.emplace_back("x-ratelimit-reset", reset);
    }
    if ((present & 8U) != 0) {
      response.headers.emplace_back("link", link);
    }
    const auto wait = afk::requested_wait(response, afk::fuzz::FixedClock().now());
    afk::fuzz::require(!wait || wait->count() >= 0, "a requested wait is never negative");
  } catch (const std::exception& error) {
    afk::fuzz::violated("link_next and requested_wait never throw", error.what());
  }
  return 0;
}
