// sender_pattern.hpp — who a sender rule covers: an exact address, "@domain" (= "*@domain"),
// or a '*' wildcard pattern, as the reference bridges match senders (brief §2). Pure.
// Matching is case-insensitive.
#pragma once

#include <string>
#include <string_view>

#include "policy/aamp_message.hpp"
#include "policy/names.hpp"
#include "policy/result.hpp"

namespace aamp {

enum class PatternKind {
  exact,     // "alice@example.com"
  domain,    // "@example.com" or "*@example.com": every mailbox of one domain
  wildcard,  // anything else with '*': "*", "ci-*@example.com", "*@*.example.com"
};
inline constexpr NameTable<PatternKind, 3> kPatternKindNames{
    {{"exact", PatternKind::exact}, {"domain", PatternKind::domain}, {"wildcard", PatternKind::wildcard}}};
constexpr std::string_view to_string(PatternKind kind) noexcept { return name_of(kPatternKindNames, kind); }

struct SenderPattern {
  PatternKind kind = PatternKind::exact;
  std::string text;  // canonical: lower case; "*@d" is written "@d"
};

// Refuses empty patterns, whitespace, control characters, more than one '@', a domain
// part that is empty, and anything longer than 320 bytes.
Result<SenderPattern> parse_sender_pattern(std::string_view text);
bool matches(const SenderPattern& pattern, std::string_view address) noexcept;
// '*' matches any run of characters (including none); no other metacharacters.
bool glob_match(std::string_view glob, std::string_view text) noexcept;

// Brief §2: each rule key must be present in the dispatch context with one of its allowed
// values; empty rules allow any context (including none). On refusal `why` says which key.
bool context_allows(const ContextRules& rules, const DispatchContext& context, std::string* why = nullptr);

// The rules a pairing grants: those the operator attached to the code, narrowed (never
// widened) by what the requester forwarded. A key in both keeps the values in both; a key
// in one keeps that one's values.
ContextRules narrow_rules(const ContextRules& issued, const ContextRules& forwarded);

// "alice@Example.COM" -> "alice@example.com"; strips surrounding <>. Local parts are
// lower-cased too: senders are matched case-insensitively throughout.
std::string normalize_address(std::string_view address);
// An envelope recipient as the mailbox it delivers to (RFC 5321), for the protected-mailbox
// lookup: normalize_address, then the source route dropped ("@a,@b:agent@x", §4.1.1.3,
// which receivers SHOULD ignore), a quoted local part unquoted ("\"ag\\ent\"@x" is
// agent@x, §4.1.2), and one trailing dot of the domain removed (the root). Postfix does all
// three before delivery but hands the milter the recipient as the client wrote it.
std::string normalize_recipient(std::string_view recipient);
// "agent+tag@x" -> "agent@x" when '+' is one of `delimiters` (Postfix recipient_delimiter:
// the local part ends at the first delimiter character that is not its first character).
// Unchanged when there is none.
std::string strip_address_extension(std::string_view address, std::string_view delimiters);
std::string_view domain_of(std::string_view address) noexcept;  // after the last '@'

}  // namespace aamp
