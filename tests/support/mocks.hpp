// SPDX-License-Identifier: MIT
#pragma once

// trompeloeil mocks of the ports, for checking interactions inside the library (which
// calls are made, and which are not). Stateful behaviour is tested against fakes and
// loopback servers instead.

#include <afk/tracker.hpp>

#include <gtest/gtest.h>
// After gtest: reports violations as gtest failures.
#include <gtest/trompeloeil.hpp>

namespace afk::test {

class MockTracker : public trompeloeil::mock_interface<TrackerClient> {
public:
  IMPLEMENT_MOCK2(list_open_issues);
  IMPLEMENT_MOCK2(list_closed_issues);
  IMPLEMENT_MOCK1(get_issue);
  IMPLEMENT_MOCK2(last_labeled);
  IMPLEMENT_MOCK2(permission);
  IMPLEMENT_MOCK1(native_blockers);
  IMPLEMENT_MOCK2(add_label);
  IMPLEMENT_MOCK2(remove_label);
  IMPLEMENT_MOCK3(comments_by);
  IMPLEMENT_MOCK2(create_comment);
  IMPLEMENT_MOCK3(edit_comment);
  IMPLEMENT_MOCK1(close_issue);
  IMPLEMENT_MOCK1(reopen_issue);
  IMPLEMENT_MOCK4(open_issue);
  IMPLEMENT_MOCK1(default_branch);
  IMPLEMENT_MOCK1(comments);
  IMPLEMENT_MOCK2(branch_head);
};

} // namespace afk::test
