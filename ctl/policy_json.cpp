// policy_json.cpp — see policy_json.hpp.
#include "ctl/policy_json.hpp"

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "ctl/cli.hpp"
#include "policy/encodings.hpp"
#include "policy/trust.hpp"

namespace aamp::ctl {

namespace {

using Json = nlohmann::ordered_json;  // keys in the order written: the documented order

std::string time_json(UnixTime t) { return format_rfc3339(t); }

Json rules_json(const ContextRules& rules) {
  Json out = Json::object();
  for (const auto& [key, values] : rules) out[key] = values;
  return out;
}

Json mailbox_json(const store::MailboxEntry& e) {
  Json intents = Json::array();
  for (const auto i : e.mailbox.guarded_intents) intents.push_back(std::string(to_string(i)));
  Json trust = Json::array();
  for (const auto name : trust_names(e.mailbox.trust)) trust.push_back(std::string(name));
  Json out = {{"address", e.mailbox.address},     {"mode", std::string(to_string(e.mailbox.mode))},
              {"intents", intents},               {"trust", trust},
              {"note", e.note},                   {"createdAt", time_json(e.created_at)},
              {"createdBy", e.created_by},        {"updatedAt", time_json(e.updated_at)}};
  add_thread_settings(out, e.mailbox);
  return out;
}

Json rule_json(const store::RuleEntry& e) {
  return {{"mailbox", e.mailbox},
          {"pattern", e.rule.pattern},
          {"origin", std::string(to_string(e.rule.origin))},
          {"context", rules_json(e.rule.context)},
          {"note", e.rule.note},
          {"createdAt", time_json(e.rule.created_at)},
          {"createdBy", e.rule.created_by},
          {"updatedAt", time_json(e.updated_at)}};
}

Json code_json(const store::PairCodeEntry& e) {
  return {{"mailbox", e.mailbox},
          {"codeHash", e.code_hash},
          {"address", e.address.empty() ? Json(nullptr) : Json(e.address)},
          {"rules", rules_json(e.rules)},
          {"expiresAt", time_json(e.expires_at)},
          {"note", e.note},
          {"createdAt", time_json(e.created_at)},
          {"createdBy", e.created_by}};
}

Json lockout_json(const store::LockoutEntry& e) {
  Json out = Json::object();
  if (!e.mailbox.empty()) out["mailbox"] = e.mailbox;
  else out["requester"] = e.requester;
  out["lockedAt"] = time_json(e.locked_at);
  out["until"] = time_json(e.until);
  out["failures"] = e.failures;
  return out;
}

// --- reading: every accessor names the field it refuses -------------------------------

[[noreturn]] void bad(const std::string& path, std::string_view why) {
  throw UsageError(fmt::format("{}: {}", path, why));
}

std::string at(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

// An object with no fields but `known`: a misspelt field is an error, not ignored.
const Json& object(const Json& v, const std::string& path, std::initializer_list<std::string_view> known) {
  if (!v.is_object()) bad(path.empty() ? "the document" : path, "is not a JSON object");
  for (const auto& [key, value] : v.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      bad(at(path, key), fmt::format("unknown field (known: {})", fmt::join(known, ", ")));
  return v;
}

const Json& member(const Json& obj, const std::string& path, std::string_view key) {
  const auto it = obj.find(std::string(key));
  if (it == obj.end()) bad(at(path, key), "is missing");
  return *it;
}

std::string text(const Json& obj, const std::string& path, std::string_view key) {
  const Json& v = member(obj, path, key);
  if (!v.is_string()) bad(at(path, key), "is not a string");
  return v.get<std::string>();
}

// A string field that may be absent or null ("").
std::string optional_text(const Json& obj, const std::string& path, std::string_view key) {
  const auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return {};
  return text(obj, path, key);
}

std::string note(const Json& obj, const std::string& path) { return optional_text(obj, path, "note"); }

UnixTime time_field(const Json& obj, const std::string& path, std::string_view key) {
  const std::string t = text(obj, path, key);
  const auto parsed = parse_rfc3339(t);
  if (!parsed) bad(at(path, key), fmt::format("'{}' is not an RFC 3339 time like 2026-08-01T12:00:00Z", t));
  return *parsed;
}

std::int64_t integer(const Json& obj, const std::string& path, std::string_view key) {
  const Json& v = member(obj, path, key);
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0) bad(at(path, key), "is not a whole number >= 0");
  return v.get<std::int64_t>();
}

template <typename T, std::size_t N>
T name_field(const Json& obj, const std::string& path, std::string_view key, const NameTable<T, N>& names);

// A name that may be absent or null (nullopt: the global setting holds).
template <typename T, std::size_t N>
std::optional<T> optional_name_field(const Json& obj, const std::string& path, std::string_view key,
                                     const NameTable<T, N>& names) {
  const auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return std::nullopt;
  return name_field(obj, path, key, names);
}

template <typename T, std::size_t N>
T name_field(const Json& obj, const std::string& path, std::string_view key, const NameTable<T, N>& names) {
  const std::string v = text(obj, path, key);
  if (const auto value = parse_name(names, v)) return *value;
  bad(at(path, key), fmt::format("'{}' is not one of {}", v, join_names(names, ", ", ", ")));
}

const Json& array(const Json& obj, const std::string& path, std::string_view key) {
  const Json& v = member(obj, path, key);
  if (!v.is_array()) bad(at(path, key), "is not an array");
  return v;
}

std::vector<std::string> strings(const Json& obj, const std::string& path, std::string_view key) {
  std::vector<std::string> out;
  const Json& list = array(obj, path, key);
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) bad(fmt::format("{}[{}]", at(path, key), i), "is not a string");
    out.push_back(list[i].get<std::string>());
  }
  return out;
}

ContextRules rules_field(const Json& obj, const std::string& path, std::string_view key) {
  const Json& v = member(obj, path, key);
  if (!v.is_object()) bad(at(path, key), "is not a JSON object of key -> [values]");
  auto rules = parse_context_rules_json(v.dump());  // the grammar of --context-json
  if (!rules) bad(at(path, key), rules.error());
  return std::move(rules).value();
}

store::MailboxEntry read_mailbox(const Json& v, const std::string& path) {
  object(v, path, {"address", "mode", "intents", "trust", "note", "createdAt", "createdBy", "updatedAt",
                   "threadBinding", "unknownThreads"});
  store::MailboxEntry e;
  e.mailbox.address = text(v, path, "address");
  e.mailbox.mode = name_field(v, path, "mode", kMailboxModeNames);
  e.mailbox.guarded_intents.clear();
  for (const auto& name : strings(v, path, "intents")) {
    const auto intent = parse_intent(name);
    if (!intent) bad(at(path, "intents"), fmt::format("'{}' is not an AAMP intent", name));
    e.mailbox.guarded_intents.push_back(*intent);
  }
  e.mailbox.trust = 0;
  for (const auto& name : strings(v, path, "trust")) {
    const auto basis = parse_name(kTrustBasisNames, name);
    if (!basis)
      bad(at(path, "trust"), fmt::format("'{}' is not one of {}", name, join_names(kTrustBasisNames, ", ", ", ")));
    e.mailbox.trust |= *basis;
  }
  // Absent in exports made before thread binding: the global settings hold.
  e.mailbox.thread_binding = optional_name_field(v, path, "threadBinding", kMailboxModeNames);
  e.mailbox.unknown_threads = optional_name_field(v, path, "unknownThreads", kUnknownThreadsNames);
  e.note = note(v, path);
  e.created_at = time_field(v, path, "createdAt");
  e.created_by = text(v, path, "createdBy");
  e.updated_at = time_field(v, path, "updatedAt");
  return e;
}

store::RuleEntry read_rule(const Json& v, const std::string& path) {
  object(v, path, {"mailbox", "pattern", "origin", "context", "note", "createdAt", "createdBy", "updatedAt"});
  store::RuleEntry e;
  e.mailbox = text(v, path, "mailbox");
  e.rule.pattern = text(v, path, "pattern");
  e.rule.origin = name_field(v, path, "origin", kRuleOriginNames);
  e.rule.context = rules_field(v, path, "context");
  e.rule.note = note(v, path);
  e.rule.created_at = time_field(v, path, "createdAt");
  e.rule.created_by = text(v, path, "createdBy");
  e.updated_at = time_field(v, path, "updatedAt");
  return e;
}

store::PairCodeEntry read_code(const Json& v, const std::string& path) {
  object(v, path, {"mailbox", "codeHash", "address", "rules", "expiresAt", "note", "createdAt", "createdBy"});
  store::PairCodeEntry e;
  e.mailbox = text(v, path, "mailbox");
  e.code_hash = text(v, path, "codeHash");
  e.address = optional_text(v, path, "address");
  e.rules = rules_field(v, path, "rules");
  e.expires_at = time_field(v, path, "expiresAt");
  e.note = note(v, path);
  e.created_at = time_field(v, path, "createdAt");
  e.created_by = text(v, path, "createdBy");
  return e;
}

store::LockoutEntry read_lockout(const Json& v, const std::string& path) {
  object(v, path, {"mailbox", "requester", "lockedAt", "until", "failures"});
  store::LockoutEntry e;
  e.mailbox = optional_text(v, path, "mailbox");
  e.requester = optional_text(v, path, "requester");
  if (e.mailbox.empty() == e.requester.empty()) bad(path, "give either \"mailbox\" or \"requester\"");
  e.locked_at = time_field(v, path, "lockedAt");
  e.until = time_field(v, path, "until");
  e.failures = integer(v, path, "failures");
  return e;
}

template <typename Row>
std::vector<Row> rows(const Json& doc, std::string_view key, Row (*read)(const Json&, const std::string&)) {
  std::vector<Row> out;
  const Json& list = array(doc, "", key);
  for (std::size_t i = 0; i < list.size(); ++i) out.push_back(read(list[i], fmt::format("{}[{}]", key, i)));
  return out;
}

}  // namespace

