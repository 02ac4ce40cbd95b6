// SPDX-License-Identifier: MIT
#pragma once

/// Notifications: telling people that a run ended (done), was handed back (escalated), broke
/// the default branch beyond fix-forward (frozen) or cannot make progress (stuck). The
/// engine decides when to notify and records that it did (each transition once); this port
/// only delivers. Sinks: a log line (always), a Slack incoming webhook, an ntfy topic.
///
/// Secrets: the Slack webhook URL is itself a credential (its path carries the token) and
/// the ntfy topic on a public server is the only thing guarding the channel, so neither
/// ever appears in an error message or a log field; the ntfy token neither.

#include "afk/config.hpp"
#include "afk/http.hpp"
#include "afk/issue.hpp"
#include "afk/log.hpp"
#include "afk/prompt.hpp"
#include "afk/time.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

struct Notification {
  enum class Event {
    done,      ///< healthy long enough, issue closed (quiet)
    escalated, ///< handed back to a human: ready-for-human (loud)
    frozen,    ///< fix-forward exhausted, repository frozen (page)
    stuck,     ///< a run cannot make progress and needs a person (loud)
  };
  Event event = Event::done;
  IssueRef issue;
  std::string title;      ///< the issue's title: untrusted text, cleaned before use
  std::string summary;    ///< one line: why (the lifecycle's reason); untrusted, cleaned
  std::string issue_url;  ///< link to the issue; left out unless http(s) and well formed
  std::string thread_url; ///< deep link to the T3 thread; may be empty (no thread yet)
  std::string run_id;
};

[[nodiscard]] std::string_view to_string(Notification::Event event) noexcept;

/// Delivers one notification. Implementations throw afk::Error when delivery failed, with a
/// message that names the sink and what went wrong and never a secret (no webhook URL, no
/// token, no ntfy topic). Must be safe to call from several threads at once.
class Notifier {
public:
  virtual ~Notifier() = default;
  virtual void notify(const Notification& notification) = 0;
  /// Short stable name for logs: "log", "slack", "ntfy", "fanout", or an embedder's own.
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
};

// ---- Text (pure; one_line and safe_link in prompt.hpp clean the fields) ------------------

/// Short headline: "afk: acme/api#42 frozen". Plain text.
[[nodiscard]] std::string format_notification_title(const Notification& notification);

/// The plain-text message shared by the log and ntfy sinks:
///   acme/api#42 frozen: <title>
///   <summary>
///   T3 thread: <thread_url>
///   Issue: <issue_url>
///   Run: <run_id>
/// Title cut to 200 bytes, summary to 500, both one line; link lines only for safe_link
/// URLs; the run line only when run_id is set.
[[nodiscard]] std::string format_notification_text(const Notification& notification);

/// Slack's escaping for message text: & < > become &amp; &lt; &gt; (so no user text can
/// form a link, a mention such as <!channel>, or a broadcast).
[[nodiscard]] std::string slack_escape(std::string_view text);

/// The same message in Slack mrkdwn: user text escaped, links as <url|label>.
[[nodiscard]] std::string format_slack_text(const Notification& notification);

/// ntfy priority (1-5): done 3, escalated 4, stuck 4, frozen 5.
[[nodiscard]] int ntfy_priority(Notification::Event event) noexcept;

// ---- Sinks --------------------------------------------------------------------------------

/// Logs one line per notification: event "notification" at info for done and at warn for
/// the others, with fields notify_event, repo, issue, run, title, summary, thread_url,
/// issue_url. Never throws (beyond what the logger throws).
[[nodiscard]] std::unique_ptr<Notifier> make_log_notifier(Logger& log);

