// text.cpp — see text.hpp.
#include "policy/text.hpp"

namespace aamp {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string_view trim(std::string_view s) noexcept {
  constexpr std::string_view ws = " \t\r\n";
  const auto first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(ws);
  return s.substr(first, last - first + 1);
}

std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;  // the LF decides
    if (c == '\n') {
      const bool folds = i + 1 < value.size() && (value[i + 1] == ' ' || value[i + 1] == '\t');
      if (folds) continue;
      out.push_back(' ');  // a bare line break that does not fold: keep the words apart
      continue;
    }
    out.push_back(c);
  }
  return std::string(trim(out));
}

}  // namespace aamp
