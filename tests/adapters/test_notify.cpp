// SPDX-License-Identifier: MIT
// Notifications: the pure texts, the log sink, Slack's incoming webhook and ntfy against
// strict loopback peers speaking their real shapes (Slack's published error table with
// plain-string bodies; ntfy's JSON publishing and server/errors.go bodies), and the fanout
// that never lets a failing sink block the tick. Every test also checks that no secret (the
// webhook URL's token, the ntfy token, the ntfy topic) reached a log record or a message.
#include "support/capturing_logger.hpp"
#include "support/loopback_server.hpp"

#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/log.hpp>
#include <afk/notify.hpp>
#include <afk/time.hpp>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace {

using afk::test::CapturingLogger;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afk::ErrorKind;
using afk::Notification;
using nlohmann::json;

constexpr std::string_view k_hook_secret = "xoxwSECRETwebhookTOKEN4242";
constexpr std::string_view k_ntfy_token = "tk_ntfySECRETtoken0099";
constexpr std::string_view k_ntfy_topic = "afk-alerts_SECRETtopic7";

Notification frozen() {
  return {.event = Notification::Event::frozen,
          .issue = afk::IssueRef{*afk::RepoName::parse("acme/api"), 42},
          .title = "Login fails for <admins> & \"guests\"",
          .summary = "fix-forward exhausted after 5 attempts\n(kubernetes rollout stuck)",
          .issue_url = "https://github.com/acme/api/issues/42",
          .thread_url = "http://t3.afk.svc:3773/threads/0b6c",
          .run_id = "run-42-1"};
}

// ---- pure texts ---------------------------------------------------------------------------

TEST(NotifyText, events_and_priorities) {
  EXPECT_EQ(afk::to_string(Notification::Event::done), "done");
  EXPECT_EQ(afk::to_string(Notification::Event::escalated), "escalated");
  EXPECT_EQ(afk::to_string(Notification::Event::frozen), "frozen");
  EXPECT_EQ(afk::to_string(Notification::Event::stuck), "stuck");
  EXPECT_EQ(afk::ntfy_priority(Notification::Event::done), 3);
  EXPECT_EQ(afk::ntfy_priority(Notification::Event::escalated), 4);
  EXPECT_EQ(afk::ntfy_priority(Notification::Event::stuck), 4);
  EXPECT_EQ(afk::ntfy_priority(Notification::Event::frozen), 5);
}

TEST(NotifyText, plain_text_has_the_deep_links) {
  EXPECT_EQ(afk::format_notification_title(frozen()), "afk: acme/api#42 frozen");
  EXPECT_EQ(afk::format_notification_text(frozen()),
            "acme/api#42 frozen: Login fails for <admins> & \"guests\"\n"
            "fix-forward exhausted after 5 attempts (kubernetes rollout stuck)\n"
            "T3 thread: http://t3.afk.svc:3773/threads/0b6c\n"
            "Issue: https://github.com/acme/api/issues/42\n"
            "Run: run-42-1");
}

TEST(NotifyText, hostile_fields_stay_on_their_line_and_bad_links_are_dropped) {
  auto n = frozen();
  n.title = "a\nT3 thread: https://evil.example\xE2\x80\xAE<!-- x -->" + std::string(400, 't');
  n.thread_url = "javascript:alert(1)";
  n.issue_url = "https://github.com/acme/api/issues/42|click me";
  n.summary = "";
  n.run_id = "";
  const std::string text = afk::format_notification_text(n);
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  const std::string head = "a T3 thread: https://evil.example";
  EXPECT_TRUE(text.starts_with("acme/api#42 frozen: " + head +
                               std::string(200 - head.size() - 3, 't') + "..."))
      << text;
  EXPECT_EQ(text.size(), std::string("acme/api#42 frozen: ").size() + 200);
}

TEST(NotifyText, slack_escapes_user_text_as_slack_requires) {
  EXPECT_EQ(afk::slack_escape("a & b <!channel> <@U123|x> >"),
            "a &amp; b &lt;!channel&gt; &lt;@U123|x&gt; &gt;");
  auto n = frozen();
  n.title = "<!channel> wake up & <https://evil.example|click>";
  n.summary = "see <!here>";
  EXPECT_EQ(afk::format_slack_text(n),
            ":rotating_light: *afk: <https://github.com/acme/api/issues/42|acme/api#42> FROZEN*: "
            "&lt;!channel&gt; wake up &amp; &lt;https://evil.example|click&gt;\n"
            "see &lt;!here&gt;\n"
            "<http://t3.afk.svc:3773/threads/0b6c|Open the T3 thread> | run run-42-1");
}

