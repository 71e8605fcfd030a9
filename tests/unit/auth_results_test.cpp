// auth_results_test.cpp — RFC 8601 parsing: authserv-id, methods, results, properties,
// comments, quoting, and refusing what does not parse; which fields claim our authserv-id.
#include "policy/auth_results.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace aamp {
namespace {

TEST(AuthResults, Parses) {
  const auto h = parse_authentication_results(
      " Border.Example.NET 1; (a comment (nested)) dkim=pass (good sig) header.d=example.com header.s=\"sel 1\";\r\n"
      "\tspf=fail smtp.mailfrom=x@y.example; dmarc=pass reason=\"aligned; ok\" header.from=example.com");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->authserv_id, "border.example.net");
  ASSERT_EQ(h->results.size(), 3u);
  EXPECT_EQ(h->results[0].method, "dkim");
  EXPECT_EQ(h->results[0].result, "pass");
  EXPECT_EQ(h->results[0].property("header.d"), "example.com");
  EXPECT_EQ(h->results[0].property("header.s"), "sel 1");
  EXPECT_EQ(h->results[1].method, "spf");
  EXPECT_EQ(h->results[1].property("smtp.mailfrom"), "x@y.example");
  EXPECT_EQ(h->results[2].property("reason"), "aligned; ok");
  EXPECT_EQ(h->results[2].property("header.from"), "example.com");
}

TEST(AuthResults, NoneAndVersionedMethods) {
  const auto none = parse_authentication_results("mx.example; none");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->results.empty());
  const auto v = parse_authentication_results("mx.example; dkim/1=pass header.d=a.example");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->results.at(0).property("header.d"), "a.example");
}

TEST(AuthResults, RefusesWhatDoesNotParse) {
  for (const char* bad : {"", "   ", "mx.example; dkim", "mx.example; dkim=", "mx.example dkim=pass",
                          "mx.example; dkim=pass header.d", "mx.example; (unclosed dkim=pass",
                          "mx.example; dkim=pass header.d=\"unterminated", "mx.example; =pass",
                          "mx.example; none; dkim=pass",
                          // A backslash ending a comment used to step past the end (fuzzing).
                          "(\\", "mx.example; dkim=pass (c\\"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_authentication_results(bad).has_value());
    EXPECT_NO_THROW(authserv_id_of(bad));
  }
}

TEST(AuthResults, AuthservIdAloneEvenWhenTheRestIsBroken) {
  EXPECT_EQ(authserv_id_of(" (c) MX.Example.NET; dkim"), "mx.example.net");
  EXPECT_EQ(authserv_id_of("\"quoted.id\"; none"), "quoted.id");
  EXPECT_EQ(authserv_id_of(""), "");
}

