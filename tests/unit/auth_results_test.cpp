// auth_results_test.cpp — RFC 8601 parsing: authserv-id, methods, results, properties,
// comments, quoting, and refusing what does not parse.
#include "policy/auth_results.hpp"

#include <gtest/gtest.h>

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

TEST(AuthResults, DeepCommentsAreBounded) {
  const std::string deep = "mx.example; " + std::string(10000, '(') + std::string(10000, ')') + " dkim=pass";
  EXPECT_FALSE(parse_authentication_results(deep).has_value());
}

}  // namespace
}  // namespace aamp