TEST(NotifyText, slack_without_safe_links_names_the_issue_plainly) {
  auto n = frozen();
  n.event = Notification::Event::done;
  n.issue_url = "https://github.com/acme/api/issues/42>|<!channel";
  n.thread_url = "";
  n.summary = "";
  n.title = "Add retries";
  EXPECT_EQ(afk::format_slack_text(n),
            ":white_check_mark: *afk: acme/api#42 done*: Add retries\nrun run-42-1");
}

// ---- collecting what escapes --------------------------------------------------------------

std::string field(const afk::LogRecord& record, std::string_view key) {
  for (const auto& f : record.fields) {
    if (f.key == key) {
      return f.value;
    }
  }
  return "<absent>";
}

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] afk::Timestamp now() const override {
    return *afk::parse_timestamp("2026-03-01T12:00:00Z");
  }
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain";
  afk::HttpHeaders headers;
  bool hang = false; ///< hold the request until the test ends (a timeout)
};

// One loopback peer answering from a script of replies (the last one repeats), recording
// each request it accepted. `check` rejects requests a real peer would refuse.
class ScriptedPeer {
public:
  using Check = std::function<std::optional<Reply>(const httplib::Request&)>;
  explicit ScriptedPeer(Check check)
      : m_check(std::move(check)) {}
  ~ScriptedPeer() { release(); }
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  [[nodiscard]] std::string url() const { return m_server.url(); }
  void script(std::vector<Reply> replies) {
    const std::lock_guard lock(m_mutex);
    m_replies.assign(replies.begin(), replies.end());
  }
  [[nodiscard]] std::vector<httplib::Request> requests() const {
    const std::lock_guard lock(m_mutex);
    return m_requests;
  }
  void release() {
    {
      const std::lock_guard lock(m_mutex);
      m_released = true;
    }
    m_released_cv.notify_all();
  }

private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock lock(m_mutex);
    m_requests.push_back(req);
    Reply reply;
    if (auto refusal = m_check(req)) {
      reply = *refusal;
    } else if (!m_replies.empty()) {
      reply = m_replies.front();
      if (m_replies.size() > 1) {
        m_replies.pop_front();
      }
    }
    if (reply.hang) {
      m_released_cv.wait_for(lock, 10s, [this] { return m_released; });
      return;
    }
    res.status = reply.status;
    for (const auto& [name, value] : reply.headers) {
      res.set_header(name, value);
    }
    res.set_content(reply.body, reply.content_type);
  }

  Check m_check;
  mutable std::mutex m_mutex;
  std::condition_variable m_released_cv;
  bool m_released = false;
  std::deque<Reply> m_replies{Reply{}};
  std::vector<httplib::Request> m_requests;
  afk::test::LoopbackServer m_server{
      [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); }, 4};
};

// Slack's incoming webhook: POST /services/T…/B…/<secret> with a JSON {"text": …}.
std::optional<Reply> slack_check(const httplib::Request& req) {
  if (req.method != "POST") {
    return Reply{405, "invalid_method"};
  }
  if (req.path != "/services/T0001/B0002/" + std::string(k_hook_secret)) {
    return Reply{404, "no_service"};
  }
  if (!req.get_header_value("Content-Type").starts_with("application/json")) {
    return Reply{400, "invalid_payload"};
  }
  const json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("text") || !body["text"].is_string()) {
    return Reply{400, "invalid_payload"};
  }
  return std::nullopt;
}

// ntfy's JSON publishing: POST / with {"topic", "message", …}, bearer token required.
std::optional<Reply> ntfy_check(const httplib::Request& req) {
  const auto error = [](int status, int code, std::string_view text, std::string_view link) {
    json body{{"code", code}, {"http", status}, {"error", text}};
    if (!link.empty()) {
      body["link"] = link;
    }
    return Reply{status, body.dump() + "\n", "application/json"};
  };
  if (req.get_header_value("Authorization") != "Bearer " + std::string(k_ntfy_token)) {
    return error(401, 40101, "unauthorized", "https://ntfy.sh/docs/publish/#authentication");
  }
  if (req.method != "POST" || req.path != "/") {
    return error(404, 40401, "page not found", "");
  }
  const json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) {
    return error(400, 40024, "invalid request: request body must be valid JSON", "");
  }
  if (!body.contains("topic") || body["topic"] != k_ntfy_topic) {
    return error(400, 40009, "invalid request: topic invalid", "");
  }
  if (!body.contains("priority") || !body["priority"].is_number_integer() || body["priority"] < 1 ||
      body["priority"] > 5) {
    return error(400, 40007, "invalid priority parameter",
                 "https://ntfy.sh/docs/publish/#message-priority");
  }
  return std::nullopt;
}

