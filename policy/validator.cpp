// validator.cpp — see validator.hpp; the grammar is written down in docs/headers.md.
// One pass over the header block: each header is checked for shape (RFC 5322 §2.2, §3.6.8),
// the first copy of each known field is decoded where it stands (so violations come out in
// header order), later copies are duplicate-field; what must be present is checked last.
// Traps against parser differentials are written beside the code that closes them.
#include "policy/validator.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "policy/address.hpp"
#include "policy/encodings.hpp"
#include "policy/text.hpp"
#include "policy/text_safety.hpp"

namespace aamp {
namespace {

constexpr std::size_t kMaxIdLength = 256;         // TaskId, ParentTaskId, Session-Key, Stream-Id
constexpr std::size_t kMinPairCode = 4;
constexpr std::size_t kMaxPairCode = 128;
constexpr std::size_t kMaxViolations = 64;        // bounds the result of a hostile header block
constexpr std::size_t kMaxEchoed = 40;            // bytes of a value quoted back in a message
constexpr std::size_t kMaxMessage = 300;          // bytes of a violation message (a reply's words)
constexpr std::string_view kPrefix = "X-AAMP-";

// ---------------------------------------------------------------------------------------
// The known fields.

enum class Field : std::uint8_t {
  version, intent, task_id, status, priority, expires_at, session_key, parent_task_id,
  stream_id, pair_code, error_msg, card_summary, structured_result, dispatch_context,
  dispatch_context_rules, suggested_options, output, question, blocked_reason,
  from, message_id, subject,
  none,  // not a field the validator reads
};
constexpr std::size_t kFieldCount = static_cast<std::size_t>(Field::none);

enum class Grammar : std::uint8_t {
  token,    // printable ASCII, no white space, no encoded-word: ids, enums, base64url
  context,  // printable ASCII and SP/HTAB (the dispatch context's separators)
  text,     // UTF-8 text without control characters (RFC 6532); encoded-words kept as sent
  other,    // From, Message-ID, Subject: read by their own rules
};

struct FieldSpec {
  std::string_view name;  // canonical spelling
  Grammar grammar;
};

constexpr std::array<FieldSpec, kFieldCount> kFields = {{
    {"X-AAMP-Version", Grammar::token},
    {"X-AAMP-Intent", Grammar::token},
    {"X-AAMP-TaskId", Grammar::token},
    {"X-AAMP-Status", Grammar::token},
    {"X-AAMP-Priority", Grammar::token},
    {"X-AAMP-Expires-At", Grammar::token},
    {"X-AAMP-Session-Key", Grammar::token},
    {"X-AAMP-ParentTaskId", Grammar::token},
    {"X-AAMP-Stream-Id", Grammar::token},
    {"X-AAMP-Pair-Code", Grammar::token},
    {"X-AAMP-ErrorMsg", Grammar::text},
    {"X-AAMP-Card-Summary", Grammar::text},
    {"X-AAMP-StructuredResult", Grammar::token},
    {"X-AAMP-Dispatch-Context", Grammar::context},
    {"X-AAMP-Dispatch-Context-Rules", Grammar::token},
    {"X-AAMP-SuggestedOptions", Grammar::text},
    {"X-AAMP-Output", Grammar::text},
    {"X-AAMP-Question", Grammar::text},
    {"X-AAMP-BlockedReason", Grammar::text},
    {"From", Grammar::other},
    {"Message-ID", Grammar::other},
    {"Subject", Grammar::other},
}};

constexpr std::string_view name_of(Field f) noexcept { return kFields[static_cast<std::size_t>(f)].name; }
constexpr bool is_aamp_field(Field f) noexcept { return f < Field::from; }

// ---------------------------------------------------------------------------------------
// Header names.

// RFC 5322 §3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126.
constexpr bool is_ftext(char c) noexcept { return c >= 33 && c <= 126 && c != ':'; }

// Trap: obs-optional (RFC 5322 §4.5.8) allows white space before the colon, and some
// readers strip it: "X-AAMP-Intent :" must count as X-AAMP-Intent (and be refused), or
// the message would pass here as not-AAMP and reach a client as a dispatch.
constexpr std::string_view trim_name(std::string_view n) noexcept {
  while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) n.remove_suffix(1);
  return n;
}

// Trap: Unicode case folding maps a few non-ASCII letters onto ASCII ones (U+212A KELVIN
// SIGN -> 'k', U+0130 -> 'i', U+0131 and U+017F upper-case to 'I' and 'S'). A reader that
// folds with Unicode rules would take "X-AAMP-Tas\u212AId" for X-AAMP-TaskId.
std::string fold_lookalikes(std::string_view n) {
  std::string out;
  out.reserve(n.size());
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string_view rest = n.substr(i);
    if (rest.starts_with("\xe2\x84\xaa")) { out += 'k'; i += 2; continue; }
    if (rest.starts_with("\xc4\xb0") || rest.starts_with("\xc4\xb1")) { out += 'i'; i += 1; continue; }
    if (rest.starts_with("\xc5\xbf")) { out += 's'; i += 1; continue; }
    out += n[i];
  }
  return out;
}

