// corpus.hpp — the benchmark's world, by name: the protected mailboxes, the sender rules each
// one holds, which mailboxes get pair codes and which receive wrong ones. The database
// populator and the load generator both derive names from here, so a message the loadgen
// calls "allowed" matches a rule the populator wrote. Pure functions; safe from any thread.
#pragma once

#include <string>

namespace aamp::bench {

inline constexpr int kMailboxes = 1000;                          // protected mailboxes
inline constexpr int kRulesPerMailbox = 100;                     // 100,000 sender rules in all
inline constexpr int kPairCodes = 10000;                         // live pair codes
inline constexpr int kCodeMailboxes = 900;                       // codes go to mailboxes [0, 900)
inline constexpr int kWrongCodeMailboxes = kMailboxes - kCodeMailboxes;  // wrong codes: [900, 1000)

enum class RuleShape {
  exact,     // "d17.m0042@corp9.bench.test"
  domain,    // "@t90-m0042.bench.test"
  wildcard,  // "ci97-*@m0042.bench.test"
};

struct RuleSpec {
  std::string pattern;
  RuleShape shape = RuleShape::exact;
  bool needs_context = false;  // the rule requires project=alpha|beta in the dispatch context
};

inline constexpr char kContextKey[] = "project";
inline constexpr char kContextValueA[] = "alpha";
inline constexpr char kContextValueB[] = "beta";

// "agent0042@agents.bench.test"
std::string mailbox_address(int mailbox);
// Rule j (0..kRulesPerMailbox-1) of a mailbox: 88 exact addresses, 8 domains, 4 wildcards;
// every tenth rule also requires a dispatch context.
RuleSpec rule(int mailbox, int j);
// An address that rule(mailbox, j) allows and no other rule of any mailbox names exactly.
std::string sender_for_rule(int mailbox, int j);
// A sender no rule allows (for denied dispatches).
std::string stranger(unsigned long n);

}  // namespace aamp::bench
