// pair_code.hpp — pair codes are authorization tokens (brief §2): stored only as a hash,
// compared in constant time, never logged whole. Pure functions over OpenSSL's SHA-256.
#pragma once

#include <string>
#include <string_view>

namespace aamp {

// Hex SHA-256 of a domain-separation prefix and the code. Codes carry at least 48 random
// bits and live minutes, so an unsalted fast hash is enough (docs/decisions.md).
std::string hash_pair_code(std::string_view code);

// Constant-time equality of two hashes (CRYPTO_memcmp); false when lengths differ.
bool same_hash(std::string_view a, std::string_view b) noexcept;

// What logs and audit rows may show of a code: its first two characters and its length,
// e.g. "7r…(8)". Empty input gives "".
std::string redact_code(std::string_view code);

}  // namespace aamp
