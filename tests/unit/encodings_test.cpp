// encodings_test.cpp — table tests for policy/encodings.hpp: base64url, UTF-8, percent
// encoding, RFC 2047 encoded-words, dispatch context, context rules, StructuredResult, RFC 3339.
#include "policy/encodings.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace aamp {
namespace {

using namespace std::string_literals;

struct DecodeRow {
  const char* label;
  std::string input;
  std::optional<std::string> want;  // nullopt: must fail
};

TEST(Base64Url, Decode) {
  const std::vector<DecodeRow> rows = {
      {"empty", "", ""},
      {"one byte unpadded", "Zg", "f"},
      {"one byte padded", "Zg==", "f"},
      {"two bytes unpadded", "Zm8", "fo"},
      {"two bytes padded", "Zm8=", "fo"},
      {"three bytes", "Zm9v", "foo"},
      {"rfc4648 foobar", "Zm9vYmFy", "foobar"},
      {"url alphabet", "-_-_", "\xfb\xff\xbf"s},
      {"e30 is {}", "e30", "{}"},
      {"standard plus refused", "+/+/", std::nullopt},
      {"impossible length", "Zm9vY", std::nullopt},
      {"padding in the middle", "Zg==Zg==", std::nullopt},
      {"padding on short body", "Zg=", std::nullopt},
      {"three pads", "Z===", std::nullopt},
      {"space refused", "Zm9 v", std::nullopt},
      {"nul refused", "Zm9\0v"s, std::nullopt},
      {"high byte refused", "Zm9\xc3\xa9", std::nullopt},
      {"too long", std::string((1U << 20) + 4, 'A'), std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = base64url_decode(row.input);
    ASSERT_EQ(got.ok(), row.want.has_value()) << (got.ok() ? "" : got.error());
    if (row.want) {
      EXPECT_EQ(*got, *row.want);
    }
  }
}

TEST(Base64Url, EncodeRoundTrips) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"\xfb\xff\xbf"s, "-_-_"}, {"\0\0"s, "AAA"}};
  for (const auto& [bytes, text] : rows) {
    SCOPED_TRACE(text);
    EXPECT_EQ(base64url_encode(bytes), text);
    const auto back = base64url_decode(text);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, bytes);
  }
}

TEST(Base64Url, IsBase64Url) {
  const std::vector<std::pair<std::string, bool>> rows = {
      {"7r8g5A2k", true}, {"-_", true}, {"", false}, {"ab=", false}, {"a+b", false}, {"a b", false}, {"a/b", false}};
  for (const auto& [text, want] : rows) {
    SCOPED_TRACE(text);
    EXPECT_EQ(is_base64url(text), want);
  }
}

