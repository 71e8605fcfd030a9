// listen_spec.cpp — parse "host:port", "[v6]:port" or a bare port.
#include "http/listen_spec.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>

namespace aamp::http {
namespace {

std::uint16_t parse_port(std::string_view text) {
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value > 65535) {
    throw std::invalid_argument("bad port \"" + std::string(text.substr(0, 16)) + "\" (0-65535)");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

ListenSpec parse_listen_spec(std::string_view spec) {
  if (spec.empty()) throw std::invalid_argument("empty listen address");
  if (spec.find(':') == std::string_view::npos) return {"127.0.0.1", parse_port(spec), false};
  ListenSpec out{};
  std::string_view host;
  std::string_view port;
  if (spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      throw std::invalid_argument("expected [IPv6-address]:port");
    }
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
    out.ipv6 = true;
  } else {
    const auto colon = spec.rfind(':');
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      throw std::invalid_argument("an IPv6 address must be written in brackets: [::1]:port");
    }
  }
  out.host = std::string(host);
  out.port = parse_port(port);
  unsigned char buf[16];
  if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, out.host.c_str(), buf) != 1) {
    throw std::invalid_argument("\"" + out.host.substr(0, 64) + "\" is not a numeric " +
                                (out.ipv6 ? "IPv6" : "IPv4") + " address");
  }
  return out;
}

std::string to_string(const ListenSpec& spec) {
  const auto port = std::to_string(spec.port);
  return spec.ipv6 ? "[" + spec.host + "]:" + port : spec.host + ":" + port;
}

}  // namespace aamp::http
