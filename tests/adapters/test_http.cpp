// SPDX-License-Identifier: MIT
#include "support/capturing_logger.hpp"
#include "support/caught.hpp"
#include "support/loopback_server.hpp"

#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/log.hpp>
#include <afk/time.hpp>

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using afk::test::CapturingLogger;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afk::ErrorKind;
using afk::Timestamp;
using std::chrono::milliseconds;

constexpr std::string_view k_token = "tok-SECRET-4f9a2c71";

Timestamp at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{mo} /
                               std::chrono::day{d}} +
         std::chrono::hours{h} + std::chrono::minutes{mi} + afk::Seconds{s};
}

const Timestamp k_now = at(2026, 1, 1, 12);

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] Timestamp now() const override { return k_now; }
};

// (request, response, hit): `hit` counts requests to this server from 1.
using Handler = std::function<void(const httplib::Request&, httplib::Response&, int)>;

// A cpp-httplib server on 127.0.0.1, on a port the kernel picks, for one test.
// A loopback server whose handler also gets the 1-based number of the request.
class Loopback {
public:
  explicit Loopback(Handler handler)
      : m_handler(std::move(handler)) {}

  [[nodiscard]] std::string url() const { return m_server.url(); }
  [[nodiscard]] int port() const { return m_server.port(); }
  [[nodiscard]] int hits() const { return m_hits.load(); }

private:
  Handler m_handler;
  std::atomic<int> m_hits{0};
  afk::test::LoopbackServer m_server{[this](const httplib::Request& req, httplib::Response& res) {
    m_handler(req, res, ++m_hits);
  }};
};

int listening_socket(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(fd, 4) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port = ntohs(address.sin_port);
  return fd;
}

// Answers one connection with a Content-Length longer than the body it sends, then hangs
// up: a body cut short, which cpp-httplib cannot be made to produce.
class TruncatingServer {
public:
  TruncatingServer()
      : m_fd(listening_socket(m_port)) {
    m_thread = std::thread([this] {
      const int client = ::accept(m_fd, nullptr, nullptr);
      if (client < 0) {
        return;
      }
      std::string request;
      std::array<char, 1024> buffer{};
      while (!contains(request, "\r\n\r\n")) {
        const auto n = ::recv(client, buffer.data(), buffer.size(), 0);
        if (n <= 0) {
          break;
        }
        request.append(buffer.data(), static_cast<std::size_t>(n));
      }
      const std::string_view reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort";
      ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(client);
    });
  }
  ~TruncatingServer() {
    ::shutdown(m_fd, SHUT_RDWR); // wakes accept() if no client ever came
    m_thread.join();
    ::close(m_fd);
  }
  TruncatingServer(const TruncatingServer&) = delete;
  TruncatingServer& operator=(const TruncatingServer&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

private:
  int m_port = 0;
  int m_fd;
  std::thread m_thread;
};

// A port nothing listens on: bound once by us, then released.
int closed_port() {
  int port = 0;
  ::close(listening_socket(port));
  return port;
}

afk::RetryPolicy quick_retry(int max_attempts = 4) {
  afk::RetryPolicy retry;
  retry.max_attempts = max_attempts;
  retry.initial_backoff = 100ms;
  retry.max_backoff = 1000ms;
  retry.max_wait = 60s;
  return retry;
}

class Http : public testing::Test {
protected:
  static void SetUpTestSuite() {
    // A proxy in the environment must not stand between the tests and 127.0.0.1.
    ::setenv("no_proxy", "*", 1);
    ::setenv("NO_PROXY", "*", 1);
  }

  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    m_dir =
        fs::temp_directory_path() / ("afk-http-" + std::to_string(::getpid()) + "-" + info->name());
    fs::create_directories(m_dir);
    m_token_file = m_dir / "token";
    write_token(std::string(k_token) + "\n");
  }

  void TearDown() override {
    // Every test doubles as a check that the token never leaks into logs or errors.
    for (const auto& message : m_messages) {
      EXPECT_FALSE(contains(message, k_token)) << message;
    }
    for (const auto& record : m_log.records()) {
      EXPECT_FALSE(contains(record.event, k_token));
      for (const auto& field : record.fields) {
        EXPECT_FALSE(contains(field.value, k_token)) << field.key;
      }
    }
    m_client.reset();
    m_transport.reset();
    fs::remove_all(m_dir);
  }

  void write_token(const std::string& content) const {
    std::ofstream(m_token_file, std::ios::trunc) << content;
  }

  afk::HttpClient& client(const std::string& base_url, afk::RetryPolicy retry = quick_retry(),
                          afk::CurlOptions curl = {}) {
    curl.user_agent = "afk-test/1";
    m_client.reset();
    m_transport = afk::make_curl_transport(curl);
    afk::HttpClientOptions options;
    options.base_url = base_url;
    options.token_file = m_token_file;
    options.default_headers = {{"Accept", "application/json"}};
    options.retry = retry;
    options.deadline = m_deadline;
    m_client = std::make_unique<afk::HttpClient>(
        *m_transport, options, m_log, m_clock, [this](milliseconds d) { m_waits.push_back(d); },
        42);
    return *m_client;
  }

