// SPDX-License-Identifier: MIT
// Named crash points (failpoint.hpp).
#include "detail/failpoint.hpp"

#ifdef AFK_FAILPOINTS

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace afk::detail {

void failpoint(std::string_view name) {
  const char* armed = std::getenv("AFK_FAILPOINT");
  if (armed == nullptr || name != armed) {
    return;
  }
  const std::string line = "afk: failpoint " + std::string(name) + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  std::_Exit(k_failpoint_exit_code);
}

} // namespace afk::detail

#endif
