// SPDX-License-Identifier: MIT
// How much the pure core costs on top of the work it cannot avoid, per tick:
//  - decode_run_record vs. parsing the same JSON with nlohmann alone (the checks, the
//    checksum and the id derivations are the overhead);
//  - parse_blocked_by on a 1 MiB hostile body vs. one std::string_view::find pass over it;
//  - decide_dispatch over 1000 queued issues vs. std::sort of the same issues by the same
//    key (the policy's ordering plus a verdict per issue).
// Each figure is the median of several rounds; ratios are what to compare across builds.

#include <afk/ids.hpp>
#include <afk/policy.hpp>
#include <afk/run_record.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double median_seconds(const std::function<void()>& body, int rounds = 7) {
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    const auto start = Clock::now();
    body();
    samples.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

void report(const char* name, double subject, double baseline, const char* baseline_name) {
  std::printf("%-34s %10.3f ms   baseline (%s) %10.3f ms   ratio %6.2f\n", name, subject * 1e3,
              baseline_name, baseline * 1e3, subject / baseline);
}

volatile std::size_t g_sink = 0; // keeps results alive so the optimizer cannot drop work

afk::RepoName repo() {
  return afk::RepoName::parse("acme/web").value();
}

void bench_record() {
  const afk::IssueRef issue{.repo = repo(), .number = 42};
  afk::RunRecord record{.issue = issue};
  record.run_id = afk::derive_run_id(issue, 1);
  record.thread_id = afk::derive_thread_id(issue, 1);
  record.project_id = afk::derive_project_id(issue.repo);
  record.phase = afk::Phase::ci;
  record.branch = "afk/42-add-login";
  record.pushed_shas = {std::string(40, 'a'), std::string(40, 'b')};
  const std::string comment = afk::render_run_comment(record);
  const auto begin = comment.find('{');
  const std::string json = comment.substr(begin, comment.rfind('}') - begin + 1);
  constexpr int k_count = 2000;
  const double decode = median_seconds([&] {
    for (int i = 0; i < k_count; ++i) {
      g_sink = g_sink + decode_run_record(comment, issue).index();
    }
  });
  const double parse = median_seconds([&] {
    for (int i = 0; i < k_count; ++i) {
      g_sink = g_sink + nlohmann::json::parse(json).size();
    }
  });
  report("decode_run_record x2000", decode, parse, "json parse");
}

void bench_blocked_by() {
  std::string body;
  while (body.size() < (1U << 20U)) {
    body += "Blocked by #12, acme/api#7 and https://github.com/acme/web/issues/9 which "
            "`Blocked by #3` see #5 <!-- Blocked by #6 -->\n";
  }
  const afk::IssueRef self{.repo = repo(), .number = 1};
  const double parse =
      median_seconds([&] { g_sink = g_sink + parse_blocked_by(body, self).refs.size(); });
  const double scan = median_seconds([&] {
    std::size_t hits = 0;
    for (auto at = body.find("locked by"); at != std::string::npos;
         at = body.find("locked by", at + 1)) {
      ++hits;
    }
    g_sink = g_sink + hits;
  });
  report("parse_blocked_by 1 MiB", parse, scan, "find pass");
}

void bench_policy() {
  afk::RepoSnapshot snapshot{.repo = repo()};
  for (int i = 1; i <= 1000; ++i) {
    snapshot.issues.push_back(afk::IssueSummary{
        .ref = {.repo = repo(), .number = i},
        .title = "issue",
        .labels = {"ready-for-agent", "priority:" + std::to_string(i % 5)},
        .created_at = afk::Timestamp{std::chrono::seconds(1'700'000'000 + (i * 7919) % 1000)}});
  }
  const afk::DispatchRules rules;
  const double decide = median_seconds([&] {
    for (int i = 0; i < 20; ++i) {
      g_sink = g_sink + decide_dispatch(snapshot, {}, rules).verdicts.size();
    }
  });
  const double sort = median_seconds([&] {
    for (int i = 0; i < 20; ++i) {
      auto copy = snapshot.issues;
      std::sort(copy.begin(), copy.end(), [&](const auto& a, const auto& b) {
        return afk::dispatch_order_before(a, b, rules.labels.priority_prefix);
      });
      g_sink = g_sink + copy.size();
    }
  });
  report("decide_dispatch 1000 issues x20", decide, sort, "sort only");
}

} // namespace

int main() {
  bench_record();
  bench_blocked_by();
  bench_policy();
  return 0;
}