  // Runs `call`, which must throw afk::Error, and keeps the message for the leak check.
  template <class F> afk::Error failure(F&& call) {
    afk::Error error = afk::test::caught(std::forward<F>(call));
    m_messages.emplace_back(error.what());
    return error;
  }

  [[nodiscard]] std::vector<afk::LogRecord> retries() const { return m_log.named("http_retry"); }

  static std::string field(const afk::LogRecord& record, std::string_view key) {
    for (const auto& f : record.fields) {
      if (f.key == key) {
        return f.value;
      }
    }
    return "(absent)";
  }

  fs::path m_dir;
  fs::path m_token_file;
  CapturingLogger m_log;
  FixedClock m_clock;
  std::vector<milliseconds> m_waits;
  std::vector<std::string> m_messages;
  afk::Deadline m_deadline; ///< what client() gives the clients it builds
  std::unique_ptr<afk::HttpTransport> m_transport;
  std::unique_ptr<afk::HttpClient> m_client;
};

TEST_F(Http, success_returns_status_headers_and_body) {
  httplib::Headers seen;
  std::string target;
  Loopback server([&](const httplib::Request& req, httplib::Response& res, int) {
    seen = req.headers;
    target = req.target;
    res.set_header("X-Request-Id", "abc-123");
    res.set_content("hello", "text/plain");
  });
  const auto response = client(server.url()).request("GET", "/repos/acme/web?per_page=5");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hello");
  EXPECT_EQ(response.header("X-REQUEST-ID"), "abc-123");
  EXPECT_EQ(response.header("content-type"), "text/plain");
  EXPECT_EQ(response.header("x-absent"), std::nullopt);
  for (const auto& [name, value] : response.headers) {
    EXPECT_EQ(name.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), std::string::npos) << name;
  }
  EXPECT_EQ(target, "/repos/acme/web?per_page=5");
  const auto header = [&](const std::string& name) {
    const auto it = seen.find(name);
    return it == seen.end() ? std::string("(absent)") : it->second;
  };
  EXPECT_EQ(header("Authorization"), "Bearer " + std::string(k_token));
  EXPECT_EQ(header("User-Agent"), "afk-test/1");
  EXPECT_EQ(header("Accept"), "application/json");
  EXPECT_EQ(server.hits(), 1);
}

TEST_F(Http, sends_each_method_with_its_body) {
  std::vector<std::string> seen;
  Loopback server([&](const httplib::Request& req, httplib::Response& res, int) {
    seen.push_back(req.method + " " + req.path + " [" + req.body + "] " +
                   req.get_header_value("Content-Type") + " " +
                   req.get_header_value("Content-Length"));
    res.status = req.method == "POST" ? 201 : 204;
  });
  auto& c = client(server.url());
  EXPECT_EQ(c.request("POST", "/items", R"({"a":1})").status, 201);
  EXPECT_EQ(c.request("PATCH", "/items/1", R"({"b":2})").status, 204);
  EXPECT_EQ(c.request("PUT", "/items/1/lock").status, 204);
  EXPECT_EQ(c.request("DELETE", "/items/1").status, 204);
  const std::vector<std::string> expected{
      R"(POST /items [{"a":1}] application/json 7)",
      R"(PATCH /items/1 [{"b":2}] application/json 7)",
      "PUT /items/1/lock []  0",
      "DELETE /items/1 []  0",
  };
  EXPECT_EQ(seen, expected);
}

TEST_F(Http, not_found_is_returned_only_when_allowed) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) { res.status = 404; });
  auto& c = client(server.url());
  EXPECT_EQ(c.request("GET", "/missing", {}, true).status, 404);
  const auto e = failure([&] { (void)c.request("GET", "/missing"); });
  EXPECT_EQ(e.kind(), ErrorKind::permanent);
  EXPECT_TRUE(contains(e.what(), "GET " + server.url() + "/missing: not found (404)")) << e.what();
  EXPECT_EQ(server.hits(), 2);
}

TEST_F(Http, not_modified_is_a_success_with_no_body_and_is_not_retried) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 304;
    res.set_header("ETag", "\"v1\"");
  });
  auto& c = client(server.url());
  const auto response = c.request("GET", "/issues");
  EXPECT_EQ(response.status, 304);
  EXPECT_TRUE(response.body.empty());
  EXPECT_EQ(response.header("etag"), "\"v1\"");
  EXPECT_EQ(server.hits(), 1);
}

