// SPDX-License-Identifier: MIT
#include "detail/curl.hpp"

#include <afk/error.hpp>
#include <afk/notify.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>
#include <thread>
#include <utility>

namespace afk {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t k_excerpt_max_bytes = 120;

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// A peer's error text cut to printable ASCII, so it can neither forge log lines nor carry
// much of anything.
std::string excerpt(std::string_view text) {
  std::string out;
  for (const char c : trim(text)) {
    if (out.size() >= k_excerpt_max_bytes) {
      out += "...";
      break;
    }
    out += c >= ' ' && c <= '~' ? c : '?';
  }
  return out;
}

std::function<void(milliseconds)> or_real_sleep(std::function<void(milliseconds)> sleep) {
  if (sleep) {
    return sleep;
  }
  return [](milliseconds d) {
    std::this_thread::sleep_for(d);
  };
}

std::vector<LogField> notification_fields(const Notification& n) {
  return {{"notify_event", std::string(to_string(n.event))},
          {"repo", n.issue.repo.full()},
          {"issue", n.issue.to_string()},
          {"run", n.run_id}};
}

// ---- log ----------------------------------------------------------------------------------

class LogNotifier final : public Notifier {
public:
  explicit LogNotifier(Logger& log)
      : m_log(log) {}

  void notify(const Notification& n) override {
    std::vector<LogField> fields = notification_fields(n);
    fields.push_back({"title", one_line(n.title, 200)});
    fields.push_back({"summary", one_line(n.summary, 500)});
    fields.push_back({"thread_url", safe_link(n.thread_url).value_or("")});
    fields.push_back({"issue_url", safe_link(n.issue_url).value_or("")});
    m_log.write({n.event == Notification::Event::done ? Level::info : Level::warn, "notification",
                 std::move(fields)});
  }
  [[nodiscard]] std::string_view name() const noexcept override { return "log"; }

private:
  Logger& m_log;
};

// ---- Slack --------------------------------------------------------------------------------

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

// What Slack's error strings mean for the operator (api.slack.com changelog 2016-05-17).
std::string_view slack_hint(std::string_view error) {
  if (error == "channel_not_found") {
    return ": the channel is gone or the webhook may not post to it; make a new webhook";
  }
  if (error == "channel_is_archived") {
    return ": the channel is archived; unarchive it or make a webhook for another channel";
  }
  if (error == "action_prohibited") {
    return ": a workspace admin restricted posting to this channel";
  }
  if (error == "user_not_found") {
    return ": the webhook's user no longer exists; make a new webhook";
  }
  if (error == "invalid_payload") {
    return ": Slack refused the message afk sent (a bug in afk)";
  }
  if (error == "no_service" || error == "invalid_token" || error == "no_active_hooks") {
    return ": the webhook was revoked or disabled; make a new one";
  }
  return "";
}

ErrorKind slack_error_kind(int status, std::string_view error) {
  if (status == 429 || (status >= 500 && status <= 599)) {
    return ErrorKind::transient;
  }
  if (status == 401 || status == 403 || status == 404 || status == 410 ||
      (status == 400 && error == "user_not_found")) {
    return ErrorKind::config;
  }
  if (status >= 300 && status <= 499) {
    return ErrorKind::permanent;
  }
  return ErrorKind::protocol;
}

class SlackNotifier final : public Notifier {
public:
  SlackNotifier(HttpTransport& transport, SlackNotifierOptions options, Logger& log,
                const Clock& clock, std::function<void(milliseconds)> sleep)
      : m_transport(transport)
      , m_options(std::move(options))
      , m_where("Slack webhook (from " + m_options.webhook_file.string() + ")")
      , m_log(log)
      , m_clock(clock)
      , m_sleep(or_real_sleep(std::move(sleep))) {}

