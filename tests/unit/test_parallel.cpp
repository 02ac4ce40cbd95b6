// SPDX-License-Identifier: MIT
#include <afk/parallel.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

/// Runs `count` items that each hold a slot for a moment, and reports the most that were
/// ever running at once.
int peak_concurrency(std::size_t count, std::size_t max_parallel) {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  afk::for_each_bounded(count, max_parallel, [&](std::size_t) {
    const int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    --running;
  });
  return peak.load();
}

} // namespace

TEST(ForEachBounded, calls_every_index_exactly_once) {
  std::vector<std::atomic<int>> calls(500);
  afk::for_each_bounded(calls.size(), 8, [&](std::size_t i) { ++calls[i]; });
  for (std::size_t i = 0; i < calls.size(); ++i) {
    ASSERT_EQ(calls[i].load(), 1) << i;
  }
}

TEST(ForEachBounded, never_runs_more_than_the_bound_and_does_run_in_parallel) {
  EXPECT_EQ(peak_concurrency(40, 1), 1);
  const int peak = peak_concurrency(40, 4);
  EXPECT_LE(peak, 4);
  EXPECT_GE(peak, 2); // 40 items of 5 ms each: a sequential walk would never overlap
}

TEST(ForEachBounded, zero_items_and_zero_bound_are_harmless) {
  int calls = 0;
  afk::for_each_bounded(0, 4, [&](std::size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  afk::for_each_bounded(3, 0, [&](std::size_t) { ++calls; });
  EXPECT_EQ(calls, 3);
}

TEST(ForEachBounded, an_escaped_exception_stops_new_items_and_is_rethrown) {
  std::atomic<int> started{0};
  EXPECT_THROW(afk::for_each_bounded(1000, 2,
                                     [&](std::size_t i) {
                                       ++started;
                                       if (i == 3) {
                                         throw std::runtime_error("repo 3 failed");
                                       }
                                       // Slow items: without the stop the other thread
                                       // would need a second for the rest. (Instant items
                                       // let it finish them all before item 3 throws.)
                                       std::this_thread::sleep_for(std::chrono::milliseconds(1));
                                     }),
               std::runtime_error);
  EXPECT_LT(started.load(), 500);
}
