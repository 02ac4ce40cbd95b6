// SPDX-License-Identifier: MIT
#pragma once

// What the tracker adapters share: URL building for /repos/{owner}/{repo}/…, outgoing JSON,
// and a Reader that turns every surprise in a response body into Error{protocol} naming the
// endpoint and the field, never the peer's bytes.

#include <afk/error.hpp>
#include <afk/issue.hpp>
#include <afk/time.hpp>
#include <afk/tracker.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace afk::tracker_json {

using nlohmann::json;

inline char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return to_lower(x) == to_lower(y); });
}

inline bool iends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && iequals(text.substr(text.size() - suffix.size()), suffix);
}

// Everything but RFC 3986's unreserved characters, so that a label or login is one path
// segment or one query value whatever it holds ("a b", "priority:1").
inline std::string encode(std::string_view text) {
  constexpr std::string_view k_hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[byte >> 4U];
      out += k_hex[byte & 0x0FU];
    }
  }
  return out;
}

inline std::string repo_path(const RepoName& repo) {
  return "/repos/" + encode(repo.owner()) + '/' + encode(repo.name());
}

inline std::string issue_path(const IssueRef& issue) {
  return repo_path(issue.repo) + "/issues/" + std::to_string(issue.number);
}

// What error messages call a request: method and path, never the query or a body.
inline std::string endpoint(std::string_view method, std::string_view path) {
  return std::string(method) + ' ' + std::string(path.substr(0, path.find('?')));
}

// Outgoing bodies: invalid UTF-8 (from issue text, say) becomes U+FFFD instead of throwing.
inline std::string dump(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Reads one response body. Every complaint is Error{protocol} prefixed with the endpoint and
// names a field, never the peer's bytes.
class Reader {
public:
  explicit Reader(std::string where)
      : m_where(std::move(where)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorKind::protocol, m_where + ": " + what);
  }

  // Runs `read` over the parsed body. nlohmann exceptions are caught here, at the boundary,
  // should a typed access slip past the checks below.
  template <class Read> auto parse(const std::string& body, Read read) const {
    const json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded()) {
      fail("the response is not valid JSON");
    }
    return guard(doc, read);
  }

  // As parse(), over a document already parsed.
  template <class Read> auto guard(const json& doc, Read read) const {
    try {
      return read(doc);
    } catch (const json::exception&) {
      fail("the response has an unexpected JSON shape");
    }
  }

  const json& array(const json& value, std::string_view what) const {
    if (!value.is_array()) {
      fail(std::string(what) + " is not a JSON array");
    }
    return value;
  }

  const json& member(const json& object, std::string_view key) const {
    if (!object.is_object()) {
      fail("expected a JSON object holding \"" + std::string(key) + '"');
    }
    const auto it = object.find(key);
    if (it == object.end()) {
      fail('"' + std::string(key) + "\" is missing");
    }
    return *it;
  }

  const json& object(const json& object, std::string_view key) const {
    const json& value = member(object, key);
    if (!value.is_object()) {
      fail('"' + std::string(key) + "\" is not an object");
    }
    return value;
  }

  std::string string(const json& object, std::string_view key) const {
    const json& value = member(object, key);
    if (!value.is_string()) {
      fail('"' + std::string(key) + "\" is not a string");
    }
    return value.get<std::string>();
  }

  // A string the server may send as null (an issue's empty body).
  std::string string_or_empty(const json& object, std::string_view key) const {
    const json& value = member(object, key);
    return value.is_null() ? std::string() : string(object, key);
  }

  std::int64_t integer(const json& object, std::string_view key) const {
    const json& value = member(object, key);
    if (value.is_number_unsigned() &&
        value.get<std::uint64_t>() <=
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(value.get<std::uint64_t>());
    }
    if (value.is_number_integer() && !value.is_number_unsigned()) {
      return value.get<std::int64_t>();
    }
    fail('"' + std::string(key) + "\" is not a 64-bit integer");
  }

  std::int64_t positive(const json& object, std::string_view key) const {
    const std::int64_t value = integer(object, key);
    if (value <= 0) {
      fail('"' + std::string(key) + "\" is not a positive integer");
    }
    return value;
  }

  Timestamp timestamp(const json& object, std::string_view key) const {
    const auto value = parse_timestamp(string(object, key));
    if (!value) {
      fail('"' + std::string(key) + "\" is not an RFC 3339 timestamp");
    }
    return *value;
  }

  // user.login, or "" for a user the server reports as null.
  std::string login(const json& object, std::string_view key) const {
    const json& user = member(object, key);
    return user.is_null() ? std::string() : string(this->object(object, key), "login");
  }

private:
  std::string m_where;
};

inline bool has_non_null(const json& object, std::string_view key) {
  const auto it = object.find(key);
  return it != object.end() && !it->is_null();
}

// GET /repos/{owner}/{repo} → its default_branch (the same on GitHub and Forgejo).
inline std::string read_default_branch(HttpClient& http, const RepoName& repo) {
  const std::string path = repo_path(repo);
  const HttpResponse response = http.request("GET", path);
  const Reader in(endpoint("GET", path));
  return in.parse(response.body, [&](const json& doc) {
    std::string branch = in.string(doc, "default_branch");
    if (branch.empty()) {
      in.fail("\"default_branch\" is empty");
    }
    return branch;
  });
}

// One comment as the tracker sends it (author "" for a deleted user).
inline TrackerComment read_comment(const Reader& in, const json& item) {
  return TrackerComment{.id = in.positive(item, "id"),
                        .author = in.login(item, "user"),
                        .body = in.string_or_empty(item, "body"),
                        .updated_at = in.timestamp(item, "updated_at")};
}

// A comment afk wrote: by `author` (ignoring case) and carrying `marker`; nullopt otherwise.
inline std::optional<TrackerComment> comment_by(const Reader& in, const json& item,
                                                std::string_view author, std::string_view marker) {
  std::string login = in.login(item, "user");
  std::string body = in.string_or_empty(item, "body");
  if (login.empty() || !iequals(login, author) || body.find(marker) == std::string::npos) {
    return std::nullopt;
  }
  return TrackerComment{.id = in.positive(item, "id"),
                        .author = std::move(login),
                        .body = std::move(body),
                        .updated_at = in.timestamp(item, "updated_at")};
}

} // namespace afk::tracker_json
