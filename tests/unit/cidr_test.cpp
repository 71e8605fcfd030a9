// cidr_test.cpp — InternalHosts networks: parsing and membership, IPv4, IPv6, mapped IPv4.
#include "policy/cidr.hpp"

#include <gtest/gtest.h>

namespace aamp {
namespace {

TEST(Cidr, Membership) {
  struct Row {
    const char* net;
    const char* addr;
    bool want;
  };
  const Row rows[] = {
      {"10.0.0.0/8", "10.255.1.2", true},
      {"10.0.0.0/8", "11.0.0.1", false},
      {"192.0.2.128/25", "192.0.2.129", true},
      {"192.0.2.128/25", "192.0.2.127", false},
      {"192.0.2.7", "192.0.2.7", true},
      {"192.0.2.7", "192.0.2.8", false},
      {"10.1.2.3/8", "10.9.9.9", true},  // host bits are cleared
      {"0.0.0.0/0", "203.0.113.9", true},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"::1", "::1", true},
      {"10.0.0.0/8", "::ffff:10.1.1.1", true},  // IPv4-mapped client of a dual-stack listener
      {"10.0.0.0/8", "2001:db8::a01:101", false},
      {"2001:db8::/32", "10.0.0.1", false},
      {"[2001:db8::]/32", "[2001:db8::5]", true},
      {"fe80::/10", "fe80::1%eth0", true},
      {"10.0.0.0/8", "", false},
      {"10.0.0.0/8", "unknown", false},
      // A network written in IPv4-mapped form means its IPv4 network (found by fuzzing:
      // it used to match no client at all).
      {"::ffff:10.0.0.0/104", "::ffff:10.1.1.1", true},
      {"::ffff:10.0.0.0/104", "10.1.1.1", true},
      {"::ffff:10.0.0.0/104", "11.1.1.1", false},
      {"::ffff:0:0/95", "10.1.1.1", true},  // an IPv6 net sees the mapped form of an IPv4 client
      {"::/0", "::ffff:192.0.2.1", true},
      {"::/0", "192.0.2.1", true},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.net) + " ∋ " + r.addr);
    const auto net = parse_cidr(r.net);
    ASSERT_TRUE(net.ok()) << net.error();
    EXPECT_EQ(contains_any({*net}, r.addr), r.want);
  }
}

TEST(Cidr, RefusesMalformedNetworks) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0/8", "2001:db8::/129",
                          "host.example.com", "10.0.0.0/8x", "1.2.3.4.5", ":::"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_cidr(bad).ok());
  }
}

}  // namespace
}  // namespace aamp