std::string policy_document(const store::PolicySnapshot& s) {
  Json doc = {{"format", kPolicyFormat}, {"version", kPolicyFormatVersion}};
  auto list = [](const auto& rows, auto to_json) {
    Json out = Json::array();
    for (const auto& r : rows) out.push_back(to_json(r));
    return out;
  };
  doc["mailboxes"] = list(s.mailboxes, mailbox_json);
  doc["senderRules"] = list(s.rules, rule_json);
  doc["pairCodes"] = list(s.pair_codes, code_json);
  doc["lockouts"] = list(s.lockouts, lockout_json);
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

store::PolicySnapshot parse_policy_document(std::string_view text_in) {
  Json doc;
  try {
    doc = Json::parse(text_in);
  } catch (const Json::parse_error& e) {
    throw UsageError(fmt::format("not a JSON document: {}", e.what()));
  }
  object(doc, "", {"format", "version", "mailboxes", "senderRules", "pairCodes", "lockouts"});
  if (text(doc, "", "format") != kPolicyFormat)
    bad("format", fmt::format("is not \"{}\" (not an aampctl export)", kPolicyFormat));
  if (integer(doc, "", "version") != kPolicyFormatVersion)
    bad("version", fmt::format("this aampctl reads version {} only", kPolicyFormatVersion));
  store::PolicySnapshot s;
  s.mailboxes = rows(doc, "mailboxes", read_mailbox);
  s.rules = rows(doc, "senderRules", read_rule);
  s.pair_codes = rows(doc, "pairCodes", read_code);
  s.lockouts = rows(doc, "lockouts", read_lockout);
  return s;
}

}  // namespace aamp::ctl
