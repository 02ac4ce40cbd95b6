// SPDX-License-Identifier: MIT
#include <afk/config.hpp>
#include <afk/error.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <system_error>
#include <tuple>
#include <utility>

namespace afk {

std::string_view to_string(TrackerKind kind) noexcept {
  switch (kind) {
  case TrackerKind::github:
    return "github";
  case TrackerKind::forgejo:
    return "forgejo";
  }
  return "?";
}

std::string_view to_string(Permission permission) noexcept {
  switch (permission) {
  case Permission::none:
    return "none";
  case Permission::read:
    return "read";
  case Permission::triage:
    return "triage";
  case Permission::write:
    return "write";
  case Permission::maintain:
    return "maintain";
  case Permission::admin:
    return "admin";
  }
  return "?";
}

std::string_view to_string(StageType stage) noexcept {
  switch (stage) {
  case StageType::github_checks:
    return "github_checks";
  case StageType::woodpecker:
    return "woodpecker";
  case StageType::kubernetes:
    return "kubernetes";
  }
  return "?";
}

std::optional<Permission> permission_from_string(std::string_view text) noexcept {
  for (const Permission p : {Permission::none, Permission::read, Permission::triage,
                             Permission::write, Permission::maintain, Permission::admin}) {
    if (to_string(p) == text) {
      return p;
    }
  }
  return std::nullopt;
}

std::string Config::disarmed_reason() const {
  if (kill_switch && allowlist.empty()) {
    return "kill switch on and allowlist empty";
  }
  if (kill_switch) {
    return "kill switch on";
  }
  if (allowlist.empty()) {
    return "allowlist empty";
  }
  return {};
}

bool Config::allowlisted(const RepoName& repo) const {
  return std::find(allowlist.begin(), allowlist.end(), repo) != allowlist.end();
}

Environment Environment::from_process() {
  Environment env;
  // Read once, at startup, before any thread exists: getenv is not safe against setenv.
  if (const char* value = std::getenv("AFK_KILL_SWITCH")) { // NOLINT(concurrency-mt-unsafe)
    env.kill_switch = value;
  }
  if (const char* value = std::getenv("AFK_ALLOWLIST")) { // NOLINT(concurrency-mt-unsafe)
    env.allowlist = value;
  }
  return env;
}

namespace {

constexpr std::size_t k_max_echoed_value = 40;
constexpr std::size_t k_max_echoed_key = 160;
constexpr std::size_t k_max_slug = 64;
constexpr std::size_t k_max_dns_label = 63;
constexpr std::size_t k_max_dns_subdomain = 253;
constexpr std::size_t k_max_label = 50; // GitHub's limit, in characters
constexpr std::int64_t k_max_parallel_repos = 64;
constexpr std::int64_t k_max_fix_forward_attempts = 20;
constexpr std::int64_t k_max_budget_turns = 100;
constexpr std::string_view k_defaults_source = "built-in defaults";

constexpr std::string_view k_duration = R"(a duration such as "45s", "30m", "2h")";
constexpr std::string_view k_size =
    R"(a size greater than 0 with a unit such as "500MiB", "20GiB", "1TiB" (KiB, MiB, GiB, TiB))";
constexpr std::string_view k_url = "an http:// or https:// URL";
constexpr std::string_view k_file_path = "a non-empty path to a file";

bool is_ascii_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_ascii_alnum(char c) {
  return is_ascii_alpha(c) || is_ascii_digit(c);
}

bool is_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20U || byte == 0x7fU;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// Prefixes of the credentials people paste into config files: GitHub and GitLab tokens,
// Slack tokens and incoming webhooks.
constexpr std::array<std::string_view, 9> k_secret_prefixes{
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "https://hooks."};
// Hosts whose URLs are themselves the secret, wherever they appear.
constexpr std::array<std::string_view, 2> k_secret_url_parts{"hooks.slack.com/",
                                                             "discord.com/api/webhooks/"};

bool has_secret_url_part(std::string_view lower) {
  return std::any_of(k_secret_url_parts.begin(), k_secret_url_parts.end(),
                     [&](std::string_view part) { return lower.find(part) != std::string::npos; });
}

bool starts_with_secret_prefix(std::string_view lower) {
  return std::any_of(k_secret_prefixes.begin(), k_secret_prefixes.end(),
                     [&](std::string_view prefix) { return lower.starts_with(prefix); });
}

// Whether `text` starts like a credential, or is a webhook address (any case).
bool looks_like_inline_secret(std::string_view text) {
  const std::string lower = ascii_lower(text);
  return starts_with_secret_prefix(lower) || has_secret_url_part(lower);
}

// Whether `text` holds something that looks like a credential anywhere a word starts
// ("Bearer ghp_...", "https://x/?t=glpat-..."): such text is never echoed.
bool carries_secret(std::string_view text) {
  const std::string lower = ascii_lower(text);
  if (has_secret_url_part(lower)) {
    return true;
  }
  for (std::size_t i = 0; i < lower.size(); ++i) {
    if ((i == 0 || !is_ascii_alnum(lower[i - 1])) &&
        starts_with_secret_prefix(std::string_view(lower).substr(i))) {
      return true;
    }
  }
  return false;
}

constexpr std::string_view k_secret_not_shown = "a value that looks like a secret (not shown)";

// Values are echoed so the operator sees what was read, but escaped and cut short: the
// file is untrusted text and must not smuggle terminal control sequences into a log. A
// value that looks like a secret is never echoed, not even in part.
std::string quote(std::string_view text, std::size_t limit = k_max_echoed_value) {
  if (carries_secret(text)) {
    return std::string(k_secret_not_shown);
  }
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += text[i];
    } else if (byte < 0x20U || byte >= 0x7fU) {
      out += "\\x";
      out += hex[byte >> 4U];
      out += hex[byte & 0xfU];
    } else {
      out += text[i];
    }
  }
  if (text.size() > limit) {
    out += "...";
  }
  out += '"';
  return out;
}

// The dotted path of a key as TOML would spell it: bare when it can be, quoted otherwise.
std::string key_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) {
    out += '.';
  }
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return is_ascii_alnum(c) || c == '_' || c == '-';
  });
  if (carries_secret(key)) {
    out += "<a name that looks like a secret (not shown)>";
  } else {
    out += bare ? std::string(key) : quote(key, k_max_echoed_key);
  }
  return out;
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::none:
    return "nothing";
  case toml::node_type::table:
    return "table";
  case toml::node_type::array:
    return "array";
  case toml::node_type::string:
    return "string";
  case toml::node_type::integer:
    return "integer";
  case toml::node_type::floating_point:
    return "float";
  case toml::node_type::boolean:
    return "boolean";
  case toml::node_type::date:
    return "date";
  case toml::node_type::time:
    return "time";
  case toml::node_type::date_time:
    return "date-time";
  }
  return "?";
}

std::string position(std::string_view source, const toml::source_position& where) {
  std::string out(source);
  if (where.line != 0) {
    out += ':' + std::to_string(where.line) + ':' + std::to_string(where.column);
  }
  return out;
}

// Every problem found, each already formatted; reported together, in file order, with
// the ones that have no position (missing keys, environment) last.
class Problems {
public:
  explicit Problems(std::string source)
      : m_source(std::move(source)) {}

