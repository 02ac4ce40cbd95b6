// SPDX-License-Identifier: MIT
#include "detail/curl.hpp"

#include <afk/error.hpp>
#include <afk/http.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace afk {

namespace {

char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && is_ows(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (is_ows(text.back()) || text.back() == '\r' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// RFC 9110 tchar: what a method or a header name may be made of.
bool is_token(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// A value with CR, LF or NUL would let a header smuggle further headers into the request.
bool is_safe_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

template <class T> void set_option(CURL* easy, CURLoption option, T value) {
  const CURLcode rc = curl_easy_setopt(easy, option, value);
  if (rc != CURLE_OK) {
    const curl_easyoption* info = curl_easy_option_by_id(option);
    throw Error(ErrorKind::config, std::string("libcurl refused option ") +
                                       (info != nullptr ? info->name : "(unknown)") + ": " +
                                       curl_easy_strerror(rc));
  }
}

// Filled by libcurl's callbacks during one transfer.
struct Received {
  std::size_t max_body_bytes = 0;
  bool body_too_large = false;
  HttpResponse response;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& received = *static_cast<Received*>(user);
  const std::size_t bytes = size * count;
  if (bytes > received.max_body_bytes - received.response.body.size()) {
    received.body_too_large = true;
    return 0; // anything but `bytes` makes libcurl abort with CURLE_WRITE_ERROR
  }
  received.response.body.append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& headers = static_cast<Received*>(user)->response.headers;
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {
    // A new status line: interim (1xx) or proxy CONNECT headers came before; keep only
    // the final response's.
    headers.clear();
  } else if (!line.empty() && is_ows(line.front())) {
    if (!headers.empty()) { // obsolete line folding continues the previous value
      headers.back().second += ' ';
      headers.back().second += trim_ows(line);
    }
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) {
      c = to_lower(c);
    }
    headers.emplace_back(std::move(name), std::string(trim_ows(line.substr(colon + 1))));
  }
  return bytes;
}

ErrorKind kind_of(CURLcode rc) {
  switch (rc) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
    return ErrorKind::config;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_FILESIZE_EXCEEDED:
    return ErrorKind::protocol;
  default:
    // Connect, resolve, timeout, send/receive errors, resets, truncated bodies: the
    // same request may well succeed later.
    return ErrorKind::transient;
  }
}

class CurlTransport final : public HttpTransport {
public:
  explicit CurlTransport(CurlOptions options)
      : m_options(std::move(options)) {}

  HttpResponse send(const HttpRequest& request) override {
    const std::string what = request.method + ' ' + detail::describe_url(request.url);
    check(request, what);

    // A fresh handle per request keeps send() safe to call from many threads; the price
    // is a new connection each time, which afk's few requests per tick can afford.
    const detail::CurlEasy easy(curl_easy_init());
    if (!easy) {
      throw Error(ErrorKind::transient, what + ": libcurl could not create a handle");
    }
    std::array<char, CURL_ERROR_SIZE> error_buffer{};
    Received received;
    received.max_body_bytes = m_options.max_body_bytes;
    const detail::CurlSlist headers = header_list(request, what);
    configure(easy.get(), request, headers.get(), error_buffer.data(), received);

    const CURLcode rc = curl_easy_perform(easy.get());
    if (received.body_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      throw Error(ErrorKind::protocol, what + ": response body larger than " +
                                           std::to_string(m_options.max_body_bytes) + " bytes");
    }
    if (rc != CURLE_OK) {
      std::string message = what + ": " + curl_easy_strerror(rc);
      if (error_buffer.front() != '\0') {
        message += std::string(" (") + error_buffer.data() + ')';
      }
      throw Error(kind_of(rc), message);
    }
    long status = 0;
    if (curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
        status < 100 || status > 999) {
      throw Error(ErrorKind::protocol, what + ": no valid HTTP status in the response");
    }
    received.response.status = static_cast<int>(status);
    return std::move(received.response);
  }

private:
  static void check(const HttpRequest& request, const std::string& what) {
    if (!is_token(request.method)) {
      throw Error(ErrorKind::config, what + ": invalid HTTP method");
    }
    const auto url = detail::parse_url(request.url);
    if (!url) {
      throw Error(ErrorKind::config, what + ": not an absolute http or https URL");
    }
    if (url->has_userinfo) {
      throw Error(ErrorKind::config, what + ": refusing a URL with credentials in it");
    }
    if ((request.method == "GET" || request.method == "HEAD") && !request.body.empty()) {
      throw Error(ErrorKind::config,
                  what + ": a " + request.method + " request cannot carry a body");
    }
  }

  static detail::CurlSlist header_list(const HttpRequest& request, const std::string& what) {
    detail::CurlSlist list;
    const auto append = [&](const std::string& line) {
      curl_slist* grown = curl_slist_append(list.get(), line.c_str());
      if (grown == nullptr) {
        throw Error(ErrorKind::transient, what + ": out of memory building headers");
      }
      // The head only changes when the list was empty; otherwise `grown` is `list`.
      if (!list) {
        list.reset(grown);
      }
    };
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
      if (!is_token(name)) {
        throw Error(ErrorKind::config, what + ": invalid header name");
      }
      // Never the value in the message: it may be the Authorization header.
      if (!is_safe_header_value(value)) {
        throw Error(ErrorKind::config, what + ": header " + name + " has a line break in it");
      }
      has_content_type = has_content_type || curl_strequal(name.c_str(), "content-type") != 0;
      // libcurl reads "Name:" as "remove this header"; "Name;" sends it empty.
      append(value.empty() ? name + ';' : name + ": " + value);
    }
    // libcurl would otherwise label every body as a form and hold large ones back for a
    // 100-continue that APIs do not need.
    if (!has_content_type) {
      append("Content-Type:");
    }
    append("Expect:");
    return list;
  }

  void configure(CURL* easy, const HttpRequest& request, curl_slist* headers, char* error_buffer,
                 Received& received) const {
    set_option(easy, CURLOPT_ERRORBUFFER, error_buffer);
    set_option(easy, CURLOPT_URL, request.url.c_str());
    set_option(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    set_option(easy, CURLOPT_NOSIGNAL, 1L);
    set_option(easy, CURLOPT_FOLLOWLOCATION, 0L);
    set_option(easy, CURLOPT_CONNECTTIMEOUT_MS,
               static_cast<long>(m_options.connect_timeout.count()));
    // Covers the whole transfer, so a server that accepts and never answers, or drips its
    // answer a byte at a time, is cut off all the same.
    set_option(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(total_timeout(request).count()));
    set_option(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    set_option(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!m_options.ca_bundle.empty()) {
      set_option(easy, CURLOPT_CAINFO, m_options.ca_bundle.c_str());
    }
    set_option(easy, CURLOPT_USERAGENT, m_options.user_agent.c_str());
    set_option(easy, CURLOPT_ACCEPT_ENCODING, ""); // every encoding libcurl can decode
    set_option(easy, CURLOPT_HTTPHEADER, headers);
    set_option(easy, CURLOPT_WRITEFUNCTION, &on_body);
    set_option(easy, CURLOPT_WRITEDATA, static_cast<void*>(&received));
    set_option(easy, CURLOPT_HEADERFUNCTION, &on_header);
    set_option(easy, CURLOPT_HEADERDATA, static_cast<void*>(&received));
    if (request.method == "HEAD") {
      set_option(easy, CURLOPT_NOBODY, 1L);
      return;
    }
    // Fails early on a declared Content-Length; the write callback catches the rest. Not
    // for HEAD, whose Content-Length describes a body that never comes.
    set_option(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(m_options.max_body_bytes));
    if (request.method == "GET") {
      set_option(easy, CURLOPT_HTTPGET, 1L);
    } else {
      // Even an empty body is sent (Content-Length: 0): some APIs reject a bodyless PUT.
      set_option(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      set_option(easy, CURLOPT_POSTFIELDS, request.body.c_str());
      set_option(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  }

  // The smaller of the request's own bound and the transport's; zero on either side means
  // "none from this side" (libcurl reads zero as no timeout at all).
  [[nodiscard]] std::chrono::milliseconds total_timeout(const HttpRequest& request) const {
    const std::chrono::milliseconds own = m_options.total_timeout;
    if (request.timeout <= std::chrono::milliseconds{0}) {
      return own;
    }
    return own <= std::chrono::milliseconds{0} ? request.timeout : std::min(own, request.timeout);
  }

  CurlOptions m_options;
};

} // namespace

std::unique_ptr<HttpTransport> make_curl_transport(const CurlOptions& options) {
  detail::curl_global_init_once();
  return std::make_unique<CurlTransport>(options);
}

} // namespace afk
