// auth.cpp — Bearer and Basic checked against a digest in constant time.
#include "http/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <strings.h>

#include <stdexcept>
#include <vector>

namespace aamp::http {
namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());  // NOLINT
  return out;
}

// "Scheme rest": the rest when the scheme matches (case-insensitive), else nullopt-like empty
// with ok=false.
bool take_scheme(std::string_view header, std::string_view scheme, std::string_view& rest) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  if (strncasecmp(header.data(), scheme.data(), scheme.size()) != 0) return false;
  rest = header.substr(scheme.size() + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  return true;
}

// Strict base64 (RFC 4648, padded); false on anything else.
bool decode_base64(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return false;
  for (const char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return false;
  }
  std::vector<unsigned char> buf(text.size() / 4 * 3 + 1);
  const int n = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(text.data()),  // NOLINT
                                static_cast<int>(text.size()));
  if (n < 0) return false;
  std::size_t size = static_cast<std::size_t>(n);
  if (text.back() == '=') --size;  // EVP_DecodeBlock counts padding as zero bytes
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  out.assign(reinterpret_cast<const char*>(buf.data()), size);  // NOLINT
  return true;
}

}  // namespace

Credential Credential::parse(std::string_view spec) {
  Credential out;
  if (spec.starts_with("bearer:")) {
    const auto token = spec.substr(7);
    if (token.empty()) throw std::invalid_argument("bearer: needs a token");
    for (const char c : token) {
      if (c <= ' ' || c > '~') throw std::invalid_argument("a bearer token is printable ASCII without spaces");
    }
    out.kind_ = Kind::bearer;
    out.digest_ = sha256(token);
    return out;
  }
  if (spec.starts_with("basic:")) {
    const auto rest = spec.substr(6);
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
      throw std::invalid_argument("expected basic:USER:PASSWORD");
    }
    for (const char c : rest) {
      if (c < ' ' || c > '~') throw std::invalid_argument("basic: user and password are printable ASCII");
    }
    out.kind_ = Kind::basic;
    out.user_ = std::string(rest.substr(0, colon));
    out.digest_ = sha256(rest);
    return out;
  }
  throw std::invalid_argument("expected bearer:TOKEN or basic:USER:PASSWORD");
}

bool Credential::allows(const Request& request) const {
  if (kind_ == Kind::none) return true;
  const auto header = request.header("Authorization");
  std::string_view rest;
  std::array<unsigned char, 32> given{};
  if (kind_ == Kind::bearer) {
    if (!take_scheme(header, "Bearer", rest) || rest.empty()) return false;
    given = sha256(rest);
  } else {
    std::string decoded;
    if (!take_scheme(header, "Basic", rest) || !decode_base64(rest, decoded)) return false;
    given = sha256(decoded);
  }
  return CRYPTO_memcmp(given.data(), digest_.data(), digest_.size()) == 0;
}

Response Credential::challenge(std::string_view realm) const {
  auto response = Response::text(401, "authentication required\n");
  const std::string scheme = kind_ == Kind::basic ? "Basic" : "Bearer";
  response.headers.emplace_back("WWW-Authenticate", scheme + " realm=\"" + std::string(realm) + "\"");
  return response;
}

std::string Credential::masked() const {
  switch (kind_) {
    case Kind::bearer:
      return "bearer:****";
    case Kind::basic:
      return "basic:" + user_ + ":****";
    case Kind::none:
      break;
  }
  return "none";
}

}  // namespace aamp::http