TEST(Utf8, Validity) {
  struct Row {
    const char* label;
    std::string bytes;
    bool want;
  };
  const std::vector<Row> rows = {
      {"empty", "", true},
      {"ascii", "hello", true},
      {"nul is a character", "a\0b"s, true},
      {"two-byte", "\xc3\xa9", true},
      {"three-byte", "\xe4\xb8\xad", true},
      {"four-byte", "\xf0\x9f\x98\x80", true},
      {"max code point", "\xf4\x8f\xbf\xbf", true},
      {"overlong two-byte", "\xc0\xaf", false},
      {"overlong C1", "\xc1\xbf", false},
      {"overlong three-byte", "\xe0\x80\xaf", false},
      {"overlong four-byte", "\xf0\x80\x80\xaf", false},
      {"surrogate", "\xed\xa0\x80", false},
      {"above 10FFFF", "\xf4\x90\x80\x80", false},
      {"F5 lead", "\xf5\x80\x80\x80", false},
      {"lone continuation", "\x80", false},
      {"truncated two-byte", "\xc3", false},
      {"truncated four-byte", "\xf0\x9f\x98", false},
      {"bad continuation", "\xc3\x28", false},
      {"latin-1", "caf\xe9", false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(is_valid_utf8(row.bytes), row.want);
  }
}

TEST(Percent, Decode) {
  const std::vector<DecodeRow> rows = {
      {"plain", "feishu", "feishu"},
      {"space", "proj%20123", "proj 123"},
      {"lower hex", "%c3%a9", "\xc3\xa9"},
      {"upper hex", "%C3%A9", "\xc3\xa9"},
      {"raw space kept", "a b", "a b"},
      {"plus is literal", "a+b", "a+b"},
      {"percent-encoded nul", "%00", "\0"s},
      {"lone percent", "100%", std::nullopt},
      {"one hex digit", "%4", std::nullopt},
      {"non-hex", "%zz", std::nullopt},
      {"invalid utf-8 after decoding", "%ff", std::nullopt},
      {"overlong after decoding", "%c0%af", std::nullopt},
      {"raw invalid utf-8", "\xff", std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = percent_decode_utf8(row.input);
    ASSERT_EQ(got.ok(), row.want.has_value()) << (got.ok() ? "" : got.error());
    if (row.want) {
      EXPECT_EQ(*got, *row.want);
    }
  }
}

TEST(Percent, EncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(percent_encode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(percent_encode("proj 123;x=y%"), "proj%20123%3Bx%3Dy%25");
  EXPECT_EQ(percent_encode("\xc3\xa9"), "%C3%A9");
  const auto back = percent_decode_utf8(percent_encode("a; b=c \xe4\xb8\xad"));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "a; b=c \xe4\xb8\xad");
}

TEST(EncodedWords, Decode) {
  const std::vector<DecodeRow> rows = {
      {"no word", "mx.example.test; aamp=pass", "mx.example.test; aamp=pass"},
      {"q", "=?utf-8?q?caf=C3=A9_au_lait?=", "caf\xc3\xa9 au lait"},
      {"Q, lower-case hex", "=?UTF-8?Q?=c3=a9?=", "\xc3\xa9"},
      {"q, '=' without two hex digits kept", "=?utf-8?q?a=zz=?=", "a=zz="},
      {"q, hex right after the encoding", "=?utf-8?q?=3D?=", "="},
      {"b", "=?UTF-8?B?bXguZXhhbXBsZS50ZXN0?=", "mx.example.test"},
      {"b padded", "=?utf-8?b?YQ==?=", "a"},
      {"b unpadded", "=?utf-8?b?YQ?=", "a"},
      {"b, characters outside the alphabet skipped", "=?utf-8?b?Y.Q?=", "a"},
      {"b, standard alphabet", "=?utf-8?b?+/8=?=", "\xfb\xff"},
      {"empty text", "=?utf-8?q?" "?=", ""},
      {"white space between words dropped", "=?utf-8?q?a?= \r\n =?utf-8?q?b?=", "ab"},
      {"text between words kept", "=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"},
      {"inside a word", "pre=?utf-8?q?mid?=post", "premidpost"},
      {"inside a comment", "(=?utf-8?q?=29?=) x", "()) x"},
      {"language suffix", "=?utf-8*en?q?hi?=", "hi"},
      {"latin-1 bytes kept as they are", "=?iso-8859-1?q?=A0?=", "\xa0"},
      {"windows-1252", "=?windows-1252?q?x?=", "x"},
      {"no closing ?=", "=?utf-8?q?open", "=?utf-8?q?open"},
      {"unknown encoding", "=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
      {"not a word, then a word", "=?x =?utf-8?q?y?=", "=?x y"},
      {"UTF-7", "=?utf-7?q?+AG0-?=", std::nullopt},
      {"UTF-16", "=?utf-16?b?AG0=?=", std::nullopt},
      {"Shift_JIS", "=?shift_jis?q?x?=", std::nullopt},
      {"empty charset", "=??q?x?=", std::nullopt},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    const auto got = decode_encoded_words(r.input);
    ASSERT_EQ(got.ok(), r.want.has_value()) << (got.ok() ? *got : got.error());
    if (r.want) {
      EXPECT_EQ(*got, *r.want);
    }
  }
}

TEST(EncodedWords, BoundedAndLinear) {
  std::string openers;
  for (int i = 0; i < 80000; ++i) openers += "=?x=?utf-8?q?a ";  // 1.2 MB of words that never close
  EXPECT_FALSE(decode_encoded_words(openers).ok());             // over the bound
  openers.resize(600000);
  const auto same = decode_encoded_words(openers);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, openers);
}

TEST(DispatchContext, Parse) {
  struct Row {
    const char* label;
    std::string input;
    bool lenient;
    std::optional<DispatchContext> want;
  };
  const std::vector<Row> rows = {
      {"fixture", "project_key=proj%20123; source=feishu", false,
       DispatchContext{{"project_key", "proj 123"}, {"source", "feishu"}}},
      {"empty", "", false, DispatchContext{}},
      {"only separators", " ; ;", false, DispatchContext{}},
      {"trailing separator", "a=1;", false, DispatchContext{{"a", "1"}}},
      {"no space", "a=1;b=2", false, DispatchContext{{"a", "1"}, {"b", "2"}}},
      {"tabs and spaces", "\ta = 1 ;  b=2\t", false, DispatchContext{{"a", "1"}, {"b", "2"}}},
      {"empty value", "a=", false, DispatchContext{{"a", ""}}},
      {"equals inside value", "a=x=y", false, DispatchContext{{"a", "x=y"}}},
      {"digits dash underscore", "k-9_x=v", false, DispatchContext{{"k-9_x", "v"}}},
      {"utf-8 value", "name=%E4%B8%AD", false, DispatchContext{{"name", "\xe4\xb8\xad"}}},
      {"upper-case key refused", "Source=feishu", false, std::nullopt},
      {"dot in key refused", "a.b=1", false, std::nullopt},
      {"empty key refused", "=1", false, std::nullopt},
      {"no equals refused", "novalue", false, std::nullopt},
      {"duplicate key refused", "a=1; a=2", false, std::nullopt},
      {"duplicate identical key refused", "a=1;a=1", false, std::nullopt},
      {"bad percent refused", "a=%zz", false, std::nullopt},
      {"invalid utf-8 refused", "a=%ff", false, std::nullopt},
      {"lenient skips bad key", "Source=x; a=1", true, DispatchContext{{"a", "1"}}},
      {"lenient skips missing equals", "novalue; a=1", true, DispatchContext{{"a", "1"}}},
      {"lenient still refuses duplicates", "a=1; a=2", true, std::nullopt},
      {"lenient still refuses bad values", "a=%", true, std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = parse_dispatch_context(row.input, row.lenient);
    ASSERT_EQ(got.ok(), row.want.has_value()) << (got.ok() ? "" : got.error());
    if (row.want) {
      EXPECT_EQ(*got, *row.want);
    }
  }
}

TEST(DispatchContext, FormatRoundTrips) {
  const DispatchContext ctx{{"project_key", "proj 123"}, {"source", "feishu"}, {"x", "a;b=c%"}};
  const std::string text = format_dispatch_context(ctx);
  EXPECT_EQ(text, "project_key=proj%20123; source=feishu; x=a%3Bb%3Dc%25");
  const auto back = parse_dispatch_context(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, ctx);
  EXPECT_EQ(format_dispatch_context({}), "");
}

TEST(ContextRules, ParseJson) {
  struct Row {
    const char* label;
    std::string input;
    std::optional<ContextRules> want;
  };
  const std::vector<Row> rows = {
      {"empty object", "{}", ContextRules{}},
      {"fixture", R"({"source":["feishu","github"]})", ContextRules{{"source", {"feishu", "github"}}}},
      {"whitespace", " { \"a\" : [ ] , \"b\":[\"x\"] } ", ContextRules{{"a", {}}, {"b", {"x"}}}},
      {"escapes", R"({"k":["\u00e9\n"]})", ContextRules{{"k", {"\xc3\xa9\n"}}}},
      {"array top level", R"(["a"])", std::nullopt},
      {"string value", R"({"a":"x"})", std::nullopt},
      {"number in array", R"({"a":[1]})", std::nullopt},
      {"null value", R"({"a":null})", std::nullopt},
      {"nested array", R"({"a":[["x"]]})", std::nullopt},
      {"nested object", R"({"a":{"b":["x"]}})", std::nullopt},
      {"object in array", R"({"a":[{}]})", std::nullopt},
      {"duplicate key", R"({"a":["x"],"a":["y"]})", std::nullopt},
      {"trailing garbage", R"({} {})", std::nullopt},
      {"truncated", R"({"a":["x")", std::nullopt},
      {"empty text", "", std::nullopt},
      {"comments refused", "{/*x*/}", std::nullopt},
      {"invalid utf-8 in string", "{\"a\":[\"\xff\"]}", std::nullopt},
      {"deep nesting refused fast", std::string(100000, '[') + std::string(100000, ']'), std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = parse_context_rules_json(row.input);
    ASSERT_EQ(got.ok(), row.want.has_value()) << (got.ok() ? "" : got.error());
    if (row.want) {
      EXPECT_EQ(*got, *row.want);
    }
  }
}

TEST(ContextRules, Base64UrlForm) {
  const std::vector<std::pair<std::string, std::optional<ContextRules>>> rows = {
      {"e30", ContextRules{}},
      {"e30=", ContextRules{}},
      {"eyJzb3VyY2UiOlsiZmVpc2h1IiwiZ2l0aHViIl19", ContextRules{{"source", {"feishu", "github"}}}},
      {"", std::nullopt},
      {"e30+", std::nullopt},
      {"W10", std::nullopt},  // "[]"
  };
  for (const auto& [text, want] : rows) {
    SCOPED_TRACE(text);
    const auto got = decode_context_rules(text);
    ASSERT_EQ(got.ok(), want.has_value()) << (got.ok() ? "" : got.error());
    if (want) {
      EXPECT_EQ(*got, *want);
    }
  }
}

TEST(ContextRules, EncodeRoundTrips) {
  EXPECT_EQ(encode_context_rules({}), "e30");
  const ContextRules rules{{"source", {"feishu", "github"}}, {"team", {}}};
  EXPECT_EQ(context_rules_to_json(rules), R"({"source":["feishu","github"],"team":[]})");
  const auto back = decode_context_rules(encode_context_rules(rules));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, rules);
}

TEST(StructuredResult, Decode) {
  const std::string deep_ok = std::string(64, '[') + std::string(64, ']');
  const std::string deep_bad = std::string(65, '[') + std::string(65, ']');
  const std::string bomb = std::string(1000000, '[');
  const std::vector<DecodeRow> rows = {
      {"fixture", "W3siZmllbGRLZXkiOiJzdW1tYXJ5IiwiZmllbGRUeXBlS2V5IjoidGV4dCIsInZhbHVlIjoiZG9uZSJ9XQ",
       R"([{"fieldKey":"summary","fieldTypeKey":"text","value":"done"}])"},
      {"scalar is json", base64url_encode("42"), "42"},
      {"string is json", base64url_encode("\"x\""), "\"x\""},
      {"64 levels accepted", base64url_encode(deep_ok), deep_ok},
      {"65 levels refused", base64url_encode(deep_bad), std::nullopt},
      {"unclosed bomb refused", base64url_encode(bomb.substr(0, 700000)), std::nullopt},
      {"not json", base64url_encode("done"), std::nullopt},
      {"empty", "", std::nullopt},
      {"trailing garbage", base64url_encode("{} x"), std::nullopt},
      {"not base64url", "e30+", std::nullopt},
      {"invalid utf-8", base64url_encode("\"\xff\""), std::nullopt},
      {"infinite number", base64url_encode("1e999"), std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = decode_structured_result(row.input);
    ASSERT_EQ(got.ok(), row.want.has_value()) << (got.ok() ? "" : got.error());
    if (row.want) {
      EXPECT_EQ(*got, *row.want);
    }
  }
}

TEST(Rfc3339, Parse) {
  struct Row {
    const char* label;
    std::string input;
    std::optional<UnixTime> want;
  };
  const std::vector<Row> rows = {
      {"epoch", "1970-01-01T00:00:00Z", 0},
      {"fixture with millis", "2026-08-01T12:00:00.000Z", 1785585600},
      {"lower-case t and z", "2026-08-01t12:00:00z", 1785585600},
      {"positive offset", "2026-08-01T14:00:00+02:00", 1785585600},
      {"negative offset", "2026-08-01T07:30:00-04:30", 1785585600},
      {"long fraction", "2026-08-01T12:00:00.123456789Z", 1785585600},
      {"leap day", "2024-02-29T00:00:00Z", 1709164800},
      {"leap second", "2016-12-31T23:59:60Z", 1483228800},
      {"before epoch", "1969-12-31T23:59:59Z", -1},
      {"year 2000 leap", "2000-02-29T00:00:00Z", 951782400},
      {"no offset", "2026-08-01T12:00:00", std::nullopt},
      {"space separator", "2026-08-01 12:00:00Z", std::nullopt},
      {"date only", "2026-08-01", std::nullopt},
      {"month 13", "2026-13-01T00:00:00Z", std::nullopt},
      {"day 31 in april", "2026-04-31T00:00:00Z", std::nullopt},
      {"feb 29 non-leap", "2026-02-29T00:00:00Z", std::nullopt},
      {"feb 29 1900", "1900-02-29T00:00:00Z", std::nullopt},
      {"hour 24", "2026-08-01T24:00:00Z", std::nullopt},
      {"minute 60", "2026-08-01T12:60:00Z", std::nullopt},
      {"second 61", "2026-08-01T12:00:61Z", std::nullopt},
      {"empty fraction", "2026-08-01T12:00:00.Z", std::nullopt},
      {"offset without colon", "2026-08-01T12:00:00+0200", std::nullopt},
      {"offset hour 24", "2026-08-01T12:00:00+24:00", std::nullopt},
      {"trailing junk", "2026-08-01T12:00:00Zx", std::nullopt},
      {"sign in year", "+026-08-01T12:00:00Z", std::nullopt},
      {"unicode digit", "2026-08-01T12:00:0\xd9\xa1Z", std::nullopt},
      {"too long", "2026-08-01T12:00:00." + std::string(100, '0') + "Z", std::nullopt},
      {"empty", "", std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = parse_rfc3339(row.input);
    ASSERT_EQ(got.ok(), row.want.has_value()) << (got.ok() ? "" : got.error());
    if (row.want) {
      EXPECT_EQ(*got, *row.want);
    }
  }
}

TEST(Rfc3339, Format) {
  const std::vector<std::pair<UnixTime, std::string>> rows = {
      {0, "1970-01-01T00:00:00Z"},
      {1785585600, "2026-08-01T12:00:00Z"},
      {-1, "1969-12-31T23:59:59Z"},
      {951782400, "2000-02-29T00:00:00Z"},
      {253402300799, "9999-12-31T23:59:59Z"},
  };
  for (const auto& [t, text] : rows) {
    SCOPED_TRACE(text);
    EXPECT_EQ(format_rfc3339(t), text);
    const auto back = parse_rfc3339(text);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, t);
  }
}

}  // namespace
}  // namespace aamp
