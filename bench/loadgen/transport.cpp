// transport.cpp — see transport.hpp. Blocking sockets with SO_SNDTIMEO for writes and
// connect, poll() for reads so that the hard deadline also bounds them.
#include "bench/loadgen/transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace aamp::loadgen {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::optional<Endpoint> parse_endpoint(std::string_view spec) {
  Endpoint e;
  e.spec = std::string(spec);
  const std::size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view scheme = spec.substr(0, colon);
  const std::string_view rest = spec.substr(colon + 1);
  if (scheme == "unix" || scheme == "local") {
    if (rest.empty() || rest.size() >= sizeof(sockaddr_un{}.sun_path)) return std::nullopt;
    e.kind = Endpoint::Kind::local;
    e.path = std::string(rest);
    return e;
  }
  if (scheme != "inet" && scheme != "inet6") return std::nullopt;
  e.kind = scheme == "inet" ? Endpoint::Kind::inet : Endpoint::Kind::inet6;
  const std::size_t at = rest.find('@');
  const auto port = parse_port(rest.substr(0, at));
  if (!port) return std::nullopt;
  e.port = *port;
  std::string_view host = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  e.host = host.empty() ? (e.kind == Endpoint::Kind::inet ? "127.0.0.1" : "::1") : std::string(host);
  return e;
}

Connection::Connection(const Endpoint& endpoint, const ConnectionOptions& options, Clock::time_point hard_deadline)
    : options_(options), hard_deadline_(hard_deadline) {
  const bool tcp = endpoint.kind != Endpoint::Kind::local;
  // Postfix: VSTREAM_BUFSIZE (4096) for a unix socket; for TCP vstream_tweak_tcp() raises the
  // buffer to twice the MSS (~128 KiB on loopback) when the MSS exceeds half the buffer.
  capacity_ = options.write_buffer ? options.write_buffer : (tcp ? 131072 : 4096);
  const int family = endpoint.kind == Endpoint::Kind::local ? AF_UNIX : endpoint.kind == Endpoint::Kind::inet ? AF_INET : AF_INET6;
  fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw SessionError(SessionError::Kind::io, errno_text("socket"));
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(hard_deadline_ - Clock::now());
  if (left.count() <= 0) {
    close();
    throw SessionError(SessionError::Kind::timeout, "deadline before connect");
  }
  set_timeouts(fd_, std::min(left, options_.io_timeout));  // bounds connect() and send()
  int rc = -1;
  if (family == AF_UNIX) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, endpoint.path.data(), endpoint.path.size());
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else if (family == AF_INET) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(endpoint.port);
    if (inet_pton(AF_INET, endpoint.host.c_str(), &sa.sin_addr) != 1) {
      close();
      throw SessionError(SessionError::Kind::io, "not an IPv4 address: " + endpoint.host);
    }
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(endpoint.port);
    if (inet_pton(AF_INET6, endpoint.host.c_str(), &sa.sin6_addr) != 1) {
      close();
      throw SessionError(SessionError::Kind::io, "not an IPv6 address: " + endpoint.host);
    }
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (rc != 0) {
    const std::string what = errno_text(("connect " + endpoint.spec).c_str());
    close();
    throw SessionError(SessionError::Kind::io, what);
  }
  set_timeouts(fd_, options_.io_timeout);
  if (tcp && options_.nodelay) {
    const int on = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
}

Connection::~Connection() { close(); }

void Connection::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) throw SessionError(SessionError::Kind::timeout, "send timed out");
      throw SessionError(SessionError::Kind::io, errno_text("send"));
    }
    bytes_sent_ += static_cast<std::uint64_t>(n);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void Connection::write(std::string_view bytes) {
  if (options_.trace && bytes.size() >= 5)
    std::fprintf(stderr, "[%d] > '%c' %zu bytes\n", fd_, bytes[4], bytes.size());
  out_.append(bytes);
  // A full VSTREAM buffer goes out as one write of the buffer size.
  std::size_t sent = 0;
  while (out_.size() - sent >= capacity_) {
    send_all(std::string_view(out_).substr(sent, capacity_));
    sent += capacity_;
  }
  if (sent) out_.erase(0, sent);
}

void Connection::flush() {
  if (out_.empty()) return;
  send_all(out_);
  out_.clear();
}

Packet Connection::read_packet() {
  flush();
  char buf[65536];
  for (;;) {
    if (auto p = decoder_.next()) {
      if (options_.trace) std::fprintf(stderr, "[%d] < '%c' %zu bytes\n", fd_, p->command, p->data.size());
      return std::move(*p);
    }
    if (decoder_.broken()) throw SessionError(SessionError::Kind::protocol, "bad packet length from the filter");
    const auto now = Clock::now();
    if (now >= hard_deadline_) throw SessionError(SessionError::Kind::timeout, "hard deadline while waiting for a reply");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(hard_deadline_ - now) + std::chrono::milliseconds(1);
    pollfd pfd{fd_, POLLIN, 0};
    const int rc = ::poll(&pfd, 1, static_cast<int>(std::min(left, options_.io_timeout).count()));
    if (rc < 0) {
      if (errno == EINTR) continue;
      throw SessionError(SessionError::Kind::io, errno_text("poll"));
    }
    if (rc == 0) {
      if (Clock::now() >= hard_deadline_) throw SessionError(SessionError::Kind::timeout, "hard deadline while waiting for a reply");
      throw SessionError(SessionError::Kind::timeout, "no reply within the I/O timeout");
    }
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SessionError(SessionError::Kind::io, errno_text("recv"));
    }
    if (n == 0) throw SessionError(SessionError::Kind::io, "the filter closed the connection");
    decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

void Connection::close() noexcept {
  if (fd_ < 0) return;
  if (!out_.empty()) {
    try {
      send_all(out_);
    } catch (...) {  // closing anyway
    }
    out_.clear();
  }
  ::close(fd_);
  fd_ = -1;
}

}  // namespace aamp::loadgen
