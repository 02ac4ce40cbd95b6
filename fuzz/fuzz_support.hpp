// SPDX-License-Identifier: MIT
#pragma once

// What the fuzz targets share: a property check that aborts (so libFuzzer keeps the input),
// a UTF-8 walker for the text properties, and an in-memory HttpTransport whose response
// bodies come from the fuzz input.

#include <afk/error.hpp>
#include <afk/http.hpp>
#include <afk/time.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afk::fuzz {

// A broken promise is a finding: say which, and abort so libFuzzer saves the input.
[[noreturn]] inline void violated(const char* property, std::string_view detail = {}) {
  std::fprintf(stderr, "PROPERTY VIOLATED: %s%s%.*s\n", property, detail.empty() ? "" : ": ",
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline void require(bool holds, const char* property, std::string_view detail = {}) {
  if (!holds) {
    violated(property, detail);
  }
}

// Runs `call`; afk::Error of an allowed kind is the documented failure, anything else a
// finding. `allowed` empty: every kind is allowed.
template <class Call>
void expect_only_errors(Call call, std::initializer_list<ErrorKind> allowed, const char* what) {
  try {
    call();
  } catch (const Error& error) {
    if (allowed.size() == 0) {
      return;
    }
    for (const ErrorKind kind : allowed) {
      if (error.kind() == kind) {
        return;
      }
    }
    violated(what, std::string("afk::Error of kind ") + std::string(to_string(error.kind())) +
                       ": " + error.what());
  } catch (const std::exception& error) {
    violated(what, std::string("a foreign exception escaped: ") + error.what());
  } catch (...) {
    violated(what, "a foreign non-std exception escaped");
  }
}

// The code points of `text` when it is valid UTF-8 (shortest forms, no surrogates, at most
// U+10FFFF); nullopt otherwise.
inline std::optional<std::vector<char32_t>> decode_utf8(std::string_view text) {
  std::vector<char32_t> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    char32_t point = 0;
    char32_t minimum = 0;
    if (lead < 0x80U) {
      length = 1;
      point = lead;
    } else if ((lead & 0xE0U) == 0xC0U) {
      length = 2;
      point = lead & 0x1FU;
      minimum = 0x80;
    } else if ((lead & 0xF0U) == 0xE0U) {
      length = 3;
      point = lead & 0x0FU;
      minimum = 0x800;
    } else if ((lead & 0xF8U) == 0xF0U) {
      length = 4;
      point = lead & 0x07U;
      minimum = 0x10000;
    } else {
      return std::nullopt;
    }
    if (i + length > text.size()) {
      return std::nullopt;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0U) != 0x80U) {
        return std::nullopt;
      }
      point = (point << 6U) | (next & 0x3FU);
    }
    if (point < minimum || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF)) {
      return std::nullopt;
    }
    out.push_back(point);
    i += length;
  }
  return out;
}

// Answers every request with status 200 and the next body taken from the fuzz input (an
// empty body once the input is used up).
class FuzzTransport final : public HttpTransport {
public:
  explicit FuzzTransport(FuzzedDataProvider& data)
      : m_data(data) {}

  HttpResponse send(const HttpRequest& /*request*/) override {
    HttpResponse response;
    response.status = 200;
    response.headers = {{"content-type", "application/json"}};
    response.body = m_data.ConsumeRandomLengthString(1U << 20U);
    return response;
  }

private:
  FuzzedDataProvider& m_data;
};

class FixedClock final : public Clock {
public:
  [[nodiscard]] Timestamp now() const override {
    return Timestamp{std::chrono::seconds{1'790'000'000}};
  }
};

// Never waits: a retry (there should be none over 200s) costs nothing.
inline void no_sleep(std::chrono::milliseconds /*wait*/) {}

} // namespace afk::fuzz
