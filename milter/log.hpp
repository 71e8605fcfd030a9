// log.hpp — the daemon's log: syslog(3) with a configurable facility, and standard error
// too in the foreground (-f) unless that is the journal syslog already reaches. Severity says what happens next (style.md rule 9): warning =
// degraded but going on, error = this message tempfails, fatal = startup only. Lines start
// with the message id where there is one; callers never pass whole pair codes, and pass
// every value from outside through for_log_line / for_log_field (policy/text_safety.hpp).
// Thread-safe: configure_log() may run while other threads log (a mutex orders them).
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace aamp::milter {

enum class Severity {
  debug,    // detail for developers; not written unless LogDebug-style verbosity is on
  info,     // normal operation: a message decided, the daemon started or reloaded
  notice,   // normal but significant: a configuration reload refused, a store reopened
  warning,  // degraded but going on (fail-open, a retry)
  error,    // this message tempfails, or a resource is unavailable
  fatal,    // startup only: the daemon exits
};

struct LogSettings {
  bool syslog = true;
  int facility = 0;         // LOG_MAIL etc.; 0 = LOG_KERN would be wrong: callers set it
  bool to_stderr = false;   // -f: also write each line to standard error
  bool debug = false;       // write debug lines too
  std::string ident = "aamp-milter";
};

void configure_log(const LogSettings& settings);

// Whether $JOURNAL_STREAM ("DEV:INO", set by systemd when it connects standard output or
// error to the journal) names the file with device `dev` and inode `ino`. Pure.
bool journal_stream_is(std::string_view journal_stream, unsigned long long dev, unsigned long long ino);
// True when standard error is the journal's stream (JOURNAL_STREAM matches fstat(2)).
bool stderr_is_journal();
// The one rule against double logging: with -f each line goes to standard error too,
// except when syslog is on and standard error is the journal — syslog reaches the journal
// already, with its facility and priority, so that copy alone is kept. Pure.
bool log_to_stderr(bool foreground, bool syslog, bool stderr_journal);
void log_line(Severity severity, std::string_view line) noexcept;

template <class... Args>
void logf(Severity severity, fmt::format_string<Args...> format, Args&&... args) noexcept {
  try {
    log_line(severity, fmt::format(format, std::forward<Args>(args)...));
  } catch (...) {
    log_line(Severity::error, "log: could not format a log line");
  }
}

}  // namespace aamp::milter
