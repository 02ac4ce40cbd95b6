// SPDX-License-Identifier: MIT
#pragma once

/// Message digests for afk's own use (name-based ids, the run record checksum), through
/// OpenSSL's EVP API. Not for secrets or signatures: nothing here is keyed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace afk::detail {

using Sha1Digest = std::array<std::uint8_t, 20>;
using Sha256Digest = std::array<std::uint8_t, 32>;

/// SHA-1 of `data`. Throws Error{permanent} only if OpenSSL itself fails (out of memory,
/// digest disabled by policy).
[[nodiscard]] Sha1Digest sha1(std::string_view data);
/// SHA-256 of `data`. Throws like sha1().
[[nodiscard]] Sha256Digest sha256(std::string_view data);

/// Lower-case hexadecimal, two digits per byte.
[[nodiscard]] std::string to_hex(std::span<const std::uint8_t> bytes);

[[nodiscard]] inline std::string sha1_hex(std::string_view data) {
  return to_hex(sha1(data));
}
[[nodiscard]] inline std::string sha256_hex(std::string_view data) {
  return to_hex(sha256(data));
}

} // namespace afk::detail
