// SPDX-License-Identifier: MIT
#pragma once

/// Name-based UUIDs (RFC 9562 section 5.5, version 5), the primitive behind <afk/ids.hpp>.
/// Private so that only afk's own namespace is used for ids, but reachable from tests,
/// which check it against the RFC's published example.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace afk::detail {

using UuidBytes = std::array<std::uint8_t, 16>;

/// 6ba7b810-9dad-11d1-80b4-00c04fd430c8, the RFC's namespace for DNS names.
inline constexpr UuidBytes k_dns_namespace = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                              0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};

/// afk's namespace, 7b561ec9-ba72-43b9-bb9c-1571db499334: a random (v4) UUID drawn once.
/// Every id afk has ever written derives from it, so it must never change; a new value
/// would orphan every in-flight run (its recorded ids would no longer derive).
inline constexpr UuidBytes k_afk_namespace = {0x7b, 0x56, 0x1e, 0xc9, 0xba, 0x72, 0x43, 0xb9,
                                              0xbb, 0x9c, 0x15, 0x71, 0xdb, 0x49, 0x93, 0x34};

/// UUIDv5 of `name` (bytes as given, no normalisation) in `name_space`, as lower-case
/// "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx".
[[nodiscard]] std::string uuid_v5(const UuidBytes& name_space, std::string_view name);

} // namespace afk::detail
