// engine.hpp — the decision for one message: facts in, Decision out. Everything the milter
// enforces is decided here, and nothing here knows libmilter or SQLite: state comes through
// Store, time through Clock, randomness through Rng. Reentrant; one call per message.
#pragma once

#include <optional>
#include <string>

#include "policy/clock.hpp"
#include "policy/decision.hpp"
#include "policy/facts.hpp"
#include "policy/policy.hpp"
#include "policy/store.hpp"

namespace aamp {

struct EngineContext {
  const Policy& policy;
  Store& store;
  const Clock& clock;
  Rng& rng;
};

// Never throws: a StoreError becomes policy.on.store_error, anything else
// policy.on.internal_error (with a 451 4.3.0 reply when that action is tempfail).
Decision decide(const MessageFacts& facts, const EngineContext& ctx);

// The sender-policy step of decide(), on its own (aampctl explain uses it): which rule, if
// any, lets `from` send `intent` to `recipient` (protected by
// `mailbox`) with `context`. Trust is not part of it.
struct SenderVerdict {
  bool allowed = false;
  std::optional<std::int64_t> rule_id;
  std::string rule_origin;  // "configured" | "paired" when allowed
  std::string reason;       // a sentence: which rule allows, or what the sender can do
};
SenderVerdict explain_sender(Store& store, const ProtectedMailbox& mailbox, const std::string& recipient,
                             const std::string& from, Intent intent, const DispatchContext& context);

// The cheap first look at end of headers: false means the message needs nothing from us
// (not AAMP, and no forged verdict of ours to remove), so the milter may accept at once.
bool needs_decision(const HeaderList& headers, const Policy& policy) noexcept;

}  // namespace aamp
