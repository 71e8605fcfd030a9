// config_reader.hpp — reading the lines of a configuration file or of a list file it names:
// size limits, `#` comments, blank lines, and the line numbers errors are reported with.
// What a line means is not known here (config_keys.hpp); no libmilter, no SQLite.
// Threading: plain functions over their arguments.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "policy/result.hpp"

namespace aamp::milter::config_file {

// What is wrong with a value or a line; nullopt: it was fine.
using Problem = std::optional<std::string>;

inline constexpr std::size_t kMaxLine = 64 * 1024;     // a config line longer than this is a mistake
inline constexpr std::size_t kMaxListFile = 16 << 20;  // the config, file: lists and SenderLogins

// Drops a comment: '#' at the start of the line or after white space.
std::string_view strip_comment(std::string_view line);

// Calls `each(line_number, content)` for every line of `text` that is not empty once its
// comment and surrounding white space are gone; stops at the first problem. A line longer
// than kMaxLine is "N: line longer than 64 KiB".
Problem for_each_line(std::string_view text, const std::function<Problem(std::size_t, std::string_view)>& each);

// The whole file, at most kMaxListFile bytes.
Result<std::string> read_small_file(const std::string& path);

}  // namespace aamp::milter::config_file
