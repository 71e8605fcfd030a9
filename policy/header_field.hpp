// header_field.hpp — one header field as the MTA handed it over: name as sent (any case),
// value as sent (possibly folded, possibly trimmed). Pure data.
#pragma once

#include <string>
#include <vector>

namespace aamp {

struct HeaderField {
  std::string name;   // as received; compare with iequals()
  std::string value;  // raw: folding CRLFs kept; unfold() before interpreting
};

using HeaderList = std::vector<HeaderField>;

}  // namespace aamp