  void add(const toml::source_region& where, std::string_view key, std::string_view what) {
    std::string text = position(m_source, where.begin);
    text += ": ";
    text += key;
    text += ": ";
    text += what;
    m_list.push_back({where.begin.line, where.begin.column, std::move(text)});
  }

  void add_environment(std::string_view variable, std::string_view what) {
    std::string text = "environment variable ";
    text += variable;
    text += ": ";
    text += what;
    m_list.push_back({0, 0, std::move(text)});
  }

  [[nodiscard]] std::size_t size() const noexcept { return m_list.size(); }

  void throw_if_any() {
    if (m_list.empty()) {
      return;
    }
    std::stable_sort(m_list.begin(), m_list.end(), [](const Entry& a, const Entry& b) {
      return std::tuple(a.line == 0, a.line, a.column) < std::tuple(b.line == 0, b.line, b.column);
    });
    std::string message;
    for (const Entry& entry : m_list) {
      if (!message.empty()) {
        message += '\n';
      }
      message += entry.text;
    }
    throw Error(ErrorKind::config, message);
  }

private:
  struct Entry {
    toml::source_index line;
    toml::source_index column;
    std::string text;
  };
  std::string m_source;
  std::vector<Entry> m_list;
};

// One value being read: parsers report problems against its position and dotted key.
struct Value {
  const toml::node& node;
  const std::string& path;
  Problems& problems;

  void problem(std::string_view what) const { problems.add(node.source(), path, what); }
  void expected(std::string_view what) const {
    problem("expected " + std::string(what) + ", got " + std::string(type_name(node)));
  }
  void expected(std::string_view what, std::string_view got) const {
    problem("expected " + std::string(what) + ", got " + quote(got));
  }
};

// --- value parsers: each returns the value, or reports why not and returns nullopt ---

std::optional<bool> boolean(const Value& v) {
  if (const auto* b = v.node.as_boolean()) {
    return b->get();
  }
  v.expected("a boolean");
  return std::nullopt;
}

template <class Int> auto integer_in(std::int64_t low, std::int64_t high) {
  return [low, high](const Value& v) -> std::optional<Int> {
    const std::string what =
        "an integer from " + std::to_string(low) + " to " + std::to_string(high);
    const auto* i = v.node.as_integer();
    if (i == nullptr) {
      v.expected(what);
      return std::nullopt;
    }
    if (i->get() < low || i->get() > high) {
      v.problem("expected " + what + ", got " + std::to_string(i->get()));
      return std::nullopt;
    }
    return static_cast<Int>(i->get());
  };
}

