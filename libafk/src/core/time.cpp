// SPDX-License-Identifier: MIT
#include <afk/time.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace afk {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `width` digits at `pos`; no sign, no spaces, no short fields.
std::optional<int> fixed_digits(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos + width > text.size()) {
    return std::nullopt;
  }
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (!is_digit(text[i])) {
      return std::nullopt;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

void append_padded(std::string& out, std::int64_t value, int width) {
  std::array<char, 24> buf{};
  std::size_t len = 0;
  const bool negative = value < 0;
  // Through unsigned so that the most negative value does not overflow on negation.
  auto magnitude =
      negative ? ~static_cast<std::uint64_t>(value) + 1 : static_cast<std::uint64_t>(value);
  do {
    buf[len++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  while (len < static_cast<std::size_t>(width)) {
    buf[len++] = '0';
  }
  if (negative) {
    out += '-';
  }
  while (len > 0) {
    out += buf[--len];
  }
}

struct DurationUnit {
  char symbol;
  std::int64_t seconds;
};

// Largest first: format_duration walks this order, parse_duration only looks units up.
constexpr std::array<DurationUnit, 4> k_duration_units{{
    {'d', 86400},
    {'h', 3600},
    {'m', 60},
    {'s', 1},
}};

} // namespace

Timestamp SystemClock::now() const {
  return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
}

Deadline Deadline::after(std::chrono::milliseconds budget) {
  return Deadline(std::chrono::steady_clock::now() + budget);
}

bool Deadline::expired() const {
  return m_at && std::chrono::steady_clock::now() >= *m_at;
}

std::chrono::milliseconds Deadline::remaining() const {
  if (!m_at) {
    return std::chrono::milliseconds::max();
  }
  const auto left = *m_at - std::chrono::steady_clock::now();
  return left <= left.zero() ? std::chrono::milliseconds{0}
                             : std::chrono::ceil<std::chrono::milliseconds>(left);
}

std::string format_timestamp(Timestamp t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{t - day};
  std::string out;
  out.reserve(20);
  append_padded(out, static_cast<int>(ymd.year()), 4);
  out += '-';
  append_padded(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  append_padded(out, static_cast<unsigned>(ymd.day()), 2);
  out += 'T';
  append_padded(out, hms.hours().count(), 2);
  out += ':';
  append_padded(out, hms.minutes().count(), 2);
  out += ':';
  append_padded(out, hms.seconds().count(), 2);
  out += 'Z';
  return out;
}

// Only the upper-case 'T' and 'Z' every producer we talk to writes are accepted (RFC 3339
// merely permits lower case); a leap second ":60" is refused because sys_seconds cannot
// represent it and none of those producers emits one.
std::optional<Timestamp> parse_timestamp(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS" is 19 characters; the offset needs at least one more.
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  const auto year = fixed_digits(text, 0, 4);
  const auto month = fixed_digits(text, 5, 2);
  const auto day = fixed_digits(text, 8, 2);
  const auto hour = fixed_digits(text, 11, 2);
  const auto minute = fixed_digits(text, 14, 2);
  const auto second = fixed_digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{*year},
                                        std::chrono::month{static_cast<unsigned>(*month)},
                                        std::chrono::day{static_cast<unsigned>(*day)}};
  if (!ymd.ok() || *hour > 23 || *minute > 59 || *second > 59) {
    return std::nullopt;
  }

  std::size_t pos = 19;
  if (text[pos] == '.') {
    const std::size_t first = ++pos;
    while (pos < text.size() && is_digit(text[pos])) {
      ++pos;
    }
    if (pos == first) {
      return std::nullopt;
    }
  }

  Seconds offset{0};
  const std::string_view zone = text.substr(pos);
  if (zone != "Z") {
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') {
      return std::nullopt;
    }
    const auto off_hour = fixed_digits(zone, 1, 2);
    const auto off_minute = fixed_digits(zone, 4, 2);
    if (!off_hour || !off_minute || *off_hour > 23 || *off_minute > 59) {
      return std::nullopt;
    }
    offset = std::chrono::hours{*off_hour} + std::chrono::minutes{*off_minute};
    if (zone[0] == '-') {
      offset = -offset;
    }
  }

  const Timestamp local = std::chrono::sys_days{ymd} + std::chrono::hours{*hour} +
                          std::chrono::minutes{*minute} + Seconds{*second};
  // A local time east of UTC is earlier in UTC.
  return local - offset;
}

// Groups may come in any order ("30m1h" is 90 minutes) because nothing is ambiguous about
// it, but a unit may appear only once: "1m1m" is far more likely a typo than a sum.
std::optional<Seconds> parse_duration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  constexpr std::int64_t k_max = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::array<bool, k_duration_units.size()> seen{};
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t first = pos;
    std::int64_t value = 0;
    while (pos < text.size() && is_digit(text[pos])) {
      const int digit = text[pos] - '0';
      if (value > (k_max - digit) / 10) {
        return std::nullopt;
      }
      value = value * 10 + digit;
      ++pos;
    }
    if (pos == first || pos == text.size()) {
      return std::nullopt;
    }
    std::size_t unit = 0;
    while (unit < k_duration_units.size() && k_duration_units[unit].symbol != text[pos]) {
      ++unit;
    }
    if (unit == k_duration_units.size() || seen[unit]) {
      return std::nullopt;
    }
    seen[unit] = true;
    ++pos;
    const std::int64_t scale = k_duration_units[unit].seconds;
    if (value > k_max / scale || value * scale > k_max - total) {
      return std::nullopt;
    }
    total += value * scale;
  }
  return Seconds{total};
}

// A negative duration cannot be parsed back; it is written with a leading '-' so that a
// log line still tells the truth about it.
std::string format_duration(Seconds d) {
  const std::int64_t count = d.count();
  if (count == 0) {
    return "0s";
  }
  std::string out;
  // Through unsigned so that the most negative value does not overflow on negation.
  auto rest =
      count < 0 ? ~static_cast<std::uint64_t>(count) + 1 : static_cast<std::uint64_t>(count);
  if (count < 0) {
    out += '-';
  }
  for (const auto& unit : k_duration_units) {
    const auto scale = static_cast<std::uint64_t>(unit.seconds);
    if (rest >= scale) {
      append_padded(out, static_cast<std::int64_t>(rest / scale), 1);
      out += unit.symbol;
      rest %= scale;
    }
  }
  return out;
}

} // namespace afk