Reply ntfy_ok() {
  return {200,
          json{{"id", "hwQ2YpKdmg"},
               {"time", 1772366400},
               {"expires", 1772409600},
               {"event", "message"},
               {"topic", k_ntfy_topic},
               {"message", "…"}}
                  .dump() +
              "\n",
          "application/json"};
}

class NotifyTest : public ::testing::Test {
protected:
  NotifyTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir = fs::temp_directory_path() /
            ("afk-notify-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::create_directories(m_dir);
    write_hook(slack_hook());
    std::ofstream(m_dir / "ntfy-token") << k_ntfy_token << "\n";
    m_transport = afk::make_curl_transport({.total_timeout = 300ms});
  }
  ~NotifyTest() override {
    m_slack.release();
    m_ntfy.release();
    fs::remove_all(m_dir);
  }

  // Nothing secret got out: not in a log record, not in an error message.
  void TearDown() override {
    std::vector<std::string> seen = m_messages;
    for (const auto& record : m_log.records()) {
      seen.push_back(record.event);
      for (const auto& f : record.fields) {
        seen.push_back(f.key + "=" + f.value);
      }
    }
    for (const std::string& text : seen) {
      for (const std::string_view secret : {k_hook_secret, k_ntfy_token, k_ntfy_topic}) {
        EXPECT_EQ(text.find(secret), std::string::npos) << "secret leaked in: " << text;
      }
      EXPECT_EQ(text.find("/services/"), std::string::npos) << "webhook path leaked in: " << text;
    }
  }

  [[nodiscard]] std::string slack_hook() const {
    return m_slack.url() + "/services/T0001/B0002/" + std::string(k_hook_secret);
  }
  void write_hook(std::string_view content) const {
    std::ofstream(m_dir / "slack-webhook", std::ios::trunc) << content << "\n";
  }

  std::unique_ptr<afk::Notifier> slack(int max_attempts = 3) {
    return afk::make_slack_notifier(*m_transport,
                                    {.webhook_file = m_dir / "slack-webhook",
                                     .max_attempts = max_attempts,
                                     .initial_backoff = 100ms,
                                     .max_wait = 5s},
                                    m_log, m_clock,
                                    [this](std::chrono::milliseconds d) { m_waits.push_back(d); });
  }
  std::unique_ptr<afk::Notifier> ntfy() {
    return afk::make_ntfy_notifier(*m_transport,
                                   {.url = m_ntfy.url(),
                                    .topic = std::string(k_ntfy_topic),
                                    .token_file = m_dir / "ntfy-token"},
                                   m_log, m_clock,
                                   [this](std::chrono::milliseconds d) { m_waits.push_back(d); });
  }

  // notify() must throw afk::Error of `kind`; returns its message (kept for the scan).
  std::string failure(afk::Notifier& sink, ErrorKind kind, const Notification& n = frozen()) {
    try {
      sink.notify(n);
    } catch (const afk::Error& error) {
      EXPECT_EQ(error.kind(), kind) << error.what();
      m_messages.emplace_back(error.what());
      return error.what();
    }
    ADD_FAILURE() << "notify() did not throw";
    return {};
  }

  fs::path m_dir;
  ScriptedPeer m_slack{slack_check};
  ScriptedPeer m_ntfy{ntfy_check};
  CapturingLogger m_log;
  FixedClock m_clock;
  std::unique_ptr<afk::HttpTransport> m_transport;
  std::vector<std::chrono::milliseconds> m_waits;
  std::vector<std::string> m_messages;
};

// ---- log ----------------------------------------------------------------------------------

