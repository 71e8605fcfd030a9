// reply_fields.hpp — what may go into a header of the pair.respond we send: the grammar each
// field is checked against before it gets near a header (no CR, LF or other control character
// from any input can reach one), and the Message-ID the engine fixes at enqueue time so that
// a resend is byte-identical. Pure: no GMime, no I/O; randomness comes through Rng.
// Reentrant; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "policy/clock.hpp"

namespace aamp {

// A fresh "<aamp-pair.{32 hex digits}@{domain}>" from 16 bytes of `rng`. `domain` is the
// agent mailbox's domain, lower-cased here; when it is not a plain host name
// (is_reply_domain) the id uses "aamp-milter.invalid" instead: the id must be valid even
// when the domain is not (RFC 2606 reserves .invalid). Throws only what rng.fill throws.
std::string make_reply_message_id(Rng& rng, std::string_view domain);

// A host name: labels of [A-Za-z0-9-] (not starting or ending with '-') joined by single
// dots, at most 253 octets. No address literals, no trailing dot, no non-ASCII.
bool is_reply_domain(std::string_view domain) noexcept;

// An addr-spec we are willing to put in From:/To: and in the SMTP envelope (RFC 5322
// §3.4.1 restricted): dot-atom local part (no quoted strings), '@', is_reply_domain; at
// most 254 octets. Refuses everything else, so no value can smuggle a line break, a
// second address or an SMTP parameter into a header or a MAIL/RCPT command.
bool is_reply_mailbox(std::string_view address) noexcept;

// RFC 5322 §3.6.4 msg-id without CFWS and without obsolete forms:
// "<" dot-atom-text "@" (dot-atom-text / "[" *dtext "]") ">", at most 250 octets.
bool is_reply_message_id(std::string_view id) noexcept;

// An X-AAMP-TaskId value we echo back: 1 to 255 visible ASCII characters (0x21-0x7E).
// The reference SDKs make UUIDs; anything with spaces, controls or 8-bit bytes is refused
// rather than altered, because a changed TaskId would not match the request.
bool is_reply_task_id(std::string_view task_id) noexcept;

}  // namespace aamp
