// cmd_validate.cpp — `aampctl validate [--mode strict|sdk] [--json] FILE.eml...`: runs the
// milter's validator over the header section of each file ("-" is stdin) and prints one
// line per file. Exit 0 when no file is invalid, 1 when any is, 2 on usage or I/O errors
// (the other files are still checked). Needs no database.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ctl/commands.hpp"
#include "policy/header_block.hpp"
#include "policy/validator.hpp"

namespace aamp::ctl {

namespace {

constexpr std::size_t kMaxHeaderSection = 1U << 20;  // far above Postfix's header_size_limit
constexpr std::size_t kChunk = 64 * 1024;

using FilePtr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// An I/O problem with one file: reported on stderr, exit status 2.
struct ReadError {
  std::string message;
};

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
std::string read_header_section(std::FILE* in, const std::string& name) {
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

std::string read_file(const std::string& path) {
  if (path == "-") return read_header_section(stdin, "-");
  FilePtr f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw ReadError{fmt::format("cannot open {}: {}", path, std::strerror(errno))};
  return read_header_section(f.get(), path);
}

// File names go on one output line: show control characters escaped.
std::string shown_name(const std::string& path) {
  std::string out;
  for (const char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else out += c;
  }
  return out;
}

std::string text_line(const std::string& file, const Validation& v) {
  const AampMessage& m = v.message;
  switch (v.verdict) {
    case Verdict::not_aamp: return fmt::format("{}: not-aamp", file);
    case Verdict::valid:
      return fmt::format("{}: valid {} task {} version {}", file, m.intent_text, m.task_id, m.version);
    case Verdict::invalid: break;
  }
  std::string line = fmt::format("{}: invalid:", file);
  for (std::size_t i = 0; i < v.violations.size(); ++i) {
    const Violation& x = v.violations[i];
    line += fmt::format("{} [{} {}] {}", i == 0 ? "" : ";", to_string(x.code), x.field, x.message);
  }
  return line;
}

using Json = nlohmann::ordered_json;  // keys in the documented order

Json or_null(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json json_line(const std::string& file, const Validation& v) {
  Json errors = Json::array();
  for (const auto& x : v.violations)
    errors.push_back({{"code", std::string(to_string(x.code))}, {"field", x.field}, {"message", x.message}});
  const bool aamp = v.verdict != Verdict::not_aamp;
  return {{"file", file},
          {"verdict", std::string(to_string(v.verdict))},
          {"intent", aamp ? or_null(v.message.intent_text) : nullptr},
          {"taskId", aamp ? or_null(v.message.task_id) : nullptr},
          {"version", aamp ? or_null(v.message.version) : nullptr},
          {"errors", errors}};
}

ValidationMode parse_mode(const std::optional<std::string>& mode) {
  if (!mode || *mode == "strict") return ValidationMode::strict;
  if (*mode == "sdk") return ValidationMode::sdk;
  throw UsageError("--mode must be strict or sdk, not '" + *mode + "'");
}

}  // namespace

int cmd_validate(Cli& cli, const Globals& g) {
  const ValidatorOptions options{parse_mode(cli.option("--mode"))};
  const bool json = cli.flag("--json") || g.json;
  const std::vector<std::string> files = cli.rest();
  cli.finish();
  if (files.empty()) throw UsageError("validate needs at least one FILE.eml (or - for stdin)");
  if (std::count(files.begin(), files.end(), "-") > 1) throw UsageError("stdin (-) can be read only once");

  bool any_invalid = false;
  bool any_error = false;
  for (const auto& path : files) {
    std::string text;
    try {
      text = read_file(path);
    } catch (const ReadError& e) {
      fmt::print(stderr, "aampctl: {}\n", e.message);
      any_error = true;
      continue;
    }
    const Validation v = validate(split_header_block(text).fields, options);
    any_invalid = any_invalid || v.verdict == Verdict::invalid;
    if (json) fmt::print("{}\n", json_line(path, v).dump(-1, ' ', false, Json::error_handler_t::replace));
    else fmt::print("{}\n", text_line(shown_name(path), v));
    std::fflush(stdout);
  }
  return any_error ? 2 : any_invalid ? 1 : 0;
}

}  // namespace aamp::ctl