Field lookup_ascii(std::string_view name) noexcept {
  const bool x_aamp = istarts_with(name, kPrefix);  // the X-AAMP-* entries come first
  const std::size_t first = x_aamp ? 0 : static_cast<std::size_t>(Field::from);
  const std::size_t last = x_aamp ? static_cast<std::size_t>(Field::from) : kFieldCount;
  for (std::size_t i = first; i < last; ++i)
    if (iequals(name, kFields[i].name)) return static_cast<Field>(i);
  return Field::none;
}

struct NameMatch {
  Field field = Field::none;
  bool well_formed = true;  // false: the name only matches after trimming or folding
};

NameMatch classify_name(std::string_view raw) {
  const std::string_view trimmed = trim_name(raw);
  NameMatch m{lookup_ascii(trimmed), trimmed.size() == raw.size()};
  if (m.field != Field::none) return m;
  for (const char c : trimmed) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      const Field f = lookup_ascii(fold_lookalikes(trimmed));
      if (f != Field::none && is_aamp_field(f)) return {f, false};
      break;
    }
  }
  return {};
}

bool names_aamp_marker(std::string_view raw) {
  const std::string_view n = trim_name(raw);
  if (n.size() < 13 || !istarts_with(n, kPrefix)) {
    // Only a name with non-ASCII bytes can fold onto a marker without the ASCII prefix.
    bool ascii = true;
    for (const char c : n) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) return false;
  }
  const Field f = classify_name(raw).field;
  return f == Field::version || f == Field::intent || f == Field::task_id;
}

// ---------------------------------------------------------------------------------------

// Encoded-words (RFC 2047 §2): "=?" charset "?" encoding "?" text "?=". Never decoded here;
// refused in token fields because some readers decode them into something else.
bool has_encoded_word(std::string_view s) noexcept {
  const std::size_t start = s.find("=?");
  return start != std::string_view::npos && s.find("?=", start + 2) != std::string_view::npos;
}

// RFC 5322 §2.2.3: a line break inside a value must be followed by WSP (a fold).
std::optional<std::string_view> value_shape_problem(std::string_view v) noexcept {
  // find() is memchr: three fast scans beat one byte loop on long Received/DKIM values.
  if (v.find('\0') != std::string_view::npos) return "contains a NUL byte";
  for (std::size_t i = v.find('\r'); i != std::string_view::npos; i = v.find('\r', i + 1))
    if (i + 1 >= v.size() || v[i + 1] != '\n') return "contains a bare CR";
  for (std::size_t i = v.find('\n'); i != std::string_view::npos; i = v.find('\n', i + 1))
    if (i + 1 >= v.size() || (v[i + 1] != ' ' && v[i + 1] != '\t')) return "contains a line break that is not a fold";
  return std::nullopt;
}

