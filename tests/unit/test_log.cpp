// SPDX-License-Identifier: MIT
#include <afk/log.hpp>
#include <afk/time.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Json = nlohmann::json;

constexpr afk::Timestamp k_now =
    afk::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 24}} +
    std::chrono::hours(15) + std::chrono::minutes(5);
constexpr std::string_view k_now_text = "2026-11-24T15:05:00Z";

class FixedClock final : public afk::Clock {
public:
  [[nodiscard]] afk::Timestamp now() const override { return k_now; }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// Every line, parsed; fails the test if the output does not end in a newline.
std::vector<Json> parse_lines(const std::string& text) {
  EXPECT_TRUE(text.empty() || text.back() == '\n') << text;
  std::vector<Json> parsed;
  for (const auto& line : lines_of(text)) {
    parsed.push_back(Json::parse(line));
  }
  return parsed;
}

// `at` rather than `[]`: a missing member fails the test instead of asserting.
std::string member(const Json& line, const char* key) {
  return line.at(key).get<std::string>();
}

// Counts flushes, so the test can tell a flushed line from one left in a buffer.
class FlushCountingBuffer final : public std::stringbuf {
public:
  [[nodiscard]] int flushes() const noexcept { return m_flushes; }

protected:
  int sync() override {
    ++m_flushes;
    return std::stringbuf::sync();
  }

private:
  int m_flushes = 0;
};

TEST(JsonLinesLogger, writes_ts_level_event_then_fields_as_strings) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  logger->info("issue_dispatched", {{"repo", "acme/widgets"}, {"issue", "42"}});

  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 1U);
  const Json expected = {{"ts", k_now_text},
                         {"level", "info"},
                         {"event", "issue_dispatched"},
                         {"repo", "acme/widgets"},
                         {"issue", "42"}};
  EXPECT_EQ(lines[0], expected);
}

TEST(JsonLinesLogger, starts_each_line_with_ts_level_event_in_that_order) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  logger->warn("tick_finished", {{"a", "1"}, {"event_count", "2"}});

  EXPECT_EQ(out.str(), R"({"ts":"2026-11-24T15:05:00Z","level":"warn","event":"tick_finished",)"
                       R"("a":"1","event_count":"2"})"
                       "\n");
}

TEST(JsonLinesLogger, names_every_level) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock, afk::Level::debug);

  logger->debug("d");
  logger->info("i");
  logger->warn("w");
  logger->error("e");

  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 4U);
  EXPECT_EQ(member(lines[0], "level"), "debug");
  EXPECT_EQ(member(lines[1], "level"), "info");
  EXPECT_EQ(member(lines[2], "level"), "warn");
  EXPECT_EQ(member(lines[3], "level"), "error");
  EXPECT_EQ(afk::to_string(afk::Level::warn), "warn");
}

TEST(JsonLinesLogger, drops_records_below_min_level) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock, afk::Level::warn);

  logger->debug("d");
  logger->info("i");
  logger->warn("w");
  logger->error("e");

  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(member(lines[0], "event"), "w");
  EXPECT_EQ(member(lines[1], "event"), "e");
}

TEST(JsonLinesLogger, drops_debug_by_default) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  logger->debug("d");

  EXPECT_EQ(out.str(), "");
}

TEST(JsonLinesLogger, keeps_fields_named_like_the_envelope_under_a_prefix) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  logger->info("real_event", {{"ts", "1999-01-01T00:00:00Z"}, {"level", "error"}, {"event", "x"}});

  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(member(lines[0], "ts"), k_now_text);
  EXPECT_EQ(member(lines[0], "level"), "info");
  EXPECT_EQ(member(lines[0], "event"), "real_event");
  EXPECT_EQ(member(lines[0], "field.ts"), "1999-01-01T00:00:00Z");
  EXPECT_EQ(member(lines[0], "field.level"), "error");
  EXPECT_EQ(member(lines[0], "field.event"), "x");
}

TEST(JsonLinesLogger, keeps_repeated_and_prefixed_keys_without_overwriting) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  logger->info("e", {{"field.ts", "a"}, {"ts", "b"}, {"repo", "c"}, {"repo", "d"}});

  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(member(lines[0], "ts"), k_now_text);
  EXPECT_EQ(member(lines[0], "field.ts"), "a");
  EXPECT_EQ(member(lines[0], "field.field.ts"), "b");
  EXPECT_EQ(member(lines[0], "repo"), "c");
  EXPECT_EQ(member(lines[0], "field.repo"), "d");
}

TEST(JsonLinesLogger, replaces_invalid_utf8_instead_of_throwing) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  EXPECT_NO_THROW(logger->info("bad\xff", {{"title", "caf\xc3"}, {"ok", "caf\xc3\xa9"}}));

  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(member(lines[0], "event"), "bad\xef\xbf\xbd");
  EXPECT_EQ(member(lines[0], "title"), "caf\xef\xbf\xbd");
  EXPECT_EQ(member(lines[0], "ok"), "caf\xc3\xa9");
}

TEST(JsonLinesLogger, keeps_newlines_in_values_on_one_line) {
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  logger->error("ci_red\n{\"forged\":1}", {{"detail", "line 1\nline 2\r\n"}, {"multi\nkey", "v"}});

  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(member(lines[0], "event"), "ci_red\n{\"forged\":1}");
  EXPECT_EQ(member(lines[0], "detail"), "line 1\nline 2\r\n");
  EXPECT_EQ(member(lines[0], "multi\nkey"), "v");
}

TEST(JsonLinesLogger, flushes_every_line) {
  FlushCountingBuffer buffer;
  std::ostream out(&buffer);
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  logger->info("one");
  EXPECT_EQ(buffer.flushes(), 1);
  logger->debug("dropped");
  EXPECT_EQ(buffer.flushes(), 1);
  logger->info("two");
  EXPECT_EQ(buffer.flushes(), 2);
  EXPECT_EQ(lines_of(buffer.str()).size(), 2U);
}

TEST(JsonLinesLogger, writes_whole_lines_from_concurrent_threads) {
  constexpr int k_threads = 4;
  constexpr int k_records_per_thread = 500;
  std::ostringstream out;
  const FixedClock clock;
  const auto logger = afk::make_json_lines_logger(out, clock);

  std::vector<std::thread> threads;
  threads.reserve(k_threads);
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&logger, t] {
      // A long value makes a torn write far more likely to show if the lock were missing.
      const std::string padding(256, static_cast<char>('a' + t));
      for (int i = 0; i < k_records_per_thread; ++i) {
        logger->info(
            "tick",
            {{"thread", std::to_string(t)}, {"seq", std::to_string(i)}, {"padding", padding}});
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(k_threads * k_records_per_thread));
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& line : lines) {
    const auto thread = member(line, "thread");
    EXPECT_EQ(member(line, "padding"),
              std::string(256, static_cast<char>('a' + std::stoi(thread))));
    seen.emplace(thread, member(line, "seq"));
  }
  EXPECT_EQ(seen.size(), lines.size());
}

} // namespace
