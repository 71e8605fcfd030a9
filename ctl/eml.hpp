// eml.hpp — reading the header section of a mail file (.eml, or "-" for stdin) for the
// commands that judge messages offline (validate, check): up to the first empty line,
// never more than 1 MiB. Single-threaded, like aampctl.
#pragma once

#include <string>

namespace aamp::ctl {

// An I/O problem with one file ("cannot open x.eml: No such file or directory").
struct ReadError {
  std::string message;
};

// The bytes of `path` up to and including the empty line that ends its header section
// (or the whole file when it has none). Throws ReadError.
std::string read_header_section(const std::string& path);

}  // namespace aamp::ctl
