// config_file_test.cpp — the pieces the configuration parser is built from
// (milter/config_reader.hpp, milter/config_values.hpp): comments and line numbers, numbers
// in a range, yes/no, lists, printable tokens, relative paths. config_test.cpp tests the
// whole file through parse_config.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "milter/config_reader.hpp"
#include "milter/config_values.hpp"

namespace aamp::milter::config_file {
namespace {

TEST(ConfigReader, StripComment) {
  struct Row {
    const char* label;
    const char* line;
    const char* want;
  };
  const std::vector<Row> rows = {
      {"no comment", "Mode enforce", "Mode enforce"},
      {"whole line", "# Mode enforce", ""},
      {"after a space", "Mode enforce # the default", "Mode enforce "},
      {"after a tab", "Mode enforce\t# the default", "Mode enforce\t"},
      {"inside a word is kept", "AuthservID mx#1", "AuthservID mx#1"},
      {"empty", "", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(strip_comment(row.line), row.want);
  }
}

TEST(ConfigReader, ForEachLine) {
  struct Row {
    const char* label;
    std::string text;
    std::vector<std::pair<std::size_t, std::string>> want_lines;
    std::optional<std::string> want_problem;
  };
  const std::vector<Row> rows = {
      {"empty text", "", {}, std::nullopt},
      {"numbers count blank and comment lines",
       "# head\n\nA 1\n  B 2  # two\n",
       {{3, "A 1"}, {4, "B 2"}},
       std::nullopt},
      {"last line without newline", "A 1\nB 2", {{1, "A 1"}, {2, "B 2"}}, std::nullopt},
      {"CR before LF is trimmed", "A 1\r\n", {{1, "A 1"}}, std::nullopt},
      {"over-long line", "A 1\n" + std::string(kMaxLine + 1, 'x') + "\n", {{1, "A 1"}},
       std::string("2: line longer than 64 KiB")},
      {"the callback's problem stops the loop", "A 1\nstop\nB 2\n", {{1, "A 1"}, {2, "stop"}}, std::string("stopped")},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    std::vector<std::pair<std::size_t, std::string>> lines;
    const auto problem = for_each_line(row.text, [&](std::size_t n, std::string_view line) -> Problem {
      lines.emplace_back(n, std::string(line));
      if (line == "stop") return std::string("stopped");
      return std::nullopt;
    });
    EXPECT_EQ(lines, row.want_lines);
    EXPECT_EQ(problem, row.want_problem);
  }
}

TEST(ConfigValues, ParseIntIn) {
  struct Row {
    const char* label;
    const char* text;
    std::optional<int> want;
  };
  const std::vector<Row> rows = {
      {"in range", "12", 12},          {"lower bound", "1", 1},      {"upper bound", "1000", 1000},
      {"below", "0", std::nullopt},    {"above", "1001", std::nullopt}, {"empty", "", std::nullopt},
      {"sign", "+5", std::nullopt},    {"negative", "-5", std::nullopt}, {"space", " 5", std::nullopt},
      {"trailing junk", "5x", std::nullopt}, {"overflow", "99999999999999999999999", std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(parse_int_in(row.text, 1, 1000), row.want);
  }
}

TEST(ConfigValues, ParseBool) {
  struct Row {
    const char* label;
    const char* text;
    std::optional<bool> want;
  };
  const std::vector<Row> rows = {
      {"yes", "yes", true},   {"TRUE", "TRUE", true},    {"on", "on", true},    {"1", "1", true},
      {"no", "no", false},    {"False", "False", false}, {"off", "off", false}, {"0", "0", false},
      {"empty", "", std::nullopt}, {"y", "y", std::nullopt}, {"2", "2", std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(parse_bool(row.text), row.want);
  }
}

TEST(ConfigValues, SplitList) {
  struct Row {
    const char* label;
    const char* text;
    std::vector<std::string> want;
  };
  const std::vector<Row> rows = {
      {"empty", "", {}},
      {"one", "a", {"a"}},
      {"commas", "a,b,c", {"a", "b", "c"}},
      {"spaces and tabs", "a b\tc", {"a", "b", "c"}},
      {"empty items vanish", " ,a,, b ,", {"a", "b"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(split_list(row.text), row.want);
  }
}

TEST(ConfigValues, PrintableToken) {
  struct Row {
    const char* label;
    std::string text;
    bool want;
  };
  const std::vector<Row> rows = {
      {"word", "mx.example.test", true}, {"punctuation", "!~", true},     {"empty", "", false},
      {"space", "a b", false},           {"tab", "a\tb", false},          {"DEL", "a\x7f", false},
      {"NUL", std::string("a\0b", 3), false}, {"8-bit", "caf\xc3\xa9", false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(printable_token(row.text), row.want);
  }
}

TEST(ConfigValues, Resolve) {
  struct Row {
    const char* label;
    const char* base;
    const char* path;
    const char* want;
  };
  const std::vector<Row> rows = {
      {"absolute stays", "/srv", "/var/lib/aamp.db", "/var/lib/aamp.db"},
      {"relative joins", "/srv", "state/aamp.db", "/srv/state/aamp.db"},
      {"dot segments go", "/srv/conf", "./../state/aamp.db", "/srv/state/aamp.db"},
      {"no base: kept", "", "state/aamp.db", "state/aamp.db"},
      {"empty path", "/srv", "", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(resolve(row.base, row.path), row.want);
  }
}

}  // namespace
}  // namespace aamp::milter::config_file
