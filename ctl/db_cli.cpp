// db_cli.cpp — see db_cli.hpp.
#include "ctl/db_cli.hpp"

#include "policy/duration.hpp"
#include "policy/trust.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "platform/system.hpp"
#include "policy/encodings.hpp"

namespace aamp::ctl {

store::PolicyAdmin open_admin(const Globals& g) { return store::PolicyAdmin(database_path(g)); }

std::string operator_name() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') return sudo;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) return pw->pw_name;
  return "uid:" + std::to_string(getuid());
}

UnixTime now() { return SystemClock().now(); }

UnixTime parse_duration(std::string_view text, std::string_view what, UnixTime max) {
  const auto bad = [&](std::string_view why) {
    return UsageError(fmt::format("{} '{}': {}", what, text, why));
  };
  const auto ms = parse_duration_ms(text);  // the config file's grammar too
  if (!ms) throw bad(ms.error());
  if (*ms % 1000 != 0) throw bad("is counted in whole seconds");
  const UnixTime total = *ms / 1000;
  if (total <= 0) throw bad("must be more than zero");
  if (total > max) throw bad(fmt::format("is longer than the maximum of {}s", max));
  return total;
}

UnixTime parse_time(std::string_view text, UnixTime now_t, std::string_view what) {
  if (auto t = parse_rfc3339(text)) return *t;
  // YYYY-MM-DD: midnight UTC that day.
  if (text.size() == 10 && text[4] == '-' && text[7] == '-')
    if (auto t = parse_rfc3339(std::string(text) + "T00:00:00Z")) return *t;
  if (!text.empty() && text.front() >= '0' && text.front() <= '9' && text.find_first_of("smhd") != std::string_view::npos) {
    try {
      return now_t - parse_duration(text, what, std::numeric_limits<UnixTime>::max());
    } catch (const UsageError&) {
    }
  }
  throw UsageError(fmt::format("{} '{}' is not a time (use RFC 3339 like 2026-08-01T12:00:00Z, a date like "
                               "2026-08-01, or a duration ago like 1h or 7d)",
                               what, text));
}

namespace {
std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const auto p = text.find(sep);
    out.push_back(text.substr(0, p));
    if (p == std::string_view::npos) break;
    text.remove_prefix(p + 1);
  }
  return out;
}

bool is_key_char(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }
}  // namespace

TrustSet parse_trust(std::string_view text) {
  const auto t = aamp::parse_trust(text);  // the config file's grammar too
  if (!t) throw UsageError(fmt::format("--trust '{}': {}", text, t.error()));
  return *t;
}

std::string trust_text(TrustSet trust) { return trust == kAnyTrust ? "any" : trust_to_string(trust); }

std::vector<Intent> parse_intents(std::string_view text) {
  if (text == "none") return {};
  std::vector<Intent> out;
  for (const auto word : split(text, ',')) {
    const auto intent = parse_intent(word);
    if (!intent)
      throw UsageError(fmt::format("--intents '{}': '{}' is not an AAMP intent ({})", text, word,
                                   fmt::join(kIntentNames, ", ")));
    if (std::find(out.begin(), out.end(), *intent) == out.end()) out.push_back(*intent);
  }
  return out;
}

MailboxMode parse_mode_option(std::string_view text) {
  if (const auto mode = parse_name(kMailboxModeNames, text)) return *mode;
  throw UsageError(fmt::format("--mode '{}' is not one of {}", text, join_names(kMailboxModeNames, ", ", ", ")));
}

ContextRules parse_context_rules(const std::vector<std::string>& pairs, const std::optional<std::string>& json,
                                 std::string_view option) {
  ContextRules out;
  if (json) {
    auto parsed = parse_context_rules_json(*json);
    if (!parsed) throw UsageError(fmt::format("{}-json: {}", option, parsed.error()));
    out = std::move(parsed).value();
  }
  for (const auto& pair : pairs) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos)
      throw UsageError(fmt::format("{} '{}' is not key=value1,value2", option, pair));
    std::string key = pair.substr(0, eq);
    std::vector<std::string> values;
    for (const auto v : split(std::string_view(pair).substr(eq + 1), ',')) values.emplace_back(v);
    if (out.contains(key)) throw UsageError(fmt::format("{}: key '{}' is given twice", option, key));
    out.emplace(std::move(key), std::move(values));
  }
  for (const auto& [key, values] : out) {
    if (key.empty() || !std::all_of(key.begin(), key.end(), is_key_char))
      throw UsageError(fmt::format("{}: key '{}' is not [a-z0-9_-]+", option, key));
    if (values.empty()) throw UsageError(fmt::format("{}: key '{}' needs at least one allowed value", option, key));
    for (const auto& v : values) {
      if (v.empty()) throw UsageError(fmt::format("{}: key '{}' has an empty value", option, key));
      if (!is_valid_utf8(v)) throw UsageError(fmt::format("{}: a value of '{}' is not UTF-8", option, key));
    }
  }
  return out;
}

std::string rules_display(const ContextRules& rules) {
  if (rules.empty()) return "-";
  std::string out;
  for (const auto& [key, values] : rules) {
    if (!out.empty()) out += "; ";
    out += fmt::format("{}={}", key, fmt::join(values, ","));
  }
  return out;
}

std::int64_t parse_id(std::string_view text, std::string_view what) {
  std::int64_t id = 0;
  if (text.empty() || text.size() > 18 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw UsageError(fmt::format("{} '{}' is not a number", what, text));
  for (const char c : text) id = id * 10 + (c - '0');
  if (id <= 0) throw UsageError(fmt::format("{} '{}' is not a positive number", what, text));
  return id;
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    fmt::print("{}\n", line);
  };
  print_row(header);
  for (const auto& r : rows) print_row(r);
}

void print_json(const nlohmann::json& value) {
  // Replace, not throw, on invalid UTF-8 from the database: an export must not stop half-way.
  fmt::print("{}\n", value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string time_text(UnixTime t) { return format_rfc3339(t); }

std::string optional_time_text(const std::optional<UnixTime>& t) { return t ? time_text(*t) : "-"; }

nlohmann::json optional_time_json(const std::optional<UnixTime>& t) {
  return t ? nlohmann::json(time_text(*t)) : nlohmann::json(nullptr);
}

}  // namespace aamp::ctl
