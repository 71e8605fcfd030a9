// text_safety_test.cpp — the rule of each destination text leaves the program by
// (policy/text_safety.hpp). One table per function: control characters, DEL, 8-bit bytes,
// CR/LF, '%', NUL, over-long and empty input. Tables: label, input, want.
#include "policy/text_safety.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace aamp {
namespace {

using namespace std::string_view_literals;

struct Row {
  const char* label;
  std::string_view input;
  std::string want;
};

struct BoundedRow {
  const char* label;
  std::string input;
  std::size_t max;
  std::string want;
};

TEST(TextSafety, ForLogLine) {
  const Row rows[] = {
      {"clean", "client=mx.example.org", "client=mx.example.org"},
      {"empty", "", ""},
      {"CR/LF", "a\r\nwarning: forged", "a??warning: forged"},
      {"control and TAB", "a\x01\tb", "a??b"},
      {"DEL", "a\x7f", "a?"},
      {"NUL", "a\0b"sv, "a?b"},
      {"8-bit bytes", "caf\xc3\xa9", "caf??"},
      {"percent kept", "100%", "100%"},
      {"space kept", "a b", "a b"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_log_line(row.input), row.want);
  }
  const BoundedRow bounded[] = {
      {"exactly the bound", "abcd", 4, "abcd"},
      {"over the bound", "abcde", 4, "abcd..."},
      {"default bound 256", std::string(300, 'x'), 256, std::string(256, 'x') + "..."},
      {"zero bound", "a", 0, "..."},
  };
  for (const auto& row : bounded) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_log_line(row.input, row.max), row.want);
  }
}

TEST(TextSafety, ForLogField) {
  const Row rows[] = {
      {"empty", "", "-"},
      {"one word", "alice@example.com", "alice@example.com"},
      {"space quoted", "a b", "\"a b\""},
      {"comma quoted", "a,b", "\"a,b\""},
      {"quote escaped", "say \"hi\"", "\"say \\\"hi\\\"\""},
      {"backslash escaped", "a\\b", "\"a\\\\b\""},
      {"CR/LF", "a\r\nb", "a??b"},
      {"DEL and NUL", "a\x7f\0"sv, "a??"},
      {"8-bit bytes", "\xff", "?"},
      {"percent", "%s", "%s"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_log_field(row.input), row.want);
  }
  EXPECT_EQ(for_log_field("abcdef", 3), "abc...");
  EXPECT_EQ(for_log_field("ab cd", 3), "\"ab ...\"");
}

TEST(TextSafety, ForSmtpReply) {
  const Row rows[] = {
      {"clean", "sender rule 3 allows it", "sender rule 3 allows it"},
      {"empty", "", ""},
      {"CR/LF", "bad\r\n250 ok", "bad??250 ok"},
      {"control and TAB", "a\x1b\tb", "a??b"},
      {"DEL", "\x7f", "?"},
      {"NUL", "a\0"sv, "a?"},
      {"8-bit bytes", "caf\xc3\xa9", "caf??"},
      {"percent", "%s%n", "?s?n"},
      {"space kept", "a  b", "a  b"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_smtp_reply(row.input), row.want);
  }
  const BoundedRow bounded[] = {
      {"cut without marker", "abcdef", 3, "abc"},
      {"default bound 400", std::string(500, 'x'), 400, std::string(400, 'x')},
  };
  for (const auto& row : bounded) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_smtp_reply(row.input, row.max), row.want);
  }
}

TEST(TextSafety, ForEchoedHeader) {
  const Row rows[] = {
      {"clean", "task.dispatch", "task.dispatch"},
      {"empty", "", ""},
      {"space", "task dispatch", "task?dispatch"},
      {"CR/LF", "a\r\nb", "a??b"},
      {"TAB", "a\tb", "a?b"},
      {"DEL", "a\x7f", "a?"},
      {"NUL", "\0a"sv, "?a"},
      {"8-bit bytes", "t\xc3\xa4sk", "t??sk"},
      {"percent", "%s%n%x", "?s?n?x"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_echoed_header(row.input), row.want);
  }
  const BoundedRow bounded[] = {
      {"exactly the bound", std::string(40, 'a'), 40, std::string(40, 'a')},
      {"default bound 40", std::string(41, 'a'), 40, std::string(40, 'a') + "..."},
      {"given bound", "X-AAMP-Intent", 6, "X-AAMP..."},
  };
  for (const auto& row : bounded) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_echoed_header(row.input, row.max), row.want);
  }
}

