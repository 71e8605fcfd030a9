// reply.hpp — builds the pair.respond mail (AAMP 1.1) for one outbox row with GMime 3.
// A pure function of the row: the same row always gives the same bytes (its Message-ID and
// Date were fixed at enqueue time), so a retry resends an identical message. Every field
// is checked by policy/reply_fields.hpp before it reaches a header: nothing from the
// request can add a line to the header block. Depends on GMime only; no I/O.
// Thread-safe: GMime is initialised once (policy/address.hpp); each call owns its objects.
#pragma once

#include <string>

#include "policy/result.hpp"
#include "policy/store.hpp"

namespace aamp::mail {

inline constexpr const char* kPairRespondBodyTitle = "AAMP Pair Response";

// The serialized RFC 5322 message, CRLF line ends (the SMTP wire form; the sendmail
// transport converts to the local LF convention). An Error when a field that must appear
// verbatim is unsafe — the message id, From, To or the task id (policy/reply_fields.hpp):
// that is permanent, retrying cannot fix it. An unsafe In-Reply-To (the requester's
// Message-ID) is dropped instead: threading is a courtesy, the answer is not. ErrorMsg is
// cleaned (for_header_value, policy/text_safety.hpp), and "pair request rejected" stands in
// for an empty one.
//
// Headers: From, To, Subject "[AAMP Pair] completed|rejected", Date (the row's created_at,
// UTC), Message-ID, In-Reply-To + References (when known), Auto-Submitted: auto-replied
// (RFC 3834), X-AAMP-Version 1.1, X-AAMP-Intent pair.respond, X-AAMP-TaskId,
// X-AAMP-Status, X-AAMP-ErrorMsg (rejected only), MIME-Version, Content-Type text/plain
// UTF-8, 7bit. Body: "AAMP Pair Response", a blank line, one sentence, Task ID and Status.
Result<std::string> build_pair_respond(const OutboxReply& reply);

}  // namespace aamp::mail
