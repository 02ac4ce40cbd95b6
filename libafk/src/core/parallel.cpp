// SPDX-License-Identifier: MIT
#include "afk/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace afk {

void for_each_bounded(std::size_t count, std::size_t max_parallel,
                      const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;

  const auto worker = [&] {
    while (!failed.load()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= count) {
        return;
      }
      try {
        fn(i);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!first_error) {
          first_error = std::current_exception();
        }
        failed.store(true);
      }
    }
  };

  const std::size_t threads = std::min(std::max<std::size_t>(max_parallel, 1), count);
  std::vector<std::thread> helpers;
  if (threads > 1) {
    helpers.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) {
      helpers.emplace_back(worker);
    }
  }
  worker();
  for (auto& helper : helpers) {
    helper.join();
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
}

} // namespace afk
