// SPDX-License-Identifier: MIT
#include "detail/curl.hpp"

#include <afk/error.hpp>
#include <afk/http.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <system_error>
#include <thread>

namespace afk {

namespace {

using std::chrono::milliseconds;

constexpr std::size_t k_excerpt_max_bytes = 200;
// Ten digits reach the year 2286 as epoch seconds and 317 years as a delay; anything
// longer is garbage, and refusing it keeps every later sum and conversion in range.
constexpr std::size_t k_max_number_digits = 10;

char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return to_lower(x) == to_lower(y); });
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

std::optional<std::int64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > k_max_number_digits) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (const char c : text) {
    if (!is_digit(c)) {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<int> fixed_digits(std::string_view text, std::size_t pos, std::size_t width) {
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (i >= text.size() || !is_digit(text[i])) {
      return std::nullopt;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// IMF-fixdate (RFC 9110 section 5.6.7), the only HTTP date form servers may send today:
// "Sun, 06 Nov 1994 08:49:37 GMT". The weekday is checked for spelling, not consistency.
std::optional<Timestamp> parse_http_date(std::string_view text) {
  constexpr std::array<std::string_view, 7> k_weekdays{"Mon", "Tue", "Wed", "Thu",
                                                       "Fri", "Sat", "Sun"};
  constexpr std::array<std::string_view, 12> k_months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT" ||
      std::find(k_weekdays.begin(), k_weekdays.end(), text.substr(0, 3)) == k_weekdays.end()) {
    return std::nullopt;
  }
  const auto month = std::find(k_months.begin(), k_months.end(), text.substr(8, 3));
  const auto day = fixed_digits(text, 5, 2);
  const auto year = fixed_digits(text, 12, 4);
  const auto hour = fixed_digits(text, 17, 2);
  const auto minute = fixed_digits(text, 20, 2);
  const auto second = fixed_digits(text, 23, 2);
  if (month == k_months.end() || !day || !year || !hour || !minute || !second || *hour > 23 ||
      *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{
      std::chrono::year{*year},
      std::chrono::month{static_cast<unsigned>(month - k_months.begin() + 1)},
      std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) {
    return std::nullopt;
  }
  return std::chrono::sys_days{date} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} +
         Seconds{*second};
}

bool has_relation(std::string_view relations, std::string_view wanted) {
  std::size_t pos = 0;
  while (pos < relations.size()) {
    while (pos < relations.size() && is_space(relations[pos])) {
      ++pos;
    }
    const std::size_t start = pos;
    while (pos < relations.size() && !is_space(relations[pos])) {
      ++pos;
    }
    if (pos > start && iequals(relations.substr(start, pos - start), wanted)) {
      return true;
    }
  }
  return false;
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE";
}

bool is_rate_limited_403(const HttpResponse& response) {
  if (response.status != 403) {
    return false;
  }
  const auto remaining = response.header("x-ratelimit-remaining");
  return (remaining && trim(*remaining) == "0") || response.header("retry-after").has_value();
}

bool should_retry(const HttpResponse& response) {
  return (response.status >= 500 && response.status <= 599) || response.status == 429 ||
         is_rate_limited_403(response);
}

bool has_header(const HttpHeaders& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& header) { return iequals(header.first, name); });
}

// Drops an incomplete UTF-8 sequence left at the end by a cut.
void drop_partial_code_point(std::string& text) {
  std::size_t lead = text.size();
  while (lead > 0 && (static_cast<unsigned char>(text[lead - 1]) & 0xC0U) == 0x80U) {
    --lead;
  }
  if (lead == 0) {
    return;
  }
  const auto first = static_cast<unsigned char>(text[lead - 1]);
  const std::size_t length = first >= 0xF0U ? 4 : first >= 0xE0U ? 3 : first >= 0xC0U ? 2 : 1;
  if (text.size() - (lead - 1) < length) {
    text.resize(lead - 1);
  }
}

// ": <message>" from a JSON error body ({"message": "Validation Failed", …}), cut short
// and without control characters so a peer cannot forge lines in logs; "" otherwise.
std::string error_excerpt(std::string_view body) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return {};
  }
  const auto message = json.find("message");
  if (message == json.end() || !message->is_string()) {
    return {};
  }
  std::string clean;
  for (const char c : message->get_ref<const std::string&>()) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20U && byte != 0x7FU) {
      clean += c;
    } else if (!clean.empty() && clean.back() != ' ') {
      clean += ' ';
    }
  }
  clean = std::string(trim(clean));
  if (clean.empty()) {
    return {};
  }
  if (clean.size() > k_excerpt_max_bytes) {
    clean.resize(k_excerpt_max_bytes);
    drop_partial_code_point(clean);
    clean += "...";
  }
  return ": " + clean;
}

