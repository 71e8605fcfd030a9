// transport.hpp — the loadgen's socket to a milter, buffered the way Postfix buffers it.
// Postfix writes milter packets into a VSTREAM buffer and sends them only when it is about
// to read a reply, when the buffer fills, or when smtpd hands the socket to cleanup; and it
// leaves Nagle on (vstream_tweak_tcp() enlarges the buffer instead of setting TCP_NODELAY).
// Connection mirrors that, so Nagle/delayed-ACK stalls a real Postfix would hit show here too.
// One Connection belongs to one thread. Every wait is bounded by the I/O timeout and by a
// hard deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bench/loadgen/milter_wire.hpp"

namespace aamp::loadgen {

using Clock = std::chrono::steady_clock;

// Where the milter listens, in the milter socket syntax Postfix and libmilter share.
struct Endpoint {
  enum class Kind {
    inet,   // "inet:PORT@HOST" (HOST defaults to 127.0.0.1)
    inet6,  // "inet6:PORT@HOST" or "inet6:PORT@[HOST]" (HOST defaults to ::1)
    local,  // "unix:/path" or "local:/path"
  };
  Kind kind = Kind::inet;
  std::string host;
  std::uint16_t port = 0;
  std::string path;
  std::string spec;  // as given
};
std::optional<Endpoint> parse_endpoint(std::string_view spec);

class SessionError : public std::runtime_error {
 public:
  enum class Kind {
    io,        // connect/read/write failed or the filter closed the socket
    timeout,   // the I/O timeout or the hard deadline passed while waiting
    protocol,  // the filter sent something the protocol does not allow here
  };
  SessionError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

struct ConnectionOptions {
  bool nodelay = false;                                 // Postfix does not set TCP_NODELAY
  std::chrono::milliseconds io_timeout{10'000};         // per wait, as milter_command_timeout
  std::size_t write_buffer = 0;                         // 0: Postfix's (4096 unix, 128 KiB TCP)
  bool trace = false;                                   // packets to stderr
};

class Connection {
 public:
  // Connects; throws SessionError on failure or when `hard_deadline` passes first.
  Connection(const Endpoint& endpoint, const ConnectionOptions& options, Clock::time_point hard_deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Appends bytes to the write buffer; sends full buffers as they fill.
  void write(std::string_view bytes);
  // Sends everything buffered.
  void flush();
  // Flushes, then returns the next packet from the filter.
  Packet read_packet();
  // Flushes what is buffered (best effort) and closes the socket.
  void close() noexcept;

  std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }

 private:
  void send_all(std::string_view bytes);
  int fd_ = -1;
  ConnectionOptions options_;
  Clock::time_point hard_deadline_;
  std::size_t capacity_;
  std::string out_;
  PacketDecoder decoder_;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace aamp::loadgen