// Any string without control characters; `what` describes what it should have been.
std::optional<std::string> string_of(const Value& v, std::string_view what) {
  const auto* s = v.node.as_string();
  if (s == nullptr) {
    v.expected(what);
    return std::nullopt;
  }
  const std::string& text = s->get();
  if (std::any_of(text.begin(), text.end(), is_control)) {
    v.problem("expected " + std::string(what) + " without control characters");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> non_empty(const Value& v) {
  auto text = string_of(v, "a non-empty string");
  if (text && text->empty()) {
    v.problem("expected a non-empty string");
    return std::nullopt;
  }
  return text;
}

// A path to a file holding a secret. The file itself is `afk doctor`'s business.
std::optional<std::string> file_path(const Value& v) {
  auto text = string_of(v, k_file_path);
  if (!text) {
    return std::nullopt;
  }
  if (text->empty()) {
    v.expected(k_file_path, *text);
    return std::nullopt;
  }
  // Never echoed: if it is a secret, it must not reach a log.
  if (looks_like_inline_secret(*text)) {
    v.problem("looks like a secret, not a path; secrets are not stored in the config: "
              "give the path of a file holding it");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> absolute_path(const Value& v) {
  auto text = string_of(v, "an absolute path");
  if (text && !std::filesystem::path(*text).is_absolute()) {
    v.expected("an absolute path", *text);
    return std::nullopt;
  }
  return text;
}

// The parts of "scheme://authority/rest" that the checks below need.
struct UrlParts {
  std::string scheme;         ///< lower case
  std::string_view authority; ///< "[userinfo@]host[:port]"
  std::string_view host;      ///< "" when there is none, or it cannot be read
  std::string_view port;      ///< without ':'
  bool has_port = false;
  std::string_view query;    ///< after '?', before '#'
  std::string_view fragment; ///< after '#'
};

std::optional<UrlParts> split_url(std::string_view text) {
  const std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::nullopt;
  }
  UrlParts url;
  url.scheme = ascii_lower(text.substr(0, scheme_end));
  const std::string_view rest = text.substr(scheme_end + 3);
  const std::size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  url.authority = rest.substr(0, authority_end);
  const std::string_view tail = rest.substr(authority_end);
  const std::size_t hash = std::min(tail.find('#'), tail.size());
  url.fragment = tail.substr(std::min(hash + 1, tail.size()));
  const std::string_view before_hash = tail.substr(0, hash);
  if (const std::size_t question = before_hash.find('?'); question != std::string_view::npos) {
    url.query = before_hash.substr(question + 1);
  }
  std::string_view host_port = url.authority;
  if (const std::size_t at = host_port.rfind('@'); at != std::string_view::npos) {
    host_port.remove_prefix(at + 1);
  }
  std::string_view after_host;
  if (host_port.starts_with('[')) {
    const std::size_t close = host_port.find(']');
    if (close == std::string_view::npos) {
      return url; // no host that can be read
    }
    url.host = host_port.substr(0, close + 1);
    after_host = host_port.substr(close + 1);
  } else {
    const std::size_t colon = std::min(host_port.find(':'), host_port.size());
    url.host = host_port.substr(0, colon);
    after_host = host_port.substr(colon);
  }
  if (!after_host.empty()) {
    if (after_host.front() != ':') {
      url.host = {};
      return url;
    }
    url.has_port = true;
    url.port = after_host.substr(1);
  }
  return url;
}

bool is_valid_port(std::string_view port) {
  constexpr std::size_t max_digits = 5;
  constexpr unsigned long max_port = 65535;
  if (port.empty() || port.size() > max_digits ||
      !std::all_of(port.begin(), port.end(), is_ascii_digit)) {
    return false;
  }
  const unsigned long value = std::stoul(std::string(port));
  return value >= 1 && value <= max_port;
}

// Hosts that never leave the machine: 127.0.0.0/8, localhost and [::1].
bool is_loopback_host(std::string_view host) {
  const std::string lower = ascii_lower(host);
  if (lower == "localhost" || lower == "[::1]") {
    return true;
  }
  if (!lower.starts_with("127.")) {
    return false;
  }
  // A dotted quad of four decimal octets, each 0 to 255.
  constexpr std::size_t octets = 4;
  constexpr int max_octet = 255;
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = std::min(lower.find('.', start), lower.size());
    const std::string_view octet = std::string_view(lower).substr(start, dot - start);
    if (octet.empty() || octet.size() > 3 ||
        !std::all_of(octet.begin(), octet.end(), is_ascii_digit) ||
        std::stoi(std::string(octet)) > max_octet) {
      return false;
    }
    ++count;
    if (dot == lower.size()) {
      break;
    }
    start = dot + 1;
  }
  return count == octets;
}

// Query and fragment parameters whose names say they carry a credential.
constexpr std::array<std::string_view, 9> k_secret_parameter_words{
    "token", "auth", "key", "secret", "passw", "pwd", "credential", "signature", "session"};

bool has_secret_parameter(std::string_view parameters) {
  std::size_t start = 0;
  while (start <= parameters.size()) {
    const std::size_t end = std::min(parameters.find_first_of("&;", start), parameters.size());
    const std::string_view parameter = parameters.substr(start, end - start);
    const std::string name = ascii_lower(parameter.substr(0, parameter.find('=')));
    if (name == "sig" ||
        std::any_of(k_secret_parameter_words.begin(), k_secret_parameter_words.end(),
                    [&](std::string_view word) { return name.find(word) != std::string::npos; })) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// An http:// or https:// URL (scheme in any case, stored in lower case) with a host and
// no credentials in it: neither "user:password@", nor a token, key or webhook anywhere,
// nor a query or fragment parameter named like one. Credentials are never echoed.
std::optional<std::string> url(const Value& v) {
  auto text = string_of(v, k_url);
  if (!text) {
    return std::nullopt;
  }
  const auto parts = split_url(*text);
  // Checked first and never echoed: "user:password@" is a secret (and without "://" there
  // is no telling where it ends).
  if (parts ? parts->authority.find('@') != std::string_view::npos
            : text->find('@') != std::string::npos) {
    v.problem("URLs must not carry credentials (user:password@); secrets are not stored in "
              "the config: use the matching *_file key");
    return std::nullopt;
  }
  if (carries_secret(*text) ||
      (parts && (has_secret_parameter(parts->query) || has_secret_parameter(parts->fragment)))) {
    v.problem("URLs must not carry credentials (a token, key or webhook address in the URL or "
              "its parameters); secrets are not stored in the config: use the matching *_file "
              "key");
    return std::nullopt;
  }
  if (!parts || (parts->scheme != "https" && parts->scheme != "http")) {
    v.expected(k_url, *text);
    return std::nullopt;
  }
  if (parts->host.empty() || parts->host.find_first_of(" \\") != std::string_view::npos) {
    v.expected(std::string(k_url) + " with a host", *text);
    return std::nullopt;
  }
  if (parts->has_port && !is_valid_port(parts->port)) {
    v.expected(std::string(k_url) + " with a port from 1 to 65535", *text);
    return std::nullopt;
  }
  text->replace(0, parts->scheme.size(), parts->scheme);
  return text;
}

// A local origin: "file:///absolute/path/{repo}.git" (no host, no "..", nothing hidden in
// it), for tests and air-gapped setups.
bool is_file_clone_url(std::string_view text) {
  return ascii_lower(text.substr(0, 7)) == "file://";
}

// Whether a request to `text` (a URL that url() accepted) is encrypted or stays on the
// machine.
bool is_secure_url(std::string_view text) {
  if (is_file_clone_url(text)) {
    return true; // never leaves the machine
  }
  const auto parts = split_url(text);
  return parts && (parts->scheme == "https" || is_loopback_host(parts->host));
}

constexpr std::string_view k_secure_url =
    "an https:// URL, since afk sends a token there (http:// only for a loopback host: "
    "127.0.0.0/8, localhost or [::1])";

// A URL afk sends a token to.
std::optional<std::string> secure_url(const Value& v) {
  auto text = url(v);
  if (text && !is_secure_url(*text)) {
    v.expected(k_secure_url, *text);
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> clone_url(const Value& v) {
  if (const auto raw = v.node.value<std::string>(); raw && is_file_clone_url(*raw)) {
    const std::string_view path = std::string_view(*raw).substr(7);
    if (!path.starts_with('/') || path.find("/../") != std::string_view::npos ||
        path.ends_with("/..") ||
        std::any_of(path.begin(), path.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }) ||
        path.find("{repo}") == std::string_view::npos) {
      v.expected(R"(a file:/// URL with an absolute path containing "{repo}" and no "..")", *raw);
      return std::nullopt;
    }
    return "file://" + std::string(path);
  }
  auto text = url(v);
  if (text && text->find("{repo}") == std::string::npos) {
    v.expected(R"(a URL containing "{repo}" (replaced by owner/name))", *text);
    return std::nullopt;
  }
  return text;
}

auto duration(bool allow_zero) {
  return [allow_zero](const Value& v) -> std::optional<Seconds> {
    const auto text = string_of(v, k_duration);
    if (!text) {
      return std::nullopt;
    }
    const auto parsed = parse_duration(*text);
    if (!parsed) {
      v.expected(k_duration, *text);
      return std::nullopt;
    }
    if (!allow_zero && parsed->count() == 0) {
      v.expected("a duration greater than 0s", *text);
      return std::nullopt;
    }
    return parsed;
  };
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, unsigned>, 4> k_units{{
      {"KiB", 10U},
      {"MiB", 20U},
      {"GiB", 30U},
      {"TiB", 40U},
  }};
  std::size_t digits = 0;
  while (digits < text.size() && is_ascii_digit(text[digits])) {
    ++digits;
  }
  const std::string_view unit = text.substr(digits);
  const auto* found = std::find_if(k_units.begin(), k_units.end(),
                                   [unit](const auto& u) { return u.first == unit; });
  if (digits == 0 || found == k_units.end()) {
    return std::nullopt;
  }
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() >> found->second;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (limit - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  if (value == 0) {
    return std::nullopt;
  }
  return value << found->second;
}

std::optional<std::uint64_t> size(const Value& v) {
  const auto text = string_of(v, k_size);
  if (!text) {
    return std::nullopt;
  }
  const auto bytes = parse_size(*text);
  if (!bytes) {
    v.expected(k_size, *text);
  }
  return bytes;
}

// A string checked by `valid`, reported as "expected <what>, got "<text>"".
template <class Valid> auto checked(std::string_view what, Valid valid) {
  return [what, valid](const Value& v) -> std::optional<std::string> {
    auto text = string_of(v, what);
    if (text && !valid(std::string_view(*text))) {
      v.expected(what, *text);
      return std::nullopt;
    }
    return text;
  };
}

bool is_slug(std::string_view text) {
  return !text.empty() && text.size() <= k_max_slug && is_ascii_alpha(text.front()) &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return is_ascii_alnum(c) || c == '_' || c == '-'; });
}

bool is_trailer_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](char c) { return is_ascii_alnum(c) || c == '-'; });
}

// The part of a git ref afk writes: conservative, so every forge and git accept it.
bool is_ref_part(std::string_view text) {
  return !text.empty() && text.front() != '/' && text.front() != '-' && text.front() != '.' &&
         text.find("..") == std::string_view::npos && text.find("//") == std::string_view::npos &&
         text.find("/.") == std::string_view::npos &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return is_ascii_alnum(c) || c == '.' || c == '_' || c == '-' || c == '/';
         });
}

bool is_branch_name(std::string_view text) {
  return is_ref_part(text) && text.back() != '/' && text.back() != '.' && !text.ends_with(".lock");
}