std::string read_token(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw Error(ErrorKind::config, "token file " + file.string() + " is missing or not a file");
  }
  std::ifstream in(file, std::ios::binary);
  std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (!in.is_open() || in.bad()) {
    throw Error(ErrorKind::config, "cannot read token file " + file.string());
  }
  const std::string_view token = trim(content);
  if (token.empty()) {
    throw Error(ErrorKind::config, "token file " + file.string() + " is empty");
  }
  // Visible ASCII only: anything else is not a token, and a line break would end the header.
  if (std::any_of(token.begin(), token.end(), [](char c) { return c <= ' ' || c > '~'; })) {
    throw Error(ErrorKind::config,
                "token file " + file.string() + " holds characters a token cannot contain");
  }
  return std::string(token);
}

// A scheme ("https:") starts an absolute URL; anything else is a path under base_url.
bool has_scheme(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return false;
  }
  return std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' ||
           c == '-' || c == '.';
  });
}

} // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

struct HttpClient::Impl {
  struct Sent {
    HttpResponse response;
    int attempts = 0;
  };

  HttpTransport& transport;
  HttpClientOptions options;
  Logger& log;
  const Clock& clock;
  std::function<void(milliseconds)> sleep;
  detail::UrlParts base;
  std::mutex jitter_mutex;
  std::mt19937_64 jitter;

  Impl(HttpTransport& transport_, HttpClientOptions options_, Logger& log_, const Clock& clock_,
       std::function<void(milliseconds)> sleep_, std::uint64_t jitter_seed)
      : transport(transport_)
      , options(std::move(options_))
      , log(log_)
      , clock(clock_)
      , sleep(sleep_ ? std::move(sleep_) : [](milliseconds d) { std::this_thread::sleep_for(d); })
      , base(parse_base(options.base_url))
      , jitter(jitter_seed) {}

  static detail::UrlParts parse_base(const std::string& base_url) {
    auto parts = detail::parse_url(base_url);
    if (!parts) {
      throw Error(ErrorKind::config,
                  "base_url " + detail::describe_url(base_url) + " is not an http or https URL");
    }
    if (parts->has_userinfo) {
      throw Error(ErrorKind::config, "base_url " + detail::describe_url(base_url) +
                                         " has credentials in it; put the token in token_file");
    }
    return *parts;
  }

  // The absolute URL for `path_or_url`, refused unless it goes to base_url's origin.
  [[nodiscard]] std::string resolve(std::string_view method, std::string_view path_or_url) const {
    std::string url;
    if (has_scheme(path_or_url)) {
      url = path_or_url;
    } else {
      url = options.base_url;
      while (!url.empty() && url.back() == '/') {
        url.pop_back();
      }
      if (!path_or_url.starts_with('/')) {
        url += '/';
      }
      url += path_or_url;
    }
    const std::string what = std::string(method) + ' ' + detail::describe_url(url);
    const auto parts = detail::parse_url(url);
    if (!parts) {
      throw Error(ErrorKind::config, what + ": not an http or https URL");
    }
    if (parts->has_userinfo) {
      throw Error(ErrorKind::config, what + ": refusing a URL with credentials in it");
    }
    if (!parts->same_origin(base)) {
      throw Error(ErrorKind::protocol, what + ": refusing to send credentials to " + parts->host +
                                           " (only " + base.origin() + " may receive them)");
    }
    return url;
  }

