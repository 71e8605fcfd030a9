// corpus.cpp — see corpus.hpp.
#include "bench/loadgen/corpus.hpp"

#include <cstdio>

namespace aamp::bench {
namespace {

std::string m4(int mailbox) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "m%04d", mailbox);
  return buf;
}

constexpr int kExactRules = 88;
constexpr int kDomainRules = 8;

}  // namespace

std::string mailbox_address(int mailbox) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "agent%04d@agents.bench.test", mailbox);
  return buf;
}

RuleSpec rule(int mailbox, int j) {
  RuleSpec r;
  r.needs_context = j % 10 == 0;
  const std::string n = std::to_string(j);
  if (j < kExactRules) {
    r.shape = RuleShape::exact;
    r.pattern = "d" + n + "." + m4(mailbox) + "@corp" + std::to_string((mailbox + j) % 50) + ".bench.test";
  } else if (j < kExactRules + kDomainRules) {
    r.shape = RuleShape::domain;
    r.pattern = "@t" + n + "-" + m4(mailbox) + ".bench.test";
  } else {
    r.shape = RuleShape::wildcard;
    r.pattern = "ci" + n + "-*@" + m4(mailbox) + ".bench.test";
  }
  return r;
}

std::string sender_for_rule(int mailbox, int j) {
  const RuleSpec r = rule(mailbox, j);
  switch (r.shape) {
    case RuleShape::exact: return r.pattern;
    case RuleShape::domain: return "dispatcher" + r.pattern;
    case RuleShape::wildcard: return "ci" + std::to_string(j) + "-runner7@" + m4(mailbox) + ".bench.test";
  }
  return {};
}

std::string stranger(unsigned long n) { return "stranger" + std::to_string(n % 100000) + "@outside.bench.test"; }

}  // namespace aamp::bench