// RFC 1123 names as Kubernetes uses them: a label (namespaces) or a subdomain (most
// objects, deployments included), lower case.
bool is_dns_name(std::string_view text, std::size_t max, bool dots) {
  const auto lower_alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || is_ascii_digit(c);
  };
  return !text.empty() && text.size() <= max && lower_alnum(text.front()) &&
         lower_alnum(text.back()) && std::all_of(text.begin(), text.end(), [&](char c) {
           return lower_alnum(c) || c == '-' || (dots && c == '.');
         });
}

const auto k_slug = checked(
    "an id of letters, digits, '_' and '-' that starts with a letter, at most 64 characters",
    is_slug);
const auto k_trailer =
    checked("a git trailer token (letters, digits and '-', such as \"AFK-Run\")", is_trailer_token);
const auto k_branch_prefix = checked("a branch-name prefix such as \"afk/\" (letters, digits, '.', "
                                     "'_', '-' and '/'; no \"..\" or \"//\"; not starting with "
                                     "'/', '-' or '.')",
                                     is_ref_part);
const auto k_branch =
    checked("a branch name (letters, digits, '.', '_', '-' and '/')", is_branch_name);
const auto k_namespace =
    checked("a Kubernetes namespace (lower-case letters, digits and '-', at most 63 characters)",
            [](std::string_view text) { return is_dns_name(text, k_max_dns_label, false); });
const auto k_object_name =
    checked("a Kubernetes object name (lower-case letters, digits, '-' and '.')",
            [](std::string_view text) { return is_dns_name(text, k_max_dns_subdomain, true); });

// Characters, not bytes: GitHub counts label names in characters.
std::size_t utf8_length(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0U) != 0x80U;
  }));
}

// A label name (or, with `max` one less, the prefix of one): non-empty, no control
// characters, no ',' (GitHub's labels= filter splits on it), at most `max` characters.
auto label_name(std::string_view what, std::size_t max) {
  return [what, max](const Value& v) -> std::optional<std::string> {
    auto text = non_empty(v);
    if (!text) {
      return std::nullopt;
    }
    if (text->find(',') != std::string::npos) {
      v.expected(std::string(what) + " without ',' (GitHub's labels= filter splits on it)", *text);
      return std::nullopt;
    }
    if (utf8_length(*text) > max) {
      v.expected(std::string(what) + " of at most " + std::to_string(max) +
                     " characters (GitHub's limit is " + std::to_string(k_max_label) + ")",
                 *text);
      return std::nullopt;
    }
    return text;
  };
}

const auto k_label = label_name("a label name", k_max_label);
// "<prefix>N" must fit too, N at least one digit.
const auto k_label_prefix = label_name("a label prefix", k_max_label - 1);

// A string that must be one of a fixed set, read with `from_string`.
template <class FromString> auto one_of(std::string_view what, FromString from_string) {
  return [what, from_string](const Value& v) -> decltype(from_string(std::string_view{})) {
    const auto text = string_of(v, what);
    if (!text) {
      return std::nullopt;
    }
    auto parsed = from_string(*text);
    if (!parsed) {
      v.expected(what, *text);
    }
    return parsed;
  };
}

std::optional<TrackerKind> tracker_kind_from_string(std::string_view text) {
  for (const TrackerKind kind : {TrackerKind::github, TrackerKind::forgejo}) {
    if (to_string(kind) == text) {
      return kind;
    }
  }
  return std::nullopt;
}

std::optional<StageType> stage_from_string(std::string_view text) {
  for (const StageType stage :
       {StageType::github_checks, StageType::woodpecker, StageType::kubernetes}) {
    if (to_string(stage) == text) {
      return stage;
    }
  }
  return std::nullopt;
}

std::optional<std::string> runtime_mode_from_string(std::string_view text) {
  for (const std::string_view mode :
       {"approval-required", "auto-accept-edits", "full-access", "auto"}) {
    if (mode == text) {
      return std::string(mode);
    }
  }
  return std::nullopt;
}

const auto k_tracker_kind = one_of(R"("github" or "forgejo")", tracker_kind_from_string);
const auto k_stage = one_of(R"("github_checks", "woodpecker" or "kubernetes")", stage_from_string);
const auto k_runtime_mode =
    one_of(R"("approval-required", "auto-accept-edits", "full-access" or "auto")",
           runtime_mode_from_string);
const auto k_human_policy = one_of(R"("escalate" or "proceed")", human_policy_from_string);

std::optional<Permission> trusted_permission(const Value& v) {
  constexpr std::string_view what = R"("write", "maintain" or "admin")";
  const auto permission = one_of(what, permission_from_string)(v);
  if (permission && *permission < Permission::write) {
    v.problem(quote(to_string(*permission)) +
              " is unsafe: it would let accounts that cannot push code make afk push code; "
              "expected " +
              std::string(what));
    return std::nullopt;
  }
  return permission;
}

std::optional<RepoName> repo_name(const Value& v) {
  const auto text = string_of(v, R"(a repository name "owner/name")");
  if (!text) {
    return std::nullopt;
  }
  auto repo = RepoName::parse(*text);
  if (!repo) {
    v.problem(explain_invalid_repo_name(*text));
  }
  return repo;
}

const toml::node& element(const Value& v, std::size_t i) {
  return *v.node.as_array()->get(i);
}

template <class T, class Element> auto list_of(std::string_view what, Element read_element) {
  return [what, read_element](const Value& v) -> std::optional<std::vector<T>> {
    if (v.node.as_array() == nullptr) {
      v.expected(what);
      return std::nullopt;
    }
    std::vector<T> out;
    bool ok = true;
    for (std::size_t i = 0; i < v.node.as_array()->size(); ++i) {
      const std::string path = v.path + '[' + std::to_string(i) + ']';
      if (auto item = read_element(Value{element(v, i), path, v.problems})) {
        out.push_back(std::move(*item));
      } else {
        ok = false;
      }
    }
    if (!ok) {
      return std::nullopt;
    }
    return out;
  };
}

// Reports the second and later occurrences of equal items; true when there were none.
template <class T> bool no_duplicates(const Value& v, const std::vector<T>& items) {
  bool ok = true;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto first =
        std::find(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(i), items[i]);
    if (first != items.begin() + static_cast<std::ptrdiff_t>(i)) {
      const auto j = static_cast<std::size_t>(first - items.begin());
      v.problems.add(element(v, i).source(), v.path + '[' + std::to_string(i) + ']',
                     "repeats " + v.path + '[' + std::to_string(j) + ']');
      ok = false;
    }
  }
  return ok;
}

std::optional<std::vector<RepoName>> repo_list(const Value& v) {
  auto repos = list_of<RepoName>(R"(an array of "owner/name" strings)", repo_name)(v);
  if (repos && !no_duplicates(v, *repos)) {
    return std::nullopt;
  }
  return repos;
}

std::optional<std::vector<StageType>> stage_list(const Value& v) {
  constexpr std::string_view what = R"(an array of "github_checks", "woodpecker" and "kubernetes")";
  auto stages = list_of<StageType>(what, k_stage)(v);
  if (!stages) {
    return std::nullopt;
  }
  // With no stage there is no external evidence that a push is good.
  if (stages->empty()) {
    v.problem("expected at least one stage: " + std::string(what));
    return std::nullopt;
  }
  if (!no_duplicates(v, *stages)) {
    return std::nullopt;
  }
  return stages;
}

