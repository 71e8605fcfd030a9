// cidr.cpp — see cidr.hpp. Parsing goes through inet_pton (a libc string function, not a
// socket), so address syntax is exactly what the system accepts everywhere else.
#include "policy/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "policy/text.hpp"

namespace aamp {

namespace {

constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_mapped(const IpAddress& a) { return a.v6 && std::memcmp(a.bytes.data(), kMappedPrefix, 12) == 0; }

// ::ffff:a.b.c.d -> a.b.c.d (RFC 4291 §2.5.5.2): Postfix reports IPv4 clients of a dual-stack
// listener this way.
IpAddress unmap(const IpAddress& a) {
  if (!is_mapped(a)) return a;
  IpAddress v4;
  std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
  return v4;
}

// a.b.c.d -> ::ffff:a.b.c.d
IpAddress map_v4(const IpAddress& a) {
  if (a.v6) return a;
  IpAddress v6;
  v6.v6 = true;
  std::memcpy(v6.bytes.data(), kMappedPrefix, 12);
  std::memcpy(v6.bytes.data() + 12, a.bytes.data(), 4);
  return v6;
}

}  // namespace

Result<IpAddress> parse_ip(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 64) return Error{"not an IP address"};
  const std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return Error{"not an IPv4 address: " + s};
    return a;
  }
  // Accept a zone suffix ("fe80::1%eth0") by dropping it: zones never cross the milter protocol.
  const auto zone = s.find('%');
  const std::string bare = s.substr(0, zone);
  if (inet_pton(AF_INET6, bare.c_str(), a.bytes.data()) != 1) return Error{"not an IPv6 address: " + s};
  a.v6 = true;
  return a;
}

Result<Cidr> parse_cidr(std::string_view text) {
  text = trim(text);
  Cidr net;
  net.text = std::string(text);
  const auto slash = text.find('/');
  auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return Error{addr.error()};
  net.network = *addr;
  const int max = net.network.v6 ? 128 : 32;
  net.prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    int prefix = -1;
    const auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc{} || ptr != p.data() + p.size() || prefix < 0 || prefix > max)
      return Error{"bad prefix length in " + net.text};
    net.prefix = prefix;
  }
  // An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 network it maps: contains()
  // compares mapped client addresses as IPv4, so kept as IPv6 it would match nothing.
  if (net.network.v6 && net.prefix >= 96 && is_mapped(net.network)) {
    net.network = unmap(net.network);
    net.prefix -= 96;
  }
  // Clear host bits so that contains() compares networks only.
  for (int i = 0; i < 16; ++i) {
    const int keep = std::max(0, std::min(8, net.prefix - 8 * i));
    net.network.bytes[static_cast<std::size_t>(i)] &= static_cast<std::uint8_t>(0xff00u >> keep);
  }
  return net;
}

bool contains(const Cidr& net, const IpAddress& addr) noexcept {
  // The same client may come as 10.1.1.1 or ::ffff:10.1.1.1: an IPv4 network sees the IPv4
  // form, an IPv6 network (::/0, ::ffff:0:0/95) the mapped one.
  const IpAddress a = net.network.v6 ? map_v4(addr) : unmap(addr);
  if (a.v6 != net.network.v6) return false;
  int bits = net.prefix;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const auto mask = static_cast<std::uint8_t>(0xff00u >> std::min(8, bits));
    if ((a.bytes[i] & mask) != net.network.bytes[i]) return false;
  }
  return true;
}

bool contains_any(const std::vector<Cidr>& nets, std::string_view addr_text) {
  if (nets.empty() || addr_text.empty()) return false;
  auto addr = parse_ip(addr_text);
  if (!addr) return false;
  for (const auto& n : nets)
    if (contains(n, *addr)) return true;
  return false;
}

}  // namespace aamp