TEST_F(Http, statuses_map_to_error_kinds) {
  Loopback server([&](const httplib::Request& req, httplib::Response& res, int) {
    res.status = std::stoi(req.path.substr(1));
    if (res.status == 422) {
      res.set_content(R"({"message":")" + std::string("Validation\\nFailed\\u0007 ") +
                          std::string(300, 'x') + R"("})",
                      "application/json");
    } else if (res.status == 409) {
      res.set_content(R"({"message":"Reference already exists"})", "application/json");
    } else {
      res.set_content("<html>nope</html>", "text/html");
    }
  });
  auto& c = client(server.url());
  struct Case {
    int status;
    ErrorKind kind;
    std::string text;
  };
  const std::vector<Case> cases{
      {401, ErrorKind::config,
       "GET " + server.url() + "/401: credentials rejected (401) by 127.0.0.1; check token_file " +
           m_token_file.string()},
      {403, ErrorKind::config, "forbidden (403): the token lacks permission"},
      {409, ErrorKind::conflict, "rejected (409): Reference already exists"},
      {422, ErrorKind::conflict, "rejected (422): Validation Failed"},
      {418, ErrorKind::permanent, "unexpected status 418"},
      {301, ErrorKind::permanent, "unexpected status 301"},
  };
  for (const auto& tc : cases) {
    const auto e = failure([&] { (void)c.request("GET", "/" + std::to_string(tc.status)); });
    EXPECT_EQ(e.kind(), tc.kind) << tc.status;
    EXPECT_TRUE(contains(e.what(), tc.text)) << e.what();
    if (tc.status == 422) {
      const std::string what = e.what();
      EXPECT_FALSE(contains(what, "\n"));
      EXPECT_FALSE(contains(what, "\x07"));
      EXPECT_TRUE(contains(what, std::string(180, 'x') + "..."));
      EXPECT_FALSE(contains(what, std::string(200, 'x')));
    }
  }
  EXPECT_EQ(server.hits(), static_cast<int>(cases.size())) << "none of these is retried";
  EXPECT_TRUE(m_waits.empty());
}

TEST_F(Http, retries_a_server_error_then_succeeds) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int hit) {
    res.status = hit == 1 ? 500 : 200;
    res.set_content("ok", "text/plain");
  });
  const auto response = client(server.url()).request("GET", "/flaky?token=abc");
  EXPECT_EQ(response.body, "ok");
  EXPECT_EQ(server.hits(), 2);
  ASSERT_EQ(m_waits.size(), 1U);
  EXPECT_GE(m_waits[0], 50ms);
  EXPECT_LE(m_waits[0], 100ms);
  const auto logged = retries();
  ASSERT_EQ(logged.size(), 1U);
  EXPECT_EQ(logged[0].level, afk::Level::warn);
  EXPECT_EQ(field(logged[0], "method"), "GET");
  EXPECT_EQ(field(logged[0], "url"), server.url() + "/flaky");
  EXPECT_EQ(field(logged[0], "status"), "500");
  EXPECT_EQ(field(logged[0], "attempt"), "1");
  EXPECT_EQ(field(logged[0], "wait_ms"), std::to_string(m_waits[0].count()));
}

TEST_F(Http, gives_up_on_a_storm_of_503_after_max_attempts) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) { res.status = 503; });
  auto& c = client(server.url(), quick_retry(3));
  const auto e = failure([&] { (void)c.request("GET", "/down"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "server error (503) after 3 attempts")) << e.what();
  EXPECT_EQ(server.hits(), 3);
  ASSERT_EQ(m_waits.size(), 2U);
  EXPECT_GE(m_waits[0], 50ms);
  EXPECT_LE(m_waits[0], 100ms);
  EXPECT_GE(m_waits[1], 100ms);
  EXPECT_LE(m_waits[1], 200ms);
}

TEST_F(Http, backoff_is_capped_at_max_backoff) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) { res.status = 502; });
  auto retry = quick_retry(7);
  retry.max_backoff = 300ms;
  auto& c = client(server.url(), retry);
  (void)failure([&] { (void)c.request("GET", "/down"); });
  ASSERT_EQ(m_waits.size(), 6U);
  for (std::size_t i = 2; i < m_waits.size(); ++i) {
    EXPECT_GE(m_waits[i], 150ms);
    EXPECT_LE(m_waits[i], 300ms);
  }
}

TEST_F(Http, post_is_never_retried_on_a_server_error) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) { res.status = 500; });
  auto& c = client(server.url());
  const auto e = failure([&] { (void)c.request("POST", "/items", "{}"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "not retried: POST is not idempotent")) << e.what();
  EXPECT_EQ(server.hits(), 1);
  EXPECT_TRUE(m_waits.empty());
}

