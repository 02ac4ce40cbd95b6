// SPDX-License-Identifier: MIT
#pragma once

// Named crash points: the places between two effects where a test ends the process as if it
// had been killed, to show that the next tick converges (tests/cli/test_failpoints.cpp).
// They exist only in builds configured with AFK_FAILPOINTS (the test builds); elsewhere
// failpoint() is empty and reads nothing.
//
// With the environment variable AFK_FAILPOINT=<name>, the process ends the first time it
// reaches failpoint(<name>): one line "afk: failpoint <name>" on stderr, then
// std::_Exit(k_failpoint_exit_code): no destructor runs and no buffer is flushed, as with
// SIGKILL. Names are "<step>.<point>" and listed nowhere else: the test reads them from the
// sources, so a new failpoint cannot go untested.

#include <string_view>

namespace afk::detail {

inline constexpr int k_failpoint_exit_code = 86;

#ifdef AFK_FAILPOINTS
void failpoint(std::string_view name);
#else
inline void failpoint(std::string_view /*name*/) {}
#endif

} // namespace afk::detail
