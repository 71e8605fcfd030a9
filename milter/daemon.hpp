// daemon.hpp — the pieces of the aamp-milter executable and how they meet: main.cpp parses
// the command line into Options and calls run_daemon (daemon.cpp), which opens resources,
// drops privileges and runs libmilter with the callbacks of callbacks.cpp; those reach the
// daemon's state only through Runtime. apply.cpp turns a Decision into smfi_* calls.
// Threading: Runtime is called from every libmilter connection thread at once.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "milter/config.hpp"
#include "milter/session.hpp"

namespace aamp::milter {

struct Options {
  std::string config_path = "/etc/aamp-milter/aamp-milter.conf";  // -c
  bool foreground = false;                                         // -f
  bool check_only = false;                                         // -n
  std::optional<std::string> socket_override;                      // -p
};

// Exit statuses (sysexits.h where one fits).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a resource could not be opened, privileges not dropped
inline constexpr int kExitUsage = 64;   // EX_USAGE
inline constexpr int kExitConfig = 78;  // EX_CONFIG: the configuration is wrong

// What the callbacks need from the running daemon.
class Runtime {
 public:
  virtual ~Runtime() = default;
  // The configuration new connections start with (a reload replaces it; a connection
  // keeps the snapshot it started with).
  virtual std::shared_ptr<const Config> config() const = 0;
  virtual Services services() = 0;
  // A decision queued a pair.respond: wake the reply worker.
  virtual void reply_enqueued() noexcept = 0;
  virtual void connection_opened() noexcept = 0;
  virtual void connection_closed() noexcept = 0;
  // Every callback that touches a session runs between these two. Shutdown waits for the
  // callbacks under way, not for open connections: once smfi_stop is called, libmilter never
  // calls back on an idle connection again, not even to close it. callback_begins() is false
  // once shutdown has stopped waiting: the callback then tempfails without touching the store.
  virtual bool callback_begins() noexcept = 0;
  virtual void callback_ends() noexcept = 0;
};

// callbacks.cpp: registers the filter (every callback, the actions we use) with libmilter.
// Throws std::runtime_error when libmilter refuses.
void register_filter(Runtime& runtime);

// listener.cpp: smfi_setconn + smfi_opensocket for `config.socket`, then TCP_NODELAY on a
// TCP listener, or mode and owner on a unix socket. Throws std::runtime_error.
void open_listener(const Config& config);

// daemon.cpp: runs until SIGTERM/SIGINT (SIGHUP and SIGUSR1 reload); returns the exit
// status: 0 after SIGTERM/SIGINT, 1 when libmilter stopped on its own.
int run_daemon(const Options& options);

// daemon.cpp: the version line for -V.
std::string version_line();

}  // namespace aamp::milter