TEST_F(Http, a_post_the_caller_vouches_for_is_retried_with_the_same_body) {
  std::vector<std::string> bodies;
  std::mutex mutex;
  Loopback server([&](const httplib::Request& req, httplib::Response& res, int hit) {
    const std::lock_guard lock(mutex);
    bodies.push_back(req.body);
    res.status = hit < 3 ? 503 : 200;
    res.set_content(R"({"sequence":7})", "application/json");
  });
  auto& c = client(server.url());
  const auto response = c.request("POST", "/dispatch", R"({"commandId":"c-1"})",
                                  afk::HttpClient::RequestOptions{.retry_unsafe = true});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(server.hits(), 3);
  EXPECT_EQ(bodies, std::vector<std::string>(3, R"({"commandId":"c-1"})"));
  EXPECT_EQ(m_waits.size(), 2U);
}

TEST_F(Http, a_vouched_post_still_never_retries_a_client_error) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) { res.status = 400; });
  auto& c = client(server.url());
  const auto e = failure([&] {
    (void)c.request("POST", "/dispatch", "{}",
                    afk::HttpClient::RequestOptions{.retry_unsafe = true});
  });
  EXPECT_EQ(e.kind(), ErrorKind::permanent);
  EXPECT_EQ(server.hits(), 1);
}

TEST_F(Http, passed_statuses_come_back_at_once_without_retry_or_error) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 503;
    res.set_content("No static directory configured and no dev URL set.", "text/plain");
  });
  auto& c = client(server.url());
  const auto response = c.request("GET", "/api/orchestration/shell", {},
                                  afk::HttpClient::RequestOptions{.pass_statuses = {404, 503}});
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "No static directory configured and no dev URL set.");
  EXPECT_EQ(server.hits(), 1);
  EXPECT_TRUE(m_waits.empty());
}

TEST_F(Http, honours_retry_after_on_429) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int hit) {
    if (hit == 1) {
      res.status = 429;
      res.set_header("Retry-After", "2");
    }
  });
  EXPECT_EQ(client(server.url()).request("GET", "/busy").status, 200);
  EXPECT_EQ(m_waits, std::vector<milliseconds>{2000ms});
  EXPECT_EQ(server.hits(), 2);
}

TEST_F(Http, waits_for_the_rate_limit_reset_on_403) {
  const auto reset = std::chrono::duration_cast<afk::Seconds>((k_now + 5s).time_since_epoch());
  Loopback server([&](const httplib::Request&, httplib::Response& res, int hit) {
    if (hit == 1) {
      res.status = 403;
      res.set_header("x-ratelimit-remaining", "0");
      res.set_header("x-ratelimit-reset", std::to_string(reset.count()));
    }
  });
  EXPECT_EQ(client(server.url()).request("GET", "/limited").status, 200);
  EXPECT_EQ(m_waits, std::vector<milliseconds>{5000ms});
  const auto logged = retries();
  ASSERT_EQ(logged.size(), 1U);
  EXPECT_EQ(field(logged[0], "status"), "403");
}

TEST_F(Http, a_rate_limit_that_outlasts_the_retries_is_transient) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 403;
    res.set_header("Retry-After", "1");
  });
  auto& c = client(server.url(), quick_retry(2));
  const auto e = failure([&] { (void)c.request("GET", "/limited"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "rate limited (403) after 2 attempts")) << e.what();
  EXPECT_EQ(m_waits, std::vector<milliseconds>{1000ms});
}

TEST_F(Http, fails_at_once_when_asked_to_wait_beyond_max_wait) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 429;
    res.set_header("Retry-After", "3600");
  });
  auto& c = client(server.url());
  const auto e = failure([&] { (void)c.request("GET", "/busy"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "rate limited until " + afk::format_timestamp(k_now + 1h)))
      << e.what();
  EXPECT_EQ(server.hits(), 1);
  EXPECT_TRUE(m_waits.empty());
}

TEST_F(Http, a_slow_server_times_out_as_transient) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    std::this_thread::sleep_for(600ms);
    res.set_content("late", "text/plain");
  });
  afk::CurlOptions curl;
  curl.total_timeout = 200ms;
  auto& c = client(server.url(), quick_retry(1), curl);
  const auto started = std::chrono::steady_clock::now();
  const auto e = failure([&] { (void)c.request("GET", "/slow"); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 550ms);
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + server.url() + "/slow: Timeout")) << e.what();
}

TEST_F(Http, connection_refused_is_transient_and_retried) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  auto& c = client(url, quick_retry(2));
  const auto e = failure([&] { (void)c.request("GET", "/x"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + url + "/x: Couldn't connect")) << e.what();
  EXPECT_TRUE(contains(e.what(), "gave up after 2 attempts")) << e.what();
  EXPECT_EQ(m_waits.size(), 1U);
  const auto logged = retries();
  ASSERT_EQ(logged.size(), 1U);
  EXPECT_TRUE(contains(field(logged[0], "error"), "Couldn't connect"));
}

