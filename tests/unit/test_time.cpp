// SPDX-License-Identifier: MIT
#include <afk/error.hpp>
#include <afk/time.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
using afk::Seconds;
using afk::Timestamp;

Timestamp at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{mo} /
                               std::chrono::day{d}} +
         std::chrono::hours{h} + std::chrono::minutes{mi} + Seconds{s};
}

TEST(ErrorKind, to_string_names_every_kind) {
  EXPECT_EQ(afk::to_string(afk::ErrorKind::config), "config");
  EXPECT_EQ(afk::to_string(afk::ErrorKind::transient), "transient");
  EXPECT_EQ(afk::to_string(afk::ErrorKind::conflict), "conflict");
  EXPECT_EQ(afk::to_string(afk::ErrorKind::protocol), "protocol");
  EXPECT_EQ(afk::to_string(afk::ErrorKind::permanent), "permanent");
}

TEST(SystemClock, now_is_whole_seconds_close_to_the_system_clock) {
  const afk::SystemClock clock;
  const auto before = std::chrono::floor<Seconds>(std::chrono::system_clock::now());
  const Timestamp now = clock.now();
  const auto after = std::chrono::system_clock::now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
}

TEST(FormatTimestamp, writes_utc_with_whole_seconds) {
  struct Case {
    Timestamp t;
    std::string_view expected;
  };
  const std::vector<Case> cases = {
      {at(2026, 11, 24, 15, 5, 0), "2026-11-24T15:05:00Z"},
      {at(1970, 1, 1), "1970-01-01T00:00:00Z"},
      {at(2024, 2, 29, 23, 59, 59), "2024-02-29T23:59:59Z"},
      {at(1969, 12, 31, 23, 59, 59), "1969-12-31T23:59:59Z"},
      {at(9999, 12, 31, 23, 59, 59), "9999-12-31T23:59:59Z"},
      {at(812, 3, 4, 5, 6, 7), "0812-03-04T05:06:07Z"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(afk::format_timestamp(c.t), c.expected);
  }
}

TEST(ParseTimestamp, accepts_rfc3339_as_forges_write_it) {
  struct Case {
    std::string_view text;
    Timestamp expected;
  };
  const std::vector<Case> cases = {
      {"2026-11-24T15:05:00Z", at(2026, 11, 24, 15, 5, 0)},
      {"2026-11-24T15:05:00.123Z", at(2026, 11, 24, 15, 5, 0)},
      {"2026-11-24T15:05:00.999999999Z", at(2026, 11, 24, 15, 5, 0)},
      {"2026-11-24T16:05:00+01:00", at(2026, 11, 24, 15, 5, 0)},
      {"2026-11-24T10:35:00-04:30", at(2026, 11, 24, 15, 5, 0)},
      {"2026-11-24T15:05:00+00:00", at(2026, 11, 24, 15, 5, 0)},
      {"2026-11-24T15:05:00-00:00", at(2026, 11, 24, 15, 5, 0)},
      {"2026-11-24T15:05:00.5+02:00", at(2026, 11, 24, 13, 5, 0)},
      {"2027-01-01T00:30:00+01:00", at(2026, 12, 31, 23, 30, 0)},
      {"2026-12-31T23:30:00-01:00", at(2027, 1, 1, 0, 30, 0)},
      {"2024-02-29T00:00:00Z", at(2024, 2, 29)},
      {"2000-02-29T00:00:00Z", at(2000, 2, 29)},
      {"1970-01-01T00:00:00Z", at(1970, 1, 1)},
      {"0000-01-01T00:00:00Z", at(0, 1, 1)},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(afk::parse_timestamp(c.text), c.expected) << c.text;
  }
}

TEST(ParseTimestamp, rejects_impossible_or_malformed_text) {
  const std::vector<std::string_view> cases = {
      "",
      "garbage",
      "2026-02-30T00:00:00Z",      // no February 30th
      "2026-02-29T00:00:00Z",      // 2026 is not a leap year
      "1900-02-29T00:00:00Z",      // centuries are not leap years unless divisible by 400
      "2026-04-31T00:00:00Z",      // April has 30 days
      "2026-13-01T00:00:00Z",      // month 13
      "2026-00-10T00:00:00Z",      // month 0
      "2026-01-00T00:00:00Z",      // day 0
      "2026-01-01T24:00:00Z",      // hour 24
      "2026-01-01T23:60:00Z",      // minute 60
      "2026-01-01T23:59:60Z",      // leap second
      "2026-11-24 15:05:00Z",      // missing T
      "2026-11-24t15:05:00z",      // lower case
      "2026-11-24T15:05:00",       // no offset
      "2026-11-24",                // date only
      "2026-11-24T15:05Z",         // no seconds
      "2026-11-24T15:05:00ZZ",     // trailing characters
      "2026-11-24T15:05:00Z ",     // trailing space
      " 2026-11-24T15:05:00Z",     // leading space
      "2026-11-24T15:05:00.Z",     // empty fraction
      "2026-11-24T15:05:00,5Z",    // comma fraction
      "2026-11-24T15:05:00+0100",  // offset without colon
      "2026-11-24T15:05:00+01",    // short offset
      "2026-11-24T15:05:00+24:00", // offset hour out of range
      "2026-11-24T15:05:00+01:60", // offset minute out of range
      "2026-11-24T15:05:00+01:00x",
      "+2026-11-24T15:05:00Z",
      "20261-11-24T15:05:00Z",
      "2026-1-24T15:05:00Z",
      "2026-11-24T1:05:00Z",
      "2026-11-24T15:05:0aZ",
      "-026-11-24T15:05:00Z",
  };
  for (const auto text : cases) {
    EXPECT_EQ(afk::parse_timestamp(text), std::nullopt) << text;
  }
}

TEST(ParseTimestamp, reads_back_what_format_writes) {
  const std::vector<Timestamp> cases = {
      at(2026, 11, 24, 15, 5, 0),   at(1970, 1, 1),          at(2024, 2, 29, 12, 0, 1),
      at(1999, 12, 31, 23, 59, 59), at(2100, 3, 1, 0, 0, 0), at(1, 1, 1),
  };
  for (const auto t : cases) {
    EXPECT_EQ(afk::parse_timestamp(afk::format_timestamp(t)), t) << afk::format_timestamp(t);
  }
}

TEST(ParseDuration, accepts_unit_groups) {
  struct Case {
    std::string_view text;
    Seconds expected;
  };
  const std::vector<Case> cases = {
      {"45s", 45s},
      {"30m", 30min},
      {"2h", 2h},
      {"1d", 24h},
      {"1h30m", 90min},
      {"1d1h1m1s", 90061s},
      {"0s", 0s},
      {"0m", 0s},
      {"90s", 90s},
      {"120m", 2h},
      {"007s", 7s},
      {"30m1h", 90min},
      {"1s1m1h1d", 90061s},
      {"9223372036854775807s", Seconds{std::numeric_limits<std::int64_t>::max()}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(afk::parse_duration(c.text), c.expected) << c.text;
  }
}

TEST(ParseDuration, rejects_anything_else) {
  const std::vector<std::string_view> cases = {
      "",
      "5",
      "-5m",
      "+5m",
      "5 m",
      " 5m",
      "5m ",
      "5x",
      "5M",
      "5ms",
      "m",
      "1h30",
      "1.5h",
      "1m1m",
      "1h2m3h",
      "9223372036854775808s",        // one past int64
      "99999999999999999999999999s", // far past int64
      "106751991167301d",            // days overflow
      "9223372036854775807s1m",      // the sum overflows
      "1h\n",
      std::string_view{"1h\0", 3},
  };
  for (const auto text : cases) {
    EXPECT_EQ(afk::parse_duration(text), std::nullopt) << text;
  }
}

TEST(FormatDuration, writes_the_shortest_canonical_form) {
  struct Case {
    Seconds d;
    std::string_view expected;
  };
  const std::vector<Case> cases = {
      {0s, "0s"},
      {45s, "45s"},
      {60s, "1m"},
      {5400s, "1h30m"},
      {3600s, "1h"},
      {86400s, "1d"},
      {90061s, "1d1h1m1s"},
      {86401s, "1d1s"},
      {Seconds{-90}, "-1m30s"},
      {Seconds{std::numeric_limits<std::int64_t>::max()}, "106751991167300d15h30m7s"},
      {Seconds{std::numeric_limits<std::int64_t>::min()}, "-106751991167300d15h30m8s"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(afk::format_duration(c.d), c.expected) << c.d.count();
  }
}

TEST(FormatDuration, parse_reads_back_every_non_negative_duration) {
  const std::vector<Seconds> cases = {
      0s,
      1s,
      59s,
      60s,
      61s,
      3599s,
      3600s,
      5400s,
      86399s,
      86400s,
      90061s,
      1'000'000'000s,
      Seconds{std::numeric_limits<std::int64_t>::max()},
  };
  for (const auto d : cases) {
    EXPECT_EQ(afk::parse_duration(afk::format_duration(d)), d) << d.count();
  }
}

TEST(FormatDuration, canonical_text_survives_a_round_trip) {
  const std::vector<std::string_view> cases = {"0s", "45s", "1h30m", "2d", "1d1h1m1s", "59m59s"};
  for (const auto text : cases) {
    const auto parsed = afk::parse_duration(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(afk::format_duration(*parsed), text);
  }
}

} // namespace
