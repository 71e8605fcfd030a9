// auth_results.hpp — the parts of RFC 8601 Authentication-Results the engine needs:
// the authserv-id, each method's result with its properties, and whether a field claims
// our authserv-id. Pure (standard library and policy/ only); bounded; thread-safe. A field
// that does not parse yields nullopt and is simply not trusted.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aamp {

struct AuthResult {
  std::string method;  // lower case: "dkim", "dmarc", "spf", "aamp", ...
  std::string result;  // lower case: "pass", "fail", ...
  std::vector<std::pair<std::string, std::string>> properties;  // ("header.d", "example.com"), keys lower case
  std::string property(std::string_view key) const;            // "" when absent
};

struct AuthResultsHeader {
  std::string authserv_id;  // lower case
  std::vector<AuthResult> results;
};

// RFC 8601 §2.2. CFWS comments are skipped; "none" yields no results.
std::optional<AuthResultsHeader> parse_authentication_results(std::string_view value);

// Only the authserv-id, lower case: enough to match a trusted verifier even in fields that
// fail to parse as a whole. "" when there is none.
std::string authserv_id_of(std::string_view value);

// An authserv-id as this filter writes and trusts one (RFC 8601 §2.2: a `value`): printable
// ASCII without ; ( ) " or \. AuthservID and TrustedAuthservIDs must be one.
bool is_plain_authserv_id(std::string_view id) noexcept;

// Whether some common reader could take this Authentication-Results field as written under
// `ours`, so that it must be removed from mail arriving from outside (RFC 8601 §5). True when
// the authserv-id, as sent or with its RFC 2047 encoded-words decoded (Python's email decodes
// them), is ours — case-insensitive, one trailing dot ignored — or is not a plain authserv-id
// at all: a blank value (Stalwart blanks one that is not UTF-8), a control character, an 8-bit
// byte (NBSP, U+2028, a BOM: readers drop or split on them), an unclosed comment or quote,
// an encoded-word in a charset that is not ASCII-compatible. A well-formed field of another
// verifier is never claimed. Bounded like the parser.
bool claims_authserv_id(std::string_view value, std::string_view ours);

}  // namespace aamp
