// auth_results.cpp — see auth_results.hpp. A small lexer over RFC 8601 §2.2:
//   authres-payload = [CFWS] authserv-id [CFWS authres-version] (no-result / 1*resinfo) [CFWS]
//   resinfo         = [CFWS] ";" methodspec [CFWS reasonspec] [CFWS 1*propspec]
//   methodspec      = [CFWS] method [CFWS] "=" [CFWS] result
//   propspec        = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
// Comments nest (RFC 5322 §3.2.2); quoted strings take backslash escapes.
#include "policy/auth_results.hpp"

#include "policy/encodings.hpp"
#include "policy/text.hpp"

namespace aamp {

namespace {

constexpr std::size_t kMaxValue = 16 * 1024;  // the milter bounds headers before this, too
constexpr int kMaxCommentDepth = 32;
constexpr std::size_t kMaxResults = 64;

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  bool at_end() { skip_cfws(); return ok_ && pos_ >= s_.size(); }
  bool ok() const { return ok_; }

  // Whitespace and (nested (comments)). A comment that never closes ends the parse.
  void skip_cfws() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos_;
      } else if (c == '(') {
        skip_comment();
        if (!ok_) return;
      } else {
        return;
      }
    }
  }

  bool eat(char c) {
    skip_cfws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // A token (RFC 2045 §5.1 without the specials we split on) or a quoted-string.
  std::string value(std::string_view stop) {
    skip_cfws();
    if (pos_ < s_.size() && s_[pos_] == '"') return quoted();
    const std::size_t start = pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == '"' ||
          stop.find(c) != std::string_view::npos)
        break;
      ++pos_;
    }
    return std::string(s_.substr(start, pos_ - start));
  }

  char peek() {
    skip_cfws();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }

 private:
  void skip_comment() {
    int depth = 0;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ < s_.size()) ++pos_;  // a quoted-pair; a backslash at the very end quotes nothing
      } else if (c == '(') {
        if (++depth > kMaxCommentDepth) break;
      } else if (c == ')') {
        if (--depth == 0) return;
      }
    }
    ok_ = false;
  }

  std::string quoted() {
    ++pos_;  // opening quote
    std::string out;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\' && pos_ < s_.size()) {
        out.push_back(s_[pos_++]);
      } else {
        out.push_back(c);
      }
    }
    ok_ = false;  // unterminated
    return out;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

bool is_keyword(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!good) return false;
  }
  return true;
}

// One reading of the field claims ours: its authserv-id does not read as a plain one, or is ours.
bool reading_claims(std::string_view value, std::string_view ours) {
  Lexer lex(value);
  const std::string id = lex.value(";");
  if (!lex.ok() || !is_plain_authserv_id(id)) return true;
  const auto without_dot = [](std::string_view s) { return !s.empty() && s.back() == '.' ? s.substr(0, s.size() - 1) : s; };
  return iequals(without_dot(id), without_dot(ours));
}

}  // namespace

std::string AuthResult::property(std::string_view key) const {
  for (const auto& [k, v] : properties)
    if (k == key) return v;
  return {};
}

std::string authserv_id_of(std::string_view value) {
  if (value.size() > kMaxValue) value = value.substr(0, kMaxValue);
  Lexer lex(value);
  return to_lower(lex.value(";"));
}

bool is_plain_authserv_id(std::string_view id) noexcept {
  if (id.empty()) return false;
  for (const char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ';' || c == '(' || c == ')' || c == '"' || c == '\\') return false;
  }
  return true;
}

// Two readings: the field as sent (how a strict RFC 8601 reader sees it) and the field with
// its encoded-words decoded (how Python's email hands it on, where "=?utf-8?q?=29?=" can end
// a comment and bring an id out of it). Any byte outside printable ASCII in the id removes
// the field instead of being dropped or split on: that covers every reader's list of
// controls and Unicode spaces at once, and no authserv-id in use holds one.
bool claims_authserv_id(std::string_view value, std::string_view ours) {
  if (value.size() > kMaxValue) value = value.substr(0, kMaxValue);  // cut inside a comment: unreadable, claimed
  if (reading_claims(value, ours)) return true;
  if (value.find("=?") == std::string_view::npos) return false;
  const auto decoded = decode_encoded_words(value);
  return !decoded || reading_claims(*decoded, ours);
}

std::optional<AuthResultsHeader> parse_authentication_results(std::string_view value) {
  if (value.size() > kMaxValue) return std::nullopt;
  Lexer lex(value);
  AuthResultsHeader h;
  h.authserv_id = to_lower(lex.value(";"));
  if (h.authserv_id.empty() || !lex.ok()) return std::nullopt;
  // Optional authres-version: digits before the first ';'.
  if (lex.peek() != ';' && !lex.at_end()) {
    const std::string version = lex.value(";");
    if (version.empty() || version.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  }
  bool saw_none = false;  // "none" stands alone: no result may come before or after it
  while (!lex.at_end()) {
    if (!lex.eat(';') || saw_none) return std::nullopt;
    if (lex.at_end()) break;  // a trailing ';' is tolerated
    AuthResult r;
    std::string method = lex.value("=;/");
    if (lex.eat('/')) lex.value("=;");  // method-version, ignored
    if (iequals(method, "none") && (lex.at_end() || lex.peek() == ';')) {
      if (!h.results.empty()) return std::nullopt;
      saw_none = true;
      continue;
    }
    if (!is_keyword(method) || !lex.eat('=')) return std::nullopt;
    r.method = to_lower(method);
    r.result = to_lower(lex.value(";"));
    if (!is_keyword(r.result)) return std::nullopt;
    // reasonspec and propspecs until the next ';'.
    while (!lex.at_end() && lex.peek() != ';') {
      std::string name = lex.value("=;");
      if (name.empty() || !lex.eat('=')) return std::nullopt;
      std::string v = lex.value(";");
      if (!lex.ok()) return std::nullopt;
      r.properties.emplace_back(to_lower(name), std::move(v));
    }
    if (!lex.ok()) return std::nullopt;
    if (h.results.size() >= kMaxResults) return std::nullopt;
    h.results.push_back(std::move(r));
  }
  if (!lex.ok()) return std::nullopt;
  return h;
}

}  // namespace aamp
