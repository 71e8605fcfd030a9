// daemon_reload.hpp — what a reload (SIGHUP, SIGUSR1) may not change: the socket, UserID and PidFile
// were opened or dropped at start-up and stay until a restart. The daemon (daemon.cpp)
// logs each line as a warning and takes the rest of the new configuration.
// Pure: no libmilter, no SQLite, no logging. Threading: a plain function.
#pragma once

#include <string>
#include <vector>

#include "milter/config.hpp"

namespace aamp::milter {

// One log line per change in `next` that needs a restart ("reload: ..."), in a fixed order;
// empty when there is none.
std::vector<std::string> changes_needing_restart(const Config& running, const Config& next);

}  // namespace aamp::milter
