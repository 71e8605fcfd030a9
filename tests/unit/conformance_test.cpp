// conformance_test.cpp — the six cases of the official AAMP parser fixtures
// (tests/conformance/parser.json) through validate(): every header-derived expected field
// must come out as the reference parsers produce it. Body-derived fields (title, question,
// output, suggestedOptions from the body, bodyText) are out of the validator's scope.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "policy/encodings.hpp"
#include "policy/validator.hpp"
#include "tests/support/paths.hpp"

namespace aamp {
namespace {

using Json = nlohmann::json;

// Fields of `expected` that come from the body or the envelope, not from headers.
const std::set<std::string> kOutOfScope = {"title", "question", "output", "suggestedOptions", "blockedReason",
                                           "bodyText", "to", "success"};

Json load_fixtures() {
  std::ifstream in(test::source_dir() + "/tests/conformance/parser.json");
  if (!in) return Json();
  return Json::parse(in, nullptr, /*allow_exceptions=*/false);
}

HeaderList headers_of(const Json& input) {
  HeaderList h;
  h.push_back({"From", input.at("from").get<std::string>()});
  h.push_back({"To", input.at("to").get<std::string>()});
  h.push_back({"Message-ID", input.at("messageId").get<std::string>()});
  h.push_back({"Subject", input.at("subject").get<std::string>()});
  for (const auto& [name, value] : input.at("headers").items()) h.push_back({name, value.get<std::string>()});
  return h;
}

std::string priority_name(std::optional<Priority> p) {
  if (!p) return "";
  switch (*p) {
    case Priority::urgent: return "urgent";
    case Priority::high: return "high";
    case Priority::normal: return "normal";
  }
  return "";
}

std::string status_name(std::optional<TaskStatus> s) {
  if (!s) return "";
  return *s == TaskStatus::completed ? "completed" : "rejected";
}

// The decoded value for one key of `expected`, in the fixture's JSON shape; a string
// "<not understood>" for a key this test does not know (which fails the comparison).
Json decoded(const std::string& key, const AampMessage& m) {
  if (key == "protocolVersion") return m.version;
  if (key == "intent") return m.intent_text;
  if (key == "taskId") return m.task_id;
  if (key == "priority") return priority_name(m.priority);
  if (key == "expiresAt") return m.expires_at_text.value_or("");
  if (key == "sessionKey") return m.session_key.value_or("");
  if (key == "parentTaskId") return m.parent_task_id.value_or("");
  if (key == "pairCode") return m.pair_code.value_or("");
  if (key == "status") return status_name(m.status);
  if (key == "reason") return m.error_msg.value_or("");
  if (key == "from") return m.from;
  if (key == "messageId") return m.message_id;
  if (key == "subject") return m.subject;
  if (key == "dispatchContext") return m.dispatch_context.value_or(DispatchContext{});
  if (key == "dispatchContextRules") return m.dispatch_context_rules.value_or(ContextRules{});
  if (key == "structuredResult") return Json::parse(m.structured_result.value_or("null"), nullptr, false);
  return "<not understood>";
}

// Compares every header-derived key of `want` with the decoded message; returns the keys
// it checked so the test can prove none was skipped by accident.
std::set<std::string> check_fields(const Json& want, const AampMessage& m) {
  std::set<std::string> checked;
  for (const auto& [key, value] : want.items()) {
    if (kOutOfScope.count(key) != 0) continue;
    SCOPED_TRACE(key);
    checked.insert(key);
    EXPECT_EQ(decoded(key, m), value);
  }
  return checked;
}

TEST(Conformance, SixCasesBothModes) {
  const Json fixtures = load_fixtures();
  ASSERT_TRUE(fixtures.is_object()) << "cannot read tests/conformance/parser.json";
  const Json& cases = fixtures.at("cases");
  ASSERT_EQ(cases.size(), 6U);
  std::set<std::string> all_checked;
  for (const auto& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    const HeaderList headers = headers_of(c.at("input"));
    const bool has_version = c.at("input").at("headers").contains("X-AAMP-Version");

    const Validation sdk = validate(headers, {ValidationMode::sdk});
    ASSERT_EQ(sdk.verdict, Verdict::valid) << (sdk.violations.empty() ? "" : sdk.violations[0].message);
    const auto checked = check_fields(c.at("expected"), sdk.message);
    all_checked.insert(checked.begin(), checked.end());

    const Validation strict = validate(headers, {ValidationMode::strict});
    if (has_version) {
      ASSERT_EQ(strict.verdict, Verdict::valid) << (strict.violations.empty() ? "" : strict.violations[0].message);
      check_fields(c.at("expected"), strict.message);
    } else {
      // "minimal task dispatch" carries no Version: only the SDKs' default makes it valid.
      ASSERT_EQ(strict.verdict, Verdict::invalid);
      ASSERT_EQ(strict.violations.size(), 1U);
      EXPECT_EQ(strict.violations[0].code, ViolationCode::missing_field);
      EXPECT_EQ(strict.violations[0].field, "X-AAMP-Version");
    }
  }
  // Every header-derived field the fixtures mention was compared at least once.
  const std::set<std::string> want = {"protocolVersion", "intent",     "taskId",       "priority",
                                      "expiresAt",       "sessionKey", "dispatchContext", "parentTaskId",
                                      "pairCode",        "dispatchContextRules", "status", "reason",
                                      "structuredResult", "from",      "messageId",    "subject"};
  EXPECT_EQ(all_checked, want);
}

TEST(Conformance, MinimalCaseHasNoVersion) {
  const Json fixtures = load_fixtures();
  ASSERT_TRUE(fixtures.is_object());
  const Json& minimal = fixtures.at("cases").at(0);
  EXPECT_EQ(minimal.at("name"), "minimal task dispatch");
  EXPECT_FALSE(minimal.at("input").at("headers").contains("X-AAMP-Version"));
  EXPECT_FALSE(minimal.at("input").at("headers").contains("x-aamp-version"));
}

}  // namespace
}  // namespace aamp
