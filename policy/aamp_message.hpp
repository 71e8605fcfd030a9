// aamp_message.hpp — an AAMP 1.1 message as decoded from its X-AAMP-* header fields.
// Pure data. `pair_code` is an authorization token: never log it whole (see redact()).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/clock.hpp"
#include "policy/intent.hpp"
#include "policy/names.hpp"

namespace aamp {

enum class TaskStatus {
  completed,  // "completed": the task (or pairing) succeeded
  rejected,   // "rejected": it was refused; ErrorMsg says why
};
// X-AAMP-Status values, also the outbox's status column.
inline constexpr NameTable<TaskStatus, 2> kTaskStatusNames{
    {{"completed", TaskStatus::completed}, {"rejected", TaskStatus::rejected}}};
constexpr std::string_view to_string(TaskStatus status) noexcept { return name_of(kTaskStatusNames, status); }

enum class Priority {
  urgent,  // "urgent"
  high,    // "high"
  normal,  // "normal": also what a missing Priority means
};

// X-AAMP-Dispatch-Context, decoded: key -> value (percent-decoding undone).
using DispatchContext = std::map<std::string, std::string>;
// Dispatch-context rules: key -> allowed values. Empty means "no restriction".
using ContextRules = std::map<std::string, std::vector<std::string>>;

struct AampMessage {
  std::string version;                  // "1.1" (sdk mode: "1.1" when the field is missing)
  std::optional<Intent> intent;         // always set when the message is valid
  std::string intent_text;              // as sent, for logs when unknown
  std::string task_id;
  std::string from;                     // the one From mailbox's addr-spec, domain lower-cased
  std::string message_id;               // Message-ID as sent ("" when absent)
  std::string subject;                  // unfolded, not decoded

  std::optional<TaskStatus> status;
  std::optional<Priority> priority;
  std::optional<std::string> expires_at_text;
  std::optional<UnixTime> expires_at;
  std::optional<std::string> session_key;
  std::optional<std::string> parent_task_id;
  std::optional<std::string> stream_id;
  std::optional<std::string> pair_code;  // secret: log with redact() only
  std::optional<std::string> error_msg;
  std::optional<std::string> card_summary;
  std::optional<std::string> structured_result;  // the decoded JSON text
  std::optional<DispatchContext> dispatch_context;
  std::optional<ContextRules> dispatch_context_rules;
  std::vector<std::string> suggested_options;    // X-AAMP-SuggestedOptions split on '|'
  std::optional<std::string> output;             // legacy, text
  std::optional<std::string> question;           // legacy, text
  std::optional<std::string> blocked_reason;     // legacy, text
};

}  // namespace aamp
