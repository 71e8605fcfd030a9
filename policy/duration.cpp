// duration.cpp — see duration.hpp.
#include "policy/duration.hpp"

#include <string>

#include "policy/text.hpp"

namespace aamp {

namespace {

constexpr std::int64_t kMaxMs = 10LL * 366 * 86'400'000;  // ten years

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Milliseconds in one unit; 0 when the unit is unknown.
std::int64_t unit_ms(std::string_view unit) {
  const std::string u = to_lower(unit);
  if (u == "ms") return 1;
  if (u == "s") return 1000;
  if (u == "m") return 60'000;
  if (u == "h") return 3'600'000;
  if (u == "d") return 86'400'000;
  return 0;
}

}  // namespace

Result<std::int64_t> parse_duration_ms(std::string_view text) {
  text = trim(text);
  constexpr const char* kGrammar =
      "not a duration: a duration is a number with a unit (500ms, 30s, 15m, 2h, 1d, or combined as 1h30m)";
  if (text.empty()) return Error{"the duration is empty"};
  if (!is_digit(text.front())) return Error{kGrammar};
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) return Error{kGrammar};
    std::int64_t n = 0;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxMs) return Error{"a duration cannot exceed ten years"};
    }
    const std::size_t unit_start = i;
    while (i < text.size() && !is_digit(text[i])) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t scale = 1000;  // a bare number is seconds, but only on its own ("1h30" is ambiguous)
    if (unit.empty()) {
      if (total != 0) return Error{"the duration ends without a unit (is 1h30 meant as 1h30m?)"};
    } else {
      scale = unit_ms(unit);
      if (scale == 0) return Error{"unknown duration unit '" + std::string(unit) + "' (use ms, s, m, h or d)"};
    }
    if (n > (kMaxMs - total) / scale) return Error{"a duration cannot exceed ten years"};
    total += n * scale;
  }
  return total;
}

}  // namespace aamp
