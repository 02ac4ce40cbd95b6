// SPDX-License-Identifier: MIT
#pragma once

// A misbehaving server on 127.0.0.1 and an ephemeral port: a reverse proxy in front of an
// upstream (the fake GitHub, the fake T3, any loopback server) that forwards each request as
// is, except where a scripted plan says to misbehave. It speaks HTTP/1.1 over raw POSIX sockets
// because what it must do — reset a connection, cut a body short, trickle an answer, accept and
// say nothing — is exactly what an HTTP library will not do.
//
// One request per connection (afk's transport opens a connection per request); every answer
// carries "Connection: close". Request bodies must come with a Content-Length, as libcurl sends
// them. The upstream must answer with a Content-Length or chunked body, which is forwarded with
// a Content-Length.
//
// A plan is a list of rules, matched in the order added: the first rule whose method and path
// prefix match and that has requests left applies to a request; a request no rule matches is
// forwarded unchanged. Everything is thread-safe; the proxy serves connections concurrently.
//
// It depends on nothing in libafk on purpose, like the fakes it stands in front of.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk::test {

enum class Fault {
  latency,        ///< waits `delay`, then forwards normally
  reset_before,   ///< resets the connection (RST) without a byte of answer
  reset_mid,      ///< forwards, sends the head and half the body, then resets
  truncated_body, ///< forwards, declares the full Content-Length, sends half the body, closes
  server_error,   ///< answers `status` (500, 502, 503) with a short JSON body
  rate_limited,   ///< answers 429 with Retry-After: `retry_after`
  slow_drip,      ///< forwards, then trickles the answer `drip_bytes` at a time, `delay` apart
  silence,        ///< reads the request and never answers, until the client hangs up
};

[[nodiscard]] std::string_view to_string(Fault fault);

struct FaultRule {
  static constexpr int always = -1;

  Fault fault = Fault::server_error;
  std::string method;      ///< "" matches every method
  std::string path_prefix; ///< matched against the path without the query; "" matches all
  int count = 1;           ///< how many matching requests it applies to, or `always`
  /// Whether the upstream gets the request before the fault (reset_before, server_error,
  /// rate_limited, silence): the request took effect and only its answer is lost. The faults
  /// that mangle an answer (latency, reset_mid, truncated_body, slow_drip) always forward.
  bool forward = false;
  std::chrono::milliseconds delay{0}; ///< latency: added wait; slow_drip: pause between pieces
  int status = 503;                   ///< server_error
  std::string retry_after = "1";      ///< rate_limited: the header's value, as sent
  std::size_t drip_bytes = 1;         ///< slow_drip
};

class FaultProxy {
public:
  /// Listens at once; `upstream` is "http://127.0.0.1:<port>" (a path is not allowed).
  explicit FaultProxy(std::string upstream);
  /// Stops: hangs up on silent and dripping connections and waits for every one.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;
  FaultProxy(FaultProxy&&) = delete;
  FaultProxy& operator=(FaultProxy&&) = delete;

  [[nodiscard]] std::string url() const; ///< "http://127.0.0.1:<port>"

  void add(FaultRule rule);
  void clear(); ///< drops every rule: from now on everything is forwarded

  struct Seen {
    std::string method;
    std::string target; ///< path and query, as sent
    std::optional<Fault> fault;
    bool forwarded = false; ///< the upstream got it
  };
  [[nodiscard]] std::vector<Seen> requests() const; ///< in the order they were read
  [[nodiscard]] std::size_t injected(Fault fault) const;
  [[nodiscard]] std::size_t injected_total() const;
  [[nodiscard]] std::size_t forwarded() const;

private:
  struct State;
  std::unique_ptr<State> m_state;
};

} // namespace afk::test