  void notify(const Notification& n) override {
    HttpRequest request;
    request.method = "POST";
    request.url = read_webhook();
    request.headers = {{"Content-Type", "application/json; charset=utf-8"}};
    request.body =
        json{{"text", format_slack_text(n)}}.dump(-1, ' ', false, json::error_handler_t::replace);
    const int max_attempts = std::max(1, m_options.max_attempts);
    for (int attempt = 1;; ++attempt) {
      const bool last = attempt >= max_attempts;
      const std::string tried = " after " + std::to_string(attempt) + " attempt(s)";
      HttpResponse response;
      try {
        response = m_transport.send(request);
      } catch (const Error& error) {
        const std::string cause = redact(error.what(), request.url);
        if (error.kind() != ErrorKind::transient || last) {
          throw Error(error.kind(),
                      m_where + ": " + cause + (error.kind() == ErrorKind::transient ? tried : ""));
        }
        pause(attempt, {"error", cause}, backoff(attempt));
        continue;
      }
      const int status = response.status;
      const std::string body = excerpt(redact(response.body, request.url));
      if (status >= 200 && status <= 299) {
        if (trim(response.body) == "ok") {
          return;
        }
        throw Error(ErrorKind::protocol, m_where + ": HTTP " + std::to_string(status) +
                                             " without Slack's \"ok\" (something other than "
                                             "Slack answered)");
      }
      const ErrorKind kind = slack_error_kind(status, body);
      if (kind == ErrorKind::transient && !last) {
        const auto wait = requested_wait(response, m_clock.now());
        if (wait && *wait > std::chrono::ceil<Seconds>(m_options.max_wait)) {
          throw Error(ErrorKind::transient, m_where + ": rate limited (HTTP " +
                                                std::to_string(status) + ") for " +
                                                format_duration(*wait) + ", longer than afk waits");
        }
        pause(attempt, {"status", std::to_string(status)},
              wait ? milliseconds{*wait} : backoff(attempt));
        continue;
      }
      throw Error(kind, m_where + ": " + (body.empty() ? "no error text" : body) + " (HTTP " +
                            std::to_string(status) + ")" + std::string(slack_hint(body)) +
                            (kind == ErrorKind::transient ? tried : ""));
    }
  }
  [[nodiscard]] std::string_view name() const noexcept override { return "slack"; }

private:
  // Read at every send so a rotated webhook is picked up. Messages name the file only.
  [[nodiscard]] std::string read_webhook() const {
    const std::filesystem::path& file = m_options.webhook_file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      throw Error(ErrorKind::config, m_where + ": the file is missing or not a file");
    }
    std::ifstream in(file, std::ios::binary);
    const std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.is_open() || in.bad()) {
      throw Error(ErrorKind::config, m_where + ": cannot read the file");
    }
    const std::string_view url = trim(content);
    if (url.empty()) {
      throw Error(ErrorKind::config, m_where + ": the file is empty");
    }
    const auto parts =
        std::all_of(url.begin(), url.end(), [](char c) { return c > ' ' && c <= '~'; })
            ? detail::parse_url(url)
            : std::nullopt;
    if (!parts || parts->has_userinfo ||
        !(parts->scheme == "https" || is_loopback_host(parts->host))) {
      throw Error(ErrorKind::config, m_where + ": the file does not hold an https:// webhook URL "
                                               "(http:// only for a loopback host)");
    }
    return std::string(url);
  }

  // `text` with every form of the webhook URL replaced; a message that would still carry
  // the URL's path (its secret) is replaced whole.
  [[nodiscard]] static std::string redact(std::string text, const std::string& url) {
    const auto parts = detail::parse_url(url);
    std::vector<std::string> forms{url, detail::describe_url(url)};
    if (parts && parts->path.size() > 1) {
      forms.push_back(parts->path);
    }
    for (const std::string& form : forms) {
      for (auto pos = text.find(form); !form.empty() && pos != std::string::npos;
           pos = text.find(form, pos)) {
        text.replace(pos, form.size(), "<webhook>");
      }
    }
    const std::string_view path = parts ? std::string_view(parts->path) : std::string_view(url);
    const auto secret =
        path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
    if (!secret.empty() && text.find(secret) != std::string::npos) {
      return "transport error (details withheld: they named the webhook)";
    }
    return text;
  }

  [[nodiscard]] milliseconds backoff(int attempt) const {
    milliseconds wait = m_options.initial_backoff;
    for (int i = 1; i < attempt && wait < m_options.max_wait; ++i) {
      wait *= 2;
    }
    return std::min(wait, m_options.max_wait);
  }

  void pause(int attempt, LogField cause, milliseconds wait) {
    m_log.warn("notify_retry", {{"sink", "slack"},
                                std::move(cause),
                                {"attempt", std::to_string(attempt)},
                                {"wait_ms", std::to_string(wait.count())}});
    m_sleep(wait);
  }

  HttpTransport& m_transport;
  SlackNotifierOptions m_options;
  std::string m_where;
  Logger& m_log;
  const Clock& m_clock;
  std::function<void(milliseconds)> m_sleep;
};

