// SPDX-License-Identifier: MIT
#include <afk/notify.hpp>
#include <afk/prompt.hpp>

namespace afk {

namespace {

constexpr std::size_t k_title_max_bytes = 200;
constexpr std::size_t k_summary_max_bytes = 500;

} // namespace

std::string_view to_string(Notification::Event event) noexcept {
  switch (event) {
  case Notification::Event::done:
    return "done";
  case Notification::Event::escalated:
    return "escalated";
  case Notification::Event::frozen:
    return "frozen";
  case Notification::Event::stuck:
    return "stuck";
  }
  return "unknown";
}

int ntfy_priority(Notification::Event event) noexcept {
  switch (event) {
  case Notification::Event::done:
    return 3;
  case Notification::Event::escalated:
  case Notification::Event::stuck:
    return 4;
  case Notification::Event::frozen:
    return 5;
  }
  return 4;
}

std::string format_notification_title(const Notification& notification) {
  return "afk: " + notification.issue.to_string() + " " +
         std::string(to_string(notification.event));
}

std::string format_notification_text(const Notification& notification) {
  std::string text = notification.issue.to_string() + " " +
                     std::string(to_string(notification.event)) + ": " +
                     one_line(notification.title, k_title_max_bytes) + "\n";
  if (const std::string summary = one_line(notification.summary, k_summary_max_bytes);
      !summary.empty()) {
    text += summary + "\n";
  }
  if (const auto thread = safe_link(notification.thread_url)) {
    text += "T3 thread: " + *thread + "\n";
  }
  if (const auto issue = safe_link(notification.issue_url)) {
    text += "Issue: " + *issue + "\n";
  }
  if (const std::string run = one_line(notification.run_id, 100); !run.empty()) {
    text += "Run: " + run + "\n";
  }
  text.pop_back();
  return text;
}

std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string format_slack_text(const Notification& notification) {
  std::string_view icon;
  std::string_view verb;
  switch (notification.event) {
  case Notification::Event::done:
    icon = ":white_check_mark:";
    verb = "done";
    break;
  case Notification::Event::escalated:
    icon = ":raising_hand:";
    verb = "needs a human";
    break;
  case Notification::Event::frozen:
    icon = ":rotating_light:";
    verb = "FROZEN";
    break;
  case Notification::Event::stuck:
    icon = ":warning:";
    verb = "stuck";
    break;
  }
  const std::string ref = slack_escape(notification.issue.to_string());
  std::string text = std::string(icon) + " *afk: ";
  // Links are checked by safe_link, which refuses every character that could end a Slack
  // link early; the labels are afk's own text.
  if (const auto issue = safe_link(notification.issue_url)) {
    text += "<" + *issue + "|" + ref + ">";
  } else {
    text += ref;
  }
  text += " " + std::string(verb) +
          "*: " + slack_escape(one_line(notification.title, k_title_max_bytes));
  if (const std::string summary = one_line(notification.summary, k_summary_max_bytes);
      !summary.empty()) {
    text += "\n" + slack_escape(summary);
  }
  std::string links;
  if (const auto thread = safe_link(notification.thread_url)) {
    links += "<" + *thread + "|Open the T3 thread>";
  }
  if (const std::string run = one_line(notification.run_id, 100); !run.empty()) {
    links += (links.empty() ? "" : " | ") + std::string("run ") + slack_escape(run);
  }
  if (!links.empty()) {
    text += "\n" + links;
  }
  return text;
}

} // namespace afk
