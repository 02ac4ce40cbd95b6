// SPDX-License-Identifier: MIT
#pragma once

// A Logger that keeps every record, for tests that check what afk logged (and that no
// secret reached a log). Safe to write from several threads.

#include <afk/log.hpp>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace afk::test {

class CapturingLogger final : public afk::Logger {
public:
  void write(const afk::LogRecord& record) override {
    const std::lock_guard lock(m_mutex);
    m_records.push_back(record);
  }

  [[nodiscard]] std::vector<afk::LogRecord> records() const {
    const std::lock_guard lock(m_mutex);
    return m_records;
  }

  // The records named `event`.
  [[nodiscard]] std::vector<afk::LogRecord> named(std::string_view event) const {
    std::vector<afk::LogRecord> out;
    for (const auto& record : records()) {
      if (record.event == event) {
        out.push_back(record);
      }
    }
    return out;
  }

  // The value of `key` in each record named `event`.
  [[nodiscard]] std::vector<std::string> values(std::string_view event,
                                                std::string_view key) const {
    std::vector<std::string> out;
    for (const auto& record : named(event)) {
      for (const auto& field : record.fields) {
        if (field.key == key) {
          out.push_back(field.value);
        }
      }
    }
    return out;
  }

private:
  mutable std::mutex m_mutex;
  std::vector<afk::LogRecord> m_records;
};

} // namespace afk::test