  HttpResponse request(std::string_view method, std::string_view path_or_url, std::string body,
                       const HttpClient::RequestOptions& how) {
    HttpRequest request;
    request.method = method;
    request.url = resolve(method, path_or_url);
    const std::string what = request.method + ' ' + detail::describe_url(request.url);
    request.headers = options.default_headers;
    if (!options.token_file.empty()) {
      request.headers.emplace_back("Authorization",
                                   options.auth_scheme + ' ' + read_token(options.token_file));
    }
    if (!body.empty() && !has_header(request.headers, "content-type")) {
      request.headers.emplace_back("Content-Type", "application/json");
    }
    request.body = std::move(body);
    Sent sent = send_with_retries(request, what, how);
    if (std::find(how.pass_statuses.begin(), how.pass_statuses.end(), sent.response.status) !=
        how.pass_statuses.end()) {
      return std::move(sent.response);
    }
    return checked(std::move(sent), request.method, what, how);
  }

  Sent send_with_retries(HttpRequest& request, const std::string& what,
                         const HttpClient::RequestOptions& how) {
    const bool idempotent = how.retry_unsafe || is_idempotent(request.method);
    const int max_attempts = std::max(1, options.retry.max_attempts);
    const Deadline& deadline = options.deadline;
    for (int attempt = 1;; ++attempt) {
      const bool last = !idempotent || attempt >= max_attempts;
      if (deadline.expired()) {
        throw Error(ErrorKind::transient, what + ": the deadline passed before attempt " +
                                              std::to_string(attempt) + " could start");
      }
      // Zero would mean "the transport's own"; a deadline a hair away still bounds the attempt.
      request.timeout =
          deadline.bounded() ? std::max(milliseconds{1}, deadline.remaining()) : milliseconds{0};
      HttpResponse response;
      try {
        response = transport.send(request);
      } catch (const Error& error) {
        if (error.kind() != ErrorKind::transient) {
          throw;
        }
        const std::string tries = " (" + attempts_text(attempt) + ")";
        if (deadline.expired()) {
          throw Error(ErrorKind::transient,
                      std::string(error.what()) + ": the deadline passed" + tries);
        }
        if (!idempotent) {
          throw;
        }
        if (last) {
          throw Error(ErrorKind::transient, std::string(error.what()) + " (gave up after " +
                                                attempts_text(attempt) + ")");
        }
        const milliseconds wait = backoff(attempt);
        refuse_past_deadline(wait, std::string(error.what()), attempt);
        pause(request, attempt, {"error", error.what()}, wait);
        continue;
      }
      const bool passed = std::find(how.pass_statuses.begin(), how.pass_statuses.end(),
                                    response.status) != how.pass_statuses.end();
      if (passed || !should_retry(response)) {
        return {std::move(response), attempt};
      }
      const Timestamp now = clock.now();
      const auto asked = requested_wait(response, now);
      const std::string status = std::to_string(response.status);
      if (asked && *asked > std::chrono::ceil<Seconds>(options.retry.max_wait)) {
        throw Error(ErrorKind::transient, what + ": rate limited until " +
                                              format_timestamp(now + *asked) + " (HTTP " + status +
                                              "), later than afk waits for");
      }
      if (last) {
        return {std::move(response), attempt};
      }
      const milliseconds wait = asked ? milliseconds{*asked} : backoff(attempt);
      refuse_past_deadline(wait, what + ": HTTP " + status, attempt);
      pause(request, attempt, {"status", status}, wait);
    }
  }

  static std::string attempts_text(int attempts) {
    return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
  }

  // A retry that could only start after the deadline is not waited for.
  void refuse_past_deadline(milliseconds wait, const std::string& cause, int attempt) const {
    if (options.deadline.bounded() && wait >= options.deadline.remaining()) {
      throw Error(ErrorKind::transient,
                  cause + " (" + attempts_text(attempt) + "); not retried: the retry in " +
                      std::to_string(wait.count()) + " ms would start past the deadline");
    }
  }

