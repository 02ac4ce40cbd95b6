// SPDX-License-Identifier: MIT
#pragma once

// An in-process HTTP server on 127.0.0.1 and an ephemeral port, answering every method on
// every path through one route. The stand-in for GitHub, Forgejo, T3 and friends in tests
// and benchmarks: afk's real transport talks to it over loopback.

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <utility>

namespace afk::test {

class LoopbackServer {
public:
  using Route = std::function<void(const httplib::Request&, httplib::Response&)>;

  // `threads` caps how many requests are served at once (0: cpp-httplib's default).
  explicit LoopbackServer(Route route, std::size_t threads = 0)
      : m_route(std::move(route)) {
    if (threads > 0) {
      m_server.new_task_queue = [threads] {
        return new httplib::ThreadPool(threads);
      };
    }
    // Routes rather than a pre-routing handler: only routed requests have their body read.
    const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      m_route(req, res);
    };
    m_server.Get(".*", handler);
    m_server.Post(".*", handler);
    m_server.Put(".*", handler);
    m_server.Patch(".*", handler);
    m_server.Delete(".*", handler);
    m_port = m_server.bind_to_any_port("127.0.0.1");
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    // stop() before the listen loop runs would be lost and join() would hang.
    while (!m_server.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    warm_up();
  }
  ~LoopbackServer() {
    m_server.stop();
    m_thread.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
  LoopbackServer(LoopbackServer&&) = delete;
  LoopbackServer& operator=(LoopbackServer&&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  [[nodiscard]] int port() const { return m_port; }

private:
  // One request from this thread before anyone else's. Debian ships cpp-httplib as a library
  // built without ThreadSanitizer, whose function-local statics (the known methods, …) are
  // set up by the first request served; when that request races others, TSan cannot see the
  // static's guard and reports its set-up. Served first, the set-up is ordered before every
  // later request. OPTIONS has no route here, so `m_route` never sees it.
  void warm_up() const {
    httplib::Client client("127.0.0.1", m_port);
    (void)client.Options("/");
  }

  Route m_route;
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_thread;
};

} // namespace afk::test
