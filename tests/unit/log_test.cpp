// log_test.cpp — the rule against double logging under systemd (milter/log.hpp): with -f
// the daemon writes standard error too, unless syslog is on and standard error is the
// journal's stream ($JOURNAL_STREAM = "DEV:INO" of that stream).
#include "milter/log.hpp"

#include <gtest/gtest.h>

namespace aamp::milter {
namespace {

TEST(Log, JournalStreamMatchesDeviceAndInode) {
  EXPECT_TRUE(journal_stream_is("8:1234", 8, 1234));
  EXPECT_TRUE(journal_stream_is("0:18446744073709551615", 0, 18446744073709551615ULL));
  EXPECT_FALSE(journal_stream_is("8:1234", 8, 1235));  // another file on the same device
  EXPECT_FALSE(journal_stream_is("9:1234", 8, 1234));
  for (const char* bad : {"", ":", "8", "8:", ":1234", "8:1234:5", "x:1234", "8:12a4", " 8:1234", "-8:1234"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(journal_stream_is(bad, 8, 1234));
  }
}

TEST(Log, StandardErrorOnlyWhereItIsNotASecondCopy) {
  struct Row {
    bool foreground, syslog, journal, want;
  };
  const Row rows[] = {
      {false, true, false, false},  // detached: syslog only
      {false, false, true, false},
      {true, false, false, true},   // -f on a terminal
      {true, true, false, true},    // -f with syslog, stderr a file or terminal: both
      {true, false, true, true},    // -f under systemd, Syslog no: the journal gets stderr
      {true, true, true, false},    // -f under systemd with Syslog yes: syslog's copy only
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(testing::Message() << r.foreground << r.syslog << r.journal);
    EXPECT_EQ(log_to_stderr(r.foreground, r.syslog, r.journal), r.want);
  }
}

}  // namespace
}  // namespace aamp::milter