const auto k_string_list = list_of<std::string>("an array of non-empty strings", non_empty);
const auto k_object_list =
    list_of<std::string>("an array of Kubernetes object names", k_object_name);

// --- tables -------------------------------------------------------------------------

// The reader of a whole file. In listing mode it reads nothing and records the dotted
// name of every key the schema declares, so config_keys() cannot drift from the parser.
struct Reader {
  Problems problems;
  std::vector<std::string>* listed = nullptr;
};

constexpr std::array<std::string_view, 9> k_secret_words{"token",   "password",   "passwd",
                                                         "secret",  "api_key",    "apikey",
                                                         "webhook", "credential", "private_key"};

// One TOML table being read. Keys are declared in the order the schema lists them;
// reject_unknown() then reports every key the table holds that was not declared.
class Section {
public:
  Section(Reader& reader, const toml::table* table, std::string path)
      : m_reader(reader)
      , m_table(table)
      , m_path(std::move(path)) {}

  /// Reads key `name` with `parse` into `target` when present.
  template <class T, class Parse> void key(std::string_view name, T& target, Parse parse) {
    m_known.push_back(name);
    const std::string path = key_path(m_path, name);
    if (m_reader.listed != nullptr) {
      m_reader.listed->push_back(path);
      return;
    }
    if (const toml::node* node = find(name)) {
      if (auto value = parse(Value{*node, path, m_reader.problems})) {
        target = std::move(*value);
      }
    }
  }

  /// Reads sub-table `name` (absent: read as empty) with `read(Section&)`.
  template <class Read> void table(std::string_view name, Read read) {
    m_known.push_back(name);
    const std::string path = key_path(m_path, name);
    const toml::table* child = nullptr;
    if (const toml::node* node = find(name)) {
      child = node->as_table();
      if (child == nullptr) {
        Value{*node, path, m_reader.problems}.expected("a table");
        return;
      }
    }
    Section section(m_reader, child, path);
    read(section);
    section.reject_unknown();
  }

  /// Reads every sub-table of this one, whatever its name, with
  /// `read(Section&, std::string_view name, const toml::source_region& name_at)`;
  /// `placeholder` stands for the name in listings.
  template <class Read> void each_table(std::string_view placeholder, Read read) {
    m_open = true;
    if (m_reader.listed != nullptr) {
      Section section(m_reader, nullptr, key_path(m_path, placeholder));
      read(section, placeholder, toml::source_region{});
      return;
    }
    if (m_table == nullptr) {
      return;
    }
    // In file order, not toml++'s key order, so that of two tables naming one repository
    // the later one is reported.
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [name, node] : *m_table) {
      entries.emplace_back(&name, &node);
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      const toml::source_position& pa = a.first->source().begin;
      const toml::source_position& pb = b.first->source().begin;
      return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
    });
    for (const auto& [name, node] : entries) {
      const std::string path = key_path(m_path, name->str());
      const toml::table* child = node->as_table();
      if (child == nullptr) {
        Value{*node, path, m_reader.problems}.expected("a table");
        continue;
      }
      Section section(m_reader, child, path);
      read(section, name->str(), name->source());
      section.reject_unknown();
    }
  }

  /// Whether the file sets `name` (never in listing mode).
  [[nodiscard]] bool has(std::string_view name) const {
    return m_table != nullptr && m_table->contains(name);
  }

  /// Whether this section only lists keys (config_keys()) and reads nothing.
  [[nodiscard]] bool listing() const noexcept { return m_reader.listed != nullptr; }

  /// How many problems have been found so far, in the whole file.
  [[nodiscard]] std::size_t problem_count() const noexcept { return m_reader.problems.size(); }

  /// Where key `name` is set, else this table's header, else nowhere.
  [[nodiscard]] toml::source_region region(std::string_view name) const {
    if (const toml::node* node = find(name)) {
      return node->source();
    }
    return m_table != nullptr ? m_table->source() : toml::source_region{};
  }

  /// Reports key `name` as missing, at this table's header when the file has one.
  void missing(std::string_view name, std::string_view why) {
    const toml::source_region where =
        m_table != nullptr ? m_table->source() : toml::source_region{};
    m_reader.problems.add(where, key_path(m_path, name), why);
  }

  void problem(const toml::source_region& where, std::string_view key, std::string_view what) {
    m_reader.problems.add(where, key_path(m_path, key), what);
  }

  void reject_unknown() const {
    if (m_table == nullptr || m_open) {
      return;
    }
    for (auto&& [name, node] : *m_table) {
      if (std::find(m_known.begin(), m_known.end(), name.str()) == m_known.end()) {
        m_reader.problems.add(name.source(), key_path(m_path, name.str()), unknown_key(name.str()));
      }
    }
  }

private:
  [[nodiscard]] const toml::node* find(std::string_view name) const {
    return m_table != nullptr ? m_table->get(name) : nullptr;
  }

  [[nodiscard]] std::string unknown_key(std::string_view name) const {
    const std::string lower = ascii_lower(name);
    const bool secret = !std::string_view(lower).ends_with("_file") &&
                        std::any_of(k_secret_words.begin(), k_secret_words.end(),
                                    [&](std::string_view w) { return lower.find(w) != npos; });
    if (!secret) {
      std::string out = "unknown key; expected one of: ";
      for (std::size_t i = 0; i < m_known.size(); ++i) {
        out += i == 0 ? "" : ", ";
        out += m_known[i];
      }
      return out;
    }
    // Point at the *_file key of this table that holds the same kind of secret.
    std::string_view suggestion;
    for (const std::string_view known : m_known) {
      if (!known.ends_with("_file")) {
        continue;
      }
      const bool same_kind =
          std::any_of(k_secret_words.begin(), k_secret_words.end(), [&](std::string_view w) {
            return lower.find(w) != npos && known.find(w) != std::string_view::npos;
          });
      if (suggestion.empty() || same_kind) {
        suggestion = known;
      }
      if (same_kind) {
        break;
      }
    }
    if (suggestion.empty()) {
      return "secrets are not stored in the config, and this table takes none";
    }
    return "secrets are not stored in the config; use " + std::string(suggestion) +
           " (a path to a file holding it)";
  }

  static constexpr auto npos = std::string::npos;

  Reader& m_reader;
  const toml::table* m_table;
  std::string m_path;
  std::vector<std::string_view> m_known;
  bool m_open = false; // every key is a name (each_table), none is unknown
};

// Whether `a` comes after `b` in the file (a key that is set comes after its table header,
// which comes after nowhere).
bool after(const toml::source_region& a, const toml::source_region& b) {
  return std::pair(a.begin.line, a.begin.column) > std::pair(b.begin.line, b.begin.column);
}