TEST_F(Http, a_body_over_the_cap_is_a_protocol_error) {
  Loopback server([](const httplib::Request& req, httplib::Response& res, int) {
    if (req.path == "/declared") {
      res.set_content(std::string(4096, 'a'), "text/plain");
      return;
    }
    // Chunked: no Content-Length warns libcurl, so the write callback must stop it.
    res.set_chunked_content_provider("text/plain", [](std::size_t, httplib::DataSink& sink) {
      const std::string chunk(1000, 'b');
      for (int i = 0; i < 5; ++i) {
        sink.write(chunk.data(), chunk.size());
      }
      sink.done();
      return true;
    });
  });
  afk::CurlOptions curl;
  curl.max_body_bytes = 1024;
  auto& c = client(server.url(), quick_retry(), curl);
  for (const char* path : {"/declared", "/chunked"}) {
    const auto e = failure([&] { (void)c.request("GET", path); });
    EXPECT_EQ(e.kind(), ErrorKind::protocol) << path;
    EXPECT_TRUE(contains(e.what(), "response body larger than 1024 bytes")) << e.what();
  }
  EXPECT_EQ(server.hits(), 2) << "protocol errors are not retried";
}

TEST_F(Http, a_truncated_body_is_transient) {
  TruncatingServer server;
  auto& c = client(server.url(), quick_retry(1));
  const auto e = failure([&] { (void)c.request("GET", "/cut"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + server.url() + "/cut: ")) << e.what();
}

// Answers from a script and keeps each request it was given, the timeout included.
class ScriptedTransport final : public afk::HttpTransport {
public:
  explicit ScriptedTransport(std::vector<int> statuses)
      : m_statuses(std::move(statuses)) {}

  afk::HttpResponse send(const afk::HttpRequest& request) override {
    const std::lock_guard lock(m_mutex);
    m_sent.push_back(request);
    afk::HttpResponse response;
    response.status = m_statuses.at(std::min(m_sent.size(), m_statuses.size()) - 1);
    return response;
  }

  [[nodiscard]] std::vector<afk::HttpRequest> sent() const {
    const std::lock_guard lock(m_mutex);
    return m_sent;
  }

private:
  std::vector<int> m_statuses;
  mutable std::mutex m_mutex;
  std::vector<afk::HttpRequest> m_sent;
};

TEST_F(Http, no_attempt_starts_after_the_deadline) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    res.set_content("ok", "text/plain");
  });
  m_deadline = afk::Deadline::after(0ms);
  auto& c = client(server.url());
  const auto e = failure([&] { (void)c.request("GET", "/items?token=abc"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + server.url() +
                                     "/items: the deadline passed before attempt 1 could start"))
      << e.what();
  EXPECT_FALSE(contains(e.what(), "token=abc")) << e.what();
  EXPECT_EQ(server.hits(), 0);
  EXPECT_TRUE(m_waits.empty());
}

TEST_F(Http, each_attempt_is_bounded_by_what_is_left_of_the_deadline) {
  ScriptedTransport transport({503, 200});
  afk::HttpClientOptions options;
  options.base_url = "http://127.0.0.1:1";
  options.retry = quick_retry();
  options.deadline = afk::Deadline::after(10s);
  std::vector<milliseconds> waits;
  afk::HttpClient c(transport, options, m_log, m_clock,
                    [&](milliseconds d) { waits.push_back(d); });
  EXPECT_EQ(c.request("GET", "/x").status, 200);
  const auto sent = transport.sent();
  ASSERT_EQ(sent.size(), 2U);
  for (const auto& request : sent) {
    EXPECT_GT(request.timeout, 9s);
    EXPECT_LE(request.timeout, 10s);
  }
  EXPECT_EQ(waits.size(), 1U);

  // Without a deadline the transport's own timeout applies.
  ScriptedTransport unbounded_transport({200});
  options.deadline = {};
  afk::HttpClient unbounded(unbounded_transport, options, m_log, m_clock);
  EXPECT_EQ(unbounded.request("GET", "/x").status, 200);
  ASSERT_EQ(unbounded_transport.sent().size(), 1U);
  EXPECT_EQ(unbounded_transport.sent()[0].timeout, 0ms);
}

TEST_F(Http, a_retry_that_would_start_past_the_deadline_is_not_waited_for) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) { res.status = 503; });
  auto retry = quick_retry();
  retry.initial_backoff = 2000ms; // the first wait is 1000-2000 ms
  retry.max_backoff = 4000ms;
  m_deadline = afk::Deadline::after(900ms);
  auto& c = client(server.url(), retry);
  const auto e = failure([&] { (void)c.request("GET", "/down?page=2"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + server.url() + "/down: HTTP 503 (1 attempt)"))
      << e.what();
  EXPECT_TRUE(contains(e.what(), "would start past the deadline")) << e.what();
  EXPECT_EQ(server.hits(), 1);
  EXPECT_TRUE(m_waits.empty());
}

