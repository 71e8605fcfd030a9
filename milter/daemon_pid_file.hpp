// daemon_pid_file.hpp — the PidFile: the daemon's process id, written once at start-up while
// still privileged (a directory such as /run is root's), removed at exit by daemon.cpp.
// No libmilter. Threading: start-up only.
#pragma once

#include <string>

namespace aamp::milter {

// Writes "PID\n" to `path` (created 0644, truncated; a symbolic link is refused).
// Throws StartupError (kExitFailure) when it cannot.
void write_pid_file(const std::string& path);

}  // namespace aamp::milter
