// engine.hpp — the decision for one message: facts in, Decision out. Everything the milter
// enforces is decided here, and nothing here knows libmilter or SQLite: state comes through
// Store, time through Clock, randomness through Rng. Reentrant; one call per message.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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
// policy.on.internal_error (failure_decision below).
Decision decide(const MessageFacts& facts, const EngineContext& ctx);

// Why a message could not be decided; each kind has its own reply words.
enum class FailureKind {
  store_error,     // the policy store failed, or would not open (On-StoreError)
  internal_error,  // anything else the engine threw (On-InternalError)
  too_large,       // the milter could not hold the whole header block or recipient list
};

// The Decision for a message that could not be decided: `action` (the one configured for
// that kind) with the kind's reply — tempfail 451 4.3.0, reject 554 5.3.0 (too_large:
// 554 5.6.0) — and `why`, made printable, as the reason. The engine and the milter both
// build it here. Nothing of `so_far` is applied; its summary facts (intent, recipients, a
// reply already queued) stay for the log line.
Decision failure_decision(Action action, FailureKind kind, std::string_view why, Decision so_far = {});

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
