// encodings.cpp — see encodings.hpp. Each decoder bounds its input before looking at it,
// never throws on bad input (only std::bad_alloc can escape) and never recurses: JSON is
// read with nlohmann's SAX parser (an explicit state stack) and a handler that gives up
// past a small nesting depth, so a JSON bomb costs neither stack nor much memory.
#include "policy/encodings.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "policy/text.hpp"

namespace aamp {
namespace {

constexpr std::size_t kMaxEncodedLength = 1U << 20;   // 1 MiB: far above any header bound
constexpr std::size_t kMaxRfc3339Length = 64;          // "YYYY-MM-DDTHH:MM:SS.fffffffff+hh:mm"
constexpr std::size_t kMaxJsonDepth = 64;              // StructuredResult nesting bound

constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// RFC 4648 §5 value of one character, or -1.
constexpr int base64url_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error too_long(std::string_view what) { return Error{fmt::format("the {} is too long", what)}; }

// ---------------------------------------------------------------------------------------
// JSON via SAX. Every handler method returns false to stop the parser at once.

using Json = nlohmann::json;

// Accepts any JSON text whose nesting stays within kMaxJsonDepth; builds nothing.
class DepthLimitedValidator {
 public:
  bool null() { return true; }
  bool boolean(bool /*unused*/) { return true; }
  bool number_integer(Json::number_integer_t /*unused*/) { return true; }
  bool number_unsigned(Json::number_unsigned_t /*unused*/) { return true; }
  bool number_float(Json::number_float_t /*unused*/, const std::string& /*unused*/) { return true; }
  bool string(std::string& /*unused*/) { return true; }
  bool binary(Json::binary_t& /*unused*/) { return false; }
  bool start_object(std::size_t /*unused*/) { return enter(); }
  bool key(std::string& /*unused*/) { return true; }
  bool end_object() { return leave(); }
  bool start_array(std::size_t /*unused*/) { return enter(); }
  bool end_array() { return leave(); }
  bool parse_error(std::size_t /*unused*/, const std::string& /*unused*/,
                   const nlohmann::detail::exception& /*unused*/) {
    syntax_error_ = true;
    return false;
  }

  [[nodiscard]] bool too_deep() const noexcept { return too_deep_; }
  [[nodiscard]] bool syntax_error() const noexcept { return syntax_error_; }

 private:
  bool enter() {
    if (++depth_ > kMaxJsonDepth) too_deep_ = true;
    return !too_deep_;
  }
  bool leave() {
    --depth_;
    return true;
  }

  std::size_t depth_ = 0;
  bool too_deep_ = false;
  bool syntax_error_ = false;
};

// Builds ContextRules from exactly `{ "key": ["s", ...], ... }`; refuses anything else,
// including a repeated key (JSON parsers disagree on which copy wins: RFC 8259 §4).
class ContextRulesBuilder {
 public:
  bool null() { return fail("a rule value is not an array of strings"); }
  bool boolean(bool /*unused*/) { return null(); }
  bool number_integer(Json::number_integer_t /*unused*/) { return null(); }
  bool number_unsigned(Json::number_unsigned_t /*unused*/) { return null(); }
  bool number_float(Json::number_float_t /*unused*/, const std::string& /*unused*/) { return null(); }
  bool binary(Json::binary_t& /*unused*/) { return null(); }

  bool string(std::string& s) {
    if (state_ != State::in_array) return null();
    current_->push_back(std::move(s));
    return true;
  }
  bool start_object(std::size_t /*unused*/) {
    if (state_ != State::start) return fail("the rules must be one object of string arrays");
    state_ = State::in_object;
    return true;
  }
  bool key(std::string& k) {
    auto [it, inserted] = rules_.try_emplace(std::move(k));
    if (!inserted) return fail("a rule key appears twice");
    current_ = &it->second;
    state_ = State::after_key;
    return true;
  }
  bool end_object() {
    state_ = State::done;
    return true;
  }
  bool start_array(std::size_t /*unused*/) {
    if (state_ != State::after_key) return fail("the rules must be one object of string arrays");
    state_ = State::in_array;
    return true;
  }
  bool end_array() {
    state_ = State::in_object;
    return true;
  }
  bool parse_error(std::size_t /*unused*/, const std::string& /*unused*/,
                   const nlohmann::detail::exception& /*unused*/) {
    return fail("the rules are not valid JSON");
  }

  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  ContextRules take() && { return std::move(rules_); }

