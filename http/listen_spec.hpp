// listen_spec.hpp — where an HTTP server listens: "127.0.0.1:8892", "[::1]:8892", or a bare
// port "8892" (loopback, 127.0.0.1). Pure: no sockets, no name look-ups (a host must be a
// numeric address, so that no resolver decides what is exposed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aamp::http {

struct ListenSpec {
  std::string host;    // numeric IPv4 or IPv6 address, without brackets
  std::uint16_t port;  // 0 = any free port (tests)
  bool ipv6 = false;
  bool operator==(const ListenSpec&) const = default;
};

// Throws std::invalid_argument with a message naming what is wrong.
ListenSpec parse_listen_spec(std::string_view spec);

// The spec written back: "127.0.0.1:8892", "[::1]:8892".
std::string to_string(const ListenSpec& spec);

}  // namespace aamp::http
