// names_test.cpp — the generic name-table helpers (policy/names.hpp) once, then every
// table of the tree: each value has exactly one name, each name one value, and
// parse_name(name_of(v)) == v. The spellings are in databases, config files, JSON and CLI
// output, so the complete tables are written out here as well.
#include "policy/names.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mail/transport.hpp"
#include "policy/audit_verdict.hpp"
#include "policy/decision.hpp"
#include "policy/policy.hpp"
#include "policy/sender_pattern.hpp"
#include "policy/store.hpp"
#include "store/admin.hpp"

namespace aamp {
namespace {

enum class Colour { red, green, blue };
constexpr NameTable<Colour, 3> kColours{{{"red", Colour::red}, {"green", Colour::green}, {"blue", Colour::blue}}};

TEST(Names, Helpers) {
  struct Row {
    const char* label;
    std::string_view text;
    std::optional<Colour> want;
  };
  const Row rows[] = {
      {"first", "red", Colour::red},
      {"last", "blue", Colour::blue},
      {"case-sensitive", "Red", std::nullopt},
      {"unknown", "purple", std::nullopt},
      {"empty", "", std::nullopt},
      {"prefix", "gree", std::nullopt},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    EXPECT_EQ(parse_name(kColours, r.text), r.want);
    if (r.want) {
      EXPECT_EQ(name_of(kColours, *r.want), r.text);
    }
  }
  EXPECT_EQ(name_of(kColours, static_cast<Colour>(7)), "");
  EXPECT_EQ(join_names(kColours, ", ", " or "), "red, green or blue");
  EXPECT_EQ(join_names(kColours, ", ", ", "), "red, green, blue");
  constexpr NameTable<Colour, 1> one{{{"red", Colour::red}}};
  EXPECT_EQ(join_names(one, ", ", " or "), "red");
  static_assert(name_of(kColours, Colour::green) == "green");
  static_assert(parse_name(kColours, "blue") == Colour::blue);
}

// Every value has one name and every name one value; parse(name(v)) == v.
template <class E, std::size_t N>
std::vector<std::pair<std::string, int>> round_trip(const NameTable<E, N>& table) {
  std::set<std::string_view> names;
  std::set<E> values;
  std::vector<std::pair<std::string, int>> out;
  for (const auto& n : table) {
    SCOPED_TRACE(std::string(n.name));
    EXPECT_FALSE(n.name.empty());
    EXPECT_TRUE(names.insert(n.name).second) << "name twice";
    EXPECT_TRUE(values.insert(n.value).second) << "value twice";
    EXPECT_EQ(name_of(table, n.value), n.name);
    EXPECT_EQ(parse_name(table, n.name), n.value);
    out.emplace_back(n.name, static_cast<int>(n.value));
  }
  return out;
}

using Spelled = std::vector<std::pair<std::string, int>>;

TEST(Names, EveryTableRoundTripsWithItsSpellings) {
  EXPECT_EQ(round_trip(kMailboxModeNames), (Spelled{{"enforce", 0}, {"report", 1}, {"off", 2}}));
  EXPECT_EQ(round_trip(kTrustBasisNames), (Spelled{{"auth", 1}, {"internal", 2}, {"authres", 4}}));
  EXPECT_EQ(round_trip(kRuleOriginNames), (Spelled{{"configured", 0}, {"paired", 1}}));
  EXPECT_EQ(round_trip(kPairOutcomeNames), (Spelled{{"completed", 0},
                                                    {"unknown-code", 1},
                                                    {"expired", 2},
                                                    {"already-used", 3},
                                                    {"revoked", 4},
                                                    {"locked-out", 5}}));
  EXPECT_EQ(round_trip(kTaskStatusNames), (Spelled{{"completed", 0}, {"rejected", 1}}));
  EXPECT_EQ(round_trip(kPatternKindNames), (Spelled{{"exact", 0}, {"domain", 1}, {"wildcard", 2}}));
  EXPECT_EQ(round_trip(kEnforcementModeNames), (Spelled{{"enforce", 0}, {"report", 1}}));
  EXPECT_EQ(round_trip(kStoreErrorKindNames), (Spelled{{"unavailable", 0},
                                                       {"busy", 1},
                                                       {"corrupt", 2},
                                                       {"full", 3},
                                                       {"schema", 4},
                                                       {"io", 5}}));
  EXPECT_EQ(round_trip(kRefusalClassNames), (Spelled{{"bad-message", 0}, {"policy-deny", 1}}));
  EXPECT_EQ(round_trip(kActionNames),
            (Spelled{{"accept", 0}, {"reject", 1}, {"tempfail", 2}, {"quarantine", 3}, {"discard", 4}}));
  EXPECT_EQ(round_trip(store::kPairCodeStateNames),
            (Spelled{{"live", 0}, {"used", 1}, {"expired", 2}, {"revoked", 3}}));
  EXPECT_EQ(round_trip(mail::kStartTlsNames), (Spelled{{"required", 0}, {"opportunistic", 1}, {"off", 2}}));
  EXPECT_EQ(round_trip(kAuditVerdictNames),
            (Spelled{{"allow", 0},           {"deny", 1},           {"invalid", 2},
                     {"untrusted", 3},       {"stale", 4},          {"pair-completed", 5},
                     {"pair-rejected", 6},   {"pair-locked", 7},    {"report-deny", 8},
                     {"report-invalid", 9},  {"report-untrusted", 10}, {"report-stale", 11},
                     {"report-pair-completed", 12}, {"report-pair-rejected", 13}, {"report-pair-locked", 14},
                     {"not-aamp", 15},       {"unprotected", 16},   {"too-large", 17},
                     {"store-error", 18},    {"internal-error", 19}, {"reply-sent", 20},
                     {"reply-deferred", 21}, {"reply-abandoned", 22}, {"thread-hijack", 23},
                     {"not-party", 24},      {"unknown-thread", 25}, {"duplicate", 26},
                     {"report-thread-hijack", 27}, {"report-not-party", 28},
                     {"report-unknown-thread", 29}, {"report-duplicate", 30}}));
}

// Report mode records "report-" + the verdict's name; a verdict without a report variant
// stays itself.
TEST(Names, ReportedVerdicts) {
  struct Row {
    AuditVerdict in;
    std::string_view want;
  };
  const Row rows[] = {
      {AuditVerdict::deny, "report-deny"},
      {AuditVerdict::invalid, "report-invalid"},
      {AuditVerdict::untrusted, "report-untrusted"},
      {AuditVerdict::stale, "report-stale"},
      {AuditVerdict::pair_completed, "report-pair-completed"},
      {AuditVerdict::pair_rejected, "report-pair-rejected"},
      {AuditVerdict::pair_locked, "report-pair-locked"},
      {AuditVerdict::allow, "allow"},
      {AuditVerdict::report_deny, "report-deny"},
      {AuditVerdict::store_error, "store-error"},
      {AuditVerdict::reply_sent, "reply-sent"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(to_string(r.in)));
    EXPECT_EQ(to_string(reported(r.in)), r.want);
  }
}

// kAnyTrust is every basis of the table: a new basis is accepted by "any" without more code.
TEST(Names, AnyTrustIsEveryBasis) {
  TrustSet all = 0;
  for (const auto& n : kTrustBasisNames) all |= n.value;
  EXPECT_EQ(kAnyTrust, all);
}

}  // namespace
}  // namespace aamp
