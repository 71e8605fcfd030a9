// thread_binding.hpp — which AAMP messages belong to a thread this MTA knows, and who its
// parties are (issue "thread binding", docs/operations.md "Thread binding"). A task.dispatch
// starts a task thread (dispatcher -> agent), a pair.request a pair thread, a card.query a
// card thread; the store's registry keeps them (Store::registry_view reads them). The rest
// of a thread is accepted only from its parties:
//   - a task.dispatch on a thread another dispatcher started at that agent: thread-hijack;
//     the same dispatcher again is a follow-up (AAMP 1.1 §6.1);
//   - a task.cancel: only from the thread's dispatcher at that agent (§6.5);
//   - task.ack, task.help_needed, task.stream.opened, task.result to a dispatcher: only from
//     the agent it dispatched that task to (§6.4);
//   - pair.respond, card.response: only from the mailbox the recipient asked.
// An answer whose thread the registry never saw gets UnknownThreads. The sender is a party
// only as the trust bases show it (`party` empty: nobody). Pure: the engine (engine.cpp)
// reads the registry, records and enforces. Reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/audit_verdict.hpp"
#include "policy/intent.hpp"
#include "policy/store.hpp"
#include "policy/trust.hpp"

namespace aamp {

// The thread a message of `intent` starts, or nullopt (it answers one, or is outside threads).
constexpr std::optional<ThreadKind> thread_started_by(Intent intent) noexcept {
  switch (intent) {
    case Intent::task_dispatch: return ThreadKind::task;
    case Intent::pair_request: return ThreadKind::pair;
    case Intent::card_query: return ThreadKind::card;
    case Intent::task_cancel:
    case Intent::task_ack:
    case Intent::task_help_needed:
    case Intent::task_result:
    case Intent::task_stream_opened:
    case Intent::pair_respond:
    case Intent::card_response: return std::nullopt;
  }
  return std::nullopt;
}

// Who the sender of a message to a mailbox accepting `mailbox_trust` is, as a party of a
// thread: its From (lower case) when it shows one of the bases the mailbox accepts — any
// basis at all where the mailbox accepts mail without one (trust none) — else "" (nobody:
// a From that shows no basis is nobody's, whatever it claims).
std::string thread_party(const TrustFindings& trust, TrustSet mailbox_trust, std::string_view from);

struct ThreadCheck {
  std::optional<AuditVerdict> refusal;  // thread_hijack, not_party or unknown_thread; nullopt: it may pass
  std::string reason;  // the rule that applied and the thread's parties, one sentence for the audit
  std::string reply;   // with a refusal: what the sender is told (the thread's parties unnamed)
};

// The binding rule for a message of `intent` with `task_id`, sent by `party` (lower case;
// "" when the sender shows none of the mailbox's trust bases) to the protected mailbox
// `recipient` (lower case), whose registry view for `task_id` is `view`.
ThreadCheck check_thread(const RegistryView& view, Intent intent, std::string_view party, std::string_view recipient,
                         std::string_view task_id, UnknownThreads unknown);

}  // namespace aamp
