// system.hpp — the production Clock (the system's real-time clock) and Rng (OpenSSL's
// CSPRNG, RAND_bytes). Both are stateless and safe to share between threads.
#pragma once

#include <string>

#include "policy/clock.hpp"

namespace aamp {

class SystemClock final : public Clock {
 public:
  UnixTime now() const override;
};

class CryptoRng final : public Rng {
 public:
  void fill(std::span<std::byte> out) override;  // throws std::runtime_error when OpenSSL fails
};

// `bytes` random bytes from `rng`, base64url without padding (pair codes, message ids).
std::string random_token(Rng& rng, std::size_t bytes);

}  // namespace aamp
