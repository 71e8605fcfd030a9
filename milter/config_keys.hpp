// config_keys.hpp — the table of configuration keys: for each lower-case key, the code that
// checks its value and stores it in the Config being built (docs/configuration.md documents
// every key). Which keys may repeat is said here too; the line loop is config.cpp's.
// No libmilter, no SQLite. Threading: the table is built once (a function-local static)
// and only read after.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "milter/config.hpp"
#include "milter/config_reader.hpp"

namespace aamp::milter::config_file {

// The state while parsing: which keys were seen where, and the list values to post-process.
struct Parser {
  Config cfg;
  std::string base_dir;
  FileReader read_file;
  std::map<std::string, std::size_t> seen;  // lower-case key -> line
  std::string sender_logins_path;
};

// Checks one value and stores it in `Parser::cfg`; the problem is worded without the key.
using Handler = std::function<Problem(Parser&, std::string_view)>;

// Keys that may be given several times; their values add up.
inline constexpr std::array<std::string_view, 2> kListKeys = {"internalhosts", "trustedauthservids"};

// Every key, lower-case.
const std::map<std::string, Handler, std::less<>>& handlers();

}  // namespace aamp::milter::config_file
