// thread_binding.cpp — see thread_binding.hpp.
#include "policy/thread_binding.hpp"

#include <algorithm>

#include "policy/text.hpp"

namespace aamp {

namespace {

std::string who(std::string_view party) {
  return party.empty() ? std::string("a sender who shows none of the mailbox's trust bases") : std::string(party);
}

std::string thread_name(ThreadKind kind, std::string_view task_id) {
  return std::string(to_string(kind)) + " thread " + std::string(task_id);
}

ThreadCheck unknown_thread(ThreadKind kind, Intent intent, std::string_view recipient, std::string_view task_id,
                           UnknownThreads unknown) {
  const std::string what = thread_name(kind, task_id) + " of " + std::string(recipient) + " is unknown to the registry";
  if (unknown == UnknownThreads::allow) return {std::nullopt, what + ": allowed (UnknownThreads allow)", {}};
  return {AuditVerdict::unknown_thread, what + ": refused (UnknownThreads refuse)",
          std::string(to_string(intent)) + " refused: it answers no " + std::string(to_string(kind)) +
              " this mail system saw " + std::string(recipient) + " start"};
}

ThreadCheck not_party(ThreadKind kind, Intent intent, std::string_view party, std::string_view recipient,
                      std::string_view task_id, std::string party_is) {
  const std::string thread = thread_name(kind, task_id) + " at " + std::string(recipient);
  return {AuditVerdict::not_party, who(party) + " is not a party of " + thread + " (" + std::move(party_is) + ")",
          std::string(to_string(intent)) + " refused: the sender is not a party of " + thread};
}

// An answer to a thread `recipient` started: only a peer it started it with may send it.
ThreadCheck answer(const RegistryView& view, ThreadKind kind, Intent intent, std::string_view party,
                   std::string_view recipient, std::string_view task_id, UnknownThreads unknown) {
  const auto started = view.started_by(kind, recipient);
  if (started.empty()) return unknown_thread(kind, intent, recipient, task_id, unknown);
  const bool bound = std::any_of(started.begin(), started.end(), [&](const ThreadEntry& t) { return t.peer == party; });
  if (bound) return {std::nullopt, "answers " + thread_name(kind, task_id) + " that " + std::string(recipient) +
                                       " started with " + std::string(party), {}};
  std::string peers;
  for (const auto& t : started) peers += (peers.empty() ? "" : ", ") + t.peer;
  return not_party(kind, intent, party, recipient, task_id, std::string(recipient) + " started it with " + peers);
}

}  // namespace

std::optional<ThreadEntry> RegistryView::at(ThreadKind kind, std::string_view recipient) const {
  for (const auto& t : threads)
    if (t.kind == kind && t.peer == recipient) return t;
  return std::nullopt;
}

std::vector<ThreadEntry> RegistryView::started_by(ThreadKind kind, std::string_view recipient) const {
  std::vector<ThreadEntry> out;
  for (const auto& t : threads)
    if (t.kind == kind && t.initiator == recipient) out.push_back(t);
  std::sort(out.begin(), out.end(), [](const ThreadEntry& a, const ThreadEntry& b) { return a.peer < b.peer; });
  return out;
}

std::string thread_party(const TrustFindings& trust, TrustSet mailbox_trust, std::string_view from) {
  const TrustSet accepted = mailbox_trust == 0 ? kAnyTrust : mailbox_trust;
  if ((trust.shown & accepted) == 0) return {};
  return to_lower(from);
}

ThreadCheck check_thread(const RegistryView& view, Intent intent, std::string_view party, std::string_view recipient,
                         std::string_view task_id, UnknownThreads unknown) {
  switch (intent) {
    case Intent::task_dispatch: {
      const auto t = view.at(ThreadKind::task, recipient);
      if (!t) return {std::nullopt, {}, {}};  // a new thread
      if (t->initiator == party)
        return {std::nullopt, "follow-up dispatch in task thread " + std::string(task_id) + " of " + t->initiator, {}};
      return {AuditVerdict::thread_hijack,
              who(party) + " may not dispatch in task thread " + std::string(task_id) + " at " + std::string(recipient) +
                  ", which " + t->initiator + " started",
              "task.dispatch refused: task " + std::string(task_id) + " at " + std::string(recipient) +
                  " belongs to another dispatcher; use a new TaskId"};
    }
    case Intent::task_cancel: {
      const auto t = view.at(ThreadKind::task, recipient);
      if (!t) return unknown_thread(ThreadKind::task, intent, recipient, task_id, unknown);
      if (t->initiator == party) return {std::nullopt, "the dispatcher of task thread " + std::string(task_id) + " cancels it", {}};
      return not_party(ThreadKind::task, intent, party, recipient, task_id, "its dispatcher is " + t->initiator);
    }
    case Intent::task_ack:
    case Intent::task_help_needed:
    case Intent::task_stream_opened:
    case Intent::task_result: return answer(view, ThreadKind::task, intent, party, recipient, task_id, unknown);
    case Intent::pair_respond: return answer(view, ThreadKind::pair, intent, party, recipient, task_id, unknown);
    case Intent::card_response: return answer(view, ThreadKind::card, intent, party, recipient, task_id, unknown);
    case Intent::pair_request:
    case Intent::card_query: return {std::nullopt, {}, {}};  // they start threads
  }
  return {std::nullopt, {}, {}};
}

}  // namespace aamp