TEST_F(Http, a_retry_after_that_ends_past_the_deadline_fails_at_once) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 429;
    res.set_header("Retry-After", "2");
  });
  m_deadline = afk::Deadline::after(1500ms);
  auto& c = client(server.url());
  const auto e = failure([&] { (void)c.request("GET", "/busy"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "HTTP 429 (1 attempt); not retried: the retry in 2000 ms"))
      << e.what();
  EXPECT_EQ(server.hits(), 1);
  EXPECT_TRUE(m_waits.empty());
}

TEST_F(Http, the_deadline_cuts_a_slow_answer_short_and_says_so) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    std::this_thread::sleep_for(800ms);
    res.set_content("late", "text/plain");
  });
  m_deadline = afk::Deadline::after(200ms); // the transport alone would wait 30 s
  auto& c = client(server.url());
  const auto started = std::chrono::steady_clock::now();
  const auto e = failure([&] { (void)c.request("GET", "/slow"); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5 * 200ms);
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "GET " + server.url() + "/slow: Timeout")) << e.what();
  // Cut at the deadline, or a hair before it with no time left for a retry.
  EXPECT_TRUE(contains(e.what(), "(1 attempt)")) << e.what();
  EXPECT_TRUE(contains(e.what(), "deadline")) << e.what();
  EXPECT_TRUE(m_waits.empty());
}

TEST_F(Http, a_post_cut_short_by_the_deadline_is_not_repeated) {
  Loopback server([](const httplib::Request&, httplib::Response& res, int) {
    std::this_thread::sleep_for(800ms);
    res.status = 201;
  });
  m_deadline = afk::Deadline::after(200ms);
  auto& c = client(server.url());
  const auto e = failure([&] { (void)c.request("POST", "/items", "{}"); });
  EXPECT_EQ(e.kind(), ErrorKind::transient);
  EXPECT_TRUE(contains(e.what(), "POST " + server.url() + "/items: Timeout")) << e.what();
  EXPECT_EQ(server.hits(), 1);
}

TEST_F(Http, get_pages_follows_link_next_to_the_last_page) {
  std::vector<std::string> targets;
  Loopback* self = nullptr;
  Loopback server([&](const httplib::Request& req, httplib::Response& res, int) {
    targets.push_back(req.target);
    const int page = req.has_param("page") ? std::stoi(req.get_param_value("page")) : 1;
    const std::string base = self->url() + "/items?per_page=2&page=";
    if (page < 3) {
      res.set_header("Link", "<" + base + std::to_string(page + 1) + ">; rel=\"next\", <" + base +
                                 "3>; rel=\"last\"");
    } else {
      res.set_header("Link", "<" + base + "1>; rel=\"first\", <" + base + "2>; rel=\"prev\"");
    }
    res.set_content("[" + std::to_string(page) + "]", "application/json");
  });
  self = &server;
  const auto pages = client(server.url()).get_pages("/items?per_page=2");
  EXPECT_EQ(pages, (std::vector<std::string>{"[1]", "[2]", "[3]"}));
  EXPECT_EQ(targets, (std::vector<std::string>{"/items?per_page=2", "/items?per_page=2&page=2",
                                               "/items?per_page=2&page=3"}));
}

TEST_F(Http, get_pages_resolves_a_relative_link_and_stops_at_max_pages) {
  Loopback server([](const httplib::Request& req, httplib::Response& res, int hit) {
    res.set_header("Link", "</items?page=" + std::to_string(hit + 1) + ">; rel=next");
    res.set_content(req.target, "text/plain");
  });
  auto& c = client(server.url());
  const auto e = failure([&] { (void)c.get_pages("/items", 2); });
  EXPECT_EQ(e.kind(), ErrorKind::protocol);
  EXPECT_TRUE(contains(e.what(), "GET " + server.url() + "/items: more than 2 pages")) << e.what();
  EXPECT_EQ(server.hits(), 2);
}

TEST_F(Http, a_link_to_another_origin_is_refused) {
  std::string next;
  Loopback server([&](const httplib::Request&, httplib::Response& res, int) {
    res.set_header("Link", "<" + next + ">; rel=\"next\"");
    res.set_content("[]", "application/json");
  });
  auto& c = client(server.url());
  const std::vector<std::pair<std::string, std::string>> elsewhere{
      {"http://evil.example/items?page=2", "refusing to send credentials to evil.example"},
      {"http://127.0.0.1:" + std::to_string(closed_port()) + "/items",
       "refusing to send credentials to 127.0.0.1"},
      {"https://127.0.0.1:" + std::to_string(server.port()) + "/items", "refusing to send"},
  };
  for (const auto& [url, text] : elsewhere) {
    next = url;
    const auto e = failure([&] { (void)c.get_pages("/items"); });
    EXPECT_EQ(e.kind(), ErrorKind::protocol) << url;
    EXPECT_TRUE(contains(e.what(), text)) << e.what();
  }
  const auto direct = failure([&] { (void)c.request("GET", "http://evil.example/x"); });
  EXPECT_EQ(direct.kind(), ErrorKind::protocol);
  EXPECT_EQ(server.hits(), 3) << "only the first page of each walk reached the server";
}

