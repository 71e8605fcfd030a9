// reply_fields.cpp — see reply_fields.hpp.
#include "policy/reply_fields.hpp"

#include <array>
#include <cstddef>

#include "policy/text.hpp"

namespace aamp {
namespace {

constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 §3.2.3 atext.
constexpr bool is_atext(char c) noexcept {
  if (is_alnum(c)) return true;
  constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return specials.find(c) != std::string_view::npos;
}

// RFC 5322 §3.2.3 dot-atom-text: 1*atext *("." 1*atext).
bool is_dot_atom_text(std::string_view s) noexcept {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = '\0';
  for (const char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
    prev = c;
  }
  return true;
}

// RFC 5322 §3.4.1 dtext without the obsolete forms: %d33-90 / %d94-126.
bool is_dtext_literal(std::string_view s) noexcept {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return false;
  for (const char c : s.substr(1, s.size() - 2)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == '[' || c == ']' || c == '\\') return false;
  }
  return true;
}

constexpr std::string_view kFallbackDomain = "aamp-milter.invalid";

}  // namespace

bool is_reply_domain(std::string_view domain) noexcept {
  if (domain.empty() || domain.size() > 253) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      const auto label = domain.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
    } else if (!is_alnum(domain[i]) && domain[i] != '-') {
      return false;
    }
  }
  return true;
}

bool is_reply_mailbox(std::string_view address) noexcept {
  if (address.size() > 254) return false;
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return false;
  const auto local = address.substr(0, at);
  return local.size() <= 64 && is_dot_atom_text(local) && is_reply_domain(address.substr(at + 1));
}

bool is_reply_message_id(std::string_view id) noexcept {
  if (id.size() < 5 || id.size() > 250 || id.front() != '<' || id.back() != '>') return false;
  const auto inner = id.substr(1, id.size() - 2);
  const auto at = inner.find('@');
  if (at == std::string_view::npos) return false;
  const auto left = inner.substr(0, at);
  const auto right = inner.substr(at + 1);
  return is_dot_atom_text(left) && (is_dot_atom_text(right) || is_dtext_literal(right));
}

bool is_reply_task_id(std::string_view task_id) noexcept {
  if (task_id.empty() || task_id.size() > 255) return false;
  for (const char c : task_id) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return false;
  }
  return true;
}

std::string make_reply_message_id(Rng& rng, std::string_view domain) {
  std::array<std::byte, 16> bytes{};
  rng.fill(bytes);
  constexpr std::string_view hex = "0123456789abcdef";
  std::string id = "<aamp-pair.";
  for (const std::byte b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    id.push_back(hex[v >> 4]);
    id.push_back(hex[v & 0xf]);
  }
  id.push_back('@');
  const std::string lower = to_lower(domain);
  // A message id must stay short and header-safe; fall back rather than fail the pairing.
  id += (is_reply_domain(lower) && lower.size() <= 200) ? std::string_view(lower) : kFallbackDomain;
  id.push_back('>');
  return id;
}

}  // namespace aamp
