// trust_test.cpp — the pure trust helpers: alignment, trust sets, forged verdict finding.
// (Trust paths end to end are rows of engine_test.)
#include "policy/trust.hpp"

#include <gtest/gtest.h>

namespace aamp {
namespace {

TEST(Trust, Alignment) {
  EXPECT_TRUE(aligned("example.com", "example.com"));
  EXPECT_TRUE(aligned("mail.example.com", "example.com"));
  EXPECT_TRUE(aligned("example.com", "sub.example.com"));
  EXPECT_FALSE(aligned("badexample.com", "example.com"));
  EXPECT_FALSE(aligned("example.com.evil", "example.com"));
  EXPECT_FALSE(aligned("other.example", "example.com"));
}

TEST(Trust, ParsesAndPrintsTrustSets) {
  struct Row {
    const char* in;
    TrustSet want;
    const char* printed;
  };
  const Row rows[] = {
      {"any", kAnyTrust, "auth,internal,authres"},
      {"none", 0, "none"},
      {"auth", trust_auth, "auth"},
      {" internal , AUTH ", trust_auth | trust_internal, "auth,internal"},
      {"auth any", kAnyTrust, "auth,internal,authres"},
      {"auth\tauthres", trust_auth | trust_authres, "auth,authres"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.in);
    const auto t = parse_trust(r.in);
    ASSERT_TRUE(t.ok()) << t.error();
    EXPECT_EQ(*t, r.want);
    EXPECT_EQ(trust_to_string(*t), r.printed);
  }
  for (const char* bad : {"spf", "dkim", "", " , ", "none,auth", "auth none"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_trust(bad).ok());
  }
  EXPECT_EQ(parse_trust("auth none").error(), "'none' cannot be combined with other trust bases");
}

TEST(Trust, SatisfiesAnyRequiredBasis) {
  TrustFindings f;
  f.shown = trust_internal;
  EXPECT_TRUE(satisfies(f, 0));
  EXPECT_TRUE(satisfies(f, kAnyTrust));
  EXPECT_FALSE(satisfies(f, trust_auth | trust_authres));
}

TEST(Trust, FindsForgedVerdictsByAuthservId) {
  const HeaderList h = {{"Authentication-Results", "mx.example; aamp=pass"},
                        {"Received", "x"},
                        {"AUTHENTICATION-RESULTS", "other.example; dkim=pass"},
                        {"Authentication-Results", "\r\n\t(comment) MX.EXAMPLE; garbage"}};
  const auto forged = forged_verdicts(h, "mx.example");
  ASSERT_EQ(forged.size(), 2u);
  EXPECT_EQ(forged[0].index, 3);
  EXPECT_EQ(forged[1].index, 1);
}

// A field removed as forged is never a trust basis, however well its trusted id reads.
TEST(Trust, AFieldRemovedAsForgedNeverCounts) {
  Policy policy;
  policy.authserv_id = "mx.example";
  policy.trusted_authserv_ids = {"border.example"};
  struct Row {
    const char* label;
    const char* value;
    bool removed;
  };
  const Row rows[] = {
      {"the trusted verifier's pass", "border.example; dkim=pass header.d=example.com", false},
      {"an encoded ')' brings ours out of a comment",
       "(c =?utf-8?q?=29?= mx.example; aamp=pass) border.example; dkim=pass header.d=example.com", true},
      {"an encoded-word in UTF-7 before it", "(=?utf-7?q?+ACk-?=) border.example; dkim=pass header.d=example.com", true},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    MessageFacts facts;
    facts.headers = {{"Authentication-Results", r.value}};
    EXPECT_EQ(forged_verdicts(facts.headers, policy.authserv_id).size(), r.removed ? 1u : 0u);
    EXPECT_EQ(evaluate_trust(facts, "alice@example.com", policy).shown, r.removed ? TrustSet{0} : TrustSet{trust_authres});
  }
}

}  // namespace
}  // namespace aamp