struct SlackNotifierOptions {
  /// File holding the incoming-webhook URL (https://hooks.slack.com/services/...), read at
  /// every send so it can be rotated. http:// is accepted only for a loopback host.
  std::filesystem::path webhook_file;
  int max_attempts = 3; ///< first try included; retries only 5xx, 429 and transport errors
  std::chrono::milliseconds initial_backoff{500}; ///< doubled per retry
  std::chrono::milliseconds max_wait{5'000};      ///< longest Retry-After honoured
};

/// A Slack incoming webhook: POST {"text": format_slack_text(...)} as JSON. Success is a 2xx
/// whose body is "ok". Talks to `transport` directly (not through HttpClient, which names
/// URLs in messages and logs). Throws Error from notify():
///  - config: the webhook file is missing, empty or not an https URL (the message names
///    the file, never its content); 401/403/404/410 (Slack: action_prohibited,
///    channel_not_found, channel_is_archived, no_service, invalid_token...); 400
///    user_not_found.
///  - permanent: 400 invalid_payload and any other 4xx.
///  - transient: 5xx (rollup_error) and 429 after the retries, transport errors.
///  - protocol: a 2xx whose body is not "ok" (a proxy or portal answered, not Slack).
/// Messages read "Slack webhook (from <file>): <Slack's error string> (HTTP <status>)..."
/// with the error string cut to printable ASCII. Each retry is logged at warn as
/// `notify_retry` (sink, status or error, attempt, wait_ms) without the URL. `sleep` waits
/// between retries (empty: std::this_thread::sleep_for).
[[nodiscard]] std::unique_ptr<Notifier>
make_slack_notifier(HttpTransport& transport, SlackNotifierOptions options, Logger& log,
                    const Clock& clock, std::function<void(std::chrono::milliseconds)> sleep = {});

struct NtfyNotifierOptions {
  std::string url;                  ///< server, e.g. "https://ntfy.sh" (a path prefix is kept)
  std::string topic;                ///< 1-64 of [A-Za-z0-9_-], as ntfy requires
  std::filesystem::path token_file; ///< empty: anonymous; else "Authorization: Bearer <token>"
  RetryPolicy retry{.max_attempts = 3,
                    .initial_backoff = std::chrono::milliseconds{500},
                    .max_backoff = std::chrono::milliseconds{2'000},
                    .max_wait = std::chrono::milliseconds{5'000}};
};

/// ntfy by its JSON publishing form: POST <url>/ with {"topic", "message" (the plain text),
/// "title", "priority" (ntfy_priority), "tags", "click" (the T3 thread, else the issue),
/// "actions" (view buttons for both)}. The topic travels in the body, so it never shows up
/// in a URL that HttpClient logs or reports, and titles in any script survive (no header
/// encoding). Success is a 2xx JSON object with an "id". Retries 5xx and transport errors
/// (a repeated notification is better than a lost page). Throws Error{config} at once when
/// the topic is not a valid ntfy topic (the message does not echo it) or the URL is not
/// http(s); from notify(): config (401/403, 400 with an invalid or disallowed topic, 404,
/// unreadable token file), transient (429 such as 42901/42908, 5xx, transport), permanent
/// (other 4xx), protocol (a 2xx that is not ntfy's answer). Messages name ntfy's error
/// text and code ("ntfy https://ntfy.sh: unauthorized (code 40101, HTTP 401)").
[[nodiscard]] std::unique_ptr<Notifier>
make_ntfy_notifier(HttpTransport& transport, NtfyNotifierOptions options, Logger& log,
                   const Clock& clock, std::function<void(std::chrono::milliseconds)> sleep = {});

/// Calls every sink in order. A sink that throws is logged at warn as `notify_failed`
/// (sink, notify_event, repo, issue, run, kind, error) and the others still run. Never
/// throws (a notification must not block the tick). Empty `sinks` is allowed.
[[nodiscard]] std::unique_ptr<Notifier>
make_fanout_notifier(std::vector<std::unique_ptr<Notifier>> sinks, Logger& log);

/// The fanout from configuration: the log sink always; Slack when slack_webhook_file is
/// set; ntfy when ntfy_url and ntfy_topic are set. Borrows `transport`, `log` and `clock`,
/// which must outlive it; a short transport timeout (e.g. 10 s) keeps a dead sink from
/// holding the tick. Throws Error{config} when ntfy is half configured (url without topic
/// or the reverse) or the topic is invalid.
[[nodiscard]] std::unique_ptr<Notifier>
make_notifier(const NotifyConfig& config, HttpTransport& transport, Logger& log, const Clock& clock,
              std::function<void(std::chrono::milliseconds)> sleep = {});

} // namespace afk
