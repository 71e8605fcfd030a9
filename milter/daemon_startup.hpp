// daemon_startup.hpp — how the daemon reports its start-up: a fatal problem carries the exit
// status it ends with (StartupError), and a detached daemon tells the parent still waiting
// on the terminal how start-up went (StartupReport), so `aamp-milter` exits non-zero when
// the daemon could not start. No libmilter. Threading: start-up only, before any thread.
#pragma once

#include <stdexcept>
#include <string>

namespace aamp::milter {

// A fatal startup problem: reported to the parent (or stderr with -f), exit status kept.
struct StartupError : std::runtime_error {
  StartupError(int status_, const std::string& what) : std::runtime_error(what), status(status_) {}
  int status;
};

// The file descriptor on which a detached child tells its parent how startup went.
class StartupReport {
 public:
  // Forks: the parent waits for the child's verdict and exits with it; the child returns,
  // in a session of its own. Throws StartupError.
  void detach();
  // Startup failed: the parent prints `e` and exits with its status (kExitConfig or 1).
  void failed(const StartupError& e);
  // Startup went well: release the parent, and let go of the terminal.
  void succeeded();

 private:
  void write_all(const std::string& s);
  int fd_ = -1;
};

}  // namespace aamp::milter
