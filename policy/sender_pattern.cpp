// sender_pattern.cpp — see sender_pattern.hpp.
#include "policy/sender_pattern.hpp"

#include <algorithm>

#include "policy/text.hpp"

namespace aamp {

namespace {

constexpr std::size_t kMaxPattern = 320;  // RFC 5321 §4.5.3.1: 64 + 1 + 255

bool has_space_or_control(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

}  // namespace

std::string normalize_address(std::string_view address) {
  address = trim(address);
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>')
    address = trim(address.substr(1, address.size() - 2));
  return to_lower(address);
}

std::string normalize_recipient(std::string_view recipient) {
  std::string a = normalize_address(recipient);
  // Source route: A-d-l ":" Mailbox, where A-d-l = At-domain *( "," At-domain ).
  if (a.starts_with('@')) {
    const auto colon = a.find(':');
    if (colon != std::string::npos) a.erase(0, colon + 1);
  }
  // Quoted local part: the quoted-string up to its closing quote, quoted-pairs undone.
  if (a.starts_with('"')) {
    std::string local;
    std::size_t i = 1;
    for (; i < a.size() && a[i] != '"'; ++i) {
      if (a[i] == '\\' && i + 1 < a.size()) ++i;
      local.push_back(a[i]);
    }
    if (i + 1 < a.size() && a[i] == '"' && a[i + 1] == '@') a = local + a.substr(i + 1);
  }
  // The root's trailing dot, once ("agent@x.." stays: no MTA delivers it to agent@x).
  if (a.size() >= 2 && a.back() == '.' && a[a.size() - 2] != '.' && a[a.size() - 2] != '@') a.pop_back();
  return a;
}

std::string strip_address_extension(std::string_view address, std::string_view delimiters) {
  const auto at = address.rfind('@');
  if (delimiters.empty() || at == std::string_view::npos) return std::string(address);
  const auto cut = address.substr(0, at).find_first_of(delimiters, 1);
  if (cut == std::string_view::npos) return std::string(address);
  return std::string(address.substr(0, cut)) + std::string(address.substr(at));
}

std::string_view domain_of(std::string_view address) noexcept {
  const auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
}

Result<SenderPattern> parse_sender_pattern(std::string_view text) {
  const std::string p = normalize_address(text);
  if (p.empty()) return Error{"a sender pattern cannot be empty"};
  if (p.size() > kMaxPattern) return Error{"a sender pattern is at most 320 bytes"};
  if (has_space_or_control(p)) return Error{"a sender pattern cannot contain spaces or control characters"};
  if (p == "*") return SenderPattern{PatternKind::wildcard, p};
  const auto ats = std::count(p.begin(), p.end(), '@');
  if (ats != 1) return Error{"a sender pattern is an address, @domain, or a '*' pattern with one '@'"};
  const auto at = p.find('@');
  const std::string_view local = std::string_view(p).substr(0, at);
  const std::string_view domain = std::string_view(p).substr(at + 1);
  if (domain.empty()) return Error{"a sender pattern needs a domain after '@'"};
  if (domain.front() == '.' || domain.back() == '.' || domain.find("..") != std::string_view::npos)
    return Error{"the domain of a sender pattern is not a domain name"};
  if ((local.empty() || local == "*") && domain.find('*') == std::string_view::npos)
    return SenderPattern{PatternKind::domain, "@" + std::string(domain)};
  if (local.empty()) return Error{"a sender pattern's '@domain' form cannot contain '*'"};
  if (p.find('*') != std::string::npos) return SenderPattern{PatternKind::wildcard, p};
  return SenderPattern{PatternKind::exact, p};
}

bool glob_match(std::string_view glob, std::string_view text) noexcept {
  // Iterative '*' matching with one backtrack point: linear in practice, never recursive.
  std::size_t g = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = t;
    } else if (g < glob.size() && ascii_lower(glob[g]) == ascii_lower(text[t])) {
      ++g;
      ++t;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

bool matches(const SenderPattern& pattern, std::string_view address) noexcept {
  switch (pattern.kind) {
    case PatternKind::exact:
      return iequals(pattern.text, address);
    case PatternKind::domain: {
      const auto at = address.rfind('@');
      return at != std::string_view::npos && at > 0 && iequals(address.substr(at), pattern.text);
    }
    case PatternKind::wildcard:
      return glob_match(pattern.text, address);
  }
  return false;
}

bool context_allows(const ContextRules& rules, const DispatchContext& context, std::string* why) {
  for (const auto& [key, allowed] : rules) {
    const auto it = context.find(key);
    if (it == context.end()) {
      if (why != nullptr) *why = "dispatch context has no '" + key + "'";
      return false;
    }
    if (std::find(allowed.begin(), allowed.end(), it->second) == allowed.end()) {
      if (why != nullptr) *why = "dispatch context '" + key + "' is not an allowed value";
      return false;
    }
  }
  return true;
}

ContextRules narrow_rules(const ContextRules& issued, const ContextRules& forwarded) {
  ContextRules out = issued;
  for (const auto& [key, values] : forwarded) {
    auto it = out.find(key);
    if (it == out.end()) {
      out.emplace(key, values);  // a further restriction the requester asked for
      continue;
    }
    std::vector<std::string> both;
    for (const auto& v : it->second)
      if (std::find(values.begin(), values.end(), v) != values.end()) both.push_back(v);
    it->second = std::move(both);  // may be empty: then no context satisfies the key
  }
  return out;
}

}  // namespace aamp
