// cidr.hpp — IPv4/IPv6 networks for InternalHosts. Pure; parses with inet_pton semantics
// but no sockets. An IPv4-mapped IPv6 client address (::ffff:a.b.c.d) matches IPv4 nets.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.hpp"

namespace aamp {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // v4 uses the first 4
};
Result<IpAddress> parse_ip(std::string_view text);

struct Cidr {
  IpAddress network;
  int prefix = 0;  // 0..32 or 0..128
  std::string text;
};
// "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
Result<Cidr> parse_cidr(std::string_view text);
bool contains(const Cidr& net, const IpAddress& addr) noexcept;
bool contains_any(const std::vector<Cidr>& nets, std::string_view addr_text);

}  // namespace aamp
