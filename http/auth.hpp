// auth.hpp — HTTP authentication of a client: Bearer or Basic against one configured
// credential. The secret is kept only as a SHA-256 digest and compared in constant time
// (CRYPTO_memcmp over digests); it never appears in a message or a log line.
#pragma once

#include "http/server.hpp"

#include <array>
#include <string>
#include <string_view>

namespace aamp::http {

class Credential {
 public:
  enum class Kind { none, bearer, basic };

  // "bearer:TOKEN" or "basic:USER:PASSWORD" (the password may contain ':'). Throws
  // std::invalid_argument for anything else; the message never repeats the secret.
  static Credential parse(std::string_view spec);
  Credential() = default;  // none: every request passes

  Kind kind() const { return kind_; }
  // Does the request's Authorization header carry this credential? Always true for none.
  bool allows(const Request& request) const;
  // The 401 answer with its WWW-Authenticate challenge.
  Response challenge(std::string_view realm) const;
  // For -n and logs: "bearer:****", "basic:USER:****", "none".
  std::string masked() const;

 private:
  Kind kind_ = Kind::none;
  std::string user_;  // basic only, shown by masked()
  std::array<unsigned char, 32> digest_{};  // SHA-256 of the token, or of "USER:PASSWORD"
};

}  // namespace aamp::http
