// clock.hpp — time and randomness, injected so the policy layer stays deterministic under
// test. Nothing under policy/ calls now() or RAND_bytes itself; the real implementations
// live in platform/. Implementations must be safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace aamp {

using UnixTime = std::int64_t;  // seconds since 1970-01-01T00:00:00Z

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixTime now() const = 0;
};

class Rng {
 public:
  virtual ~Rng() = default;
  // Fills `out` with unpredictable bytes (a CSPRNG in production). Throws on failure.
  virtual void fill(std::span<std::byte> out) = 0;
};

}  // namespace aamp