void read_labels(Section& s, LabelNames& labels) {
  const std::size_t problems_before = s.problem_count();
  s.key("ready", labels.ready, k_label);
  s.key("in_progress", labels.in_progress, k_label);
  s.key("human", labels.human, k_label);
  s.key("frozen", labels.frozen, k_label);
  s.key("priority_prefix", labels.priority_prefix, k_label_prefix);
  if (s.listing() || s.problem_count() != problems_before) {
    return; // a name that could not be read would be compared as its default
  }
  // Each label means one thing: forges compare names ignoring case, so must afk.
  const std::array<std::pair<std::string_view, const std::string*>, 4> names{{
      {"ready", &labels.ready},
      {"in_progress", &labels.in_progress},
      {"human", &labels.human},
      {"frozen", &labels.frozen},
  }};
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (ascii_lower(*names[i].second) != ascii_lower(*names[j].second)) {
        continue;
      }
      // Reported where the file sets the later of the two.
      const bool at_j = after(s.region(names[j].first), s.region(names[i].first));
      const std::string_view key = at_j ? names[j].first : names[i].first;
      const std::string_view other = at_j ? names[i].first : names[j].first;
      s.problem(s.region(key), key,
                "same label as labels." + std::string(other) + " (label names ignore case)");
    }
  }
  const std::string prefix = ascii_lower(labels.priority_prefix);
  for (const auto& [name, value] : names) {
    if (!ascii_lower(*value).starts_with(prefix)) {
      continue;
    }
    if (!after(s.region(name), s.region("priority_prefix"))) {
      s.problem(s.region("priority_prefix"), "priority_prefix",
                "is a prefix of labels." + std::string(name) +
                    " (ignoring case): priority labels must not be confused with afk's own");
    } else {
      s.problem(s.region(name), name,
                "starts with labels.priority_prefix (ignoring case): priority labels must not be "
                "confused with afk's own");
    }
  }
}

void read_limits(Section& s, LifecycleLimits& limits) {
  const auto positive = duration(false);
  s.key("fix_forward_attempts", limits.fix_forward_attempts,
        integer_in<int>(0, k_max_fix_forward_attempts));
  s.key("fix_forward_window", limits.fix_forward_window, positive);
  s.key("pre_push_deadline", limits.pre_push_deadline, positive);
  s.key("stall_timeout", limits.stall_timeout, positive);
  s.key("start_timeout", limits.start_timeout, positive);
  s.key("verify_deadline", limits.verify_deadline, positive);
  s.key("healthy_for", limits.healthy_for, duration(true));
  s.key("budget_turns", limits.budget_turns, integer_in<int>(1, k_max_budget_turns));
  s.key("budget_time", limits.budget_time, positive);
  s.key("on_waiting_human", limits.on_waiting_human, k_human_policy);
}

void read_tracker(Section& s, TrackerConfig& tracker) {
  s.key("kind", tracker.kind, k_tracker_kind);
  s.key("api_url", tracker.api_url, secure_url);
  s.key("token_file", tracker.token_file, file_path);
  s.key("login", tracker.login, non_empty);
  s.key("trusted_permission", tracker.trusted_permission, trusted_permission);
  s.key("api_version", tracker.api_version, non_empty);
  s.key("web_url", tracker.web_url, url);
  // The defaults are GitHub's: a Forgejo token must never be sent there by omission, nor
  // links point there.
  if (tracker.kind == TrackerKind::forgejo && !s.has("api_url")) {
    s.missing("api_url", "required when tracker.kind is \"forgejo\" (the default is GitHub's)");
  }
  if (tracker.kind == TrackerKind::forgejo && !s.has("web_url")) {
    s.missing("web_url", "required when tracker.kind is \"forgejo\" (the default is GitHub's: "
                         "links would point at github.com)");
  }
}

void read_t3(Section& s, T3Config& t3) {
  s.key("url", t3.url, url);
  s.key("token_file", t3.token_file, file_path);
  s.key("web_url", t3.web_url, url);
  s.key("server_version", t3.server_version, non_empty);
  s.key("runtime_mode", t3.runtime_mode, k_runtime_mode);
  s.key("allow_plain_http", t3.allow_plain_http, boolean);
  s.table("model", [&](Section& m) {
    m.key("instance_id", t3.model.instance_id, k_slug);
    m.key("model", t3.model.model, non_empty);
  });
  if (!t3.url.empty() && !t3.allow_plain_http && !is_secure_url(t3.url)) {
    s.problem(s.region("url"), "url",
              "expected " + std::string(k_secure_url) +
                  ", or t3.allow_plain_http = true when the network to T3 is trusted (a cluster "
                  "Service): the T3 token would cross it unencrypted");
  }
}

void read_git(Section& s, GitConfig& git, TrackerKind tracker_kind) {
  s.key("root", git.root, absolute_path);
  s.key("clone_url", git.clone_url, clone_url);
  s.key("token_file", git.token_file, file_path);
  s.key("branch_prefix", git.branch_prefix, k_branch_prefix);
  s.key("trailer", git.trailer, k_trailer);
  s.key("disk_budget", git.disk_budget_bytes, size);
  s.key("lock_timeout", git.lock_timeout, duration(false));
  // The default clones from GitHub: with a Forgejo tracker, git.token_file would go there.
  if (tracker_kind == TrackerKind::forgejo && !s.has("clone_url")) {
    s.missing("clone_url", "required when tracker.kind is \"forgejo\" (the default clones from "
                           "github.com, and git.token_file would be sent there)");
  }
  if (s.has("clone_url") && !git.token_file.empty() && !is_secure_url(git.clone_url)) {
    s.problem(s.region("clone_url"), "clone_url",
              "expected " + std::string(k_secure_url) + " when git.token_file is set");
  }
}

void read_deploy(Section& s, DeployConfig& deploy) {
  s.key("stages", deploy.stages, stage_list);
  s.table("github_checks", [&](Section& t) {
    t.key("required", deploy.github_checks.required, k_string_list);
    t.key("missing_grace", deploy.github_checks.missing_grace, duration(true));
  });
  s.table("woodpecker", [&](Section& t) {
    t.key("url", deploy.woodpecker.url, secure_url);
    t.key("token_file", deploy.woodpecker.token_file, file_path);
  });
  s.table("kubernetes", [&](Section& t) {
    t.key("api_url", deploy.kubernetes.api_url, secure_url);
    t.key("namespace", deploy.kubernetes.namespace_name, k_namespace);
    t.key("deployments", deploy.kubernetes.deployments, k_object_list);
    t.key("image_annotation", deploy.kubernetes.image_annotation, non_empty);
  });
}

// ntfy's own rule for topic names. The topic is not echoed: on a public server it is the
// only thing guarding the channel.
std::optional<std::string> k_ntfy_topic(const Value& v) {
  const auto text = v.node.value<std::string>();
  if (!text) {
    v.expected("a string");
    return std::nullopt;
  }
  const bool valid =
      !text->empty() && text->size() <= 64 && std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
      });
  if (!valid) {
    v.problem("expected 1 to 64 of A-Z, a-z, 0-9, '-' and '_' (ntfy's topic names); the value "
              "is not shown");
    return std::nullopt;
  }
  return text;
}

void read_agent(Section& s, AgentConfig& agent) {
  s.key("preamble_file", agent.preamble_file, file_path);
}

void read_notify(Section& s, NotifyConfig& notify) {
  s.key("slack_webhook_file", notify.slack_webhook_file, file_path);
  s.key("ntfy_url", notify.ntfy_url, secure_url);
  s.key("ntfy_topic", notify.ntfy_topic, k_ntfy_topic);
  s.key("ntfy_token_file", notify.ntfy_token_file, file_path);
  s.key("timeout", notify.timeout, duration(false));
  if (s.has("ntfy_url") && !s.has("ntfy_topic")) {
    s.missing("ntfy_topic", "required when notify.ntfy_url is set");
  }
  if (s.has("ntfy_topic") && !s.has("ntfy_url")) {
    s.problem(s.region("ntfy_topic"), "ntfy_topic", "set without notify.ntfy_url");
  }
}

