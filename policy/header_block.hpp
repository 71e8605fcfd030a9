// header_block.hpp — splits an RFC 5322 header section (as stored in a .eml file) into
// header fields the way an MTA hands them to a milter: name as sent, value with its folds
// kept and the white space after the colon removed. For aampctl, tests and fuzz targets;
// the milter gets its fields from libmilter instead. Pure and reentrant.
#pragma once

#include <cstddef>
#include <string_view>

#include "policy/header_field.hpp"

namespace aamp {

struct HeaderBlock {
  HeaderList fields;
  std::size_t size = 0;      // bytes of input consumed, including the empty line if any
  bool complete = false;     // an empty line ended the section (else the input ran out)
};

// RFC 5322 §2.2: a field is "name:value" on one line, continued by lines starting with
// SP or HTAB (§2.2.3); the section ends at the first empty line (§2.1). CRLF and bare LF
// both end a line. A line that is neither a field nor a continuation becomes a field with
// an empty name and the line as its value, so the validator reports it (malformed-header).
// A leading mbox "From " separator line is skipped.
HeaderBlock split_header_block(std::string_view text);

}  // namespace aamp
