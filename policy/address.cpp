// address.cpp — see address.hpp. GMime objects are owned by unique_ptr with GMime's own
// release functions; nothing here keeps state between calls except the init flag.
#include "policy/address.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "policy/encodings.hpp"
#include "policy/text.hpp"

namespace aamp {
namespace {

constexpr std::size_t kMaxFromLength = 16384;  // the validator bounds it first; this is a backstop

struct ParserOptionsFree {
  void operator()(GMimeParserOptions* p) const noexcept { g_mime_parser_options_free(p); }
};
struct GObjectUnref {
  void operator()(void* p) const noexcept { g_object_unref(p); }
};
using ParserOptionsPtr = std::unique_ptr<GMimeParserOptions, ParserOptionsFree>;
using AddressListPtr = std::unique_ptr<InternetAddressList, GObjectUnref>;

// The domain as written (up to '>', white space or a comment) has no empty label: GMime
// drops a trailing dot ("a@example.com." -> "a@example.com"), other readers keep it.
bool has_plain_domain_dots(std::string_view after_at) noexcept {
  const std::string_view domain = after_at.substr(0, after_at.find_first_of(" \t\r\n>("));
  return !domain.empty() && domain.front() != '.' && domain.back() != '.' &&
         domain.find("..") == std::string_view::npos;
}

// Outside quoted-strings, comments and domain-literals (RFC 5322 §3.2.4, §3.2.2, §3.4.1)
// a single mailbox has exactly one '@', at most one angle-addr ("<...>", last but for
// comments and white space, holding the '@'), and none of the list/group punctuation
// ",;:", and '[' only to open a domain-literal. GMime tolerates all of these and picks one reading (other parsers pick another),
// and some of its error paths leak memory; it only ever sees text of this shape.
class MailboxShape {
 public:
  std::size_t at() const noexcept { return at_; }  // the mailbox's '@', after a true scan()
  bool scan(std::string_view v) noexcept {
    for (std::size_t i = 0; i < v.size(); ++i) {
      const char c = v[i];
      if ((in_quote_ || depth_ > 0) && c == '\\') {
        ++i;  // quoted-pair: the next character is literal
      } else if (in_quote_) {
        in_quote_ = c != '"';
      } else if (depth_ > 0) {
        depth_ += c == '(' ? 1 : c == ')' ? -1 : 0;
        if (depth_ > 32) return false;
      } else if (in_literal_) {
        in_literal_ = c != ']';
      } else if (!plain(c, i)) {
        return false;
      }
    }
    return ats_ == 1 && !in_quote_ && depth_ == 0 && !in_literal_ && opened_ == closed_ &&
           (!opened_ || at_in_angle_) && has_plain_domain_dots(v.substr(at_ + 1));
  }

 private:
  // One character outside any quoted region; false when the shape is broken.
  bool plain(char c, std::size_t i) noexcept {
    if (closed_ && c != ' ' && c != '\t' && c != '(') return false;  // nothing after "<...>"
    switch (c) {
      case '"': in_quote_ = true; return true;
      case '(': depth_ = 1; return true;
      case '[': in_literal_ = i == at_ + 1 && ats_ == 1; return in_literal_;  // only a domain-literal
      case '<': if (opened_) return false; opened_ = true; return true;
      case '>': if (!opened_ || closed_) return false; closed_ = true; return true;
      case '@': ++ats_; at_ = i; at_in_angle_ = opened_ && !closed_; return true;
      case ',': case ';': case ':': case ')': case ']': return false;
      default: return true;
    }
  }

