// text.hpp — small ASCII text helpers shared by the parsers: case-insensitive compare,
// trimming, unfolding (RFC 5322 §2.2.3). Pure; no allocation unless a string is returned.
#pragma once

#include <string>
#include <string_view>

namespace aamp {

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string to_lower(std::string_view s);

// Removes leading and trailing SP, HTAB, CR and LF.
std::string_view trim(std::string_view s) noexcept;

// RFC 5322 §2.2.3: unfolding removes each CRLF (or bare LF) that is followed by WSP.
// The result is trimmed. Postfix passes values folded and with the leading space of the
// header kept off; Stalwart passes them trimmed; both unfold to the same text.
std::string unfold(std::string_view value);

}  // namespace aamp
