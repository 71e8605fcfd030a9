// trust.hpp — which trust bases a message's sender shows (brief §3): SMTP AUTH with a login
// allowed to use the From address, an internal client address, or a dkim/dmarc pass from a
// trusted authserv-id aligned to the From domain. Pure; evaluated once per message.
#pragma once

#include <string>
#include <vector>

#include "policy/decision.hpp"
#include "policy/facts.hpp"
#include "policy/policy.hpp"

namespace aamp {

struct TrustFindings {
  TrustSet shown = 0;        // the bases this sender shows
  std::string auth_problem;  // why SMTP AUTH did not count, when the client authenticated
  std::string basis;         // how it was shown, for the verdict header: "auth", "internal", "dkim=example.com"
};

TrustFindings evaluate_trust(const MessageFacts& facts, const std::string& from, const Policy& policy);

// True when `required` is empty or the findings show one of its bases.
bool satisfies(const TrustFindings& f, TrustSet required) noexcept;

// The trust grammar of the config file and aampctl: bases of kTrustBasisNames separated by
// ',' or white space, "any" = all of them, or "none" alone (no trust required).
// Case-insensitive. trust_to_string lists the bases ("auth,internal"), or "none";
// trust_names gives them one by one (JSON arrays).
std::string trust_to_string(TrustSet t);
std::vector<std::string_view> trust_names(TrustSet t);
Result<TrustSet> parse_trust(std::string_view text);

// The Authentication-Results fields that claim our authserv-id (claims_authserv_id: ours as
// any common reader could read it, or unreadable): forged, to be removed before ours is added
// (RFC 8601 §5), and never a trust basis. 1-based indices among that header name, highest first.
std::vector<HeaderRemoval> forged_verdicts(const HeaderList& headers, const std::string& authserv_id);

// DMARC-style relaxed alignment without a public-suffix list: equal, or one domain is a
// subdomain of the other.
bool aligned(std::string_view signing_domain, std::string_view from_domain) noexcept;

}  // namespace aamp
