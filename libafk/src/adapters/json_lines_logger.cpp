// SPDX-License-Identifier: MIT
#include <afk/log.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>

namespace afk {

std::string_view to_string(Level level) noexcept {
  switch (level) {
  case Level::debug:
    return "debug";
  case Level::info:
    return "info";
  case Level::warn:
    return "warn";
  case Level::error:
    return "error";
  }
  return "?";
}

namespace {

// Ordered so that every line starts with ts, level and event, in that order: people read
// these lines too, and fields follow in the order the caller gave them.
using Json = nlohmann::ordered_json;

constexpr std::string_view k_taken_key_prefix = "field.";

class JsonLinesLogger final : public Logger {
public:
  JsonLinesLogger(std::ostream& out, const Clock& clock, Level min_level)
      : m_out(out)
      , m_clock(clock)
      , m_min_level(min_level) {}

  void write(const LogRecord& record) override {
    if (record.level < m_min_level) {
      return;
    }
    // The clock is read under the lock too: lines then appear in timestamp order, and a
    // borrowed clock need not be thread-safe itself.
    const std::lock_guard lock(m_mutex);
    std::string line = render(record, m_clock.now());
    line += '\n';
    m_out << line;
    m_out.flush();
  }

private:
  static std::string render(const LogRecord& record, Timestamp now) {
    Json json;
    json["ts"] = format_timestamp(now);
    json["level"] = std::string(to_string(record.level));
    json["event"] = record.event;
    for (const LogField& field : record.fields) {
      // A field may not overwrite ts, level, event or an earlier field of the same name:
      // it is kept under "field.<key>" ("field.field.<key>", … until free), so a careless
      // caller can neither forge a line's envelope nor lose context.
      std::string key = field.key;
      while (json.contains(key)) {
        key.insert(0, k_taken_key_prefix);
      }
      json[key] = field.value;
    }
    // Log values carry text from outside afk (issue titles, CI output) that may not be
    // valid UTF-8; a log line must never throw, so bad bytes become U+FFFD.
    return json.dump(-1, ' ', false, Json::error_handler_t::replace);
  }

  std::ostream& m_out;
  const Clock& m_clock;
  Level m_min_level;
  std::mutex m_mutex;
};

} // namespace

std::unique_ptr<Logger> make_json_lines_logger(std::ostream& out, const Clock& clock,
                                               Level min_level) {
  return std::make_unique<JsonLinesLogger>(out, clock, min_level);
}

} // namespace afk
