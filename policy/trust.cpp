// trust.cpp — see trust.hpp.
#include "policy/trust.hpp"

#include <algorithm>

#include "policy/auth_results.hpp"
#include "policy/sender_pattern.hpp"
#include "policy/text.hpp"

namespace aamp {

namespace {

constexpr std::string_view kAuthResults = "Authentication-Results";

bool is_subdomain(std::string_view sub, std::string_view parent) noexcept {
  return sub.size() > parent.size() + 1 && sub[sub.size() - parent.size() - 1] == '.' &&
         iequals(sub.substr(sub.size() - parent.size()), parent);
}

bool login_may_send_as(const std::string& login, const std::string& from, const Policy& policy) {
  if (iequals(login, from)) return true;
  for (const auto& grant : policy.login_grants) {
    if (!iequals(grant.login, login)) continue;
    for (const auto& p : grant.may_send_as)
      if (matches(p, from)) return true;
  }
  return false;
}

// dkim=pass header.d=<d> aligned, or dmarc=pass header.from=<from domain>.
std::string authres_basis(const HeaderList& headers, std::string_view from_domain, const Policy& policy) {
  if (policy.trusted_authserv_ids.empty() || from_domain.empty()) return {};
  for (const auto& h : headers) {
    if (!iequals(h.name, kAuthResults)) continue;
    const std::string value = unfold(h.value);
    if (claims_authserv_id(value, policy.authserv_id)) continue;  // removed as forged: never a basis
    const std::string id = authserv_id_of(value);
    if (std::find(policy.trusted_authserv_ids.begin(), policy.trusted_authserv_ids.end(), id) ==
        policy.trusted_authserv_ids.end())
      continue;
    const auto parsed = parse_authentication_results(value);
    if (!parsed) continue;
    for (const auto& r : parsed->results) {
      if (r.result != "pass") continue;
      if (r.method == "dkim") {
        const std::string d = to_lower(r.property("header.d"));
        if (!d.empty() && aligned(d, from_domain)) return "dkim=" + d;
      } else if (r.method == "dmarc") {
        const std::string d = to_lower(r.property("header.from"));
        if (!d.empty() && iequals(d, from_domain)) return "dmarc=" + d;
      }
    }
  }
  return {};
}

}  // namespace

bool aligned(std::string_view signing_domain, std::string_view from_domain) noexcept {
  return iequals(signing_domain, from_domain) || is_subdomain(signing_domain, from_domain) ||
         is_subdomain(from_domain, signing_domain);
}

TrustFindings evaluate_trust(const MessageFacts& facts, const std::string& from, const Policy& policy) {
  TrustFindings f;
  std::vector<std::string> bases;
  if (!facts.auth_user.empty()) {
    const std::string login = normalize_address(facts.auth_user);
    if (from.empty()) {
      f.auth_problem = "the message has no From address to check the login against";
    } else if (login_may_send_as(login, from, policy)) {
      f.shown |= trust_auth;
      bases.emplace_back(name_of(kTrustBasisNames, trust_auth));
    } else {
      f.auth_problem = "authenticated as " + login + ", which may not send as " + from;
    }
  }
  if (contains_any(policy.internal_hosts, facts.client_addr)) {
    f.shown |= trust_internal;
    bases.emplace_back(name_of(kTrustBasisNames, trust_internal));
  }
  if (std::string b = authres_basis(facts.headers, domain_of(from), policy); !b.empty()) {
    f.shown |= trust_authres;
    bases.push_back(std::move(b));
  }
  for (const auto& b : bases) f.basis += (f.basis.empty() ? "" : ",") + b;
  return f;
}

bool satisfies(const TrustFindings& f, TrustSet required) noexcept {
  return required == 0 || (f.shown & required) != 0;
}

std::vector<std::string_view> trust_names(TrustSet t) {
  std::vector<std::string_view> out;
  for (const auto& n : kTrustBasisNames)
    if ((t & n.value) != 0) out.push_back(n.name);
  return out;
}

std::string trust_to_string(TrustSet t) {
  if (t == 0) return "none";
  std::string out;
  for (const auto name : trust_names(t)) {
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

Result<TrustSet> parse_trust(std::string_view text) {
  TrustSet out = 0;
  std::size_t items = 0;
  bool none = false;
  for (std::size_t i = 0; i <= text.size();) {
    const auto end = text.find_first_of(", \t", i);
    const std::string item = to_lower(text.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
    i = end == std::string_view::npos ? text.size() + 1 : end + 1;
    if (item.empty()) continue;
    ++items;
    if (const auto basis = parse_name(kTrustBasisNames, item)) out |= *basis;
    else if (item == "any") out |= kAnyTrust;
    else if (item == "none") none = true;
    else
      return Error{"unknown trust basis '" + item + "': not one of " + join_names(kTrustBasisNames, ", ", ", ") +
                   " (or any / none)"};
  }
  if (items == 0) return Error{"expected " + join_names(kTrustBasisNames, ", ", ", ") + ", any or none"};
  if (none && items != 1) return Error{"'none' cannot be combined with other trust bases"};
  return out;
}

std::vector<HeaderRemoval> forged_verdicts(const HeaderList& headers, const std::string& authserv_id) {
  std::vector<HeaderRemoval> out;
  int index = 0;
  for (const auto& h : headers) {
    if (!iequals(h.name, kAuthResults)) continue;
    ++index;
    if (claims_authserv_id(unfold(h.value), authserv_id)) out.push_back({std::string(kAuthResults), index});
  }
  std::reverse(out.begin(), out.end());  // highest first: removals never shift the ones left
  return out;
}

}  // namespace aamp