TEST_F(NotifyTest, log_sink_writes_one_line_per_notification) {
  const auto sink = afk::make_log_notifier(m_log);
  EXPECT_EQ(sink->name(), "log");
  auto n = frozen();
  sink->notify(n);
  n.event = Notification::Event::done;
  sink->notify(n);
  const auto records = m_log.named("notification");
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].level, afk::Level::warn);
  EXPECT_EQ(records[1].level, afk::Level::info);
  EXPECT_EQ(field(records[0], "notify_event"), "frozen");
  EXPECT_EQ(field(records[0], "repo"), "acme/api");
  EXPECT_EQ(field(records[0], "issue"), "acme/api#42");
  EXPECT_EQ(field(records[0], "run"), "run-42-1");
  EXPECT_EQ(field(records[0], "thread_url"), "http://t3.afk.svc:3773/threads/0b6c");
  EXPECT_EQ(field(records[0], "issue_url"), "https://github.com/acme/api/issues/42");
  EXPECT_EQ(field(records[0], "summary"),
            "fix-forward exhausted after 5 attempts (kubernetes rollout stuck)");
}

// ---- Slack --------------------------------------------------------------------------------

TEST_F(NotifyTest, slack_posts_the_escaped_text_and_accepts_ok) {
  m_slack.script({{200, "ok"}});
  const auto sink = slack();
  EXPECT_EQ(sink->name(), "slack");
  sink->notify(frozen());
  const auto requests = m_slack.requests();
  ASSERT_EQ(requests.size(), 1U);
  const json body = json::parse(requests[0].body);
  EXPECT_EQ(body, (json{{"text", afk::format_slack_text(frozen())}}));
  EXPECT_NE(body["text"].get<std::string>().find("&lt;admins&gt; &amp;"), std::string::npos);
  EXPECT_TRUE(m_waits.empty());
}

struct SlackError {
  int status;
  std::string body;
  ErrorKind kind;
};

