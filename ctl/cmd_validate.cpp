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
#include "ctl/eml.hpp"
#include "policy/header_block.hpp"
#include "policy/text_safety.hpp"
#include "policy/validator.hpp"

namespace aamp::ctl {

namespace {

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

int run_validate(const Globals& g, const std::optional<std::string>& mode, const std::vector<std::string>& files) {
  const ValidatorOptions options{parse_mode(mode)};
  const bool json = g.json;
  if (files.empty()) throw UsageError("validate needs at least one FILE.eml (or - for stdin)");
  if (std::count(files.begin(), files.end(), "-") > 1) throw UsageError("stdin (-) can be read only once");

  bool any_invalid = false;
  bool any_error = false;
  for (const auto& path : files) {
    std::string text;
    try {
      text = read_header_section(path);
    } catch (const ReadError& e) {
      fmt::print(stderr, "aampctl: {}\n", e.message);
      any_error = true;
      continue;
    }
    const Validation v = validate(split_header_block(text).fields, options);
    any_invalid = any_invalid || v.verdict == Verdict::invalid;
    if (json) fmt::print("{}\n", json_line(path, v).dump(-1, ' ', false, Json::error_handler_t::replace));
    else fmt::print("{}\n", text_line(for_terminal(path), v));
    (void)std::fflush(stdout);
  }
  return any_error ? 2 : any_invalid ? 1 : 0;
}

}  // namespace

void add_validate(Commands& c) {
  struct Args {
    std::optional<std::string> mode;
    std::vector<std::string> files;
  };
  auto a = std::make_shared<Args>();
  auto& cmd = c.add(c.root(), "validate", "validate [--mode strict|sdk] [--json] FILE.eml...",
                    "check the AAMP headers of mail files (- = stdin)");
  Commands::option(cmd, "--mode", a->mode, "strict|sdk", "validation mode (default strict)");
  Commands::positionals(cmd, "FILE.eml", a->files, "mail files to check; - reads standard input");
  c.runs(cmd, [a, &c] { return run_validate(c.globals(), a->mode, a->files); });
}

}  // namespace aamp::ctl
