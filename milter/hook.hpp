// hook.hpp — the Stalwart MTA hook (HTTP, protocol version 1; docs/operations.md, "Stalwart
// MTA hook"): the request's JSON read into the facts a milter session collects, the very
// Session (hence decide()) run over them, and the Decision written as the hook's JSON answer.
// No HTTP here (hook_server.* serves it) and no libmilter. Pure apart from the Session's store.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "milter/session.hpp"
#include "policy/decision.hpp"
#include "policy/header_field.hpp"

namespace aamp::milter {

// A request we cannot read (bad JSON, a field missing or of the wrong type): HTTP 400. The
// message names the field, never a value.
struct HookError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What one hook call tells us (Stalwart hooks/mod.rs, message.rs).
struct HookRequest {
  std::string stage;          // context.stage: connect, ehlo, mail, rcpt, data
  std::string queue_id;       // context.queue.id (DATA only); "" when absent
  std::string client_ip;      // context.client.ip
  std::string client_ptr;     // context.client.ptr, "" when null
  std::string helo;           // context.client.helo, "" when null
  std::string auth_login;     // context.sasl.login; "" when the client did not authenticate
  std::string server_name;    // context.server.name ("Stalwart v0.16.19")
  std::string envelope_from;  // envelope.from.address ("" is the null sender)
  std::vector<std::string> recipients;  // envelope.to[].address
  HeaderList headers;         // message.headers, name and value trimmed (folds kept)
  bool has_message = false;   // a message object came (DATA)
};

// Throws HookError. Accepts what Stalwart sends and ignores fields it does not use; at stage
// data, envelope.from, envelope.to and message.headers are required.
HookRequest parse_hook_request(std::string_view body);

// Runs one Session over the request, as the milter would at end of message: stages before
// data end without a decision (nothing is decided before DATA, as the milter never rejects at
// RCPT). A store that will not open gives the configured On-StoreError, inside the Session.
MessageEnd run_hook(const HookRequest& request, std::shared_ptr<const Config> config, Services services);

// The hook's answer (protocol version 1) for a message end: nullopt or accept with the
// Decision's changes as `modifications` (deleteHeader highest index first per name, addHeader
// each at the top as Stalwart adds them, deleteRecipient lowercased), reject with a
// `response` for reject and tempfail (status, enhanced_status, message), discard for discard.
// Never "quarantine": Stalwart drops the message on it. A quarantine Decision is accepted
// with its changes and an X-Quarantine header naming the reason, which is what Stalwart does
// with a milter's QUARANTINE. The plan is milter/apply_plan's: one file decides how a
// Decision is applied.
std::string hook_response(const std::optional<Decision>& decision);

// The answer when the request could not be decided at all (an exception): the action of
// On-InternalError (tempfail: 451 4.3.0), so that no mail is lost.
std::string hook_failure_response(const Config& config, std::string_view why);

}  // namespace aamp::milter
