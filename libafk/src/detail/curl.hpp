// SPDX-License-Identifier: MIT
#pragma once

/// Private libcurl helpers for the HTTP seam: owning handles, the one-time global
/// initialisation, and URL parsing through libcurl's own parser, so that the origin
/// HttpClient checks a URL against is the origin the transport will connect to.

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace afk::detail {

template <auto Free> struct CDeleter {
  template <class T> void operator()(T* p) const noexcept { Free(p); }
};

using CurlEasy = std::unique_ptr<CURL, CDeleter<curl_easy_cleanup>>;
using CurlSlist = std::unique_ptr<curl_slist, CDeleter<curl_slist_free_all>>;
using CurlUrl = std::unique_ptr<CURLU, CDeleter<curl_url_cleanup>>;

/// Runs curl_global_init once per process, however many threads race to it. Throws
/// Error{config} when libcurl cannot initialise (a later call tries again).
void curl_global_init_once();

struct UrlParts {
  std::string scheme; ///< "http" or "https"
  std::string host;   ///< lower case; IPv6 literals keep their brackets
  std::string port;   ///< as written, else the scheme's default
  bool explicit_port = false;
  std::string path; ///< at least "/"
  bool has_userinfo = false;

  /// True when `other` has the same scheme, host and port.
  [[nodiscard]] bool same_origin(const UrlParts& other) const;
  /// "scheme://host[:port]": what messages may name of a peer.
  [[nodiscard]] std::string origin() const;
};

/// Parses an absolute http or https URL. nullopt for anything else (relative, other scheme,
/// garbage). Never throws Error.
[[nodiscard]] std::optional<UrlParts> parse_url(std::string_view url);

/// `reference` resolved against the absolute URL `base` as RFC 3986 says (a relative
/// Link target, say). nullopt when either cannot be parsed. Never throws Error.
[[nodiscard]] std::optional<std::string> resolve_url(std::string_view base,
                                                     std::string_view reference);

/// "scheme://host[:port]/path" of `url`: what an error message or a log field may show.
/// Userinfo, query and fragment are dropped, as they may carry secrets. Never throws
/// Error for bad input; an unparsable URL is shown cut at its first '?' or '#', userinfo removed.
[[nodiscard]] std::string describe_url(std::string_view url);

} // namespace afk::detail