std::optional<std::string_view> grammar_problem(Grammar g, std::string_view v) noexcept {
  switch (g) {
    case Grammar::token:
      for (const char c : v)
        if (c <= ' ' || c >= 0x7f) return "must be printable ASCII without spaces";
      if (has_encoded_word(v)) return "must not contain an RFC 2047 encoded-word";
      return std::nullopt;
    case Grammar::context:
      for (const char c : v)
        if ((c < ' ' && c != '\t') || c >= 0x7f) return "must be printable ASCII (values percent-encoded)";
      if (has_encoded_word(v)) return "must not contain an RFC 2047 encoded-word";
      return std::nullopt;
    case Grammar::text:
      for (const char c : v)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return "contains a control character";
      if (!is_valid_utf8(v)) return "is not valid UTF-8";
      return std::nullopt;
    case Grammar::other:
      return std::nullopt;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// The checker: state of one validate() call.

class Checker {
 public:
  Checker(const ValidatorOptions& options, Validation& out) : opt_(options), out_(out) {}

  void header(const HeaderField& h);
  void finish();

 private:
  void add(ViolationCode code, std::string_view field, std::string_view message);
  void invalid(Field f, std::string_view why) {
    add(ViolationCode::invalid_value, name_of(f), fmt::format("{} {}", name_of(f), why));
  }
  std::optional<std::string> read_value(Field f, const HeaderField& h);
  void decode(Field f, std::string value);
  void decode_version(std::string value);
  void decode_intent(std::string value);
  void decode_token_field(Field f, std::string value);
  void decode_from(const std::string& value);
  void require(Field f, std::string_view why);
  [[nodiscard]] bool seen(Field f) const noexcept { return count_[static_cast<std::size_t>(f)] > 0; }
  [[nodiscard]] bool strict() const noexcept { return opt_.mode == ValidationMode::strict; }

  const ValidatorOptions& opt_;
  Validation& out_;
  AampMessage& msg_ = out_.message;
  std::array<std::uint32_t, kFieldCount> count_{};
};

void Checker::add(ViolationCode code, std::string_view field, std::string_view message) {
  if (out_.violations.size() >= kMaxViolations) return;
  out_.violations.push_back(Violation{code, std::string(field), for_smtp_reply(message, kMaxMessage)});
}

// The first shape problem of a header, if any: a name that is empty, outside ftext or
// only resembling a known field; a value with NUL or a line break that is not a fold.
std::optional<std::string> shape_problem(const HeaderField& h, const NameMatch& m) {
  if (h.name.empty()) return "a header field has an empty name";
  if (!m.well_formed) {
    return fmt::format("a header field name only resembles {} (white space or look-alike letters)",
                       name_of(m.field));
  }
  for (const char c : h.name)
    if (!is_ftext(c)) return "a header field name has a character outside RFC 5322 ftext";
  if (const auto problem = value_shape_problem(h.value)) return fmt::format("a header field value {}", *problem);
  return std::nullopt;
}

void Checker::header(const HeaderField& h) {
  const NameMatch m = classify_name(h.name);
  const std::string_view shown = m.field != Field::none ? name_of(m.field) : std::string_view();
  const auto problem = shape_problem(h, m);
  if (problem) {
    const std::string label = m.field != Field::none ? std::string(shown)
                              : h.name.empty()       ? std::string("(empty)")
                                                     : for_echoed_header(h.name, 64);
    add(ViolationCode::malformed_header, label, fmt::format("{}: {}", label, *problem));
  }
  if (m.field == Field::none) return;

  auto& n = count_[static_cast<std::size_t>(m.field)];
  ++n;
  if (n == 2 && m.field == Field::from) {
    add(ViolationCode::multiple_from, "From", "the message has more than one From header");
  } else if (n == 2 && is_aamp_field(m.field)) {
    add(ViolationCode::duplicate_field, shown,
        fmt::format("{} appears more than once; readers could act on different copies", shown));
  }
  if (n > 1 || problem) return;  // the first copy is the one decoded, as the SDKs do
  if (auto value = read_value(m.field, h)) decode(m.field, std::move(*value));
}

// Unfolds, bounds and checks the character set; nullopt after reporting a violation.
std::optional<std::string> Checker::read_value(Field f, const HeaderField& h) {
  const FieldSpec& spec = kFields[static_cast<std::size_t>(f)];
  std::string value = unfold(h.value);
  if (value.size() > opt_.max_field_length && f != Field::subject && f != Field::message_id) {
    add(ViolationCode::field_too_long, spec.name,
        fmt::format("{} is longer than {} bytes", spec.name, opt_.max_field_length));
    return std::nullopt;
  }
  if (spec.grammar == Grammar::other) return value;
  // Trap: readers disagree on trailing white space (some keep it, most strip it), so
  // a token must not end with any in strict mode: "task.dispatch " is not an intent.
  const std::string_view raw = h.value;
  const bool trailing_space = !raw.empty() && (raw.back() == ' ' || raw.back() == '\t');
  if (trailing_space && spec.grammar == Grammar::token && strict()) {
    invalid(f, "has trailing white space");
    return std::nullopt;
  }
  if (const auto problem = grammar_problem(spec.grammar, value)) {
    invalid(f, *problem);
    return std::nullopt;
  }
  return value;
}

void Checker::decode(Field f, std::string value) {
  switch (f) {
    case Field::version: return decode_version(std::move(value));
    case Field::intent: return decode_intent(std::move(value));
    case Field::from: return decode_from(value);
    case Field::message_id: msg_.message_id = std::move(value); return;
    case Field::subject: msg_.subject = std::move(value); return;
    case Field::error_msg: msg_.error_msg = std::move(value); return;
    case Field::card_summary: msg_.card_summary = std::move(value); return;
    case Field::output: msg_.output = std::move(value); return;
    case Field::question: msg_.question = std::move(value); return;
    case Field::blocked_reason: msg_.blocked_reason = std::move(value); return;
    case Field::suggested_options: {
      std::string_view rest = value;
      while (!rest.empty()) {
        const std::size_t bar = rest.find('|');
        const std::string_view option = trim(rest.substr(0, bar));
        if (!option.empty()) msg_.suggested_options.emplace_back(option);
        rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
      }
      return;
    }
    default: return decode_token_field(f, std::move(value));
  }
}

// version = "1" "." 1*DIGIT (AAMP 1.x); another major is unsupported-version.
void Checker::decode_version(std::string value) {
  const std::size_t dot = value.find('.');
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  const std::string_view v = value;
  if (dot == std::string_view::npos || !digits(v.substr(0, dot)) || !digits(v.substr(dot + 1))) {
    invalid(Field::version, "must be of the form 1.x, e.g. 1.1");
    return;
  }
  if (v.substr(0, dot) != "1") {
    add(ViolationCode::unsupported_version, name_of(Field::version),
        fmt::format("X-AAMP-Version '{}' is not supported (only 1.x is)", for_echoed_header(v, kMaxEchoed)));
    return;
  }
  msg_.version = std::move(value);
}

// Matched exactly: the wire form is lower case, and a reader that folded case or decoded
// an encoded-word would see an intent we did not judge.
void Checker::decode_intent(std::string value) {
  msg_.intent = parse_intent(value);
  if (!msg_.intent)
    add(ViolationCode::unknown_intent, name_of(Field::intent),
        fmt::format("X-AAMP-Intent '{}' is not one of the ten AAMP 1.1 intents", for_echoed_header(value, kMaxEchoed)));
  msg_.intent_text = std::move(value);
}

void Checker::decode_token_field(Field f, std::string value) {
  switch (f) {
    case Field::task_id:
    case Field::parent_task_id:
    case Field::session_key:
    case Field::stream_id: {
      if (value.empty() || value.size() > kMaxIdLength)
        return invalid(f, "must be 1 to 256 printable ASCII characters");
      std::string* slot = f == Field::task_id ? &msg_.task_id : nullptr;
      if (slot != nullptr) {
        *slot = std::move(value);
      } else {
        auto& opt = f == Field::parent_task_id ? msg_.parent_task_id
                    : f == Field::session_key  ? msg_.session_key
                                               : msg_.stream_id;
        opt = std::move(value);
      }
      return;
    }
    case Field::status:
      if (const auto status = parse_name(kTaskStatusNames, value)) msg_.status = *status;
      else invalid(f, "must be " + join_names(kTaskStatusNames, ", ", " or "));
      return;
    case Field::priority:
      if (value == "urgent") msg_.priority = Priority::urgent;
      else if (value == "high") msg_.priority = Priority::high;
      else if (value == "normal" || !strict()) msg_.priority = Priority::normal;  // sdk: unknown -> normal
      else invalid(f, "must be urgent, high or normal");
      return;
    case Field::expires_at: {
      const auto t = parse_rfc3339(value);
      if (!t) return invalid(f, "must be an RFC 3339 date-time with an offset");
      msg_.expires_at = *t;
      msg_.expires_at_text = std::move(value);
      return;
    }
    case Field::pair_code:
      // Never echo the value: it is a secret.
      if (value.size() < kMinPairCode || value.size() > kMaxPairCode || !is_base64url(value))
        return invalid(f, "must be 4 to 128 base64url characters");
      msg_.pair_code = std::move(value);
      return;
    case Field::structured_result: {
      auto json = decode_structured_result(value);
      if (!json) return invalid(f, "must be base64url of JSON: " + json.error());
      msg_.structured_result = std::move(json).value();
      return;
    }
    case Field::dispatch_context: {
      auto context = parse_dispatch_context(value, /*lenient_keys=*/!strict());
      if (!context) return invalid(f, "is invalid: " + context.error());
      msg_.dispatch_context = std::move(context).value();
      return;
    }
    case Field::dispatch_context_rules: {
      auto rules = decode_context_rules(value);
      if (!rules) return invalid(f, "must be base64url of a JSON object of string arrays: " + rules.error());
      msg_.dispatch_context_rules = std::move(rules).value();
      return;
    }
    default: return;
  }
}

void Checker::decode_from(const std::string& value) {
  auto mailbox = parse_from_mailbox(value);
  if (!mailbox) {
    add(ViolationCode::invalid_value, "From", mailbox.error());
    return;
  }
  msg_.from = std::move(mailbox).value();
}

void Checker::require(Field f, std::string_view why) {
  if (seen(f)) return;
  add(ViolationCode::missing_field, name_of(f), fmt::format("{} is required {}", name_of(f), why));
}

void Checker::finish() {
  if (!seen(Field::version)) {
    if (strict()) require(Field::version, "on every AAMP message");
    else msg_.version = "1.1";  // the SDKs' default
  }
  require(Field::intent, "on every AAMP message");
  require(Field::task_id, "on every AAMP message");
  if (msg_.intent) {
    switch (*msg_.intent) {
      case Intent::task_result:
        if (!seen(Field::status) && !strict()) msg_.status = TaskStatus::completed;  // the SDKs' default
        else require(Field::status, "for intent task.result");
        break;
      case Intent::pair_respond: require(Field::status, "for intent pair.respond"); break;
      case Intent::pair_request: require(Field::pair_code, "for intent pair.request"); break;
      case Intent::task_stream_opened: require(Field::stream_id, "for intent task.stream.opened"); break;
      default: break;
    }
  }
  require(Field::from, "on every AAMP message");
  if (!msg_.priority && msg_.intent == Intent::task_dispatch) msg_.priority = Priority::normal;
  out_.verdict = out_.violations.empty() ? Verdict::valid : Verdict::invalid;
}

}  // namespace

std::string_view to_string(ViolationCode code) noexcept {
  switch (code) {
    case ViolationCode::missing_field: return "missing-field";
    case ViolationCode::duplicate_field: return "duplicate-field";
    case ViolationCode::unknown_intent: return "unknown-intent";
    case ViolationCode::unsupported_version: return "unsupported-version";
    case ViolationCode::invalid_value: return "invalid-value";
    case ViolationCode::field_too_long: return "field-too-long";
    case ViolationCode::multiple_from: return "multiple-from";
    case ViolationCode::malformed_header: return "malformed-header";
  }
  return "unknown";
}

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::not_aamp: return "not-aamp";
    case Verdict::valid: return "valid";
    case Verdict::invalid: return "invalid";
  }
  return "unknown";
}

bool is_aamp(const HeaderList& headers) noexcept {
  try {
    for (const auto& h : headers)
      if (names_aamp_marker(h.name)) return true;
  } catch (...) {
    return true;  // only allocation can fail (look-alike folding): judge the message fully
  }
  return false;
}

Validation validate(const HeaderList& headers, const ValidatorOptions& options) {
  Validation out;
  if (!is_aamp(headers)) return out;
  Checker checker(options, out);
  for (const auto& h : headers) checker.header(h);
  checker.finish();
  return out;
}

}  // namespace aamp
