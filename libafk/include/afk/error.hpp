// SPDX-License-Identifier: MIT
#pragma once

/// The error model (adr/0001-error-model.md): the pure core never throws for an
/// expected outcome (it returns values, std::optional for absence, or a result with
/// diagnostics); adapters and loaders throw exactly one type, afk::Error, whose kind
/// tells the caller what to do next. Third-party exceptions and C error codes are
/// translated into afk::Error where they happen and never cross a public header.

#include <stdexcept>
#include <string>
#include <string_view>

namespace afk {

enum class ErrorKind {
  config,    ///< Bad configuration or credentials: an operator must act. Not retryable.
  transient, ///< Timeouts, 5xx, 429, connection resets: the same call may succeed later.
  conflict,  ///< The remote rejected the change as stated (409/422). Not retryable as is.
  protocol,  ///< A peer sent something we cannot understand (garbage JSON, wrong shape).
  permanent, ///< Anything else that retrying will not fix.
};

[[nodiscard]] std::string_view to_string(ErrorKind kind) noexcept;

/// The only exception type libafk throws on purpose. The message names what was wrong
/// and where; it never contains a secret.
class Error : public std::runtime_error {
public:
  Error(ErrorKind kind, const std::string& what)
      : std::runtime_error(what)
      , m_kind(kind) {}

  [[nodiscard]] ErrorKind kind() const noexcept { return m_kind; }
  [[nodiscard]] bool retryable() const noexcept { return m_kind == ErrorKind::transient; }

private:
  ErrorKind m_kind;
};

} // namespace afk
