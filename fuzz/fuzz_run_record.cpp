// SPDX-License-Identifier: MIT
// decode_run_record over hostile comment bodies: it must never throw (an Error{permanent}
// from hashing aside) and whatever it accepts must re-encode to a block that decodes to the
// same record.
//
// Input: the first byte picks the mode, the rest is text.
//  - even: the text is a whole comment body, decoded as it is (the checksum rarely matches,
//    so this reaches the block finding and the checks before the sum);
//  - odd: the text is the block's JSON without "sum" ({"v":1,...}); the target appends the
//    checksum afk would write and wraps it in "<!-- afk:run ... -->", so mutations reach
//    every field check behind the checksum.
// Every record is for acme/widgets#42 (the seeds are real records of that issue).

#include "fuzz_support.hpp"

#include <afk/issue.hpp>
#include <afk/run_record.hpp>

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace {

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    afk::fuzz::violated("OpenSSL could not hash");
  }
  constexpr std::string_view k_hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += k_hex[digest[i] >> 4U];
    out += k_hex[digest[i] & 0x0FU];
  }
  return out;
}

// "<!-- afk:run " + json with its sum + " -->", as encode_run_record writes it.
std::string with_sum(std::string json) {
  if (json.empty() || json.back() != '}') {
    json += '}';
  }
  const std::string sum = sha256_hex(json);
  json.pop_back();
  return "<!-- afk:run " + json + R"(,"sum":")" + sum + R"("} -->)";
}

const afk::IssueRef& expected_issue() {
  static const afk::IssueRef issue{*afk::RepoName::parse("acme/widgets"), 42};
  return issue;
}

afk::DecodedRunRecord decode(std::string_view body) {
  try {
    return afk::decode_run_record(body, expected_issue());
  } catch (const std::exception& error) {
    afk::fuzz::violated("decode_run_record never throws for bad input", error.what());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string body = (data[0] & 1U) != 0 ? with_sum(std::string(text)) : std::string(text);

  const afk::DecodedRunRecord decoded = decode(body);
  if (const auto* invalid = std::get_if<afk::InvalidRunRecord>(&decoded)) {
    afk::fuzz::require(!invalid->reason.empty(), "an invalid record says why");
    return 0;
  }
  const auto* record = std::get_if<afk::RunRecord>(&decoded);
  if (record == nullptr) {
    return 0;
  }
  // What decodes is what afk could have written: it round-trips, bare and in a comment.
  const std::string block = afk::encode_run_record(*record);
  const afk::DecodedRunRecord again = decode(block);
  const auto* same = std::get_if<afk::RunRecord>(&again);
  afk::fuzz::require(same != nullptr, "a decoded record re-encodes to a valid block",
                     std::get_if<afk::InvalidRunRecord>(&again) != nullptr
                         ? std::get_if<afk::InvalidRunRecord>(&again)->reason
                         : block);
  afk::fuzz::require(*same == *record, "a decoded record round-trips", block);
  afk::fuzz::require(afk::encode_run_record(*same) == block, "encoding is deterministic", block);
  const afk::DecodedRunRecord from_comment = decode(afk::render_run_comment(*record, "https://t3"));
  const auto* rendered = std::get_if<afk::RunRecord>(&from_comment);
  afk::fuzz::require(rendered != nullptr && *rendered == *record,
                     "a decoded record round-trips through the rendered comment",
                     std::get_if<afk::InvalidRunRecord>(&from_comment) != nullptr
                         ? std::get_if<afk::InvalidRunRecord>(&from_comment)->reason
                         : block);
  return 0;
}
