// loadgen_protocol_test.cpp — the benchmark load generator's milter wire format: what it
// encodes byte for byte, how it splits and bounds the filter's packets, how it reads option
// negotiation, reply codes and header changes; plus its socket and mix syntax. Tables.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/loadgen/milter_wire.hpp"
#include "bench/loadgen/mix.hpp"
#include "bench/loadgen/transport.hpp"

namespace lg = aamp::loadgen;
using namespace std::string_literals;

namespace {

std::string packet(char cmd, const std::string& payload) {
  const auto n = static_cast<unsigned>(payload.size() + 1);
  std::string s;
  for (int shift : {24, 16, 8, 0}) s.push_back(static_cast<char>((n >> shift) & 0xFF));
  s.push_back(cmd);
  return s + payload;
}

TEST(LoadgenWire, Encodes) {
  struct Row {
    const char* label;
    std::string got;
    std::string want;
  };
  auto enc = [](auto f) {
    std::string out;
    f(out);
    return out;
  };
  const std::vector<Row> rows = {
      {"optneg as Postfix 3.7 offers it",
       enc([](std::string& o) { lg::append_optneg(o, lg::kMtaVersion, lg::kMtaActions, lg::kMtaProtocol); }),
       packet('O', "\0\0\0\x06\0\0\x01\xff\0\x1f\xff\xff"s)},
      {"macros for MAIL", enc([](std::string& o) { lg::append_macros(o, 'M', {{"{auth_authen}", "alice"}, {"i", "4F2"}}); }),
       packet('D', "M{auth_authen}\0alice\0i\0004F2\0"s)},
      {"no macros defined", enc([](std::string& o) { lg::append_macros(o, 'H', {}); }), packet('D', "H")},
      {"connect inet, port in network order",
       enc([](std::string& o) { lg::append_connect(o, "mx.example", SMFIA_INET, 0x1234, "192.0.2.7"); }),
       packet('C', "mx.example\0" "4\x12\x34" "192.0.2.7\0"s)},
      {"connect unknown family carries no port or address",
       enc([](std::string& o) { lg::append_connect(o, "localhost", SMFIA_UNKNOWN, 25, "x"); }),
       packet('C', "localhost\0U"s)},
      {"helo", enc([](std::string& o) { lg::append_helo(o, "client.example"); }), packet('H', "client.example\0"s)},
      {"mail with an ESMTP parameter", enc([](std::string& o) { lg::append_args(o, 'M', {"<a@b>", "SIZE=10"}); }),
       packet('M', "<a@b>\0SIZE=10\0"s)},
      {"header", enc([](std::string& o) { lg::append_header(o, "Subject", "hi"); }), packet('L', "Subject\0hi\0"s)},
      {"body is raw", enc([](std::string& o) { lg::append_body(o, "a\r\nb\r\n"); }), packet('B', "a\r\nb\r\n")},
      {"end of body has no payload", enc([](std::string& o) { lg::append_empty(o, 'E'); }), packet('E', "")},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    EXPECT_EQ(r.got, r.want);
  }
}

TEST(LoadgenWire, DecodesPacketsAcrossAnyReadBoundary) {
  const std::string stream = packet('c', "") + packet('h', "X-A\0v\0"s) + packet('a', "");
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    lg::PacketDecoder d;
    std::vector<lg::Packet> got;
    d.feed(stream.substr(0, cut));
    while (auto p = d.next()) got.push_back(*p);
    d.feed(stream.substr(cut));
    while (auto p = d.next()) got.push_back(*p);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].command, 'c');
    EXPECT_EQ(got[1].command, 'h');
    EXPECT_EQ(got[1].data, "X-A\0v\0"s);
    EXPECT_EQ(got[2].command, 'a');
    EXPECT_FALSE(d.broken());
  }
}

TEST(LoadgenWire, RefusesImpossibleLengths) {
  struct Row {
    const char* label;
    std::string bytes;
  };
  const std::vector<Row> rows = {
      {"zero length", "\0\0\0\0c"s},
      {"longer than any filter sends", "\x7f\xff\xff\xff" "c"s},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    lg::PacketDecoder d;
    d.feed(r.bytes);
    EXPECT_FALSE(d.next());
    EXPECT_TRUE(d.broken());
  }
}

