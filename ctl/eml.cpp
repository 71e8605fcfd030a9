// eml.cpp — see eml.hpp.
#include "ctl/eml.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

namespace aamp::ctl {

namespace {

constexpr std::size_t kMaxHeaderSection = 1U << 20;  // far above Postfix's header_size_limit
constexpr std::size_t kChunk = 64 * 1024;

using FilePtr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// The end of the header section (RFC 5322 §2.1: the first empty line), searching from
// `from`; npos while it has not been read yet.
std::size_t header_end(const std::string& text, std::size_t from) {
  for (std::size_t i = text.find('\n', from); i != std::string::npos; i = text.find('\n', i + 1)) {
    if (i + 1 < text.size() && text[i + 1] == '\n') return i + 2;
    if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') return i + 3;
  }
  return std::string::npos;
}

// Reads until the header section is complete (or the file ends), never past the bound.
std::string read_section(std::FILE* in, const std::string& name) {
  std::string text;
  std::vector<char> buffer(kChunk);
  std::size_t scanned = 0;
  while (true) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), in);
    text.append(buffer.data(), n);
    if (header_end(text, scanned) != std::string::npos) return text;
    scanned = text.size() > 2 ? text.size() - 2 : 0;
    if (text.size() > kMaxHeaderSection)
      throw ReadError{fmt::format("{}: the header section is longer than {} bytes", name, kMaxHeaderSection)};
    if (n < buffer.size()) break;
  }
  if (std::ferror(in) != 0) throw ReadError{fmt::format("{}: read error: {}", name, std::strerror(errno))};
  return text;
}

}  // namespace

std::string read_header_section(const std::string& path) {
  if (path == "-") return read_section(stdin, "-");
  FilePtr f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw ReadError{fmt::format("cannot open {}: {}", path, std::strerror(errno))};
  return read_section(f.get(), path);
}


}  // namespace aamp::ctl
