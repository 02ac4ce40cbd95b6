// SPDX-License-Identifier: MIT
#include <afk/error.hpp>

namespace afk {

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
  case ErrorKind::config:
    return "config";
  case ErrorKind::transient:
    return "transient";
  case ErrorKind::conflict:
    return "conflict";
  case ErrorKind::protocol:
    return "protocol";
  case ErrorKind::permanent:
    return "permanent";
  }
  return "unknown";
}

} // namespace afk