 private:
  enum class State {
    start,      // nothing read yet
    in_object,  // inside the top object, expecting a key or '}'
    after_key,  // a key was read, expecting '['
    in_array,   // inside a value array, expecting strings or ']'
    done,       // the top object is closed
  };

  bool fail(std::string_view why) {
    if (error_.empty()) error_ = why;
    return false;
  }

  State state_ = State::start;
  ContextRules rules_;
  std::vector<std::string>* current_ = nullptr;
  std::string error_;
};

// ---------------------------------------------------------------------------------------
// RFC 3339 helpers.

// Reads exactly `n` ASCII digits at `pos`; -1 when they are not all digits.
int read_digits(std::string_view s, std::size_t pos, std::size_t n) noexcept {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

constexpr bool is_leap(int y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr int days_in_month(int y, int m) noexcept {
  constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return (m == 2 && is_leap(y)) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// The inverse of days_from_civil (H. Hinnant's civil_from_days).
constexpr CivilDate civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

// RFC 3339 §5.6 time-offset = "Z" / time-numoffset; returns seconds east of UTC.
Result<int> parse_time_offset(std::string_view s) {
  if (s == "Z" || s == "z") return 0;
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
    return Error{"the time offset must be Z or +hh:mm"};
  const int hh = read_digits(s, 1, 2);
  const int mm = read_digits(s, 4, 2);
  if (hh < 0 || mm < 0 || hh > 23 || mm > 59) return Error{"the time offset is out of range"};
  const int seconds = hh * 3600 + mm * 60;
  return s[0] == '-' ? -seconds : seconds;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// RFC 4648 §5 base64url.

Result<std::string> base64url_decode(std::string_view text) {
  if (text.size() > kMaxEncodedLength) return too_long("base64url text");
  // Padding is optional; when present it must complete the last quantum (§3.2).
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  if (pad > 0 && text.size() % 4 != 0) return Error{"the base64url padding is misplaced"};
  const std::string_view body = text.substr(0, text.size() - pad);
  if (body.size() % 4 == 1) return Error{"the base64url text has an impossible length"};

  std::string out;
  out.reserve(body.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : body) {
    const int v = base64url_value(c);
    if (v < 0) return Error{"the text contains a character outside the base64url alphabet"};
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFU));
    }
  }
  // Leftover pad bits (§3.5) are ignored, as the reference SDKs' decoders ignore them.
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char ch : bytes) {
    acc = (acc << 8) | static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64UrlAlphabet[(acc >> bits) & 0x3FU]);
    }
  }
  if (bits > 0) out.push_back(kBase64UrlAlphabet[(acc << (6 - bits)) & 0x3FU]);
  return out;
}