TEST_F(NotifyTest, slack_errors_from_the_published_table_map_to_kinds) {
  const std::vector<SlackError> table{
      {400, "invalid_payload", ErrorKind::permanent},
      {400, "user_not_found", ErrorKind::config},
      {403, "action_prohibited", ErrorKind::config},
      {404, "channel_not_found", ErrorKind::config},
      {410, "channel_is_archived", ErrorKind::config},
      {404, "no_service", ErrorKind::config},
      {403, "invalid_token", ErrorKind::config},
      {418, "teapot", ErrorKind::permanent},
  };
  for (const SlackError& row : table) {
    m_slack.script({{row.status, row.body}});
    const auto before = m_slack.requests().size();
    const std::string message = failure(*slack(), row.kind);
    EXPECT_NE(message.find(row.body + " (HTTP " + std::to_string(row.status) + ")"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("slack-webhook"), std::string::npos) << message; // names the file
    EXPECT_EQ(m_slack.requests().size(), before + 1) << row.body << ": 4xx is not retried";
  }
}

TEST_F(NotifyTest, slack_rollup_error_is_retried_then_reported_as_transient) {
  m_slack.script({{500, "rollup_error"}});
  const std::string message = failure(*slack(3), ErrorKind::transient);
  EXPECT_NE(message.find("rollup_error (HTTP 500) after 3 attempt(s)"), std::string::npos)
      << message;
  EXPECT_EQ(m_slack.requests().size(), 3U);
  EXPECT_EQ(m_waits, (std::vector<std::chrono::milliseconds>{100ms, 200ms}));
  const auto retries = m_log.named("notify_retry");
  ASSERT_EQ(retries.size(), 2U);
  EXPECT_EQ(field(retries[0], "sink"), "slack");
  EXPECT_EQ(field(retries[0], "status"), "500");
}

TEST_F(NotifyTest, slack_5xx_then_success) {
  m_slack.script({{503, "service unavailable"}, {200, "ok"}});
  slack()->notify(frozen());
  EXPECT_EQ(m_slack.requests().size(), 2U);
  EXPECT_EQ(m_waits.size(), 1U);
}

TEST_F(NotifyTest, slack_429_honours_retry_after_within_the_limit) {
  m_slack.script({{429, "rate_limited", "text/plain", {{"Retry-After", "2"}}}, {200, "ok"}});
  slack()->notify(frozen());
  EXPECT_EQ(m_waits, (std::vector<std::chrono::milliseconds>{2000ms}));
  m_slack.script({{429, "rate_limited", "text/plain", {{"Retry-After", "120"}}}});
  const std::string message = failure(*slack(), ErrorKind::transient);
  EXPECT_NE(message.find("rate limited (HTTP 429) for 2m"), std::string::npos) << message;
}

TEST_F(NotifyTest, slack_timeouts_are_transient_and_never_name_the_webhook) {
  m_slack.script({{.hang = true}});
  const std::string message = failure(*slack(2), ErrorKind::transient);
  EXPECT_NE(message.find("after 2 attempt(s)"), std::string::npos) << message;
  EXPECT_NE(message.find("<webhook>"), std::string::npos) << message;
  EXPECT_EQ(m_log.named("notify_retry").size(), 1U);
}

TEST_F(NotifyTest, slack_connection_refused_is_transient) {
  // A port nothing listens on: take one from a server that is gone.
  std::string dead;
  {
    const afk::test::LoopbackServer gone([](const httplib::Request&, httplib::Response&) {});
    dead = gone.url();
  }
  write_hook(dead + "/services/T0001/B0002/" + std::string(k_hook_secret));
  const std::string message = failure(*slack(2), ErrorKind::transient);
  EXPECT_NE(message.find("after 2 attempt(s)"), std::string::npos) << message;
}

TEST_F(NotifyTest, slack_answer_without_ok_is_a_protocol_error) {
  m_slack.script({{200, "<html>Sign in to the Wi-Fi</html>", "text/html"}});
  const std::string message = failure(*slack(), ErrorKind::protocol);
  EXPECT_NE(message.find("without Slack's \"ok\""), std::string::npos) << message;
}

TEST_F(NotifyTest, slack_webhook_file_problems_are_config_errors_that_hide_the_content) {
  const auto sink = slack();
  write_hook("");
  EXPECT_NE(failure(*sink, ErrorKind::config).find("the file is empty"), std::string::npos);
  write_hook("http://hooks.example.com/services/T0001/B0002/" + std::string(k_hook_secret));
  EXPECT_NE(failure(*sink, ErrorKind::config).find("does not hold an https:// webhook URL"),
            std::string::npos);
  write_hook("https://user:" + std::string(k_hook_secret) + "@hooks.example.com/x");
  failure(*sink, ErrorKind::config);
  write_hook("not a url " + std::string(k_hook_secret));
  failure(*sink, ErrorKind::config);
  fs::remove(m_dir / "slack-webhook");
  EXPECT_NE(failure(*sink, ErrorKind::config).find("missing"), std::string::npos);
  EXPECT_TRUE(m_slack.requests().empty());
}

TEST_F(NotifyTest, slack_rereads_the_webhook_file_at_every_send) {
  m_slack.script({{200, "ok"}});
  const auto sink = slack();
  write_hook(m_slack.url() + "/services/T0001/B0002/revoked");
  EXPECT_NE(failure(*sink, ErrorKind::config).find("no_service (HTTP 404)"), std::string::npos);
  write_hook(slack_hook());
  sink->notify(frozen());
  EXPECT_EQ(m_slack.requests().size(), 2U);
}

// ---- ntfy ---------------------------------------------------------------------------------

TEST_F(NotifyTest, ntfy_publishes_json_with_title_priority_tags_and_links) {
  m_ntfy.script({ntfy_ok()});
  const auto sink = ntfy();
  EXPECT_EQ(sink->name(), "ntfy");
  sink->notify(frozen());
  auto n = frozen();
  n.event = Notification::Event::done;
  n.thread_url = "";
  sink->notify(n);
  const auto requests = m_ntfy.requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(json::parse(requests[0].body),
            (json{{"topic", k_ntfy_topic},
                  {"title", "afk: acme/api#42 frozen"},
                  {"message", afk::format_notification_text(frozen())},
                  {"priority", 5},
                  {"tags", {"rotating_light", "afk"}},
                  {"click", "http://t3.afk.svc:3773/threads/0b6c"},
                  {"actions",
                   {{{"action", "view"},
                     {"label", "T3 thread"},
                     {"url", "http://t3.afk.svc:3773/threads/0b6c"}},
                    {{"action", "view"},
                     {"label", "Issue"},
                     {"url", "https://github.com/acme/api/issues/42"}}}}}));
  const json done = json::parse(requests[1].body);
  EXPECT_EQ(done["priority"], 3);
  EXPECT_EQ(done["click"], "https://github.com/acme/api/issues/42");
  EXPECT_EQ(done["tags"], (json{"white_check_mark", "afk"}));
}

TEST_F(NotifyTest, ntfy_rejections_name_the_server_error_and_code) {
  struct Row {
    std::function<void()> arrange;
    ErrorKind kind;
    std::string expected;
  };
  const std::vector<Row> table{
      {[&] { std::ofstream(m_dir / "ntfy-token", std::ios::trunc) << "tk_wrong\n"; },
       ErrorKind::config, "unauthorized (code 40101, HTTP 401); check notify.ntfy_token_file"},
      {[&] {
         std::ofstream(m_dir / "ntfy-token", std::ios::trunc) << k_ntfy_token << "\n";
         m_ntfy.script(
             {{429,
               R"({"code":42901,"http":429,"error":"limit reached: too many requests, please be nice","link":"https://ntfy.sh/docs/publish/#limitations"})",
               "application/json"}});
       },
       ErrorKind::transient,
       "limit reached: too many requests, please be nice (code 42901, HTTP 429)"},
      {[&] {
         m_ntfy.script(
             {{429, R"({"code":42908,"http":429,"error":"limit reached: too many messages"})",
               "application/json"}});
       },
       ErrorKind::transient, "(code 42908, HTTP 429)"},
      {[&] {
         m_ntfy.script(
             {{403, R"({"code":40301,"http":403,"error":"forbidden"})", "application/json"}});
       },
       ErrorKind::config, "forbidden (code 40301, HTTP 403)"},
      {[&] {
         m_ntfy.script(
             {{400,
               R"({"code":40010,"http":400,"error":"invalid request: topic name is disallowed"})",
               "application/json"}});
       },
       ErrorKind::config, "topic name is disallowed (code 40010, HTTP 400)"},
      {[&] {
         m_ntfy.script({{413, R"({"code":41303,"http":413,"error":"JSON body too large"})",
                         "application/json"}});
       },
       ErrorKind::permanent, "JSON body too large (code 41303, HTTP 413)"},
      {[&] {
         m_ntfy.script({{400, "<html>bad</html>", "text/html"}});
       },
       ErrorKind::permanent, "rejected (HTTP 400)"},
  };
  const auto sink = ntfy();
  for (const Row& row : table) {
    row.arrange();
    const std::string message = failure(*sink, row.kind);
    EXPECT_NE(message.find(row.expected), std::string::npos) << message;
    EXPECT_TRUE(message.starts_with("ntfy " + m_ntfy.url())) << message;
  }
  EXPECT_TRUE(m_waits.empty()) << "4xx answers are not retried";
}

TEST_F(NotifyTest, ntfy_5xx_then_success_and_5xx_exhausted) {
  m_ntfy.script(
      {{500, R"({"code":50001,"http":500,"error":"internal server error"})", "application/json"},
       ntfy_ok()});
  ntfy()->notify(frozen());
  EXPECT_EQ(m_ntfy.requests().size(), 2U);
  m_ntfy.script({{502, "Bad Gateway"}});
  const std::string message = failure(*ntfy(), ErrorKind::transient);
  EXPECT_NE(message.find("server error (502) after 3 attempts"), std::string::npos) << message;
  EXPECT_GE(m_log.named("http_retry").size(), 3U);
}

TEST_F(NotifyTest, ntfy_timeout_is_transient) {
  m_ntfy.script({{.hang = true}});
  failure(*ntfy(), ErrorKind::transient);
}

TEST_F(NotifyTest, ntfy_answer_that_is_not_ntfys_is_a_protocol_error) {
  m_ntfy.script({{200, "<html>portal</html>", "text/html"}});
  failure(*ntfy(), ErrorKind::protocol);
}

TEST_F(NotifyTest, ntfy_refuses_an_invalid_topic_without_echoing_it) {
  for (const std::string& topic :
       std::vector<std::string>{"", "has/slash", "sp ace", std::string(65, 'a'),
                                std::string(k_ntfy_topic) + "\xC3\xA9"}) {
    try {
      (void)afk::make_ntfy_notifier(*m_transport, {.url = m_ntfy.url(), .topic = topic}, m_log,
                                    m_clock);
      ADD_FAILURE() << "accepted topic " << topic;
    } catch (const afk::Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::config);
      m_messages.emplace_back(error.what());
    }
  }
}

