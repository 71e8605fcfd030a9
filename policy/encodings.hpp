// encodings.hpp — the value encodings AAMP uses: base64url, percent-encoded UTF-8,
// X-AAMP-Dispatch-Context, dispatch-context rules (base64url JSON), RFC 3339 times; and
// RFC 2047 encoded-words, decoded as a lenient mail reader would.
// Pure; every decoder takes a bounded string_view and never throws on bad input.
#pragma once

#include <string>
#include <string_view>

#include "policy/aamp_message.hpp"
#include "policy/result.hpp"

namespace aamp {

// RFC 4648 §5 alphabet; padding optional on input, never produced on output.
Result<std::string> base64url_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);
bool is_base64url(std::string_view text) noexcept;  // alphabet only, no padding

// RFC 3629: well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes) noexcept;

// RFC 3986 §2.1 percent-decoding; the result must be valid UTF-8.
Result<std::string> percent_decode_utf8(std::string_view text);
// Encodes everything but RFC 3986 unreserved characters.
std::string percent_encode(std::string_view text);

// X-AAMP-Dispatch-Context: `key=value` pairs separated by ';' (optional spaces), keys
// [a-z0-9_-]+, values percent-encoded UTF-8, no duplicate keys. With `lenient_keys`
// (sdk mode) entries whose key breaks the grammar are skipped instead of refused.
Result<DispatchContext> parse_dispatch_context(std::string_view text, bool lenient_keys = false);
std::string format_dispatch_context(const DispatchContext& context);

// A JSON object whose values are arrays of strings, e.g. {"source":["feishu","github"]}.
Result<ContextRules> parse_context_rules_json(std::string_view json);
std::string context_rules_to_json(const ContextRules& rules);
// X-AAMP-Dispatch-Context-Rules and the pairing URL's dispatch_context_rules:
// base64url (padding optional) of that JSON. "e30" is {}.
Result<ContextRules> decode_context_rules(std::string_view base64url);
std::string encode_context_rules(const ContextRules& rules);

// X-AAMP-StructuredResult: base64url of any JSON text; returns the JSON text.
Result<std::string> decode_structured_result(std::string_view base64url);

// RFC 2047 encoded-words ("=?" charset "?" Q|B "?" text "?=", §2) decoded where they stand,
// as Python's email (default policy) decodes an unstructured field: anywhere, even inside a
// word or a comment; white space between two encoded-words dropped (§6.2); Q's "_" as a
// space and "=XX" as a byte, any other '=' kept (§4.2); B with or without padding, characters
// outside its alphabet skipped. The bytes are kept as they are, not converted: this is for
// seeing what a reader would see in the ASCII part. An error when a word's charset is not
// one whose bytes below 0x80 always mean ASCII (us-ascii, utf-8, iso-8859-*, windows-125*,
// koi8-*): a UTF-7, UTF-16 or Shift_JIS word could decode to anything. Text that is not an
// encoded-word (no closing "?=", an unknown encoding letter) is kept as sent. Linear; the
// result is never longer than the input.
Result<std::string> decode_encoded_words(std::string_view text);

// RFC 3339 §5.6 date-time with a time-offset ("Z" or "+hh:mm"); fractions allowed and
// dropped. Returns seconds since the epoch, UTC.
Result<UnixTime> parse_rfc3339(std::string_view text);
std::string format_rfc3339(UnixTime t);  // "2026-08-01T12:00:00Z"

}  // namespace aamp