TEST_F(Http, the_token_file_is_read_on_every_request) {
  std::vector<std::string> seen;
  Loopback server([&](const httplib::Request& req, httplib::Response&, int) {
    seen.push_back(req.get_header_value("Authorization"));
  });
  auto& c = client(server.url());
  write_token("first-token\n");
  (void)c.request("GET", "/a");
  write_token("  second-token \r\n\n");
  (void)c.request("GET", "/b");
  EXPECT_EQ(seen, (std::vector<std::string>{"Bearer first-token", "Bearer second-token"}));
}

TEST_F(Http, an_unusable_token_file_is_a_config_error_naming_the_path) {
  Loopback server([](const httplib::Request&, httplib::Response&, int) {});
  auto& c = client(server.url());
  fs::remove(m_token_file);
  auto e = failure([&] { (void)c.request("GET", "/a"); });
  EXPECT_EQ(e.kind(), ErrorKind::config);
  EXPECT_TRUE(contains(e.what(), m_token_file.string())) << e.what();
  write_token(" \n");
  e = failure([&] { (void)c.request("GET", "/a"); });
  EXPECT_EQ(e.kind(), ErrorKind::config);
  EXPECT_TRUE(contains(e.what(), m_token_file.string() + " is empty")) << e.what();
  write_token("two\nlines");
  e = failure([&] { (void)c.request("GET", "/a"); });
  EXPECT_EQ(e.kind(), ErrorKind::config);
  EXPECT_FALSE(contains(e.what(), "two")) << e.what();
  EXPECT_EQ(server.hits(), 0);
}

TEST_F(Http, urls_with_credentials_are_refused) {
  Loopback server([](const httplib::Request&, httplib::Response&, int) {});
  const std::string with_userinfo = "http://afk:hunter2@127.0.0.1:" + std::to_string(server.port());
  const auto at_construction = failure([&] { (void)client(with_userinfo); });
  EXPECT_EQ(at_construction.kind(), ErrorKind::config);
  EXPECT_FALSE(contains(at_construction.what(), "hunter2")) << at_construction.what();

  auto& c = client(server.url());
  const auto in_request = failure([&] { (void)c.request("GET", with_userinfo + "/x"); });
  EXPECT_EQ(in_request.kind(), ErrorKind::config);
  EXPECT_FALSE(contains(in_request.what(), "hunter2")) << in_request.what();

  afk::HttpRequest raw;
  raw.url = with_userinfo + "/x";
  const auto in_transport = failure([&] { (void)m_transport->send(raw); });
  EXPECT_EQ(in_transport.kind(), ErrorKind::config);
  EXPECT_FALSE(contains(in_transport.what(), "hunter2")) << in_transport.what();
  EXPECT_EQ(server.hits(), 0);
}

TEST_F(Http, the_transport_refuses_header_injection_without_echoing_the_value) {
  Loopback server([](const httplib::Request&, httplib::Response&, int) {});
  (void)client(server.url());
  afk::HttpRequest raw;
  raw.url = server.url() + "/x";
  raw.headers = {{"Authorization", "Bearer " + std::string(k_token) + "\r\nX-Evil: 1"}};
  const auto e = failure([&] { (void)m_transport->send(raw); });
  EXPECT_EQ(e.kind(), ErrorKind::config);
  EXPECT_EQ(server.hits(), 0);
}

TEST_F(Http, the_token_never_reaches_a_log_record_or_an_error) {
  Loopback server([](const httplib::Request& req, httplib::Response& res, int) {
    res.status = std::stoi(req.path.substr(1));
    res.set_header("Retry-After", "0");
  });
  auto& c = client(server.url(), quick_retry(2));
  const std::string query = "?access_token=" + std::string(k_token);
  for (const int status : {400, 401, 403, 404, 409, 422, 429, 500, 503}) {
    (void)failure([&] { (void)c.request("GET", "/" + std::to_string(status) + query); });
    (void)failure([&] { (void)c.request("POST", "/" + std::to_string(status) + query, "{}"); });
  }
  (void)failure([&] {
    (void)c.request("GET", "http://127.0.0.1:" + std::to_string(closed_port()) + "/x" + query);
  });
  EXPECT_FALSE(retries().empty());
  EXPECT_EQ(m_messages.size(), 19U);
  // TearDown checks every message and log field for the token.
}

