// config_lists.hpp — the list values a configuration may keep in files of their own:
// InternalHosts (inline networks and `file:` lists of them) and the SenderLogins file.
// Files are read through the caller's FileReader, so the fuzz target never touches disk.
// No libmilter, no SQLite. Threading: plain functions over their arguments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "milter/config.hpp"
#include "milter/config_reader.hpp"
#include "policy/policy.hpp"

namespace aamp::milter::config_file {

// Networks, comma- or space-separated, and `file:PATH` items naming files of them (one or
// more per line, `#` comments); a relative PATH is resolved against `base_dir`. A bad
// entry in a file is reported as "PATH:LINE: ENTRY: what is wrong".
Problem add_cidrs(std::string_view value, const std::string& base_dir, const FileReader& read_file,
                  std::vector<Cidr>& out);

// The SenderLogins file: "LOGIN PATTERN[, PATTERN...]" per line; a login may appear on
// several lines (its patterns add up). Errors read "PATH:LINE: what is wrong".
Problem load_sender_logins(const std::string& path, const FileReader& read_file, std::vector<LoginGrant>& out);

}  // namespace aamp::milter::config_file
