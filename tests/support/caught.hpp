// SPDX-License-Identifier: MIT
#pragma once

// The afk::Error a call throws, for tests that check its kind and message. A call that throws
// nothing is a test failure (and yields a placeholder error, so the caller's checks run on).

#include <afk/error.hpp>

#include <gtest/gtest.h>

#include <utility>

namespace afk::test {

template <class F> afk::Error caught(F&& call) {
  try {
    std::forward<F>(call)();
  } catch (const afk::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an afk::Error";
  return afk::Error(afk::ErrorKind::permanent, "(nothing thrown)");
}

} // namespace afk::test
