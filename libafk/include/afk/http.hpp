// SPDX-License-Identifier: MIT
#pragma once

/// The HTTP seam below every API client (trackers, T3, CI, Kubernetes, notifiers).
///
/// Two layers:
///  - HttpTransport sends one request and returns the response, whatever its status. It
///    is the only place that talks to libcurl (make_curl_transport), and the seam tests
///    and embedders replace.
///  - HttpClient adds what every API client needs on top: the bearer token read from its
///    file on every request (tokens rotate), User-Agent and default headers, bounded
///    retries with exponential backoff and jitter for transport errors, 5xx and 429 on
///    idempotent requests, honouring Retry-After and GitHub's rate-limit headers, the
///    mapping of statuses to afk::Error kinds, JSON bodies and Link-header pagination.
///
/// Tokens never appear in an error message or a log field: requests are described by
/// method and URL only, and URLs carrying credentials are refused.

#include "afk/log.hpp"
#include "afk/time.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace afk {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  std::string body;
  /// Upper bound for this request, connect to last byte; zero: the transport's own
  /// (CurlOptions::total_timeout). A transport applies the smaller of the two.
  std::chrono::milliseconds timeout{0};
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers; ///< names in lower case, in the order received
  std::string body;

  /// The first header named `name` (case-insensitive), or nullopt.
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

/// Sends one request. Returns every HTTP response, whatever its status. Throws
/// Error{transient} for transport failures (connect, reset, timeout, truncated body) and
/// Error{config} for a request it refuses (bad URL, TLS set-up). Must be safe to call from
/// several threads at once.
class HttpTransport {
public:
  virtual ~HttpTransport() = default;
  [[nodiscard]] virtual HttpResponse send(const HttpRequest& request) = 0;
};

struct CurlOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{30'000}; ///< whole request, body included
  std::filesystem::path ca_bundle;                 ///< empty: the system's CA store
  std::size_t max_body_bytes = 32U << 20U;         ///< larger bodies fail as protocol errors
  std::string user_agent = "afk";
};

/// The libcurl transport: TLS verification always on (peer and host), proxies from the
/// environment (http_proxy, https_proxy, no_proxy), no redirects followed, no cookies.
/// Each send() uses its own connection. The first call initialises libcurl for the process
/// (once, thread-safe; libafk never calls curl_global_cleanup). Throws Error{config} if
/// libcurl cannot initialise.
[[nodiscard]] std::unique_ptr<HttpTransport> make_curl_transport(const CurlOptions& options);

struct RetryPolicy {
  int max_attempts = 4;                           ///< first try included
  std::chrono::milliseconds initial_backoff{500}; ///< doubled each retry, with jitter
  std::chrono::milliseconds max_backoff{30'000};  ///< cap for computed backoff
  std::chrono::milliseconds max_wait{60'000};     ///< longest server-requested wait honoured
};

struct HttpClientOptions {
  std::string base_url;             ///< e.g. "https://api.github.com"; paths are appended
  std::filesystem::path token_file; ///< empty: no Authorization header
  std::string auth_scheme = "Bearer";
  HttpHeaders default_headers; ///< e.g. Accept, X-GitHub-Api-Version
  RetryPolicy retry;
  /// The whole job's deadline (afk tick's limits.tick_timeout). No attempt starts after it,
  /// each attempt's timeout is cut to what is left (HttpRequest::timeout), and a retry whose
  /// wait would end past it is not made: Error{transient} naming the request and the deadline.
  Deadline deadline;
};

/// A JSON API client over a transport. Borrowed collaborators must outlive it. Safe to
/// share between threads.
class HttpClient {
public:
  /// `clock` dates rate-limit resets; `sleep` waits between retries (injected so tests run
  /// instantly; empty means std::this_thread::sleep_for); `jitter_seed` makes the jitter
  /// reproducible in tests. Throws Error{config} when base_url is not an http or https URL
  /// or carries credentials (user:password@).
  HttpClient(HttpTransport& transport, HttpClientOptions options, Logger& log, const Clock& clock,
             std::function<void(std::chrono::milliseconds)> sleep = {},
             std::uint64_t jitter_seed = 0);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends `method` to `path_or_url` (a path is appended to base_url; an absolute URL must
  /// share base_url's scheme, host and port, so a Link header cannot send the token
  /// elsewhere). Retries as the policy says (only idempotent methods: GET, HEAD, PUT,
  /// DELETE). Returns the final response when its status is 2xx or 304, or 404 when
  /// `allow_not_found`. Throws Error: transient (transport, 5xx, 429 and rate limits after
  /// the retries), config (401, 403 without rate limiting, unreadable token file),
  /// conflict (409, 422), permanent (404 unless allowed, other 4xx), protocol (an absolute
  /// URL on another origin, a body over the transport's cap). A server-requested wait longer
  /// than retry.max_wait fails at once (transient, "rate limited until …"). Each retry is
  /// logged at warn as `http_retry` (method, url without query, status or error, attempt,
  /// wait_ms).
  [[nodiscard]] HttpResponse request(std::string_view method, std::string_view path_or_url,
                                     std::string body = {}, bool allow_not_found = false);

  struct RequestOptions {
    bool allow_not_found = false;
    /// The caller vouches that repeating the request is harmless although its method is
    /// not idempotent (a T3 command carries a commandId the server applies once), so it
    /// is retried as a GET would be.
    bool retry_unsafe = false;
    /// Statuses the caller interprets itself: such a response is returned at once, never
    /// retried or thrown (feature detection, or error bodies that need reading).
    std::vector<int> pass_statuses;
  };

  /// As request() above, with the options spelled out.
  [[nodiscard]] HttpResponse request(std::string_view method, std::string_view path_or_url,
                                     std::string body, const RequestOptions& options);

  /// GETs every page of a list endpoint by following `Link: <…>; rel="next"`, at most
  /// `max_pages` pages (then Error{protocol}). Each page's body is returned as is. A relative
  /// target is resolved against the page's URL; every target must pass request()'s origin
  /// check. Throws as request() does.
  [[nodiscard]] std::vector<std::string> get_pages(std::string_view path_or_url,
                                                   std::size_t max_pages = 100);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// The URL of `rel="next"` in a Link header value, if any. Pure; tolerant of spacing,
/// parameter order and quoting as RFC 8288 allows; only a link's first rel counts. Never
/// throws.
[[nodiscard]] std::optional<std::string> link_next(std::string_view link_header);

/// How long a response asks the client to wait before retrying, from Retry-After
/// (seconds or an HTTP date) or GitHub's x-ratelimit-remaining: 0 with x-ratelimit-reset
/// (epoch seconds). nullopt when it asks nothing or the value is garbage; never negative (a
/// time already past is zero). Only the IMF-fixdate HTTP date form is read. `now` is the
/// current time.
[[nodiscard]] std::optional<std::chrono::seconds> requested_wait(const HttpResponse& response,
                                                                 Timestamp now);

} // namespace afk
