// SPDX-License-Identifier: MIT
#include "detail/curl.hpp"

#include <afk/error.hpp>

#include <mutex>

namespace afk::detail {

namespace {

char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string text) {
  for (char& c : text) {
    c = to_lower(c);
  }
  return text;
}

std::optional<std::string> get_part(CURLU* url, CURLUPart part, unsigned int flags = 0) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) {
    return std::nullopt;
  }
  std::string out(value);
  curl_free(value);
  return out;
}

std::once_flag g_curl_init_flag;

} // namespace

void curl_global_init_once() {
  // libcurl wants curl_global_init called once before any other use, and it is only
  // thread-safe on some builds; curl_easy_init's implicit call is not to be relied on.
  // libafk has no Runtime object whose construction could own this yet, so the first
  // transport made does it. There is no matching curl_global_cleanup: another transport
  // may be made at any time, and what the init allocates stays reachable until exit.
  std::call_once(g_curl_init_flag, [] {
    const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      throw Error(ErrorKind::config,
                  std::string("libcurl failed to initialise: ") + curl_easy_strerror(rc));
    }
  });
}

bool UrlParts::same_origin(const UrlParts& other) const {
  return scheme == other.scheme && host == other.host && port == other.port;
}

std::string UrlParts::origin() const {
  std::string out = scheme + "://" + host;
  if (explicit_port) {
    out += ':' + port;
  }
  return out;
}

std::optional<UrlParts> parse_url(std::string_view url) {
  const CurlUrl handle(curl_url());
  if (!handle ||
      curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  UrlParts parts;
  auto scheme = get_part(handle.get(), CURLUPART_SCHEME);
  auto host = get_part(handle.get(), CURLUPART_HOST);
  auto port = get_part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || !host || !port) {
    return std::nullopt;
  }
  parts.scheme = lowered(*scheme);
  if (parts.scheme != "http" && parts.scheme != "https") {
    return std::nullopt;
  }
  parts.host = lowered(*host);
  parts.port = *port;
  parts.explicit_port = get_part(handle.get(), CURLUPART_PORT).has_value();
  parts.path = get_part(handle.get(), CURLUPART_PATH).value_or("/");
  parts.has_userinfo = get_part(handle.get(), CURLUPART_USER).has_value() ||
                       get_part(handle.get(), CURLUPART_PASSWORD).has_value() ||
                       get_part(handle.get(), CURLUPART_OPTIONS).has_value();
  return parts;
}

std::optional<std::string> resolve_url(std::string_view base, std::string_view reference) {
  const CurlUrl handle(curl_url());
  if (!handle ||
      curl_url_set(handle.get(), CURLUPART_URL, std::string(base).c_str(), 0) != CURLUE_OK ||
      curl_url_set(handle.get(), CURLUPART_URL, std::string(reference).c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  return get_part(handle.get(), CURLUPART_URL);
}

std::string describe_url(std::string_view url) {
  if (const auto parts = parse_url(url)) {
    return parts->origin() + parts->path;
  }
  std::string_view shown = url.substr(0, url.find_first_of("?#"));
  const auto authority = shown.find("://");
  const auto start = authority == std::string_view::npos ? 0 : authority + 3;
  const auto at = shown.find('@', start);
  if (at != std::string_view::npos && shown.find('/', start) > at) {
    return std::string(shown.substr(0, start)) + std::string(shown.substr(at + 1));
  }
  return std::string(shown);
}

} // namespace afk::detail
