// daemon_startup.cpp — see daemon_startup.hpp. The pipe carries one message from child to
// parent: "ok", or a failure as "c" (configuration, kExitConfig) or "1" (anything else)
// followed by the text the parent prints.
#include "milter/daemon_startup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "milter/daemon.hpp"

namespace aamp::milter {

void StartupReport::detach() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw StartupError(kExitFailure, std::string("pipe: ") + std::generic_category().message(errno));
  const pid_t pid = fork();
  if (pid < 0) throw StartupError(kExitFailure, std::string("fork: ") + std::generic_category().message(errno));
  if (pid > 0) {  // the parent waits for the child's verdict and exits with it
    close(fds[1]);
    std::string message;
    char buf[512];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      message.append(buf, static_cast<std::size_t>(n));
    }
    if (message.rfind("ok", 0) == 0) _exit(kExitOk);
    if (message.empty()) message = "1the daemon exited during startup (see syslog)";
    (void)std::fprintf(stderr, "aamp-milter: %s\n", message.c_str() + 1);
    _exit(message[0] == 'c' ? kExitConfig : kExitFailure);
  }
  close(fds[0]);
  fd_ = fds[1];
  if (setsid() < 0) throw StartupError(kExitFailure, std::string("setsid: ") + std::generic_category().message(errno));
}

void StartupReport::failed(const StartupError& e) {
  if (fd_ < 0) {
    (void)std::fprintf(stderr, "aamp-milter: %s\n", e.what());
    return;
  }
  const std::string line = std::string(e.status == kExitConfig ? "c" : "1") + e.what();
  write_all(line);
  close(fd_);
  fd_ = -1;
}

void StartupReport::succeeded() {
  if (fd_ < 0) return;
  write_all("ok");
  close(fd_);
  fd_ = -1;
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
}

void StartupReport::write_all(const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = write(fd_, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace aamp::milter