TEST(LinkNext, finds_rel_next_however_it_is_written) {
  struct Case {
    std::string_view header;
    std::optional<std::string> next;
  };
  const std::vector<Case> cases{
      {R"(<https://a/x?page=2>; rel="next", <https://a/x?page=5>; rel="last")",
       "https://a/x?page=2"},
      {R"(<https://a/x?page=5>; rel="last", <https://a/x?page=2>; rel="next")",
       "https://a/x?page=2"},
      {"<u1>;rel=next", "u1"},
      {R"(<u1>; rel="prev next")", "u1"},
      {R"(<u1>; REL="NEXT")", "u1"},
      {R"(  <u1>  ;  title="a, b; <c>" ;  rel = "next"  )", "u1"},
      {R"(<u,1>; rel="next")", "u,1"},
      {R"(<u1>; anchor="#x"; rel=next; type="text/html")", "u1"},
      {R"(garbage, <u2>; rel="next")", "u2"},
      {R"(<u1>; rel="last",, <u2>; rel=next)", "u2"},
      {R"(<u1>; rel="next)", "u1"},
      {R"(<u1>; rel="nextish")", std::nullopt},
      {R"(<u1>; rel="prev"; rel="next")", std::nullopt},
      {R"(<u1>; title="rel=next")", std::nullopt},
      {R"(<>; rel="next")", std::nullopt},
      {"<unterminated; rel=next", std::nullopt},
      {"rel=next", std::nullopt},
      {"", std::nullopt},
      {";;;,,,<<<>>>\"", std::nullopt},
  };
  for (const auto& tc : cases) {
    EXPECT_EQ(afk::link_next(tc.header), tc.next) << tc.header;
  }
}

afk::HttpResponse with_headers(afk::HttpHeaders headers) {
  afk::HttpResponse response;
  response.status = 429;
  response.headers = std::move(headers);
  return response;
}

TEST(RequestedWait, reads_retry_after_and_github_rate_limit_headers) {
  const auto epoch = [](Timestamp t) {
    return std::to_string(t.time_since_epoch().count());
  };
  struct Case {
    afk::HttpHeaders headers;
    std::optional<afk::Seconds> wait;
  };
  const std::vector<Case> cases{
      {{{"retry-after", "2"}}, 2s},
      {{{"Retry-After", " 120 "}}, 120s},
      {{{"retry-after", "0"}}, 0s},
      {{{"retry-after", "Thu, 01 Jan 2026 12:00:30 GMT"}}, 30s},
      {{{"retry-after", "Wed, 31 Dec 2025 23:59:59 GMT"}}, 0s},
      {{{"retry-after", "Sat, 29 Feb 2028 12:00:00 GMT"}}, at(2028, 2, 29, 12) - k_now},
      {{{"retry-after", "Thu, 01 Jan 2026 12:00:30 UTC"}}, std::nullopt},
      {{{"retry-after", "Thu, 31 Feb 2026 12:00:30 GMT"}}, std::nullopt},
      {{{"retry-after", "Thu, 01 Jan 2026 24:00:00 GMT"}}, std::nullopt},
      {{{"retry-after", "Thursday, 01-Jan-26 12:00:30 GMT"}}, std::nullopt},
      {{{"retry-after", "-5"}}, std::nullopt},
      {{{"retry-after", "1.5"}}, std::nullopt},
      {{{"retry-after", "soon"}}, std::nullopt},
      {{{"retry-after", ""}}, std::nullopt},
      {{{"retry-after", "99999999999"}}, std::nullopt},
      {{{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", epoch(k_now + 60s)}}, 60s},
      {{{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", epoch(k_now - 60s)}}, 0s},
      {{{"x-ratelimit-remaining", "1"}, {"x-ratelimit-reset", epoch(k_now + 60s)}}, std::nullopt},
      {{{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "later"}}, std::nullopt},
      {{{"x-ratelimit-remaining", "0"}}, std::nullopt},
      {{{"retry-after", "7"},
        {"x-ratelimit-remaining", "0"},
        {"x-ratelimit-reset", epoch(k_now + 60s)}},
       7s},
      {{{"retry-after", "soon"},
        {"x-ratelimit-remaining", "0"},
        {"x-ratelimit-reset", epoch(k_now + 9s)}},
       9s},
      {{}, std::nullopt},
  };
  for (const auto& tc : cases) {
    const auto wait = afk::requested_wait(with_headers(tc.headers), k_now);
    EXPECT_EQ(wait, tc.wait) << (tc.headers.empty() ? "(none)" : tc.headers[0].second);
  }
}

TEST(HttpResponse, header_is_case_insensitive_and_first_wins) {
  const auto response = with_headers({{"link", "<a>"}, {"Link", "<b>"}, {"etag", "\"x\""}});
  EXPECT_EQ(response.header("LINK"), "<a>");
  EXPECT_EQ(response.header("ETag"), "\"x\"");
  EXPECT_EQ(response.header("lin"), std::nullopt);
}

} // namespace
