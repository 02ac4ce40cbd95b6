// SPDX-License-Identifier: MIT
#include "core/uuid.hpp"
#include "detail/digest.hpp"

#include <afk/ids.hpp>

#include <algorithm>
#include <string>

namespace afk {
namespace detail {

std::string uuid_v5(const UuidBytes& name_space, std::string_view name) {
  std::string input(name_space.begin(), name_space.end());
  input.append(name);
  const Sha1Digest hash = sha1(input);

  // RFC 9562 5.5: the first 16 bytes of the SHA-1, then the version in the high nibble of
  // byte 6 and the variant (binary 10) in the top two bits of byte 8.
  UuidBytes uuid{};
  std::copy_n(hash.begin(), uuid.size(), uuid.begin());
  uuid[6] = static_cast<std::uint8_t>((uuid[6] & 0x0FU) | 0x50U);
  uuid[8] = static_cast<std::uint8_t>((uuid[8] & 0x3FU) | 0x80U);

  const std::string hex = to_hex(uuid);
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
         hex.substr(16, 4) + '-' + hex.substr(20);
}

} // namespace detail

namespace {

// "<canonical repo>#<n>:<attempt>": the part every per-run name shares.
std::string run_key(const IssueRef& issue, int attempt) {
  return issue.repo.canonical() + '#' + std::to_string(issue.number) + ':' +
         std::to_string(attempt);
}

} // namespace

std::string derive_uuid(std::string_view name) {
  return detail::uuid_v5(detail::k_afk_namespace, name);
}

std::string derive_project_id(const RepoName& repo) {
  return derive_uuid("project:" + repo.canonical());
}

std::string derive_run_id(const IssueRef& issue, int attempt) {
  return derive_uuid("run:" + run_key(issue, attempt));
}

std::string derive_thread_id(const IssueRef& issue, int attempt) {
  return derive_uuid("thread:" + run_key(issue, attempt));
}

std::string derive_fix_thread_id(const IssueRef& issue, int attempt, int fix) {
  return derive_uuid("thread:" + run_key(issue, attempt) + ":fix:" + std::to_string(fix));
}

std::string derive_command_id(const IssueRef& issue, int attempt, std::string_view step) {
  std::string name = "command:" + run_key(issue, attempt) + ':';
  name.append(step);
  return derive_uuid(name);
}

} // namespace afk
