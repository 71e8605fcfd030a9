// log.cpp — see log.hpp.
#include "milter/log.hpp"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace aamp::milter {

namespace {

std::mutex g_mutex;
LogSettings g_settings{true, LOG_MAIL, false, false, "aamp-milter"};
bool g_opened = false;

int priority_of(Severity s) {
  switch (s) {
    case Severity::debug: return LOG_DEBUG;
    case Severity::info: return LOG_INFO;
    case Severity::notice: return LOG_NOTICE;
    case Severity::warning: return LOG_WARNING;
    case Severity::error: return LOG_ERR;
    case Severity::fatal: return LOG_CRIT;
  }
  return LOG_ERR;
}

// Postfix's convention: the severity word leads the text of anything unusual.
std::string_view prefix_of(Severity s) {
  switch (s) {
    case Severity::warning: return "warning: ";
    case Severity::error: return "error: ";
    case Severity::fatal: return "fatal: ";
    default: return "";
  }
}

}  // namespace

bool journal_stream_is(std::string_view journal_stream, unsigned long long dev, unsigned long long ino) {
  const auto colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  auto number = [](std::string_view text, unsigned long long& out) {
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return !text.empty() && ec == std::errc() && ptr == end;
  };
  unsigned long long d = 0, i = 0;
  return number(journal_stream.substr(0, colon), d) && number(journal_stream.substr(colon + 1), i) && d == dev &&
         i == ino;
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");  // NOLINT(concurrency-mt-unsafe): nobody sets it
  struct stat st {};
  if (stream == nullptr || fstat(STDERR_FILENO, &st) != 0) return false;
  return journal_stream_is(stream, st.st_dev, st.st_ino);
}

bool log_to_stderr(bool foreground, bool syslog, bool stderr_journal) {
  return foreground && !(syslog && stderr_journal);
}

void configure_log(const LogSettings& settings) {
  std::lock_guard lock(g_mutex);
  if (g_opened) closelog();
  g_settings = settings;
  g_opened = false;
  if (g_settings.syslog) {
    // The ident string must outlive openlog: it lives in g_settings until the next call.
    openlog(g_settings.ident.c_str(), LOG_PID | LOG_NDELAY, g_settings.facility);
    g_opened = true;
  }
}

void log_line(Severity severity, std::string_view line) noexcept {
  // The lock only copies the settings: no thread ever sleeps on it behind a write(2).
  bool to_syslog = false, to_stderr = false, debug = false;
  std::string ident;  // fits the small-string buffer: no allocation
  {
    std::lock_guard lock(g_mutex);
    to_syslog = g_settings.syslog;
    to_stderr = g_settings.to_stderr;
    debug = g_settings.debug;
    if (to_stderr) ident = g_settings.ident;
  }
  if (severity == Severity::debug && !debug) return;
  const std::string_view prefix = prefix_of(severity);
  if (to_syslog) {  // syslog(3) is thread-safe on its own
    syslog(priority_of(severity), "%.*s%.*s", static_cast<int>(prefix.size()), prefix.data(),
           static_cast<int>(line.size()), line.data());
  }
  if (to_stderr) {
    // One write(2) per line: lines from many threads never interleave. Nothing sensible
    // to do when standard error fails: syslog has the line too.
    try {
      const std::string out = fmt::format("{}[{}]: {}{}\n", ident, getpid(), prefix, line);
      (void)!::write(STDERR_FILENO, out.data(), out.size());
    } catch (...) {
    }
  }
}

}  // namespace aamp::milter
