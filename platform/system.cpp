// system.cpp — see system.hpp.
#include "platform/system.hpp"

#include <openssl/rand.h>

#include <chrono>
#include <climits>
#include <stdexcept>
#include <vector>

#include "policy/encodings.hpp"

namespace aamp {

UnixTime SystemClock::now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void CryptoRng::fill(std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {  // RAND_bytes takes an int
    const auto chunk = static_cast<int>(std::min<std::size_t>(out.size() - done, INT_MAX));
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), chunk) != 1)
      throw std::runtime_error("OpenSSL RAND_bytes failed: the CSPRNG is not seeded");
    done += static_cast<std::size_t>(chunk);
  }
}

std::string random_token(Rng& rng, std::size_t bytes) {
  std::vector<std::byte> buf(bytes);
  rng.fill(buf);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

}  // namespace aamp
