// duration_test.cpp — the one duration grammar (policy/duration.hpp) of config and aampctl.
#include "policy/duration.hpp"

#include <gtest/gtest.h>

namespace aamp {
namespace {

TEST(Duration, Grammar) {
  struct Row {
    const char* label;
    const char* text;
    std::int64_t want_ms;  // -1: refused
  };
  const Row rows[] = {
      {"bare seconds", "90", 90'000},
      {"milliseconds", "500ms", 500},
      {"seconds", "30s", 30'000},
      {"minutes", "15m", 900'000},
      {"hours", "2h", 7'200'000},
      {"days", "7d", 604'800'000},
      {"upper-case unit", "5M", 300'000},
      {"combined", "1h30m", 5'400'000},
      {"combined with ms", "1s250ms", 1'250},
      {"surrounding space", " 5m ", 300'000},
      {"zero", "0s", 0},
      {"bare number after a unit", "1h30", -1},
      {"empty", "", -1},
      {"negative", "-5s", -1},
      {"fraction", "1.5h", -1},
      {"unknown unit", "5w", -1},
      {"unit without number", "m", -1},
      {"space inside", "1h 30m", -1},
      {"ten years is the bound", "3660d", 3660LL * 86'400'000},
      {"over ten years", "3660d1s", -1},
      {"overflow", "99999999999999999999d", -1},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto d = parse_duration_ms(row.text);
    if (row.want_ms < 0) {
      EXPECT_FALSE(d.ok());
    } else {
      ASSERT_TRUE(d.ok()) << d.error();
      EXPECT_EQ(*d, row.want_ms);
    }
  }
  EXPECT_EQ(parse_duration_ms("5w").error(), "unknown duration unit 'w' (use ms, s, m, h or d)");
}

}  // namespace
}  // namespace aamp
