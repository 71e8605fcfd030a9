// config_reader.cpp — see config_reader.hpp.
#include "milter/config_reader.hpp"

#include <fstream>

#include "policy/text.hpp"

namespace aamp::milter::config_file {

std::string_view strip_comment(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i)
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return line.substr(0, i);
  return line;
}

Problem for_each_line(std::string_view text, const std::function<Problem(std::size_t, std::string_view)>& each) {
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.size() > kMaxLine) return std::to_string(number) + ": line longer than 64 KiB";
    line = trim(strip_comment(line));
    if (line.empty()) continue;
    if (auto p = each(number, line)) return p;
  }
  return std::nullopt;
}

Result<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path};
  std::string text;
  text.resize(kMaxListFile + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Error{"cannot read " + path};
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxListFile) return Error{path + " is larger than 16 MiB"};
  return text;
}

}  // namespace aamp::milter::config_file
