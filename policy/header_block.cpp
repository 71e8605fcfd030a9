// header_block.cpp — see header_block.hpp.
#include "policy/header_block.hpp"

#include <string>
#include <utility>

namespace aamp {
namespace {

struct Line {
  std::string_view content;  // without its line ending
  std::string_view ending;   // "\r\n", "\n" or "" at the end of input
};

Line next_line(std::string_view text, std::size_t pos) {
  const std::size_t lf = text.find('\n', pos);
  if (lf == std::string_view::npos) return {text.substr(pos), {}};
  std::size_t end = lf;
  if (end > pos && text[end - 1] == '\r') --end;
  return {text.substr(pos, end - pos), text.substr(end, lf + 1 - end)};
}

}  // namespace

HeaderBlock split_header_block(std::string_view text) {
  HeaderBlock block;
  std::size_t pos = 0;
  bool first = true;
  std::string_view prev_ending;
  while (pos < text.size()) {
    const Line line = next_line(text, pos);
    pos += line.content.size() + line.ending.size();
    if (line.content.empty() && !line.ending.empty()) {
      block.complete = true;
      break;
    }
    if (first && line.content.starts_with("From ")) {  // mbox separator, not a header
      first = false;
      continue;
    }
    first = false;
    const std::string_view ending = std::exchange(prev_ending, line.ending);
    const char lead = line.content.empty() ? '\0' : line.content.front();
    if ((lead == ' ' || lead == '\t') && !block.fields.empty() && !block.fields.back().name.empty()) {
      auto& value = block.fields.back().value;  // keep the fold: unfold() removes it later
      value += ending;
      value += line.content;
      continue;
    }
    const std::size_t colon = line.content.find(':');
    if (colon == std::string_view::npos || lead == ' ' || lead == '\t') {
      block.fields.push_back(HeaderField{{}, std::string(line.content)});
      continue;
    }
    std::string_view value = line.content.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    block.fields.push_back(HeaderField{std::string(line.content.substr(0, colon)), std::string(value)});
  }
  block.size = pos;
  return block;
}

}  // namespace aamp
