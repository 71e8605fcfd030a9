// daemon_pid_file.cpp — see daemon_pid_file.hpp.
#include "milter/daemon_pid_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "milter/daemon.hpp"
#include "milter/daemon_startup.hpp"

namespace aamp::milter {

void write_pid_file(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw StartupError(kExitFailure, "PidFile " + path + ": " + std::generic_category().message(errno));
  const std::string text = std::to_string(getpid()) + "\n";
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok) throw StartupError(kExitFailure, "PidFile " + path + ": write failed");
}

}  // namespace aamp::milter
