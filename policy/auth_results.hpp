// auth_results.hpp — the parts of RFC 8601 Authentication-Results the engine needs:
// the authserv-id, and each method's result with its properties. Pure; bounded; a field
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

// Only the authserv-id: enough to find forged copies of ours, even in fields that fail
// to parse as a whole.
std::string authserv_id_of(std::string_view value);

}  // namespace aamp