// ---- fanout and make_notifier -------------------------------------------------------------

class ScriptedSink final : public afk::Notifier {
public:
  ScriptedSink(std::string name, std::function<void()> behaviour, std::vector<std::string>& calls)
      : m_name(std::move(name))
      , m_behaviour(std::move(behaviour))
      , m_calls(calls) {}
  void notify(const Notification& /*notification*/) override {
    m_calls.push_back(m_name);
    m_behaviour();
  }
  [[nodiscard]] std::string_view name() const noexcept override { return m_name; }

private:
  std::string m_name;
  std::function<void()> m_behaviour;
  std::vector<std::string>& m_calls;
};

TEST_F(NotifyTest, fanout_calls_every_sink_and_logs_the_failing_ones) {
  std::vector<std::string> calls;
  std::vector<std::unique_ptr<afk::Notifier>> sinks;
  sinks.push_back(std::make_unique<ScriptedSink>(
      "first", [] { throw afk::Error(ErrorKind::config, "channel_not_found"); }, calls));
  sinks.push_back(std::make_unique<ScriptedSink>(
      "second", [] { throw std::runtime_error("boom"); }, calls));
  sinks.push_back(std::make_unique<ScriptedSink>(
      "third", [] { throw 42; }, calls));
  sinks.push_back(std::make_unique<ScriptedSink>(
      "fourth", [] {}, calls));
  const auto fanout = afk::make_fanout_notifier(std::move(sinks), m_log);
  EXPECT_NO_THROW(fanout->notify(frozen()));
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "second", "third", "fourth"}));
  const auto failed = m_log.named("notify_failed");
  ASSERT_EQ(failed.size(), 3U);
  EXPECT_EQ(failed[0].level, afk::Level::warn);
  EXPECT_EQ(field(failed[0], "sink"), "first");
  EXPECT_EQ(field(failed[0], "kind"), "config");
  EXPECT_EQ(field(failed[0], "error"), "channel_not_found");
  EXPECT_EQ(field(failed[0], "notify_event"), "frozen");
  EXPECT_EQ(field(failed[0], "issue"), "acme/api#42");
  EXPECT_EQ(field(failed[0], "run"), "run-42-1");
  EXPECT_EQ(field(failed[1], "sink"), "second");
  EXPECT_EQ(field(failed[1], "kind"), "unexpected");
  EXPECT_EQ(field(failed[2], "sink"), "third");
}

