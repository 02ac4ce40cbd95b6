// SPDX-License-Identifier: MIT
// The HTTP seam shared between threads, as a tick shares it between repositories: one
// HttpClient over one libcurl transport, used by many threads at once against a loopback
// server. Meant to run under ThreadSanitizer too (scripts/test-tsan).
#include "support/capturing_logger.hpp"
#include "support/loopback_server.hpp"

#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/log.hpp>
#include <afk/time.hpp>

#include <gtest/gtest.h>
#include <httplib.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr int k_threads = 8;
constexpr const char* k_token = "tok-concurrency-7d1e";

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] afk::Timestamp now() const override {
    return afk::Timestamp{afk::Seconds{1'767'268'800}};
  }
};

// Holds every request to /rendezvous until `expected` of them are being served at once
// (or `timeout` passed): proof that the client lets requests overlap.
class Rendezvous {
public:
  explicit Rendezvous(int expected)
      : m_expected(expected) {}

  // True when all arrived before the timeout.
  bool arrive(milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    ++m_arrived;
    m_changed.notify_all();
    return m_changed.wait_for(lock, timeout, [this] { return m_arrived >= m_expected; });
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  int m_arrived = 0;
  int m_expected;
};

class SharedHttpClient : public testing::Test {
protected:
  static void SetUpTestSuite() {
    ::setenv("no_proxy", "*", 1);
    ::setenv("NO_PROXY", "*", 1);
  }

  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() /
            ("afk-concurrency-" + std::to_string(::getpid()) + "-" + info->name());
    fs::create_directories(m_dir);
    std::ofstream(m_dir / "token") << k_token << '\n';
  }

  void TearDown() override { fs::remove_all(m_dir); }

  // One client for every thread; the injected sleep only counts, from any thread.
  std::unique_ptr<afk::HttpClient> client(const std::string& base_url) {
    m_transport = afk::make_curl_transport({.user_agent = "afk-test/1"});
    afk::HttpClientOptions options;
    options.base_url = base_url;
    options.token_file = m_dir / "token";
    options.default_headers = {{"Accept", "application/json"}};
    options.retry.max_attempts = 3;
    options.retry.initial_backoff = 10ms;
    return std::make_unique<afk::HttpClient>(
        *m_transport, options, m_log, m_clock, [this](milliseconds) { ++m_sleeps; }, 7);
  }

  // Runs `work(t)` for t in [0, count) on as many threads; each thread reports its own
  // failures through gtest (which is thread-safe on Linux).
  template <class F> static void on_threads(int count, F work) {
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(count));
    for (int t = 0; t < count; ++t) {
      threads.emplace_back([&work, t] { work(t); });
    }
    for (auto& thread : threads) {
      thread.join();
    }
  }

  fs::path m_dir;
  afk::test::CapturingLogger m_log;
  FixedClock m_clock;
  std::atomic<int> m_sleeps{0};
  std::unique_ptr<afk::HttpTransport> m_transport;
};

TEST_F(SharedHttpClient, requests_from_many_threads_are_in_flight_at_once) {
  // Fewer than cpp-httplib's listen backlog (5), so no connection waits for a SYN retry.
  constexpr int k_at_once = 4;
  Rendezvous rendezvous(k_at_once);
  afk::test::LoopbackServer server(
      [&](const httplib::Request&, httplib::Response& res) {
        // 409 is not retried: a client that serialised its requests fails at once.
        res.status = rendezvous.arrive(10s) ? 200 : 409;
        res.set_content("{}", "application/json");
      },
      k_at_once);
  const auto http = client(server.url());
  std::atomic<int> ok{0};
  on_threads(k_at_once, [&](int) {
    try {
      (void)http->request("GET", "/rendezvous");
      ++ok;
    } catch (const afk::Error& e) {
      ADD_FAILURE() << e.what();
    }
  });
  EXPECT_EQ(ok.load(), k_at_once);
}

TEST_F(SharedHttpClient, every_thread_gets_its_own_answers_through_retries) {
  constexpr int k_requests = 12;
  std::mutex hits_mutex;
  std::map<std::string, int> hits; // path -> requests seen
  std::atomic<int> unauthorised{0};
  afk::test::LoopbackServer server(
      [&](const httplib::Request& req, httplib::Response& res) {
        if (req.get_header_value("Authorization") != std::string("Bearer ") + k_token) {
          ++unauthorised;
          res.status = 401;
          return;
        }
        int hit = 0;
        {
          const std::lock_guard lock(hits_mutex);
          hit = ++hits[req.path];
        }
        // Flaky paths fail once with 503 first, so retries, their backoff jitter and their
        // log records happen on several threads at once.
        if (req.path.ends_with("/flaky") && hit == 1) {
          res.status = 503;
          return;
        }
        res.set_content(req.path + "|" + req.body, "text/plain");
      },
      4);
  const auto http = client(server.url());
  on_threads(k_threads, [&](int t) {
    for (int i = 0; i < k_requests; ++i) {
      const std::string path =
          "/t" + std::to_string(t) + "/r" + std::to_string(i) + (i % 3 == 0 ? "/flaky" : "");
      const std::string body = "{\"thread\":" + std::to_string(t) + "}";
      try {
        const auto response = http->request("PUT", path, body);
        EXPECT_EQ(response.body, path + "|" + body);
      } catch (const afk::Error& e) {
        ADD_FAILURE() << path << ": " << e.what();
      }
    }
  });
  EXPECT_EQ(unauthorised.load(), 0);
  constexpr int k_retried = k_threads * ((k_requests + 2) / 3); // i = 0, 3, 6, 9
  EXPECT_EQ(m_sleeps.load(), k_retried);
  EXPECT_EQ(m_log.named("http_retry").size(), static_cast<std::size_t>(k_retried));
  const std::lock_guard lock(hits_mutex);
  EXPECT_EQ(hits.size(), static_cast<std::size_t>(k_threads * k_requests));
}

TEST_F(SharedHttpClient, paginated_reads_on_many_threads_follow_their_own_links) {
  constexpr int k_pages = 3;
  afk::test::LoopbackServer server(
      [&](const httplib::Request& req, httplib::Response& res) {
        const int page = req.has_param("page") ? std::stoi(req.get_param_value("page")) : 1;
        if (page < k_pages) {
          res.set_header("Link",
                         "<" + req.path + "?page=" + std::to_string(page + 1) + ">; rel=\"next\"");
        }
        res.set_content(req.path + "#" + std::to_string(page), "text/plain");
      },
      4);
  const auto http = client(server.url());
  on_threads(k_threads, [&](int t) {
    const std::string path = "/list/" + std::to_string(t);
    try {
      const auto pages = http->get_pages(path);
      ASSERT_EQ(pages.size(), static_cast<std::size_t>(k_pages)) << path;
      for (int p = 0; p < k_pages; ++p) {
        EXPECT_EQ(pages[static_cast<std::size_t>(p)], path + "#" + std::to_string(p + 1));
      }
    } catch (const afk::Error& e) {
      ADD_FAILURE() << path << ": " << e.what();
    }
  });
}

} // namespace
