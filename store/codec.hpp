// codec.hpp — how the store's values are read back from SQL columns: mailbox modes,
// guarded-intent lists, pattern kinds, rule origins, reply statuses (all through the policy
// name tables), context rules (JSON). Internal to store/; pure functions. A value the
// database holds but this program cannot read throws StoreError(corrupt) naming the column.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/sender_pattern.hpp"
#include "policy/store.hpp"

namespace aamp::store {

// The enum columns hold the names of the policy layer's tables (kMailboxModeNames, ...):
// written with to_string, read back here.
MailboxMode mode_column(std::string_view text);
PatternKind kind_column(std::string_view text);
RuleOrigin origin_column(std::string_view text);
TaskStatus status_column(std::string_view text);
UnknownThreads unknown_threads_column(std::string_view text);
ThreadKind thread_kind_column(std::string_view text);

std::vector<Intent> intents_column(std::string_view text);  // intent_list's text

std::string rules_text(const ContextRules& rules);            // JSON object
ContextRules rules_column(std::string_view json);

// The columns kMailboxColumns of a mailboxes row, read from `st` starting at column 0: the
// one place that knows how a ProtectedMailbox is spread over its columns.
inline constexpr std::string_view kMailboxColumns =
    "id, address, mode, intents, trust_auth, trust_internal, trust_authres, thread_binding, unknown_threads";
inline constexpr int kMailboxColumnCount = 9;
class Statement;
ProtectedMailbox mailbox_columns(const Statement& st);

// The twelve columns kOutboxReplyColumns of an outbox row, read from `st` starting at
// column 0: the one place that knows how an OutboxReply is spread over its columns.
inline constexpr std::string_view kOutboxReplyColumns =
    "id, message_id, from_addr, to_addr, task_id, status, error_msg, in_reply_to, created_at, attempts, "
    "next_attempt_at, last_error";
OutboxReply outbox_reply_columns(const Statement& st);

// The six columns kThreadColumns of a threads row, read from `st` starting at column 0.
inline constexpr std::string_view kThreadColumns = "kind, task_id, initiator, peer, created_at, expires_at";
ThreadEntry thread_columns(const Statement& st);

// Whether a stored rule (kind + canonical pattern) covers `address` (normalised). A paired
// rule is always exact: a requester whose local part contains '*' covers only itself.
bool rule_covers(PatternKind kind, std::string_view pattern, std::string_view address) noexcept;

}  // namespace aamp::store