  // initial_backoff doubled per retry, capped at max_backoff, then jittered uniformly over
  // its upper half so that clients failing together do not retry together.
  milliseconds backoff(int attempt) {
    milliseconds ceiling = options.retry.initial_backoff;
    for (int i = 1; i < attempt && ceiling < options.retry.max_backoff; ++i) {
      ceiling *= 2;
    }
    ceiling = std::min(ceiling, options.retry.max_backoff);
    if (ceiling <= milliseconds{0}) {
      return milliseconds{0};
    }
    std::uniform_int_distribution<milliseconds::rep> spread(ceiling.count() / 2, ceiling.count());
    const std::lock_guard lock(jitter_mutex);
    return milliseconds{spread(jitter)};
  }

  void pause(const HttpRequest& request, int attempt, LogField cause, milliseconds wait) {
    log.warn("http_retry", {{"method", request.method},
                            {"url", detail::describe_url(request.url)},
                            std::move(cause),
                            {"attempt", std::to_string(attempt)},
                            {"wait_ms", std::to_string(wait.count())}});
    sleep(wait);
  }

  HttpResponse checked(Sent sent, const std::string& method, const std::string& what,
                       const HttpClient::RequestOptions& how) const {
    HttpResponse& response = sent.response;
    const int status = response.status;
    const std::string code = std::to_string(status);
    if ((status >= 200 && status <= 299) || status == 304 ||
        (status == 404 && how.allow_not_found)) {
      return std::move(response);
    }
    if (status == 404) {
      throw Error(ErrorKind::permanent, what + ": not found (404)" + error_excerpt(response.body));
    }
    if (status == 401) {
      throw Error(ErrorKind::config,
                  what + ": credentials rejected (401) by " + base.host +
                      (options.token_file.empty()
                           ? "; no token_file is configured"
                           : "; check token_file " + options.token_file.string()));
    }
    if (status == 403 && !is_rate_limited_403(response)) {
      throw Error(ErrorKind::config, what + ": forbidden (403): the token lacks permission" +
                                         error_excerpt(response.body));
    }
    if (status == 409 || status == 422) {
      throw Error(ErrorKind::conflict,
                  what + ": rejected (" + code + ")" + error_excerpt(response.body));
    }
    const std::string tried = how.retry_unsafe || is_idempotent(method)
                                  ? " after " + std::to_string(sent.attempts) + " attempts"
                                  : " (not retried: " + method + " is not idempotent)";
    if (status == 429 || status == 403) {
      throw Error(ErrorKind::transient, what + ": rate limited (" + code + ")" + tried);
    }
    if (status >= 500 && status <= 599) {
      throw Error(ErrorKind::transient, what + ": server error (" + code + ")" + tried);
    }
    if (status >= 300 && status <= 499) {
      throw Error(ErrorKind::permanent,
                  what + ": unexpected status " + code + error_excerpt(response.body));
    }
    throw Error(ErrorKind::protocol, what + ": invalid status " + code);
  }
};

HttpClient::HttpClient(HttpTransport& transport, HttpClientOptions options, Logger& log,
                       const Clock& clock, std::function<void(std::chrono::milliseconds)> sleep,
                       std::uint64_t jitter_seed)
    : m_impl(std::make_unique<Impl>(transport, std::move(options), log, clock, std::move(sleep),
                                    jitter_seed)) {}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::request(std::string_view method, std::string_view path_or_url,
                                 std::string body, bool allow_not_found) {
  RequestOptions options;
  options.allow_not_found = allow_not_found;
  return m_impl->request(method, path_or_url, std::move(body), options);
}

HttpResponse HttpClient::request(std::string_view method, std::string_view path_or_url,
                                 std::string body, const RequestOptions& options) {
  return m_impl->request(method, path_or_url, std::move(body), options);
}

