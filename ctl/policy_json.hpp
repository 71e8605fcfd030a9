// policy_json.hpp — the policy document of `aampctl export` and `aampctl import`: a
// store::PolicySnapshot as JSON (format "aamp-milter-policy", version 1; fields in
// docs/cli.md) and back. Writing is deterministic (the snapshot's order, fixed key order,
// two-space indent), so one policy gives one byte string. Reading validates the whole
// document before anything is written: a bad one is a UsageError naming the field
// ("senderRules[2].origin: ..."). Pure functions; no database.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "store/admin.hpp"

namespace aamp::ctl {

inline constexpr std::string_view kPolicyFormat = "aamp-milter-policy";
inline constexpr int kPolicyFormatVersion = 1;

std::string policy_document(const store::PolicySnapshot& snapshot);  // ends with a newline
store::PolicySnapshot parse_policy_document(std::string_view text);

// A mailbox's own thread settings added to `out` (a JSON object, ordered or not) as
// "threadBinding" and "unknownThreads", null where the global setting holds (mailbox list
// and export alike).
template <typename Json>
void add_thread_settings(Json& out, const ProtectedMailbox& mailbox) {
  const auto name = [](const auto& v) { return v ? Json(std::string(to_string(*v))) : Json(nullptr); };
  out["threadBinding"] = name(mailbox.thread_binding);
  out["unknownThreads"] = name(mailbox.unknown_threads);
}

}  // namespace aamp::ctl
