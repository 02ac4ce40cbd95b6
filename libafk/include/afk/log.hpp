// SPDX-License-Identifier: MIT
#pragma once

/// Structured logging through an injected sink. libafk has no global logger and never
/// writes to stdout or stderr itself: the host picks the sink (the CLI uses JSON lines
/// on stderr). Events are stable snake_case identifiers; context goes into fields
/// (conventionally `repo`, `issue`, `run`). Never put a secret in a field.

#include "afk/time.hpp"

#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace afk {

enum class Level { debug, info, warn, error };

[[nodiscard]] std::string_view to_string(Level level) noexcept;

struct LogField {
  std::string key;
  std::string value;
  bool operator==(const LogField&) const = default;
};

struct LogRecord {
  Level level = Level::info;
  std::string event;
  std::vector<LogField> fields;
};

class Logger {
public:
  virtual ~Logger() = default;
  virtual void write(const LogRecord& record) = 0;

  void debug(std::string event, std::vector<LogField> fields = {}) {
    write({Level::debug, std::move(event), std::move(fields)});
  }
  void info(std::string event, std::vector<LogField> fields = {}) {
    write({Level::info, std::move(event), std::move(fields)});
  }
  void warn(std::string event, std::vector<LogField> fields = {}) {
    write({Level::warn, std::move(event), std::move(fields)});
  }
  void error(std::string event, std::vector<LogField> fields = {}) {
    write({Level::error, std::move(event), std::move(fields)});
  }
};

/// Discards everything.
class NullLogger final : public Logger {
public:
  void write(const LogRecord& /*record*/) override {}
};

/// One JSON object per line: {"ts":"…","level":"info","event":"…",<fields>}. A field whose
/// key is already taken (ts, level, event or an earlier field) is written as "field.<key>",
/// prefixed again until free; invalid UTF-8 becomes U+FFFD. Records below
/// `min_level` are dropped. `clock` stamps each line; both `out` and `clock` are borrowed
/// and must outlive the logger. Lines are written whole and flushed (safe to share one
/// logger between threads).
[[nodiscard]] std::unique_ptr<Logger> make_json_lines_logger(std::ostream& out, const Clock& clock,
                                                             Level min_level = Level::info);

} // namespace afk
