// SPDX-License-Identifier: MIT
#include "detail/digest.hpp"

#include <afk/error.hpp>

#include <openssl/evp.h>

#include <memory>
#include <string>

namespace afk::detail {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, std::string_view name, std::string_view data) {
  const auto fail = [name](std::string_view step) {
    return Error(ErrorKind::permanent,
                 "OpenSSL " + std::string(step) + " failed for " + std::string(name));
  };
  const MdCtx ctx{EVP_MD_CTX_new()};
  if (!ctx) {
    throw fail("EVP_MD_CTX_new");
  }
  if (md == nullptr || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
    throw fail("EVP_DigestInit_ex");
  }
  if (EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1) {
    throw fail("EVP_DigestUpdate");
  }
  std::array<std::uint8_t, N> out{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &length) != 1 || length != N) {
    throw fail("EVP_DigestFinal_ex");
  }
  return out;
}

} // namespace

Sha1Digest sha1(std::string_view data) {
  return digest<std::tuple_size_v<Sha1Digest>>(EVP_sha1(), "SHA-1", data);
}

Sha256Digest sha256(std::string_view data) {
  return digest<std::tuple_size_v<Sha256Digest>>(EVP_sha256(), "SHA-256", data);
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr std::string_view k_digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t byte : bytes) {
    out += k_digits[byte >> 4U];
    out += k_digits[byte & 0x0FU];
  }
  return out;
}

} // namespace afk::detail
