// tcp_nodelay.cpp — see tcp_nodelay.hpp. Linux only (/proc/self/fd, SO_ACCEPTCONN, SO_DOMAIN).
#include "milter/tcp_nodelay.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <string_view>
#include <system_error>

namespace aamp {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const noexcept { closedir(dir); }
};

int int_sockopt(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, name, &value, &len) != 0) return -1;
  return value;
}

// A TCP socket in listen state: the kind libmilter's smfi_opensocket() leaves behind.
bool is_tcp_listener(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  const int domain = int_sockopt(fd, SOL_SOCKET, SO_DOMAIN);
  return (domain == AF_INET || domain == AF_INET6) && int_sockopt(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM &&
         int_sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1;
}

}  // namespace

int set_nodelay_on_listeners() {
  std::unique_ptr<DIR, DirCloser> dir(opendir("/proc/self/fd"));
  if (!dir) throw std::system_error(errno, std::generic_category(), "opendir /proc/self/fd");
  const int own_fd = dirfd(dir.get());
  int count = 0;
  // readdir is safe on a stream no other thread uses (glibc); this one is ours alone.
  while (const dirent* entry = readdir(dir.get())) {  // NOLINT(concurrency-mt-unsafe)
    const std::string_view name(entry->d_name);
    int fd = -1;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (ec != std::errc{} || end != name.data() + name.size() || fd == own_fd) continue;
    if (!is_tcp_listener(fd)) continue;
    const int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
      throw std::system_error(errno, std::generic_category(), "setsockopt TCP_NODELAY on the milter listener");
    ++count;
  }
  return count;
}

}  // namespace aamp
