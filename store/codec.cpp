// codec.cpp — see codec.hpp.
#include "store/codec.hpp"

#include <fmt/format.h>

#include "policy/encodings.hpp"
#include "policy/text.hpp"

namespace aamp::store {

namespace {
[[noreturn]] void bad(std::string_view column, std::string_view value) {
  throw StoreError(StoreErrorKind::corrupt, fmt::format("unexpected value '{}' in column {}", value, column));
}
}  // namespace

std::string_view mode_name(MailboxMode mode) noexcept {
  switch (mode) {
    case MailboxMode::enforce: return "enforce";
    case MailboxMode::report: return "report";
    case MailboxMode::off: return "off";
  }
  return "enforce";
}

std::optional<MailboxMode> parse_mode(std::string_view text) noexcept {
  if (text == "enforce") return MailboxMode::enforce;
  if (text == "report") return MailboxMode::report;
  if (text == "off") return MailboxMode::off;
  return std::nullopt;
}

MailboxMode mode_column(std::string_view text) {
  if (auto m = parse_mode(text)) return *m;
  bad("mailboxes.mode", text);
}

std::string intents_text(const std::vector<Intent>& intents) {
  std::string out;
  for (const auto i : intents) {
    if (!out.empty()) out += ',';
    out += to_string(i);
  }
  return out;
}

std::vector<Intent> intents_column(std::string_view text) {
  std::vector<Intent> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto name = text.substr(0, comma);
    const auto intent = parse_intent(name);
    if (!intent) bad("mailboxes.intents", name);
    out.push_back(*intent);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string_view kind_name(PatternKind kind) noexcept {
  switch (kind) {
    case PatternKind::exact: return "exact";
    case PatternKind::domain: return "domain";
    case PatternKind::wildcard: return "wildcard";
  }
  return "exact";
}

PatternKind kind_column(std::string_view text) {
  if (text == "exact") return PatternKind::exact;
  if (text == "domain") return PatternKind::domain;
  if (text == "wildcard") return PatternKind::wildcard;
  bad("sender_rules.pattern_kind", text);
}

std::string_view origin_name(RuleOrigin origin) noexcept {
  return origin == RuleOrigin::paired ? "paired" : "configured";
}

RuleOrigin origin_column(std::string_view text) {
  if (text == "configured") return RuleOrigin::configured;
  if (text == "paired") return RuleOrigin::paired;
  bad("sender_rules.origin", text);
}

std::string_view status_name(TaskStatus status) noexcept {
  return status == TaskStatus::rejected ? "rejected" : "completed";
}

TaskStatus status_column(std::string_view text) {
  if (text == "completed") return TaskStatus::completed;
  if (text == "rejected") return TaskStatus::rejected;
  bad("outbox.status", text);
}

std::string rules_text(const ContextRules& rules) { return context_rules_to_json(rules); }

ContextRules rules_column(std::string_view json) {
  auto rules = parse_context_rules_json(json);
  if (!rules) throw StoreError(StoreErrorKind::corrupt, "unreadable context rules in the database: " + rules.error());
  return std::move(rules).value();
}

bool rule_covers(PatternKind kind, std::string_view pattern, std::string_view address) noexcept {
  switch (kind) {
    case PatternKind::exact:
      return iequals(pattern, address);
    case PatternKind::domain: {  // "@d" covers "x@d", not "@d" itself (as matches() does)
      const auto at = address.rfind('@');
      return at != std::string_view::npos && at > 0 && iequals(address.substr(at), pattern);
    }
    case PatternKind::wildcard:
      return glob_match(pattern, address);
  }
  return false;
}

}  // namespace aamp::store