void read_repo(Section& s, RepoOverrides& repo) {
  s.key("default_branch", repo.default_branch, k_branch);
  s.key("stages", repo.stages, stage_list);
  s.key("required_checks", repo.required_checks, k_string_list);
  s.key("kubernetes_namespace", repo.kubernetes_namespace, k_namespace);
  s.key("kubernetes_deployments", repo.kubernetes_deployments, k_object_list);
}

void read_repos(Section& s, std::map<std::string, RepoOverrides>& repos) {
  // Names as written, by canonical name: "Owner/Repo" and "owner/repo" are one repository.
  std::map<std::string, std::string> spelled;
  s.each_table("owner/name",
               [&](Section& t, std::string_view name, const toml::source_region& name_at) {
                 RepoOverrides overrides;
                 read_repo(t, overrides);
                 const auto repo = RepoName::parse(name);
                 if (!repo) {
                   s.problem(name_at, name, explain_invalid_repo_name(name));
                   return;
                 }
                 const auto [it, inserted] = spelled.emplace(repo->canonical(), std::string(name));
                 if (!inserted) {
                   s.problem(name_at, name,
                             "same repository as repos." + quote(it->second, k_max_echoed_key) +
                                 " (names ignore case)");
                   return;
                 }
                 repos[repo->canonical()] = std::move(overrides);
               });
}

void read_config(Section& s, Config& config) {
  s.key("kill_switch", config.kill_switch, boolean);
  s.key("allowlist", config.allowlist, repo_list);
  s.key("max_parallel_repos", config.max_parallel_repos,
        integer_in<std::size_t>(1, k_max_parallel_repos));
  s.key("tick_timeout", config.tick_timeout, duration(false));
  s.table("labels", [&](Section& t) { read_labels(t, config.labels); });
  s.table("limits", [&](Section& t) { read_limits(t, config.limits); });
  s.table("tracker", [&](Section& t) { read_tracker(t, config.tracker); });
  s.table("t3", [&](Section& t) { read_t3(t, config.t3); });
  s.table("git", [&](Section& t) { read_git(t, config.git, config.tracker.kind); });
  s.table("deploy", [&](Section& t) { read_deploy(t, config.deploy); });
  s.table("notify", [&](Section& t) { read_notify(t, config.notify); });
  s.table("agent", [&](Section& t) { read_agent(t, config.agent); });
  s.table("repos", [&](Section& t) { read_repos(t, config.repos); });
}

// --- environment and the checks that need the whole picture ------------------------

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  const std::size_t first = text.find_first_not_of(space);
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

// Only the spellings below: a boolean that cannot be read is an error, never a guess.
std::optional<bool> environment_boolean(std::string_view text) {
  const std::string lower = ascii_lower(trim(text));
  for (const std::string_view yes : {"true", "1", "yes", "on"}) {
    if (lower == yes) {
      return true;
    }
  }
  for (const std::string_view no : {"false", "0", "no", "off"}) {
    if (lower == no) {
      return false;
    }
  }
  return std::nullopt;
}

