// address.hpp — reads the one sender mailbox out of a From header value (RFC 5322 §3.6.2,
// §3.4) with GMime, then holds the result to a stricter grammar than GMime's own, because
// GMime quietly repairs what other parsers read differently ("a@b@c" -> "a@b").
// Pure apart from GMime's process-wide initialisation, done once (thread-safe).
#pragma once

#include <string>
#include <string_view>

#include "policy/result.hpp"

namespace aamp {

// Calls g_mime_init() exactly once per process, whoever asks first. Thread-safe.
void ensure_gmime_initialized();

// The addr-spec of the single mailbox in an (unfolded) From value, e.g.
// `"Disp" <d@EXAMPLE.com>` -> "d@example.com". The domain is returned in its ASCII
// (IDNA A-label) form, lower-cased; the local part as sent. Refused: no mailbox, more than
// one, a group, a missing local part or domain, an '@' in an unquoted display name, and
// anything GMime had to guess at. Never throws on bad input.
// The plain forms `local@domain` and `Name <local@domain>` (ASCII, no comments, quotes or
// encoded-words) are read without GMime; they give the same answer faster.
Result<std::string> parse_from_mailbox(std::string_view value);

// The same through GMime for every input: for tests and the fuzz target that check the
// fast path against it.
Result<std::string> parse_from_mailbox_gmime(std::string_view value);

}  // namespace aamp
