// config_values.hpp — the small value grammars the configuration keys share: numbers in a
// range, yes/no, comma-or-space lists, printable tokens, paths relative to a base
// directory. parse_duration and syslog_facility_code are public (config.hpp). Pure: no
// file system access, no libmilter, no SQLite. Threading: plain functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aamp::milter::config_file {

// A decimal number from `lo` to `hi`, digits only (no sign, no white space).
std::optional<int> parse_int_in(std::string_view s, int lo, int hi);

// yes/true/on/1 or no/false/off/0, any case.
std::optional<bool> parse_bool(std::string_view s);

// Splits a list on commas and white space; empty items vanish.
std::vector<std::string> split_list(std::string_view s);

// Non-empty, and every byte printable ASCII other than space (0x21..0x7e).
bool printable_token(std::string_view s);

// `path` against `base_dir`, unless it is absolute or either is empty.
std::string resolve(const std::string& base_dir, std::string_view path);

}  // namespace aamp::milter::config_file