bool is_base64url(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (const char c : text)
    if (base64url_value(c) < 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// RFC 3629 §4 UTF8-octets.

bool is_valid_utf8(std::string_view bytes) noexcept {
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  auto tail = [&](std::size_t k) { return k < n && (at(k) & 0xC0U) == 0x80U; };
  while (i < n) {
    const unsigned c = at(i);
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xC2 && c <= 0xDF) {  // UTF8-2
      if (!tail(i + 1)) return false;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {  // UTF8-3: no overlongs (E0), no surrogates (ED)
      if (!tail(i + 1) || !tail(i + 2)) return false;
      const unsigned c1 = at(i + 1);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return false;
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {  // UTF8-4: no overlongs (F0), nothing past U+10FFFF
      if (!tail(i + 1) || !tail(i + 2) || !tail(i + 3)) return false;
      const unsigned c1 = at(i + 1);
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return false;
      i += 4;
    } else {
      return false;  // 80-C1 and F5-FF never start a character
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// RFC 3986 §2.1 percent-encoding.

Result<std::string> percent_decode_utf8(std::string_view text) {
  if (text.size() > kMaxEncodedLength) return too_long("percent-encoded text");
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) return Error{"a '%' is not followed by two hex digits"};
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (!is_valid_utf8(out)) return Error{"the decoded text is not valid UTF-8"};
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xFU]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// RFC 2047 encoded-words.

namespace {

// Charsets whose bytes below 0x80 mean ASCII wherever they stand (an RFC 2231 §5 "*lang"
// suffix dropped). UTF-7 ("+AG0-" is 'm'), UTF-16 and Shift_JIS (ASCII trail bytes) are not.
bool ascii_compatible_charset(std::string_view charset) noexcept {
  charset = charset.substr(0, charset.find('*'));
  return iequals(charset, "us-ascii") || iequals(charset, "ascii") || iequals(charset, "utf-8") ||
         iequals(charset, "utf8") || istarts_with(charset, "iso-8859-") || istarts_with(charset, "windows-125") ||
         istarts_with(charset, "koi8-");
}

// RFC 4648 §4 (base64, not base64url) value of one character, or -1.
constexpr int base64_value(char c) noexcept {
  if (c == '+') return 62;
  if (c == '/') return 63;
  return c == '-' || c == '_' ? -1 : base64url_value(c);
}

// RFC 2047 §4.2: "_" is a space, "=XX" a byte; any other '=' is kept, as readers keep it.
void append_q(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      out.push_back(' ');
      continue;
    }
    const int hi = text[i] == '=' && i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    const int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
    if (lo >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
}

// RFC 2047 §4.1: padding optional, characters outside the alphabet skipped (as Python's
// non-validating fallback skips them), leftover bits dropped.
void append_b(std::string& out, std::string_view text) {
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = base64_value(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFU));
    }
  }
}

bool only_white_space(std::string_view s) noexcept { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

}  // namespace

// encoded-word = "=?" charset "?" encoding "?" encoded-text "?=" (§2). The text runs to the
// first "?=" after the third '?'. Each '?' and "?=" search starts past the last one, and a
// failed "?=" search ends the decoding (no later word could close), so the work is linear.
Result<std::string> decode_encoded_words(std::string_view text) {
  if (text.size() > kMaxEncodedLength) return too_long("header value");
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  std::size_t word_end = std::string_view::npos;  // where the last encoded-word ended, in text
  std::size_t out_end = 0;                        // and in out
  for (std::size_t start = text.find("=?"); start != std::string_view::npos; start = text.find("=?", pos)) {
    const std::size_t q1 = text.find('?', start + 2);
    const bool word_shape = q1 != std::string_view::npos && q1 + 2 < text.size() && text[q1 + 2] == '?' &&
                            (ascii_lower(text[q1 + 1]) == 'q' || ascii_lower(text[q1 + 1]) == 'b');
    if (!word_shape) {
      out.append(text.substr(pos, start + 2 - pos));
      pos = start + 2;
      continue;
    }
    const std::size_t close = text.find("?=", q1 + 3);
    if (close == std::string_view::npos) break;
    const std::string_view charset = text.substr(start + 2, q1 - start - 2);
    if (!ascii_compatible_charset(charset)) return Error{"an encoded-word is in a charset that is not ASCII-compatible"};
    // §6.2: white space between two encoded-words is not displayed.
    if (word_end == pos && only_white_space(text.substr(pos, start - pos))) {
      out.resize(out_end);
    } else {
      out.append(text.substr(pos, start - pos));
    }
    const std::string_view encoded = text.substr(q1 + 3, close - q1 - 3);
    if (ascii_lower(text[q1 + 1]) == 'q') append_q(out, encoded);
    else append_b(out, encoded);
    pos = word_end = close + 2;
    out_end = out.size();
  }
  out.append(text.substr(pos));
  return out;
}

// ---------------------------------------------------------------------------------------
// X-AAMP-Dispatch-Context.

namespace {

// key = 1*( %x61-7A / DIGIT / "_" / "-" )
bool is_context_key(std::string_view key) noexcept {
  if (key.empty()) return false;
  for (const char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

// Only SP and HTAB surround an entry; CR/LF were removed by unfolding before us.
std::string_view trim_wsp(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// dispatch-context = [ entry *( ";" entry ) ], entry = *WSP [ key "=" value ] *WSP.
// Empty entries (";;", a trailing ';') are skipped; the value runs to the next ';' and
// may itself contain '='.
Result<DispatchContext> parse_dispatch_context(std::string_view text, bool lenient_keys) {
  if (text.size() > kMaxEncodedLength) return too_long("dispatch context");
  DispatchContext context;
  while (!text.empty()) {
    const std::size_t semi = text.find(';');
    const std::string_view entry = trim_wsp(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (entry.empty()) continue;

    const std::size_t eq = entry.find('=');
    const std::string_view key = trim_wsp(entry.substr(0, eq));
    if (eq == std::string_view::npos || !is_context_key(key)) {
      if (lenient_keys) continue;
      return Error{"a dispatch-context key is not of the form [a-z0-9_-]+ followed by '='"};
    }
    auto value = percent_decode_utf8(trim_wsp(entry.substr(eq + 1)));
    if (!value) return Error{fmt::format("the dispatch-context value of key '{}' is invalid: {}", key, value.error())};
    if (!context.try_emplace(std::string(key), std::move(value).value()).second)
      return Error{fmt::format("the dispatch-context key '{}' appears twice", key)};
  }
  return context;
}

std::string format_dispatch_context(const DispatchContext& context) {
  std::string out;
  for (const auto& [key, value] : context) {
    if (!out.empty()) out += "; ";
    out += key;
    out += '=';
    out += percent_encode(value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Dispatch-context rules and StructuredResult (RFC 8259 JSON inside RFC 4648 §5).

Result<ContextRules> parse_context_rules_json(std::string_view json) {
  if (json.size() > kMaxEncodedLength) return too_long("rules JSON");
  if (!is_valid_utf8(json)) return Error{"the rules are not valid UTF-8"};
  ContextRulesBuilder builder;
  const bool ok = Json::sax_parse(json.begin(), json.end(), &builder, Json::input_format_t::json,
                                  /*strict=*/true, /*ignore_comments=*/false);
  if (!ok) return Error{builder.error().empty() ? "the rules are not valid JSON" : builder.error()};
  return std::move(builder).take();
}

std::string context_rules_to_json(const ContextRules& rules) {
  Json object = Json::object();
  for (const auto& [key, values] : rules) object[key] = values;
  // replace: invalid UTF-8 (never produced by our decoders) becomes U+FFFD, no throw.
  return object.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<ContextRules> decode_context_rules(std::string_view base64url) {
  auto json = base64url_decode(base64url);
  if (!json) return Error{json.error()};
  return parse_context_rules_json(*json);
}

std::string encode_context_rules(const ContextRules& rules) { return base64url_encode(context_rules_to_json(rules)); }

Result<std::string> decode_structured_result(std::string_view base64url) {
  auto json = base64url_decode(base64url);
  if (!json) return Error{json.error()};
  if (!is_valid_utf8(*json)) return Error{"the structured result is not valid UTF-8"};
  DepthLimitedValidator validator;
  const bool ok = Json::sax_parse(json->begin(), json->end(), &validator, Json::input_format_t::json,
                                  /*strict=*/true, /*ignore_comments=*/false);
  if (validator.too_deep()) return Error{"the structured result nests too deeply"};
  if (!ok) return Error{"the structured result is not valid JSON"};
  return std::move(json).value();
}

// ---------------------------------------------------------------------------------------
// RFC 3339 §5.6:
//   date-time = full-date "T" full-time           ("T" may be "t", §5.6 NOTE)
//   full-date = date-fullyear "-" date-month "-" date-mday
//   full-time = partial-time time-offset
//   partial-time = time-hour ":" time-minute ":" time-second [time-secfrac]
//   time-secfrac = "." 1*DIGIT;  time-offset = "Z" / ("+" / "-") time-hour ":" time-minute

Result<UnixTime> parse_rfc3339(std::string_view text) {
  if (text.size() > kMaxRfc3339Length) return too_long("date-time");
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
      text[13] != ':' || text[16] != ':')
    return Error{"the date-time is not of the form YYYY-MM-DDTHH:MM:SS with an offset"};
  const int year = read_digits(text, 0, 4);
  const int month = read_digits(text, 5, 2);
  const int day = read_digits(text, 8, 2);
  const int hour = read_digits(text, 11, 2);
  const int minute = read_digits(text, 14, 2);
  const int second = read_digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour < 0 ||
      hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60)
    return Error{"the date-time has a field out of range"};

  std::size_t pos = 19;
  if (text[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return Error{"the date-time has an empty fraction"};
  }
  const auto offset = parse_time_offset(text.substr(pos));
  if (!offset) return Error{offset.error()};

  // A leap second (:60) counts as the first second of the next minute.
  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return days * 86400 + hour * 3600 + minute * 60 + second - *offset;
}

std::string format_rfc3339(UnixTime t) {
  const std::int64_t days = (t >= 0 ? t : t - 86399) / 86400;
  const std::int64_t secs = t - days * 86400;
  const CivilDate date = civil_from_days(days);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", date.year, date.month, date.day, secs / 3600,
                     secs / 60 % 60, secs % 60);
}

}  // namespace aamp
