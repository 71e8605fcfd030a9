// trust_fuzz.cpp — libFuzzer target (and, under GCC, a corpus replay test) for the parsers
// of the trust inputs: RFC 8601 Authentication-Results (policy/auth_results.hpp), the
// InternalHosts networks and client addresses (policy/cidr.hpp), and the trust evaluation
// and forged-verdict search over a header block (policy/trust.hpp), with the encoded-word
// decoding it relies on. The first byte picks the part, the rest is its input. Aborts when an
// invariant callers rely on breaks.
#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/auth_results.hpp"
#include "policy/cidr.hpp"
#include "policy/encodings.hpp"
#include "policy/facts.hpp"
#include "policy/policy.hpp"
#include "policy/text.hpp"
#include "policy/trust.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool lower(std::string_view s) {
  for (const char c : s)
    if (c >= 'A' && c <= 'Z') return false;
  return true;
}

void auth_results(std::string_view in) {
  const auto ar = aamp::parse_authentication_results(in);
  const std::string id = aamp::authserv_id_of(in);
  require(lower(id));
  // A field not claimed as ours names a plain authserv-id; one that parses under ours is claimed.
  const bool claimed = aamp::claims_authserv_id(in, "mx.example.test");
  if (!claimed) require(aamp::is_plain_authserv_id(id));
  if (ar && ar->authserv_id == "mx.example.test") require(claimed);
  const auto decoded = aamp::decode_encoded_words(in);
  if (decoded) require(decoded->size() <= in.size() && (in.find("=?") != std::string_view::npos || *decoded == in));
  if (!ar) return;
  require(!ar->authserv_id.empty() && lower(ar->authserv_id));
  // The quick look finds the same id the full parse does: forged copies cannot hide.
  require(id == ar->authserv_id);
  require(ar->results.size() <= 64);
  for (const auto& r : ar->results) {
    require(!r.method.empty() && lower(r.method) && lower(r.result));
    for (const auto& [key, value] : r.properties) require(lower(key) && r.property(key).size() <= in.size());
  }
}

void cidr(std::string_view in) {
  const auto net = aamp::parse_cidr(in);
  if (!net) return;
  const int max = net->network.v6 ? 128 : 32;
  require(net->prefix >= 0 && net->prefix <= max);
  // Host bits are clear, the network contains its first and last address and nothing
  // that differs in the last network bit.
  aamp::IpAddress last = net->network;
  for (int bit = net->prefix; bit < max; ++bit) {
    const auto byte = static_cast<std::size_t>(bit / 8);
    const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    require((net->network.bytes[byte] & mask) == 0);
    last.bytes[byte] |= mask;
  }
  require(aamp::contains(*net, net->network) && aamp::contains(*net, last));
  if (net->prefix > 0) {
    aamp::IpAddress outside = net->network;
    const int bit = net->prefix - 1;
    outside.bytes[static_cast<std::size_t>(bit / 8)] ^= static_cast<std::uint8_t>(0x80u >> (bit % 8));
    require(!aamp::contains(*net, outside));
  }
  // The address part prints and parses back to itself.
  std::array<char, INET6_ADDRSTRLEN> text{};
  require(inet_ntop(net->network.v6 ? AF_INET6 : AF_INET, net->network.bytes.data(), text.data(), text.size()) != nullptr);
  const auto again = aamp::parse_ip(text.data());
  require(again.ok() && again->v6 == net->network.v6 && again->bytes == net->network.bytes);
}

// Lines "Name: value"; the last line without a colon is the client address.
void trust(std::string_view in) {
  aamp::MessageFacts facts;
  std::size_t pos = 0;
  while (pos < in.size() && facts.headers.size() < 64) {
    auto end = in.find('\n', pos);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = in.substr(pos, end - pos);
    pos = end + 1;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) facts.client_addr = std::string(line);
    else facts.headers.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  facts.auth_user = "alice@example.test";
  aamp::Policy policy;
  policy.authserv_id = "mx.example.test";
  policy.trusted_authserv_ids = {"dkim.example.test"};
  policy.internal_hosts = {*aamp::parse_cidr("10.0.0.0/8"), *aamp::parse_cidr("2001:db8::/32")};
  const auto forged = aamp::forged_verdicts(facts.headers, policy.authserv_id);
  int count = 0;
  for (const auto& h : facts.headers) count += aamp::iequals(h.name, "Authentication-Results") ? 1 : 0;
  int previous = count + 1;
  for (const auto& removal : forged) {
    require(aamp::iequals(removal.name, "Authentication-Results"));
    require(removal.index >= 1 && removal.index < previous);  // highest first, each once
    previous = removal.index;
  }
  // The message as delivered: the forged verdicts removed (highest first, as the MTA does).
  aamp::MessageFacts delivered = facts;
  for (const auto& removal : forged) {
    int index = 0;
    for (auto it = delivered.headers.begin(); it != delivered.headers.end(); ++it) {
      if (aamp::iequals(it->name, "Authentication-Results") && ++index == removal.index) {
        delivered.headers.erase(it);
        break;
      }
    }
  }
  for (const std::string from : {"alice@example.test", "bob@sub.example.test", ""}) {
    const auto found = aamp::evaluate_trust(facts, from, policy);
    require(aamp::satisfies(found, 0));
    require(found.shown == 0 || !found.basis.empty());
    // Removal and trust agree: a removed field never counted.
    require(aamp::evaluate_trust(delivered, from, policy).shown == found.shown);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: auth_results(in); break;
    case 1: cidr(in); break;
    default: trust(in); break;
  }
  return 0;
}