// Every spelling a reader could take as ours (issue "a verdict nobody can forge", point 1),
// and the fields that are not ours. Ours is mx.example.test.
TEST(AuthResults, ClaimsOurAuthservId) {
  using namespace std::string_view_literals;
  struct Row {
    const char* label;
    std::string_view value;
    bool want;
  };
  const Row rows[] = {
      {"ours", "mx.example.test; aamp=pass", true},
      {"upper case", "MX.Example.TEST; aamp=pass", true},
      {"comment before the id", "(verified) mx.example.test; aamp=pass", true},
      {"quoted-string", "\"mx.example.test\"; aamp=pass", true},
      {"quoted-pair inside the quotes", "\"mx.exa\\mple.test\"; aamp=pass", true},
      {"with a version", "mx.example.test 1; aamp=pass", true},
      {"folded", "\r\n\tmx.example.test;\r\n\taamp=pass", true},
      {"trailing dot", "mx.example.test.; aamp=pass", true},
      {"encoded-word q", "=?utf-8?q?mx.example.test?=; aamp=pass", true},
      {"encoded-word b", "=?UTF-8?B?bXguZXhhbXBsZS50ZXN0?=; aamp=pass", true},
      {"encoded-words split", "=?utf-8?q?mx.exam?= =?utf-8?b?cGxlLnRlc3Q=?=; aamp=pass", true},
      {"encoded-word with a language", "=?us-ascii*en?q?MX.example.test?=; aamp=pass", true},
      {"encoded-word with a trailing dot", "=?utf-8?q?mx.example.test.?=; aamp=pass", true},
      {"encoded-word with its ';'", "=?utf-8?q?mx.example.test=3B?= aamp=pass", true},
      {"encoded NBSP", "=?utf-8?q?mx.example.test=C2=A0?=; aamp=pass", true},
      {"encoded ')' ends the comment hiding ours",
       "(c =?utf-8?q?=29?= mx.example.test; aamp=pass) mx.upstream.test; dkim=pass", true},
      {"encoded-word in UTF-7", "=?utf-7?q?+AG0-x.example.test?=; aamp=pass", true},
      {"vertical tab", "mx.example.test\x0b; aamp=pass", true},
      {"form feed", "mx.example.test\x0c; aamp=pass", true},
      {"DEL", "mx.example.test\x7f; aamp=pass", true},
      {"NUL", "mx.example.test\0; aamp=pass"sv, true},
      {"NBSP", "mx.example.test\xc2\xa0; aamp=pass", true},
      {"U+3000", "mx.example.test\xe3\x80\x80; aamp=pass", true},
      {"U+2028", "mx.example.test\xe2\x80\xa8; aamp=pass", true},
      {"U+0085", "mx.example.test\xc2\x85; aamp=pass", true},
      {"leading BOM", "\xef\xbb\xbfmx.example.test; aamp=pass", true},
      {"zero-width space inside", "mx.exa\xe2\x80\x8bmple.test; aamp=pass", true},
      {"an 8-bit byte (Stalwart would blank the value)", "mx.example.test\xff; aamp=pass", true},
      {"blank value", "", true},
      {"white space only", " \t ", true},
      {"starts with ';'", "; aamp=pass", true},
      {"a comment only", "(mx.example.test)", true},
      {"unbalanced quote", "\"mx.example.test; aamp=pass", true},
      {"empty quotes", "\"\"; aamp=pass", true},
      {"unclosed comment", "(forged mx.example.test; aamp=pass", true},
      {"another verifier", "mx.upstream.test; dkim=pass header.d=example.com", false},
      {"another verifier, quoted", "\"mx.upstream.test\" 1; dkim=pass", false},
      {"ours with a suffix", "mx.example.test.evil; aamp=pass", false},
      {"ours with a prefix", "xmx.example.test; aamp=pass", false},
      {"ours as a subdomain", "a.mx.example.test; aamp=pass", false},
      {"ours in a comment before another id", "(mx.example.test) mx.upstream.test; dkim=pass", false},
      {"ours as a property", "mx.upstream.test; dkim=pass header.d=mx.example.test", false},
      {"encoded-word after the id", "mx.upstream.test; dkim=pass (=?utf-8?q?sig_ok?=) header.d=example.com", false},
      {"encoded-word of another id", "=?utf-8?q?mx.upstream.test?=; dkim=pass", false},
      {"no authserv-id (as Exchange Online writes it)", "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    EXPECT_EQ(claims_authserv_id(r.value, "mx.example.test"), r.want);
  }
  EXPECT_TRUE(claims_authserv_id("mx.example.test; aamp=pass", "MX.example.test."));  // a configured trailing dot
}

TEST(AuthResults, PlainAuthservIds) {
  struct Row {
    const char* label;
    std::string_view id;
    bool want;
  };
  const Row rows[] = {
      {"host name", "mx.example.test", true},
      {"other printable ASCII", "mx-1_a/b@c=d?", true},
      {"empty", "", false},
      {"space", "mx example", false},
      {"semicolon", "mx;evil", false},
      {"parenthesis", "mx(", false},
      {"quote", "mx\"", false},
      {"backslash", "mx\\", false},
      {"control", "mx\x0b", false},
      {"DEL", "mx\x7f", false},
      {"8-bit", "mx\xc2\xa0", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    EXPECT_EQ(is_plain_authserv_id(r.id), r.want);
  }
}

TEST(AuthResults, ClaimIsBounded) {
  // A comment longer than the bound: the id cannot be read, so the field is claimed.
  const std::string long_comment = "(" + std::string(20000, 'x') + ") mx.upstream.test; dkim=pass";
  EXPECT_TRUE(claims_authserv_id(long_comment, "mx.example.test"));
  std::string many_words;
  for (int i = 0; i < 2000; ++i) many_words += "=?utf-8?q?x?= ";
  EXPECT_FALSE(claims_authserv_id("mx.upstream.test; dkim=pass (" + many_words + ")", "mx.example.test"));
}

TEST(AuthResults, DeepCommentsAreBounded) {
  const std::string deep = "mx.example; " + std::string(10000, '(') + std::string(10000, ')') + " dkim=pass";
  EXPECT_FALSE(parse_authentication_results(deep).has_value());
}

}  // namespace
}  // namespace aamp
