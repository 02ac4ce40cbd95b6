// SPDX-License-Identifier: MIT
#pragma once

/// Time as afk sees it: whole seconds of UTC, durations with units. The pure core never
/// reads a clock; the engine asks its injected Clock once per tick and passes the answer in.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace afk {

using Timestamp = std::chrono::sys_seconds;
using Seconds = std::chrono::seconds;

/// Source of the current time. Injected so tests and sandboxes can run a whole lifecycle
/// in seconds.
class Clock {
public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual Timestamp now() const = 0;
};

/// The real wall clock (std::chrono::system_clock, truncated to seconds).
class SystemClock final : public Clock {
public:
  [[nodiscard]] Timestamp now() const override;
};

/// When work must stop, on the monotonic clock (std::chrono::steady_clock), so a tick can be
/// bounded whatever the injected Clock says. A value type; the default never expires.
class Deadline {
public:
  using TimePoint = std::chrono::steady_clock::time_point;

  Deadline() = default; ///< never expires
  explicit Deadline(TimePoint at)
      : m_at(at) {}
  /// `budget` from now.
  [[nodiscard]] static Deadline after(std::chrono::milliseconds budget);

  [[nodiscard]] bool bounded() const noexcept { return m_at.has_value(); }
  [[nodiscard]] bool expired() const;
  /// Time left, zero once expired; milliseconds::max() when unbounded.
  [[nodiscard]] std::chrono::milliseconds remaining() const;

private:
  std::optional<TimePoint> m_at;
};

/// "2026-11-24T15:05:00Z". Always UTC, always whole seconds.
[[nodiscard]] std::string format_timestamp(Timestamp t);

/// Parses RFC 3339 / ISO-8601 date-times as GitHub, Forgejo, T3 and Kubernetes write
/// them: "2026-11-24T15:05:00Z", with optional fractional seconds (dropped) and a
/// "Z" or "+hh:mm"/"-hh:mm" offset. nullopt for anything else, including impossible
/// dates such as February 30th.
[[nodiscard]] std::optional<Timestamp> parse_timestamp(std::string_view text);

/// Parses a duration with units: one or more "<integer><unit>" groups, unit one of
/// s, m, h, d ("45s", "30m", "2h", "1h30m"). nullopt for anything else, including an
/// empty string, a bare number, a negative value or an overflow.
[[nodiscard]] std::optional<Seconds> parse_duration(std::string_view text);

/// The shortest form that parse_duration reads back: "1h30m", "45s", "0s".
[[nodiscard]] std::string format_duration(Seconds d);

} // namespace afk