std::vector<std::string> HttpClient::get_pages(std::string_view path_or_url,
                                               std::size_t max_pages) {
  std::vector<std::string> pages;
  std::string url = m_impl->resolve("GET", path_or_url);
  const std::string first = detail::describe_url(url);
  while (true) {
    if (pages.size() >= max_pages) {
      throw Error(ErrorKind::protocol,
                  "GET " + first + ": more than " + std::to_string(max_pages) + " pages");
    }
    HttpResponse page = request("GET", url);
    pages.push_back(std::move(page.body));
    // Several Link fields are one list (RFC 9110 section 5.3).
    std::string links;
    for (const auto& [name, value] : page.headers) {
      if (iequals(name, "link")) {
        links += links.empty() ? value : ", " + value;
      }
    }
    const auto next = link_next(links);
    if (!next) {
      return pages;
    }
    // A relative target is relative to the page that named it (RFC 8288 section 3.2).
    const auto absolute = detail::resolve_url(url, *next);
    if (!absolute) {
      throw Error(ErrorKind::protocol, "GET " + detail::describe_url(url) +
                                           ": the Link header's next URL cannot be parsed");
    }
    url = *absolute;
  }
}

std::optional<std::string> link_next(std::string_view link_header) {
  const std::string_view text = link_header;
  std::size_t pos = 0;
  const auto skip_spaces = [&] {
    while (pos < text.size() && is_space(text[pos])) {
      ++pos;
    }
  };
  // To the ',' that ends this link-value, stepping over quoted strings.
  const auto skip_to_comma = [&] {
    bool quoted = false;
    for (; pos < text.size() && (quoted || text[pos] != ','); ++pos) {
      if (text[pos] == '\\' && quoted) {
        ++pos;
      } else if (text[pos] == '"') {
        quoted = !quoted;
      }
    }
  };
  while (pos < text.size()) {
    skip_spaces();
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      continue;
    }
    if (pos >= text.size()) {
      break;
    }
    const auto close = text[pos] == '<' ? text.find('>', pos) : std::string_view::npos;
    if (close == std::string_view::npos) {
      skip_to_comma();
      continue;
    }
    const std::string_view target = trim(text.substr(pos + 1, close - pos - 1));
    pos = close + 1;
    bool rel_seen = false;
    bool is_next = false;
    while (true) {
      skip_spaces();
      if (pos >= text.size() || text[pos] == ',') {
        break;
      }
      if (text[pos] != ';') {
        skip_to_comma();
        break;
      }
      ++pos;
      skip_spaces();
      const std::size_t name_start = pos;
      while (pos < text.size() && !is_space(text[pos]) && text[pos] != '=' && text[pos] != ';' &&
             text[pos] != ',') {
        ++pos;
      }
      const std::string_view name = text.substr(name_start, pos - name_start);
      skip_spaces();
      std::string value;
      if (pos < text.size() && text[pos] == '=') {
        ++pos;
        skip_spaces();
        if (pos < text.size() && text[pos] == '"') {
          for (++pos; pos < text.size() && text[pos] != '"'; ++pos) {
            if (text[pos] == '\\' && pos + 1 < text.size()) {
              ++pos;
            }
            value += text[pos];
          }
          pos = std::min(pos + 1, text.size());
        } else {
          while (pos < text.size() && !is_space(text[pos]) && text[pos] != ';' &&
                 text[pos] != ',') {
            value += text[pos++];
          }
        }
      }
      // Only the first rel counts (RFC 8288 section 3.3).
      if (!rel_seen && iequals(name, "rel")) {
        rel_seen = true;
        is_next = has_relation(value, "next");
      }
    }
    if (is_next && !target.empty()) {
      return std::string(target);
    }
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> requested_wait(const HttpResponse& response, Timestamp now) {
  if (const auto retry_after = response.header("retry-after")) {
    const std::string_view value = trim(*retry_after);
    if (const auto delay = parse_count(value)) {
      return Seconds{*delay};
    }
    if (const auto date = parse_http_date(value)) {
      return std::max(Seconds{0}, *date - now);
    }
  }
  const auto remaining = response.header("x-ratelimit-remaining");
  const auto reset = response.header("x-ratelimit-reset");
  if (remaining && reset && trim(*remaining) == "0") {
    if (const auto epoch = parse_count(trim(*reset))) {
      return std::max(Seconds{0}, Timestamp{Seconds{*epoch}} - now);
    }
  }
  return std::nullopt;
}

} // namespace afk
