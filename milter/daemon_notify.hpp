// daemon_notify.hpp — the daemon's state for the service manager (systemd's sd_notify(3)
// protocol, Type=notify): READY=1 once the socket listens and the database was tried,
// RELOADING=1 then READY=1 around a reload, STOPPING=1 on SIGTERM, and a STATUS= line.
// A no-op without $NOTIFY_SOCKET, and in a build without libsystemd (-DAAMP_SYSTEMD=OFF).
// Threading: any thread (sd_notify opens a datagram socket per call).
#pragma once

#include <string>

namespace aamp::milter {

void notify_ready(const std::string& status);
// RELOADING=1 with MONOTONIC_USEC= (what systemd 253's Type=notify-reload checks; 252 ignores it).
void notify_reloading();
void notify_stopping();

}  // namespace aamp::milter
