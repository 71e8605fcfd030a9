// pair_code.cpp — see pair_code.hpp.
#include "policy/pair_code.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace aamp {

std::string hash_pair_code(std::string_view code) {
  static constexpr std::string_view kPrefix{"aamp-pair-code-v1\0", 18};
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw std::runtime_error("OpenSSL: out of memory");
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, kPrefix.data(), kPrefix.size()) == 1 &&
                  EVP_DigestUpdate(ctx, code.data(), code.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, md.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("OpenSSL: SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

bool same_hash(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string redact_code(std::string_view code) {
  if (code.empty()) return {};
  return std::string(code.substr(0, 2)) + "\xe2\x80\xa6(" + std::to_string(code.size()) + ")";
}

}  // namespace aamp