  int ats_ = 0;
  std::size_t at_ = 0;
  int depth_ = 0;
  bool in_quote_ = false;
  bool in_literal_ = false;
  bool opened_ = false;
  bool closed_ = false;
  bool at_in_angle_ = false;
};

bool has_single_mailbox_shape(std::string_view v) noexcept { return MailboxShape().scan(v); }

// The domain as written after the mailbox's one '@' ("" when the shape is not one mailbox).
std::string_view written_domain(std::string_view v) noexcept {
  MailboxShape shape;
  if (!shape.scan(v)) return {};
  const std::string_view after = v.substr(shape.at() + 1);
  return after.substr(0, after.find_first_of(" \t\r\n>("));
}

// Trap: GMime converts the domain with IDNA (UTS 46) mapping, which folds look-alikes onto
// ASCII ("example\uFF0Ecom", "exam\u200Bple.com", "\uFF25xample.com" all become
// example.com) and even re-encodes a malformed A-label ("xn--example" -> "xn--kxakid7f").
// Judging that domain while DKIM/DMARC verifiers, the agent and its user see the one
// written is a parser differential: a signer for example.com that lets its users write a
// foreign From would lend them example.com's trust. The conversion is accepted only when
// it keeps the labels written: each ASCII label unchanged (but for case), each non-ASCII
// label turned into an A-label ("xn--").
bool idna_keeps_labels(std::string_view written, std::string_view converted) noexcept {
  while (true) {
    const std::size_t wdot = written.find('.');
    const std::size_t cdot = converted.find('.');
    const std::string_view wlabel = written.substr(0, wdot);
    const std::string_view clabel = converted.substr(0, cdot);
    const bool ascii = std::all_of(wlabel.begin(), wlabel.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii ? !iequals(wlabel, clabel) : !istarts_with(clabel, "xn--")) return false;
    if ((wdot == std::string_view::npos) != (cdot == std::string_view::npos)) return false;
    if (wdot == std::string_view::npos) return true;
    written.remove_prefix(wdot + 1);
    converted.remove_prefix(cdot + 1);
  }
}

constexpr bool is_ldh_or_underscore(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// domain = dot-atom of LDH labels / domain-literal (RFC 5322 §3.4.1; RFC 5321 §4.1.2).
bool is_domain(std::string_view d) noexcept {
  if (d.size() >= 2 && d.front() == '[' && d.back() == ']') {
    for (const char c : d.substr(1, d.size() - 2))
      if (c <= ' ' || c > '~' || c == '[' || c == ']' || c == '\\') return false;
    return true;
  }
  if (d.empty() || d.front() == '.' || d.back() == '.') return false;
  char prev = '.';
  for (const char c : d) {
    if (c == '.' && prev == '.') return false;
    if (c != '.' && !is_ldh_or_underscore(c)) return false;
    prev = c;
  }
  return true;
}

// RFC 5322 §3.2.3 atext, widened by RFC 6532 §3.2 to UTF-8 (validity checked by the caller).
constexpr bool is_atext(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if (is_ldh_or_underscore(c)) return true;
  return std::string_view("!#$%&'*+/=?^`{|}~").find(c) != std::string_view::npos;
}

// local-part = dot-atom / quoted-string (RFC 5322 §3.4.1), as GMime re-serialises it.
bool is_local_part(std::string_view l) noexcept {
  if (l.size() >= 2 && l.front() == '"' && l.back() == '"') {
    for (const char c : l.substr(1, l.size() - 2))
      if (c == '\0' || c == '\r' || c == '\n') return false;
    return true;
  }
  if (l.empty() || l.front() == '.' || l.back() == '.') return false;
  char prev = '.';
  for (const char c : l) {
    if (c == '.' && prev == '.') return false;
    if (c != '.' && !is_atext(c)) return false;
    prev = c;
  }
  // An encoded-word is not allowed in an addr-spec (RFC 2047 §5), yet some readers decode it.
  return l.find("=?") == std::string_view::npos;
}

Error refused(std::string_view why) { return Error{std::string("the From header ") + std::string(why)}; }

// Display-name characters of the fast path: atext, SP and HTAB; no '=' or '?' (an
// encoded-word), no '.' (obs-phrase: GMime refuses a leading one), no quotes, comments or
// other specials.
constexpr bool is_plain_phrase_char(char c) noexcept {
  return is_ldh_or_underscore(c) || c == ' ' || c == '\t' ||
         std::string_view("!#$%&'*+/^`{|}~").find(c) != std::string_view::npos;
}

// ASCII dot-atom without '=' and '?' (so no encoded-word can hide in it), and without
// quotes: `""""@d` is four quoted-strings to GMime, one to is_local_part (found by the
// validator fuzz target); quoted local parts are rare and GMime reads them.
bool is_plain_local_part(std::string_view l) noexcept {
  for (const char c : l)
    if (static_cast<unsigned char>(c) >= 0x80 || c == '=' || c == '?' || c == '"') return false;
  return is_local_part(l);
}

// LDH labels only, and no A-label (which GMime's IDNA round trip could rewrite).
bool is_plain_domain(std::string_view d) noexcept {
  for (const char c : d)
    if (c == '_' || c == '[') return false;
  for (std::size_t i = 0; i + 4 <= d.size(); ++i)
    if (iequals(d.substr(i, 4), "xn--")) return false;
  return is_domain(d);
}

// The plain forms nearly all agent mail uses, `local@domain` and `Name <local@domain>`,
// in ASCII without comments, quotes or encoded-words. GMime returns the same addr-spec for
// them (the validator fuzz target cross-checks both paths); they skip its ~3 us of object
// churn. nullopt: not plain, ask GMime.
std::optional<std::string> plain_mailbox(std::string_view v) {
  v = trim(v);
  std::string_view addr = v;
  if (!v.empty() && v.back() == '>') {
    const std::size_t lt = v.find('<');
    if (lt == std::string_view::npos) return std::nullopt;
    for (const char c : v.substr(0, lt))
      if (!is_plain_phrase_char(c)) return std::nullopt;
    addr = v.substr(lt + 1, v.size() - lt - 2);
  }
  const std::size_t at = addr.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view local = addr.substr(0, at);
  const std::string_view domain = addr.substr(at + 1);
  if (!is_plain_local_part(local) || !is_plain_domain(domain)) return std::nullopt;
  return std::string(local) + '@' + to_lower(domain);
}

// Checks shared by both paths: bounded, no NUL, UTF-8, the shape of one mailbox.
std::optional<Error> precheck(std::string_view value) {
  if (value.size() > kMaxFromLength) return refused("is too long");
  if (value.find('\0') != std::string_view::npos) return refused("contains a NUL byte");
  if (!is_valid_utf8(value)) return refused("is not valid UTF-8");
  if (!has_single_mailbox_shape(value)) return refused("must hold exactly one mailbox");
  return std::nullopt;
}

}  // namespace

void ensure_gmime_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

Result<std::string> parse_from_mailbox(std::string_view value) {
  if (auto error = precheck(value)) return std::move(*error);
  if (auto plain = plain_mailbox(value)) return std::move(*plain);
  return parse_from_mailbox_gmime(value);
}

Result<std::string> parse_from_mailbox_gmime(std::string_view value) {
  if (auto error = precheck(value)) return std::move(*error);
  ensure_gmime_initialized();
  const ParserOptionsPtr options(g_mime_parser_options_new());
  if (!options) return refused("could not be parsed (out of memory)");
  g_mime_parser_options_set_address_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_STRICT);
  const std::string text(value);
  const AddressListPtr list(internet_address_list_parse(options.get(), text.c_str()));
  if (!list || internet_address_list_length(list.get()) != 1) return refused("must hold exactly one mailbox");
  InternetAddress* address = internet_address_list_get_address(list.get(), 0);  // borrowed
  if (!INTERNET_ADDRESS_IS_MAILBOX(address)) return refused("must hold a mailbox, not a group");

  const char* idn = internet_address_mailbox_get_idn_addr(INTERNET_ADDRESS_MAILBOX(address));
  const std::string_view addr = idn != nullptr ? std::string_view(idn) : std::string_view();
  const std::size_t at = addr.rfind('@');
  if (at == std::string_view::npos) return refused("address has no domain");
  const std::string_view local = addr.substr(0, at);
  const std::string_view domain = addr.substr(at + 1);
  if (!is_local_part(local)) return refused("address has an invalid local part");
  if (!is_domain(domain)) return refused("address has an invalid domain");
  if (!idna_keeps_labels(written_domain(value), domain))
    return refused("domain changes under IDNA conversion (look-alike characters or a malformed A-label)");
  return std::string(local) + '@' + to_lower(domain);
}

}  // namespace aamp
