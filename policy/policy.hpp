// policy.hpp — the settings the engine decides with: one immutable snapshot per config
// load, shared read-only by every connection (a reload swaps the snapshot; connections
// in flight keep theirs). Pure data built by milter/config.cpp.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/cidr.hpp"
#include "policy/decision.hpp"
#include "policy/names.hpp"
#include "policy/sender_pattern.hpp"
#include "policy/store.hpp"
#include "policy/validator.hpp"

namespace aamp {

enum class EnforcementMode {
  enforce,  // act on decisions
  report,   // decide, log, audit, add the verdict header; block nothing
};
inline constexpr NameTable<EnforcementMode, 2> kEnforcementModeNames{
    {{"enforce", EnforcementMode::enforce}, {"report", EnforcementMode::report}}};
constexpr std::string_view to_string(EnforcementMode mode) noexcept { return name_of(kEnforcementModeNames, mode); }

enum class PairRequestHandling {
  consume,  // the MTA does not deliver a handled pair.request to the agent
  deliver,  // deliver it, annotated with the verdict header
};

struct FailureActions {
  Action bad_message = Action::reject;     // invalid AAMP: 554 5.6.0
  Action policy_deny = Action::reject;     // sender not trusted / not allowed / stale: 550 5.7.1
  Action store_error = Action::tempfail;   // the database failed: 451 4.3.0
  Action internal_error = Action::tempfail;
};

// A login allowed to use other From addresses than its own (SenderLogins).
struct LoginGrant {
  std::string login;  // lower case
  std::vector<SenderPattern> may_send_as;
};

struct Policy {
  std::string authserv_id = "aamp-milter";
  EnforcementMode mode = EnforcementMode::enforce;
  ValidatorOptions validation;
  std::vector<Cidr> internal_hosts;
  std::vector<std::string> trusted_authserv_ids;  // lower case
  std::vector<LoginGrant> login_grants;
  bool reject_stale_dispatch = true;
  // Postfix's recipient_delimiter (e.g. "+" or "+-"): Postfix delivers agent+tag@x to
  // agent@x, so the protection of agent@x covers it. Empty: no address extensions.
  std::string recipient_delimiters;
  FailureActions on;
  PairRequestHandling pair_requests = PairRequestHandling::consume;
  PairLimits pair_limits;
  // What a pair.request's sender must show; nullopt: the same as the mailbox requires of
  // dispatches.
  std::optional<TrustSet> pair_trust;
  // Thread binding (policy/thread_binding.hpp): ThreadBinding, UnknownThreads, ThreadRetention.
  // A mailbox's own settings win over the first two.
  MailboxMode thread_binding = MailboxMode::enforce;
  UnknownThreads unknown_threads = UnknownThreads::allow;
  UnixTime thread_retention = 30 * 24 * 3600;  // seconds
};

}  // namespace aamp
