// SPDX-License-Identifier: MIT
// A quiet tick's tracker reads: for every allowlisted repo, one list request per afk label
// (ready, in progress, human, frozen), through the real GitHub adapter, HttpClient and
// libcurl transport, against a loopback server that answers every request after a fixed
// latency with an empty page. Prints requests made and wall time for 10, 100 and 500 repos,
// and the ratio of wall time to the sequential lower bound (requests × latency): a
// sequential walk scores ≥ 1.0; bounded concurrency should score about 1 / parallelism.

#include "support/loopback_server.hpp"

#include <afk/config.hpp>
#include <afk/http.hpp>
#include <afk/parallel.hpp>
#include <afk/tracker.hpp>

#include <httplib.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::chrono::milliseconds k_latency{10};
constexpr std::size_t k_parallel = 8; // Config::max_parallel_repos default

// Answers every request with an empty page after k_latency, k_parallel at a time.
class LatencyServer {
public:
  [[nodiscard]] std::string url() const { return m_server.url(); }
  [[nodiscard]] int requests() const { return m_requests.load(); }

private:
  std::atomic<int> m_requests{0};
  afk::test::LoopbackServer m_server{[this](const httplib::Request&, httplib::Response& res) {
                                       ++m_requests;
                                       std::this_thread::sleep_for(k_latency);
                                       res.set_content("[]", "application/json");
                                     },
                                     k_parallel};
};

} // namespace

int main() {
  LatencyServer server;
  const auto dir =
      std::filesystem::temp_directory_path() / ("afk-bench-tracker-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "bench-token\n";

  afk::TrackerConfig config;
  config.api_url = server.url();
  config.token_file = dir / "token";
  const afk::LabelNames labels;
  const std::vector<std::string> afk_labels{labels.ready, labels.in_progress, labels.human,
                                            labels.frozen};
  const auto transport = afk::make_curl_transport({});
  afk::NullLogger log;
  const afk::SystemClock clock;
  afk::HttpClient http(*transport, afk::github_http_options(config), log, clock);
  const auto tracker = afk::make_github_tracker(http);

  std::printf("latency %lld ms per request, %zu repos at a time\n",
              static_cast<long long>(k_latency.count()), k_parallel);
  for (const std::size_t repo_count : {10U, 100U, 500U}) {
    std::vector<afk::RepoName> repos;
    for (std::size_t i = 0; i < repo_count; ++i) {
      repos.push_back(afk::RepoName::parse("acme/repo-" + std::to_string(i)).value());
    }
    const int before = server.requests();
    const auto start = std::chrono::steady_clock::now();
    afk::for_each_bounded(repos.size(), k_parallel, [&](std::size_t i) {
      for (const auto& label : afk_labels) {
        (void)tracker->list_open_issues(repos[i], label);
      }
    });
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int requests = server.requests() - before;
    const double bound = requests * std::chrono::duration<double>(k_latency).count();
    std::printf("%4zu repos: %5d requests (%.1f per repo)  wall %7.3f s  sequential bound %7.3f s"
                "  ratio %.3f\n",
                repo_count, requests,
                static_cast<double>(requests) / static_cast<double>(repo_count), wall, bound,
                wall / bound);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
