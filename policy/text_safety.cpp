// text_safety.cpp — see text_safety.hpp. Each function walks bytes (never chars through
// <cctype>, whose answer depends on the locale and on the sign of char).
#include "policy/text_safety.hpp"

#include <algorithm>

#include "policy/text.hpp"

namespace aamp {

namespace {

constexpr std::size_t kMaxMilterReply = 450;

constexpr bool printable(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u < 0x7f;
}

constexpr bool is_control(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

}  // namespace

std::string for_log_line(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 3);
  for (const char c : text.substr(0, max)) out.push_back(printable(c) ? c : '?');
  if (text.size() > max) out += "...";
  return out;
}

std::string for_log_field(std::string_view text, std::size_t max) {
  if (text.empty()) return "-";
  std::string safe = for_log_line(text, max);
  if (safe.find_first_of(" \"\\,") == std::string::npos) return safe;
  std::string out = "\"";
  for (const char c : safe) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string for_smtp_reply(std::string_view text, std::size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out)
    if (!printable(c) || c == '%') c = '?';
  return out;
}

std::string for_echoed_header(std::string_view value, std::size_t max) {
  std::string out(value.substr(0, max));
  for (char& c : out)
    if (!printable(c) || c == ' ' || c == '%') c = '?';
  if (value.size() > max) out += "...";
  return out;
}

std::string for_milter_reply(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxMilterReply));
  for (const char c : text) {
    const std::string_view piece = c == '%' ? "%%" : printable(c) ? std::string_view(&c, 1) : " ";
    if (out.size() + piece.size() > kMaxMilterReply) break;
    out += piece;
  }
  const std::string_view t = trim(out);
  return t.empty() ? std::string("message refused") : std::string(t);
}

std::string for_audit(std::string_view text, std::size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out)
    if (!printable(c)) c = '?';
  return out;
}

std::string as_ar_value(std::string_view value) {
  const bool bare = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("@._+-/").find(c) != std::string_view::npos;
  });
  if (bare) return std::string(value);
  std::string out = "\"";
  for (const char c : for_audit(value)) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string for_header_value(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max));
  for (const char c : text) {
    const char clean = is_control(c) ? ' ' : static_cast<unsigned char>(c) >= 0x80 ? '?' : c;
    if (clean == ' ' && (out.empty() || out.back() == ' ')) continue;  // collapse, and trim the front
    out.push_back(clean);
    if (out.size() >= max) break;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string for_terminal(std::string_view text) {
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (!is_control(c)) {
      out.push_back(c);
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    out += "\\x";
    out.push_back(hex[u >> 4]);
    out.push_back(hex[u & 0xf]);
  }
  return out;
}

}  // namespace aamp