TEST(LoadgenWire, ParsesOptionNegotiation) {
  const std::string base = "\0\0\0\x06\0\0\0\x39\0\0\x10\0"s;  // v6, actions 0x39, NR_CONN
  auto r = lg::parse_optneg_reply(base);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->version, 6u);
  EXPECT_EQ(r->actions, 0x39u);
  EXPECT_EQ(r->protocol, static_cast<std::uint32_t>(SMFIP_NR_CONN));
  EXPECT_FALSE(r->macro_lists[2]);

  r = lg::parse_optneg_reply(base + "\0\0\0\x02{auth_authen} i\0"s + "\0\0\0\x63ignored\0"s);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->macro_lists[static_cast<int>(lg::MacroStage::mail)]);
  EXPECT_EQ(*r->macro_lists[static_cast<int>(lg::MacroStage::mail)], "{auth_authen} i");

  EXPECT_FALSE(lg::parse_optneg_reply(base.substr(0, 11)));                 // short
  EXPECT_FALSE(lg::parse_optneg_reply(base + "\0\0\0\x02{auth_authen}"s));  // unterminated list
}

TEST(LoadgenWire, ChecksReplyCodesAsPostfixDoes) {
  struct Row {
    const char* label;
    std::string data;
    bool ok;
  };
  const std::vector<Row> rows = {
      {"reject with enhanced code", "550 5.7.1 not allowed\0"s, true},
      {"tempfail", "451 4.3.0 try later\0"s, true},
      {"multi-line", "550-5.7.1 first\r\n550 5.7.1 last\0"s, true},
      {"2xx is not a reply a filter may give", "250 2.0.0 ok\0"s, false},
      {"mixed classes", "550 4.7.1 confused\0"s, false},
      {"no separator", "550x\0"s, false},
      {"not NUL-terminated", "550 5.7.1 x"s, false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    const auto got = lg::parse_reply_code(r.data);
    EXPECT_EQ(got.has_value(), r.ok);
    if (got) {
      EXPECT_EQ(*got, r.data.substr(0, r.data.size() - 1));
    }
  }
}

TEST(LoadgenWire, ParsesIndexedHeaderChanges) {
  const auto h = lg::parse_indexed_header("\0\0\0\x02" "Authentication-Results\0mx; aamp=pass\0"s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->index, 2u);
  EXPECT_EQ(h->name, "Authentication-Results");
  EXPECT_EQ(h->value, "mx; aamp=pass");
  EXPECT_FALSE(lg::parse_indexed_header("\0\0\0\x02" "only-name\0"s));
  EXPECT_FALSE(lg::parse_indexed_header("\0\0"s));
}

TEST(LoadgenOptions, ParsesSocketSpecs) {
  struct Row {
    const char* label;
    const char* spec;
    bool ok;
    lg::Endpoint::Kind kind;
    const char* host;
    std::uint16_t port;
    const char* path;
  };
  const std::vector<Row> rows = {
      {"inet with host", "inet:8891@127.0.0.1", true, lg::Endpoint::Kind::inet, "127.0.0.1", 8891, ""},
      {"inet without host is loopback", "inet:8891", true, lg::Endpoint::Kind::inet, "127.0.0.1", 8891, ""},
      {"inet6 with brackets", "inet6:8891@[::1]", true, lg::Endpoint::Kind::inet6, "::1", 8891, ""},
      {"unix", "unix:/run/aamp.sock", true, lg::Endpoint::Kind::local, "", 0, "/run/aamp.sock"},
      {"local is unix", "local:/tmp/s", true, lg::Endpoint::Kind::local, "", 0, "/tmp/s"},
      {"port zero", "inet:0@127.0.0.1", false, {}, "", 0, ""},
      {"port too big", "inet:70000", false, {}, "", 0, ""},
      {"unknown scheme", "tcp:25", false, {}, "", 0, ""},
      {"no scheme", "/tmp/s", false, {}, "", 0, ""},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    const auto e = lg::parse_endpoint(r.spec);
    ASSERT_EQ(e.has_value(), r.ok);
    if (!e) continue;
    EXPECT_EQ(e->kind, r.kind);
    EXPECT_EQ(e->host, r.host);
    EXPECT_EQ(e->port, r.port);
    EXPECT_EQ(e->path, r.path);
  }
}

TEST(LoadgenOptions, ParsesMixes) {
  struct Row {
    const char* label;
    const char* text;
    bool ok;
    const char* canonical;
  };
  const std::vector<Row> rows = {
      {"all kinds", "plain=60,allowed=20,denied=10,invalid=5,pair_valid=2,pair_wrong=3", true,
       "plain=60,allowed=20,denied=10,invalid=5,pair_valid=2,pair_wrong=3"},
      {"order does not matter", "denied=1,plain=2", true, "plain=2,denied=1"},
      {"unknown kind", "plain=1,spam=2", false, ""},
      {"not a number", "plain=x", false, ""},
      {"all zero", "plain=0", false, ""},
      {"no weight", "plain", false, ""},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    const auto m = lg::parse_mix(r.text);
    ASSERT_EQ(m.has_value(), r.ok);
    if (m) {
      EXPECT_EQ(lg::format_mix(*m), r.canonical);
    }
  }
}

}  // namespace
