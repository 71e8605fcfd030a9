// codec.hpp — how the store's values are written in SQLite columns and read back: mailbox
// modes, guarded-intent lists, pattern kinds, rule origins, reply statuses, context rules
// (JSON). Internal to store/; pure functions. A value the database holds but this program
// cannot read throws StoreError(corrupt) naming the column.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/sender_pattern.hpp"
#include "policy/store.hpp"

namespace aamp::store {

std::string_view mode_name(MailboxMode mode) noexcept;        // "enforce" | "report" | "off"
std::optional<MailboxMode> parse_mode(std::string_view text) noexcept;
MailboxMode mode_column(std::string_view text);

std::string intents_text(const std::vector<Intent>& intents);  // "task.dispatch,card.query"
std::vector<Intent> intents_column(std::string_view text);

std::string_view kind_name(PatternKind kind) noexcept;        // "exact" | "domain" | "wildcard"
PatternKind kind_column(std::string_view text);

std::string_view origin_name(RuleOrigin origin) noexcept;     // "configured" | "paired"
RuleOrigin origin_column(std::string_view text);

std::string_view status_name(TaskStatus status) noexcept;     // "completed" | "rejected"
TaskStatus status_column(std::string_view text);

std::string rules_text(const ContextRules& rules);            // JSON object
ContextRules rules_column(std::string_view json);

// Whether a stored rule (kind + canonical pattern) covers `address` (normalised). A paired
// rule is always exact: a requester whose local part contains '*' covers only itself.
bool rule_covers(PatternKind kind, std::string_view pattern, std::string_view address) noexcept;

}  // namespace aamp::store
