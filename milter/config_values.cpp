// config_values.cpp — see config_values.hpp; also parse_duration and syslog_facility_code
// of config.hpp.
#include "milter/config_values.hpp"

#include <syslog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>

#include "milter/config.hpp"
#include "policy/duration.hpp"
#include "policy/text.hpp"

namespace aamp::milter {

namespace config_file {

namespace {

bool parse_uint(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

}  // namespace

std::optional<int> parse_int_in(std::string_view s, int lo, int hi) {
  std::uint64_t v = 0;
  if (!parse_uint(s, v) || v < static_cast<std::uint64_t>(lo) || v > static_cast<std::uint64_t>(hi))
    return std::nullopt;
  return static_cast<int>(v);
}

std::optional<bool> parse_bool(std::string_view s) {
  const std::string v = to_lower(s);
  if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
  if (v == "no" || v == "false" || v == "off" || v == "0") return false;
  return std::nullopt;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool printable_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string resolve(const std::string& base_dir, std::string_view path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return std::string(path);
  return (std::filesystem::path(base_dir) / std::filesystem::path(path)).lexically_normal().string();
}

}  // namespace config_file

std::optional<int> syslog_facility_code(std::string_view name) noexcept {
  static constexpr std::array<std::pair<std::string_view, int>, 12> kFacilities = {{
      {"mail", LOG_MAIL},
      {"daemon", LOG_DAEMON},
      {"user", LOG_USER},
      {"local0", LOG_LOCAL0},
      {"local1", LOG_LOCAL1},
      {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3},
      {"local4", LOG_LOCAL4},
      {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6},
      {"local7", LOG_LOCAL7},
      {"auth", LOG_AUTH},
  }};
  for (const auto& [n, code] : kFacilities)
    if (iequals(n, name)) return code;
  return std::nullopt;
}

Result<std::int64_t> parse_duration(std::string_view text) {
  auto ms = parse_duration_ms(text);
  if (!ms) return Error{ms.error()};
  if (*ms % 1000 != 0) return Error{"this duration is counted in whole seconds"};
  return *ms / 1000;
}

}  // namespace aamp::milter
