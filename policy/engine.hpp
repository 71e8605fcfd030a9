// engine.hpp — the decision for one message: facts in, Decision out. Everything the milter
// enforces is decided here, and nothing here knows libmilter or SQLite: state comes through
// Store, time through Clock, randomness through Rng. Reentrant; one call per message.
#pragma once

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

// The cheap first look at end of headers: false means the message needs nothing from us
// (not AAMP, and no forged verdict of ours to remove), so the milter may accept at once.
bool needs_decision(const HeaderList& headers, const Policy& policy) noexcept;

}  // namespace aamp
