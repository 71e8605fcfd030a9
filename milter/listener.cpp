// listener.cpp — opens the socket the MTA connects to, before privileges are dropped.
// libmilter opens it itself (smfi_opensocket) and never shows us the descriptor, so the
// fixes that follow work around it: TCP_NODELAY on a TCP listener (tcp_nodelay.hpp), and
// mode and owner on a unix socket (created under a umask that already gives the mode, so
// there is no moment where it is more open than configured).
// Threading: main thread, before smfi_main.
#include <grp.h>
#include <libmilter/mfapi.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "milter/daemon.hpp"
#include "milter/log.hpp"
#include "milter/tcp_nodelay.hpp"

namespace aamp::milter {

namespace {

// At startup, before any thread starts (getpwnam/getgrnam are not thread-safe).
// NOLINTBEGIN(concurrency-mt-unsafe)
void set_owner(const std::string& path, const Account& owner) {
  const passwd* pw = getpwnam(owner.user.c_str());
  if (pw == nullptr) throw std::runtime_error("SocketOwner: no user " + owner.user);
  gid_t gid = pw->pw_gid;
  if (!owner.group.empty()) {
    const group* gr = getgrnam(owner.group.c_str());
    if (gr == nullptr) throw std::runtime_error("SocketOwner: no group " + owner.group);
    gid = gr->gr_gid;
  }
  if (chown(path.c_str(), pw->pw_uid, gid) != 0)
    throw std::runtime_error("cannot chown " + path + " to " + owner.str() + ": " + std::generic_category().message(errno));
}
// NOLINTEND(concurrency-mt-unsafe)

constexpr std::size_t kMaxPacket = 1024 * 1024;

}  // namespace

void open_listener(const Config& config) {
  std::string spec = config.socket.libmilter_spec();
  if (smfi_setconn(spec.data()) != MI_SUCCESS) throw std::runtime_error("libmilter refused the socket " + spec);
  if (smfi_settimeout(config.milter_timeout_s) != MI_SUCCESS) throw std::runtime_error("smfi_settimeout failed");
  // libmilter drops a connection whose packet exceeds 64 KiB by default; Postfix sends one
  // header per packet and allows headers up to header_size_limit (100 KiB by default). With
  // 1 MiB an oversized X-AAMP field gets the engine's clear 554 instead of a dropped
  // connection and the MTA's milter_default_action.
  smfi_setmaxdatasize(kMaxPacket);

  const bool unix_socket = config.socket.kind == SocketSpec::Kind::unix;
  const mode_t old_mask = unix_socket ? umask(static_cast<mode_t>(~config.socket_mode & 0777)) : 0;
  errno = 0;
  const int rc = smfi_opensocket(true);  // true: remove a stale unix socket first
  const int err = errno;
  if (unix_socket) umask(old_mask);
  if (rc != MI_SUCCESS)
    throw std::runtime_error("cannot listen on " + config.socket.str() +
                             (err ? std::string(": ") + std::generic_category().message(err) : std::string()) +
                             " (in use, not permitted, or a bad address)");

  if (unix_socket) {
    if (chmod(config.socket.path.c_str(), config.socket_mode) != 0)
      throw std::runtime_error("cannot chmod " + config.socket.path + ": " + std::generic_category().message(errno));
    if (config.socket_owner) set_owner(config.socket.path, *config.socket_owner);
    logf(Severity::info, "listening on {} (mode {:04o}{})", config.socket.str(), config.socket_mode,
         config.socket_owner ? ", owner " + config.socket_owner->str() : std::string());
    return;
  }
  // Without TCP_NODELAY a reply in several packets (a header change, then the verdict)
  // waits ~40 ms for the MTA's delayed ACK. Linux copies the option to accepted sockets.
  const int count = set_nodelay_on_listeners();
  if (count == 0) throw std::runtime_error("no TCP listener found to set TCP_NODELAY on");
  logf(Severity::info, "listening on {} (TCP_NODELAY)", config.socket.str());
}

}  // namespace aamp::milter