// ---- ntfy ---------------------------------------------------------------------------------

// ntfy's topicRegex (server/server.go): ^[-_A-Za-z0-9]{1,64}$
bool is_ntfy_topic(std::string_view topic) {
  return !topic.empty() && topic.size() <= 64 &&
         std::all_of(topic.begin(), topic.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

std::string_view ntfy_tag(Notification::Event event) {
  switch (event) {
  case Notification::Event::done:
    return "white_check_mark";
  case Notification::Event::escalated:
    return "raising_hand";
  case Notification::Event::frozen:
    return "rotating_light";
  case Notification::Event::stuck:
    return "warning";
  }
  return "warning";
}

HttpClientOptions ntfy_http_options(const NtfyNotifierOptions& options) {
  if (!is_ntfy_topic(options.topic)) {
    throw Error(ErrorKind::config, "ntfy topic: expected 1-64 characters of A-Z, a-z, 0-9, "
                                   "'_' and '-' (the topic is not shown)");
  }
  HttpClientOptions http;
  http.base_url = options.url;
  http.token_file = options.token_file;
  http.auth_scheme = "Bearer";
  http.default_headers = {{"Accept", "application/json"}};
  http.retry = options.retry;
  return http;
}

class NtfyNotifier final : public Notifier {
public:
  NtfyNotifier(HttpTransport& transport, NtfyNotifierOptions options, Logger& log,
               const Clock& clock, std::function<void(milliseconds)> sleep)
      : m_topic(options.topic)
      , m_where("ntfy " + detail::describe_url(options.url))
      , m_http(transport, ntfy_http_options(options), log, clock, or_real_sleep(std::move(sleep))) {
  }

  void notify(const Notification& n) override {
    json message{{"topic", m_topic},
                 {"title", format_notification_title(n)},
                 {"message", format_notification_text(n)},
                 {"priority", ntfy_priority(n.event)},
                 {"tags", json::array({ntfy_tag(n.event), "afk"})}};
    const auto thread = safe_link(n.thread_url);
    const auto issue = safe_link(n.issue_url);
    json actions = json::array();
    if (thread) {
      actions.push_back({{"action", "view"}, {"label", "T3 thread"}, {"url", *thread}});
    }
    if (issue) {
      actions.push_back({{"action", "view"}, {"label", "Issue"}, {"url", *issue}});
    }
    if (thread || issue) {
      message["click"] = thread ? *thread : *issue;
      message["actions"] = std::move(actions);
    }
    HttpClient::RequestOptions how;
    how.retry_unsafe = true; // a repeated notification beats a lost page
    how.pass_statuses = {400, 401, 403, 404, 413, 429};
    HttpResponse response;
    try {
      response = m_http.request("POST", "/",
                                message.dump(-1, ' ', false, json::error_handler_t::replace), how);
    } catch (const Error& error) {
      throw Error(error.kind(), "ntfy: " + std::string(error.what()));
    }
    if (response.status >= 200 && response.status <= 299) {
      const json answer = json::parse(response.body, nullptr, false);
      if (!answer.is_object() || !answer.contains("id") || !answer["id"].is_string()) {
        throw Error(ErrorKind::protocol, m_where + ": HTTP " + std::to_string(response.status) +
                                             " without a message id (something other than ntfy "
                                             "answered)");
      }
      return;
    }
    throw rejected(response);
  }
  [[nodiscard]] std::string_view name() const noexcept override { return "ntfy"; }

private:
  // ntfy's error body (server/errors.go): {"code":40101,"http":401,"error":"unauthorized",
  // "link":"https://ntfy.sh/docs/publish/#authentication"}.
  [[nodiscard]] Error rejected(const HttpResponse& response) const {
    const int status = response.status;
    const json body = json::parse(response.body, nullptr, false);
    std::int64_t code = 0;
    std::string text;
    if (body.is_object()) {
      if (const auto it = body.find("code"); it != body.end() && it->is_number_integer()) {
        code = it->get<std::int64_t>();
      }
      if (const auto it = body.find("error"); it != body.end() && it->is_string()) {
        text = excerpt(it->get<std::string>());
      }
    }
    ErrorKind kind = ErrorKind::permanent;
    if (status == 401 || status == 403 || status == 404 || code == 40009 || code == 40010) {
      kind = ErrorKind::config;
    } else if (status == 429) {
      kind = ErrorKind::transient;
    }
    std::string message = m_where + ": " + (text.empty() ? "rejected" : text) + " (";
    if (code != 0) {
      message += "code " + std::to_string(code) + ", ";
    }
    message += "HTTP " + std::to_string(status) + ")";
    if (status == 401 || status == 403) {
      message += "; check notify.ntfy_token_file and the token's access to the topic";
    }
    return Error(kind, message);
  }

  std::string m_topic;
  std::string m_where;
  HttpClient m_http;
};

// ---- fanout -------------------------------------------------------------------------------

class FanoutNotifier final : public Notifier {
public:
  FanoutNotifier(std::vector<std::unique_ptr<Notifier>> sinks, Logger& log)
      : m_sinks(std::move(sinks))
      , m_log(log) {}

  void notify(const Notification& n) noexcept override {
    for (const auto& sink : m_sinks) {
      try {
        sink->notify(n);
      } catch (const Error& error) {
        failed(*sink, n, std::string(to_string(error.kind())), error.what());
      } catch (const std::exception& error) {
        failed(*sink, n, "unexpected", error.what());
      } catch (...) {
        failed(*sink, n, "unexpected", "a non-standard exception");
      }
    }
  }
  [[nodiscard]] std::string_view name() const noexcept override { return "fanout"; }

private:
  void failed(const Notifier& sink, const Notification& n, std::string kind,
              std::string error) noexcept {
    try {
      std::vector<LogField> fields = notification_fields(n);
      fields.insert(fields.begin(), {"sink", std::string(sink.name())});
      fields.push_back({"kind", std::move(kind)});
      fields.push_back({"error", std::move(error)});
      m_log.warn("notify_failed", std::move(fields));
    } catch (...) { // NOLINT(bugprone-empty-catch): a failing logger must not block the tick
    }
  }

  std::vector<std::unique_ptr<Notifier>> m_sinks;
  Logger& m_log;
};

} // namespace

std::unique_ptr<Notifier> make_log_notifier(Logger& log) {
  return std::make_unique<LogNotifier>(log);
}

std::unique_ptr<Notifier> make_slack_notifier(HttpTransport& transport,
                                              SlackNotifierOptions options, Logger& log,
                                              const Clock& clock,
                                              std::function<void(milliseconds)> sleep) {
  return std::make_unique<SlackNotifier>(transport, std::move(options), log, clock,
                                         std::move(sleep));
}

std::unique_ptr<Notifier> make_ntfy_notifier(HttpTransport& transport, NtfyNotifierOptions options,
                                             Logger& log, const Clock& clock,
                                             std::function<void(milliseconds)> sleep) {
  return std::make_unique<NtfyNotifier>(transport, std::move(options), log, clock,
                                        std::move(sleep));
}

std::unique_ptr<Notifier> make_fanout_notifier(std::vector<std::unique_ptr<Notifier>> sinks,
                                               Logger& log) {
  return std::make_unique<FanoutNotifier>(std::move(sinks), log);
}

std::unique_ptr<Notifier> make_notifier(const NotifyConfig& config, HttpTransport& transport,
                                        Logger& log, const Clock& clock,
                                        std::function<void(milliseconds)> sleep) {
  std::vector<std::unique_ptr<Notifier>> sinks;
  sinks.push_back(make_log_notifier(log));
  if (!config.slack_webhook_file.empty()) {
    SlackNotifierOptions slack;
    slack.webhook_file = config.slack_webhook_file;
    sinks.push_back(make_slack_notifier(transport, std::move(slack), log, clock, sleep));
  }
  if (config.ntfy_url.empty() != config.ntfy_topic.empty()) {
    throw Error(ErrorKind::config,
                "notify: ntfy_url and ntfy_topic must be set together (one of them is empty)");
  }
  if (!config.ntfy_url.empty()) {
    NtfyNotifierOptions ntfy;
    ntfy.url = config.ntfy_url;
    ntfy.topic = config.ntfy_topic;
    ntfy.token_file = config.ntfy_token_file;
    sinks.push_back(make_ntfy_notifier(transport, std::move(ntfy), log, clock, sleep));
  }
  return make_fanout_notifier(std::move(sinks), log);
}

} // namespace afk
