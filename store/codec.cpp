// codec.cpp — see codec.hpp.
#include "store/codec.hpp"

#include <fmt/format.h>

#include "policy/encodings.hpp"
#include "policy/text.hpp"
#include "store/sql.hpp"

namespace aamp::store {

namespace {
[[noreturn]] void bad(std::string_view column, std::string_view value) {
  throw StoreError(StoreErrorKind::corrupt, fmt::format("unexpected value '{}' in column {}", value, column));
}

template <class E, std::size_t N>
E named(const NameTable<E, N>& table, std::string_view column, std::string_view text) {
  if (const auto value = parse_name(table, text)) return *value;
  bad(column, text);
}
}  // namespace

MailboxMode mode_column(std::string_view text) { return named(kMailboxModeNames, "mailboxes.mode", text); }

PatternKind kind_column(std::string_view text) { return named(kPatternKindNames, "sender_rules.pattern_kind", text); }

RuleOrigin origin_column(std::string_view text) { return named(kRuleOriginNames, "sender_rules.origin", text); }

TaskStatus status_column(std::string_view text) { return named(kTaskStatusNames, "outbox.status", text); }
UnknownThreads unknown_threads_column(std::string_view text) {
  return named(kUnknownThreadsNames, "mailboxes.unknown_threads", text);
}
ThreadKind thread_kind_column(std::string_view text) { return named(kThreadKindNames, "threads.kind", text); }


std::vector<Intent> intents_column(std::string_view text) {
  std::vector<Intent> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto name = text.substr(0, comma);
    const auto intent = parse_intent(name);
    if (!intent) bad("mailboxes.intents", name);
    out.push_back(*intent);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string rules_text(const ContextRules& rules) { return context_rules_to_json(rules); }

ContextRules rules_column(std::string_view json) {
  auto rules = parse_context_rules_json(json);
  if (!rules) throw StoreError(StoreErrorKind::corrupt, "unreadable context rules in the database: " + rules.error());
  return std::move(rules).value();
}

bool rule_covers(PatternKind kind, std::string_view pattern, std::string_view address) noexcept {
  switch (kind) {
    case PatternKind::exact:
      return iequals(pattern, address);
    case PatternKind::domain: {  // "@d" covers "x@d", not "@d" itself (as matches() does)
      const auto at = address.rfind('@');
      return at != std::string_view::npos && at > 0 && iequals(address.substr(at), pattern);
    }
    case PatternKind::wildcard:
      return glob_match(pattern, address);
  }
  return false;
}

ProtectedMailbox mailbox_columns(const Statement& st) {
  ProtectedMailbox m;
  m.id = st.int64(0);
  m.address = st.text(1);
  m.mode = mode_column(st.text(2));
  m.guarded_intents = intents_column(st.text(3));
  m.trust = (st.int64(4) != 0 ? trust_auth : 0u) | (st.int64(5) != 0 ? trust_internal : 0u) |
            (st.int64(6) != 0 ? trust_authres : 0u);
  if (const auto binding = st.maybe_text(7)) m.thread_binding = mode_column(*binding);
  if (const auto unknown = st.maybe_text(8)) m.unknown_threads = unknown_threads_column(*unknown);
  return m;
}

ThreadEntry thread_columns(const Statement& st) {
  ThreadEntry e;
  e.kind = thread_kind_column(st.text(0));
  e.task_id = st.text(1);
  e.initiator = st.text(2);
  e.peer = st.text(3);
  e.created_at = st.int64(4);
  e.expires_at = st.int64(5);
  return e;
}

OutboxReply outbox_reply_columns(const Statement& st) {
  OutboxReply r;
  r.id = st.int64(0);
  r.message_id = st.text(1);
  r.from = st.text(2);
  r.to = st.text(3);
  r.task_id = st.text(4);
  r.status = status_column(st.text(5));
  r.error_msg = st.text(6);
  r.in_reply_to = st.text(7);
  r.created_at = st.int64(8);
  r.attempts = static_cast<int>(st.int64(9));
  r.next_attempt_at = st.int64(10);
  r.last_error = st.text(11);
  return r;
}

}  // namespace aamp::store
