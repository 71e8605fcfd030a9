// daemon_notify.cpp — see daemon_notify.hpp.
#include "milter/daemon_notify.hpp"

#include <time.h>

#if AAMP_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace aamp::milter {

namespace {

void send(const std::string& message) {
#if AAMP_HAVE_SYSTEMD
  (void)sd_notify(0, message.c_str());  // 0 when NOTIFY_SOCKET is unset; errors change nothing
#else
  (void)message;
#endif
}

// STATUS= ends at the line break: a status is one line.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

void notify_ready(const std::string& status) { send("READY=1\nSTATUS=" + one_line(status)); }

void notify_reloading() {
  timespec now{};
  (void)clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading the configuration");
}

void notify_stopping() { send("STOPPING=1\nSTATUS=stopping: waiting for the milter callbacks under way"); }

}  // namespace aamp::milter
