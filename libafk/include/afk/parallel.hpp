// SPDX-License-Identifier: MIT
#pragma once

/// Bounded concurrency for a tick: work on many repos at once without one thread per
/// repo. The engine runs each repo's reads and decisions as one item, so a slow or failing
/// repo neither serialises nor aborts the others.

#include <cstddef>
#include <functional>

namespace afk {

/// Calls `fn(i)` for every i in [0, count), on at most `max_parallel` threads at once
/// (the calling thread is one of them; `max_parallel` 0 is taken as 1). Each index is
/// handed out exactly once, in increasing order. Returns when every call has returned.
/// `fn` should catch its own errors per item; if one escapes anyway, no new items are
/// started and the first exception is rethrown once the running calls have finished.
void for_each_bounded(std::size_t count, std::size_t max_parallel,
                      const std::function<void(std::size_t)>& fn);

} // namespace afk