TEST(TextSafety, ForMilterReply) {
  const Row rows[] = {
      {"clean", "message refused by AAMP policy", "message refused by AAMP policy"},
      {"empty: fallback", "", "message refused"},
      {"only controls: fallback", "\r\n\t", "message refused"},
      {"percent doubled", "100% sure", "100%% sure"},
      {"CR/LF", "bad\r\n250 ok", "bad  250 ok"},
      {"DEL", "a\x7f" "b", "a b"},
      {"NUL", "a\0b"sv, "a b"},
      {"8-bit bytes", "caf\xc3\xa9!", "caf  !"},
      {"ends trimmed", "  why \n", "why"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_milter_reply(row.input), row.want);
  }
  struct LongRow {
    const char* label;
    std::string input;
    std::string want;
  };
  const LongRow long_rows[] = {
      {"cut at 450", std::string(600, 'x'), std::string(450, 'x')},
      {"percents: 225 doubled", std::string(300, '%'), std::string(450, '%')},
      {"a doubled percent never split", std::string(449, 'x') + "%", std::string(449, 'x')},
  };
  for (const auto& row : long_rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_milter_reply(row.input), row.want);
  }
}

TEST(TextSafety, ForAudit) {
  const Row rows[] = {
      {"clean", "agent@example.net", "agent@example.net"},
      {"empty", "", ""},
      {"CR/LF", "a\r\nb", "a??b"},
      {"TAB", "a\tb", "a?b"},
      {"DEL", "\x7f", "?"},
      {"NUL", "a\0"sv, "a?"},
      {"8-bit bytes", "\xe4\xb8\xad", "???"},
      {"percent kept", "a%b", "a%b"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_audit(row.input), row.want);
  }
  const BoundedRow bounded[] = {
      {"cut without marker", "abcdef", 4, "abcd"},
      {"default bound 256", std::string(300, 'x'), 256, std::string(256, 'x')},
  };
  for (const auto& row : bounded) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_audit(row.input, row.max), row.want);
  }
}

TEST(TextSafety, AsArValue) {
  const Row rows[] = {
      {"token", "task.dispatch", "task.dispatch"},
      {"addr-spec", "alice+x@example.com", "alice+x@example.com"},
      {"slash, dash, underscore", "a/b-c_d", "a/b-c_d"},
      {"empty quoted", "", "\"\""},
      {"space quoted", "not allowed", "\"not allowed\""},
      {"semicolon quoted", "x; aamp=pass", "\"x; aamp=pass\""},
      {"quote and backslash escaped", "a\"b\\c", "\"a\\\"b\\\\c\""},
      {"CR/LF", "a\r\nb", "\"a??b\""},
      {"DEL and NUL", "a\x7f\0"sv, "\"a??\""},
      {"8-bit bytes", "caf\xc3\xa9", "\"caf??\""},
      {"percent", "100%", "\"100%\""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(as_ar_value(row.input), row.want);
  }
  EXPECT_EQ(as_ar_value(std::string(300, ' ')), "\"" + std::string(256, ' ') + "\"");  // over-long: cut at 256
}

TEST(TextSafety, ForHeaderValue) {
  const Row rows[] = {
      {"clean", "invalid or expired pair code", "invalid or expired pair code"},
      {"empty", "", ""},
      {"CRLF becomes one space", "bad\r\nBcc: victim@example.net", "bad Bcc: victim@example.net"},
      {"folding attempt", "bad\r\n X-Evil: 1", "bad X-Evil: 1"},
      {"NUL and DEL", "a\0b\x7f"sv, "a b"},
      {"8-bit", "caf\xc3\xa9", "caf??"},
      {"trimmed", "  \t x \n", "x"},
      {"only controls", "\r\n\t", ""},
      {"percent kept", "100%", "100%"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_header_value(row.input), row.want);
  }
  const BoundedRow bounded[] = {
      {"default bound 200", std::string(500, 'x'), 200, std::string(200, 'x')},
      {"cut then trimmed", "abc def", 4, "abc"},
  };
  for (const auto& row : bounded) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_header_value(row.input, row.max), row.want);
  }
}

TEST(TextSafety, ForTerminal) {
  const Row rows[] = {
      {"clean", "corpus/001.eml", "corpus/001.eml"},
      {"empty", "", ""},
      {"CR/LF", "a\r\nb", "a\\x0d\\x0ab"},
      {"TAB", "a\tb", "a\\x09b"},
      {"DEL", "a\x7f", "a\\x7f"},
      {"NUL", "a\0"sv, "a\\x00"},
      {"8-bit kept", "caf\xc3\xa9", "caf\xc3\xa9"},
      {"percent kept", "100%", "100%"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(for_terminal(row.input), row.want);
  }
  EXPECT_EQ(for_terminal(std::string(1000, 'x')), std::string(1000, 'x'));  // not bounded: a name
}

}  // namespace
}  // namespace aamp
