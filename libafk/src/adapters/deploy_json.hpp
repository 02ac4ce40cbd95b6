// SPDX-License-Identifier: MIT
#pragma once

// What the deploy stage adapters share.

#include <afk/error.hpp>

#include <algorithm>
#include <string>
#include <string_view>

namespace afk::deploy_json {

// Stages put the SHA into URLs and match it against what servers report: only a full
// SHA-1 or SHA-256 object name in lower case gets that far.
inline void require_commit_sha(std::string_view sha) {
  const bool valid =
      (sha.size() == 40 || sha.size() == 64) && std::all_of(sha.begin(), sha.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      });
  if (!valid) {
    throw Error(ErrorKind::permanent,
                "not a full lower-case commit SHA (" + std::to_string(sha.size()) + " characters)");
  }
}

} // namespace afk::deploy_json