TEST_F(NotifyTest, make_notifier_fans_out_to_the_configured_sinks_past_a_failing_one) {
  afk::NotifyConfig config{.slack_webhook_file = m_dir / "slack-webhook",
                           .ntfy_url = m_ntfy.url(),
                           .ntfy_topic = std::string(k_ntfy_topic),
                           .ntfy_token_file = m_dir / "ntfy-token"};
  const auto notifier =
      afk::make_notifier(config, *m_transport, m_log, m_clock, [](std::chrono::milliseconds) {});
  m_slack.script({{404, "channel_not_found"}});
  m_ntfy.script({ntfy_ok()});
  EXPECT_NO_THROW(notifier->notify(frozen()));
  EXPECT_EQ(m_log.named("notification").size(), 1U);
  EXPECT_EQ(m_slack.requests().size(), 1U);
  EXPECT_EQ(m_ntfy.requests().size(), 1U);
  const auto failed = m_log.named("notify_failed");
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_EQ(field(failed[0], "sink"), "slack");
  EXPECT_EQ(field(failed[0], "kind"), "config");
  EXPECT_NE(field(failed[0], "error").find("channel_not_found (HTTP 404)"), std::string::npos);
}

TEST_F(NotifyTest, make_notifier_with_nothing_configured_only_logs) {
  const auto notifier = afk::make_notifier({}, *m_transport, m_log, m_clock);
  notifier->notify(frozen());
  EXPECT_EQ(m_log.named("notification").size(), 1U);
  EXPECT_TRUE(m_log.named("notify_failed").empty());
  EXPECT_TRUE(m_slack.requests().empty());
  EXPECT_TRUE(m_ntfy.requests().empty());
}

TEST_F(NotifyTest, make_notifier_refuses_half_configured_ntfy) {
  for (const afk::NotifyConfig& config :
       {afk::NotifyConfig{.ntfy_url = m_ntfy.url()},
        afk::NotifyConfig{.ntfy_topic = std::string(k_ntfy_topic)},
        afk::NotifyConfig{.ntfy_url = m_ntfy.url(), .ntfy_topic = "bad topic"}}) {
    try {
      (void)afk::make_notifier(config, *m_transport, m_log, m_clock);
      ADD_FAILURE() << "accepted";
    } catch (const afk::Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::config);
      m_messages.emplace_back(error.what());
    }
  }
}

} // namespace
