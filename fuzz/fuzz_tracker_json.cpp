// SPDX-License-Identifier: MIT
// The GitHub and Forgejo tracker adapters over hostile JSON: an in-memory transport answers
// every request 200 with the next body from the input. Only afk::Error may come out.
//
// Input (FuzzedDataProvider): the last two bytes pick the tracker (even: GitHub, odd:
// Forgejo) and the call; the front holds the response bodies, one per request, each ended
// by a backslash and another character (a literal backslash is written doubled); the last
// body runs to the selector bytes.

#include "fuzz_support.hpp"

#include <afk/issue.hpp>
#include <afk/log.hpp>
#include <afk/tracker.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace {

void call(afk::TrackerClient& tracker, int which) {
  const afk::RepoName repo = *afk::RepoName::parse("acme/widgets");
  const afk::IssueRef issue{repo, 42};
  switch (which) {
  case 0:
    (void)tracker.list_open_issues(repo, "ready-for-agent");
    break;
  case 1:
    (void)tracker.list_closed_issues(repo, "agent-in-progress");
    break;
  case 2:
    (void)tracker.get_issue(issue);
    break;
  case 3:
    (void)tracker.last_labeled(issue, "ready-for-agent");
    break;
  case 4:
    (void)tracker.permission(repo, "octocat");
    break;
  case 5:
    (void)tracker.native_blockers(issue);
    break;
  case 6:
    (void)tracker.comments_by(issue, "afk-bot", "<!-- afk:run ");
    break;
  case 7:
    (void)tracker.comments(issue);
    break;
  case 8:
    (void)tracker.create_comment(issue, "hello");
    break;
  case 9:
    (void)tracker.open_issue(repo, "title", "body", {"afk-frozen"});
    break;
  case 10:
    (void)tracker.default_branch(repo);
    break;
  default:
    (void)tracker.branch_head(repo, "main");
    break;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const bool forgejo = (provider.ConsumeIntegral<std::uint8_t>() & 1U) != 0;
  const int which = provider.ConsumeIntegralInRange<int>(0, 11);

  afk::fuzz::FuzzTransport transport(provider);
  afk::NullLogger log;
  const afk::fuzz::FixedClock clock;
  afk::HttpClientOptions options;
  options.base_url = forgejo ? "https://codeberg.org/api/v1" : "https://api.github.com";
  afk::HttpClient http(transport, options, log, clock, afk::fuzz::no_sleep);
  const std::unique_ptr<afk::TrackerClient> tracker =
      forgejo ? afk::make_forgejo_tracker(http) : afk::make_github_tracker(http);
  afk::fuzz::expect_only_errors([&] { call(*tracker, which); }, {},
                                "the tracker adapters throw only afk::Error");
  return 0;
}