std::optional<std::vector<RepoName>> environment_allowlist(std::string_view text,
                                                           Problems& problems) {
  constexpr std::string_view variable = "AFK_ALLOWLIST";
  std::vector<RepoName> out;
  if (trim(text).empty()) {
    return out;
  }
  bool ok = true;
  std::size_t start = 0;
  for (std::size_t index = 1;; ++index) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view entry = trim(text.substr(start, comma - start));
    const std::string where = "entry " + std::to_string(index) + ": ";
    if (const auto repo = RepoName::parse(entry); !repo) {
      problems.add_environment(variable, where + explain_invalid_repo_name(entry));
      ok = false;
    } else if (const auto seen = std::find(out.begin(), out.end(), *repo); seen != out.end()) {
      problems.add_environment(variable,
                               where + "repeats entry " + std::to_string(seen - out.begin() + 1));
      ok = false;
    } else {
      out.push_back(*repo);
    }
    if (comma == text.size()) {
      break;
    }
    start = comma + 1;
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

void apply_environment(const Environment& env, Config& config, Problems& problems) {
  if (env.kill_switch) {
    if (const auto value = environment_boolean(*env.kill_switch)) {
      config.kill_switch = *value;
    } else {
      problems.add_environment("AFK_KILL_SWITCH",
                               "expected true/false, 1/0, yes/no or on/off, got " +
                                   quote(*env.kill_switch));
    }
  }
  if (env.allowlist) {
    if (auto allowlist = environment_allowlist(*env.allowlist, problems)) {
      config.allowlist = std::move(*allowlist);
    }
  }
}

toml::source_region region_of(const toml::table* document, std::string_view table) {
  const toml::node* node = document != nullptr ? document->get(table) : nullptr;
  return node != nullptr ? node->source() : toml::source_region{};
}

// A [repos."owner/name"] table as the file spells it.
struct RepoTable {
  std::string spelled;
  const toml::table* table = nullptr;
  toml::source_region name_at;
};

// The file's [repos.*] tables with valid names, by canonical name (of two naming one
// repository, already reported, the first).
std::map<std::string, RepoTable> repo_tables(const toml::table* document) {
  std::map<std::string, RepoTable> out;
  const toml::node* repos = document != nullptr ? document->get("repos") : nullptr;
  if (repos == nullptr || repos->as_table() == nullptr) {
    return out;
  }
  for (auto&& [name, node] : *repos->as_table()) {
    const auto repo = RepoName::parse(name.str());
    if (repo && node.as_table() != nullptr) {
      const RepoTable entry{std::string(name.str()), node.as_table(), name.source()};
      const auto [it, inserted] = out.emplace(repo->canonical(), entry);
      if (!inserted && after(it->second.name_at, entry.name_at)) {
        it->second = entry;
      }
    }
  }
  return out;
}

// Checks that only matter once afk acts: overrides for repositories it will not act on
// (most likely a typo), and each allowlisted repository's effective stages.
// An override counts as known when the file's allowlist or the effective one (after
// AFK_ALLOWLIST) names its repo: narrowing the allowlist from the environment during an
// incident must not stop afk from starting.
void check_armed_repos(const Config& config, const std::vector<RepoName>& file_allowlist,
                       const toml::table* document, Problems& problems) {
  const auto tables = repo_tables(document);
  const auto listed = [](const std::vector<RepoName>& list, const std::string& canonical) {
    return std::any_of(list.begin(), list.end(),
                       [&](const RepoName& r) { return r.canonical() == canonical; });
  };
  for (const auto& [canonical, overrides] : config.repos) {
    const auto found = tables.find(canonical);
    if (found == tables.end() || listed(config.allowlist, canonical) ||
        listed(file_allowlist, canonical)) {
      continue;
    }
    problems.add(found->second.name_at, key_path("repos", found->second.spelled),
                 "not in allowlist; a typo here would silently fall back to the global stages");
  }
  // One line per stages key and problem, naming every repository it affects.
  struct StageProblem {
    toml::source_region where;
    std::string key;
    std::string stage;
    std::string needs;
    std::vector<std::string> repos;
  };
  std::vector<StageProblem> found;
  const auto report = [&](const toml::source_region& where, const std::string& key,
                          std::string_view stage, const std::string& needs, const RepoName& repo) {
    const auto same = std::find_if(found.begin(), found.end(), [&](const StageProblem& p) {
      return p.key == key && p.stage == stage && p.needs == needs;
    });
    if (same != found.end()) {
      same->repos.push_back(repo.full());
    } else {
      found.push_back({where, key, std::string(stage), needs, {repo.full()}});
    }
  };
  const toml::node* deploy = document != nullptr ? document->get("deploy") : nullptr;
  const toml::node* global_stages = deploy != nullptr && deploy->as_table() != nullptr
                                        ? deploy->as_table()->get("stages")
                                        : nullptr;
  for (const RepoName& repo : config.allowlist) {
    const auto overrides = config.repos.find(repo.canonical());
    const RepoOverrides* own = overrides != config.repos.end() ? &overrides->second : nullptr;
    const auto table = tables.find(repo.canonical());
    // Where the stages that apply come from: the repository's own, or the global ones.
    toml::source_region where;
    std::string key;
    if (own != nullptr && own->stages && table != tables.end()) {
      const toml::node* stages = table->second.table->get("stages");
      where = stages != nullptr ? stages->source() : table->second.name_at;
      key = key_path(key_path("repos", table->second.spelled), "stages");
    } else {
      where = global_stages != nullptr ? global_stages->source()
              : deploy != nullptr      ? deploy->source()
                                       : toml::source_region{};
      key = "deploy.stages";
    }
    const std::vector<StageType>& stages =
        own != nullptr && own->stages ? *own->stages : config.deploy.stages;
    const auto uses = [&](StageType stage) {
      return std::find(stages.begin(), stages.end(), stage) != stages.end();
    };
    if (uses(StageType::kubernetes)) {
      const bool own_deployments = own != nullptr && own->kubernetes_deployments.has_value();
      const auto& deployments =
          own_deployments ? *own->kubernetes_deployments : config.deploy.kubernetes.deployments;
      if (deployments.empty()) {
        const std::string own_key =
            key_path(key_path("repos", table != tables.end() ? table->second.spelled : repo.full()),
                     "kubernetes_deployments");
        report(where, key, to_string(StageType::kubernetes),
               own_deployments ? "at least one deployment to watch, and " + own_key + " is empty"
                               : "at least one deployment to watch: set "
                                 "deploy.kubernetes.deployments or " +
                                     own_key,
               repo);
      }
    }
    if (uses(StageType::github_checks) && config.tracker.kind == TrackerKind::forgejo) {
      report(where, key, to_string(StageType::github_checks),
             "tracker.kind \"github\": it reads GitHub's check runs (with Forgejo, use "
             "\"woodpecker\")",
             repo);
    }
    if (uses(StageType::woodpecker)) {
      std::vector<std::string_view> missing;
      if (config.deploy.woodpecker.url.empty()) {
        missing.emplace_back("deploy.woodpecker.url");
      }
      if (config.deploy.woodpecker.token_file.empty()) {
        missing.emplace_back("deploy.woodpecker.token_file");
      }
      if (!missing.empty()) {
        std::string needs(missing.front());
        if (missing.size() > 1) {
          needs += " and " + std::string(missing.back());
        }
        report(where, key, to_string(StageType::woodpecker), needs, repo);
      }
    }
  }
  for (const StageProblem& p : found) {
    std::string repos;
    for (const std::string& name : p.repos) {
      repos += (repos.empty() ? "" : ", ") + name;
    }
    problems.add(p.where, p.key, "stage " + quote(p.stage) + " for " + repos + " needs " + p.needs);
  }
}

// Everything after the file's own keys: environment overrides, derived defaults, and
// the keys that only an armed afk needs.
Config finish(Config config, const Environment& env, Problems& problems,
              const toml::table* document) {
  const std::vector<RepoName> file_allowlist = config.allowlist;
  apply_environment(env, config, problems);
  if (config.t3.web_url.empty()) {
    config.t3.web_url = config.t3.url;
  }
  if (!config.armed()) {
    return config;
  }
  constexpr std::string_view why = "required when armed (kill switch off and allowlist not empty)";
  const auto require = [&](std::string_view table, std::string_view key, bool set) {
    if (!set) {
      problems.add(region_of(document, table), std::string(table) + '.' + std::string(key), why);
    }
  };
  require("tracker", "token_file", !config.tracker.token_file.empty());
  require("tracker", "login", !config.tracker.login.empty());
  require("t3", "url", !config.t3.url.empty());
  require("t3", "token_file", !config.t3.token_file.empty());
  check_armed_repos(config, file_allowlist, document, problems);
  return config;
}

// toml++'s description of a syntax error, which may quote a key or value: a quoted part
// that looks like a secret is not shown, and if anything else does, nothing is.
std::string describe_syntax_error(std::string_view description) {
  if (!carries_secret(description)) {
    return std::string(description);
  }
  std::string out;
  std::size_t start = 0;
  while (start < description.size()) {
    const std::size_t open = description.find('\'', start);
    const std::size_t close =
        open == std::string_view::npos ? open : description.find('\'', open + 1);
    if (close == std::string_view::npos) {
      out += description.substr(start);
      break;
    }
    out += description.substr(start, open - start);
    const std::string_view quoted = description.substr(open, close + 1 - open);
    out += carries_secret(quoted) ? "(something that looks like a secret, not shown)"
                                  : std::string(quoted);
    start = close + 1;
  }
  if (carries_secret(out)) {
    return "invalid TOML (the details look like they hold a secret, so are not shown)";
  }
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  const auto fail = [&](const std::error_code& ec) {
    return Error(ErrorKind::config,
                 "cannot read config file " + path.string() + ": " + ec.message());
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw fail(std::make_error_code(std::errc::is_a_directory));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw fail(std::error_code(errno, std::generic_category()));
  }
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    throw fail(std::error_code(errno, std::generic_category()));
  }
  return text;
}

} // namespace

Config parse_config(std::string_view text, std::string_view source_name, const Environment& env) {
  toml::table document;
  try {
    document = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    throw Error(ErrorKind::config, position(source_name, e.source().begin) + ": " +
                                       describe_syntax_error(e.description()));
  }
  Reader reader{Problems(std::string(source_name))};
  Config config;
  config.source = source_name;
  Section root(reader, &document, "");
  read_config(root, config);
  root.reject_unknown();
  config = finish(std::move(config), env, reader.problems, &document);
  reader.problems.throw_if_any();
  return config;
}

Config load_config(const std::filesystem::path& path, const Environment& env) {
  Config config = parse_config(read_file(path), path.string(), env);
  config.source = path;
  return config;
}

Config default_config(const Environment& env) {
  Problems problems{std::string(k_defaults_source)};
  Config config = finish(Config{}, env, problems, nullptr);
  problems.throw_if_any();
  return config;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  Reader reader{Problems(std::string(k_defaults_source)), &keys};
  Config scratch;
  Section root(reader, nullptr, "");
  read_config(root, scratch);
  return keys;
}

} // namespace afk
