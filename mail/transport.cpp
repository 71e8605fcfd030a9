// transport.cpp — see transport.hpp: the `ReplyTransport` grammar and the factory.
#include "mail/transport.hpp"

#include <cctype>
#include <charconv>
#include <fstream>
#include <set>
#include <stdexcept>

#include "mail/sendmail_transport.hpp"
#include "mail/smtp_transport.hpp"
#include "policy/reply_fields.hpp"

namespace aamp::mail {
namespace {

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

// Controls other than TAB (a word separator like SP).
bool has_control(std::string_view text) {
  for (const char c : text)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return true;
  return false;
}

bool is_ipv6_literal(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  for (const char c : host.substr(1, host.size() - 2))
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  return true;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host.starts_with("127.") || host == "[::1]";
}

Result<ReplyTransportSpec> parse_sendmail(std::string_view rest) {
  const auto words = split_words(rest);
  if (words.empty()) return Error{"sendmail: needs the program's path, e.g. sendmail:/usr/sbin/sendmail"};
  if (words.front().front() != '/') return Error{"sendmail: the program's path must be absolute"};
  SendmailSpec spec;
  spec.path = std::string(words.front());
  for (std::size_t i = 1; i < words.size(); ++i) spec.args.emplace_back(words[i]);
  return ReplyTransportSpec{spec, {}};
}

Result<ReplyTransportSpec> parse_smtp(std::string_view text, bool implicit_tls) {
  const auto words = split_words(text);
  const std::string_view scheme = implicit_tls ? "smtps://" : "smtp://";
  std::string_view authority = words.front().substr(scheme.size());
  if (authority.find_first_of("/?#@") != std::string_view::npos)
    return Error{std::string(scheme) + " takes HOST[:PORT] only (no path, no user@: use user= and password-file=)"};
  SmtpSpec spec;
  spec.implicit_tls = implicit_tls;
  spec.port = implicit_tls ? 465 : 25;
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Error{"unterminated [IPv6] address"};
    host = authority.substr(0, close + 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return Error{"garbage after the [IPv6] address"};
    if (!after.empty()) port = after.substr(1);
    if (!is_ipv6_literal(host)) return Error{"not an IPv6 address: " + std::string(host)};
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (!is_reply_domain(host)) return Error{"not a host name or IPv4 address: " + std::string(host)};
  }
  spec.host = std::string(host);
  if (authority.size() > host.size()) {
    int value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535)
      return Error{"not a port number: " + std::string(port)};
    spec.port = value;
  }

  std::set<std::string_view> seen;
  bool starttls_given = false;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const auto eq = words[i].find('=');
    if (eq == std::string_view::npos || eq == 0) return Error{"expected name=value, got a word without '='"};
    const std::string_view name = words[i].substr(0, eq);
    const std::string_view value = words[i].substr(eq + 1);
    if (!seen.insert(name).second) return Error{"option given twice: " + std::string(name)};
    if (value.empty()) return Error{"option without a value: " + std::string(name)};
    if (has_control(value)) return Error{"control character in the value of " + std::string(name)};
    if (name == "starttls") {
      const auto mode = parse_name(kStartTlsNames, value);
      if (!mode) return Error{"starttls= takes " + join_names(kStartTlsNames, ", ", " or ")};
      spec.starttls = *mode;
      starttls_given = true;
    } else if (name == "user") {
      spec.user = std::string(value);
    } else if (name == "password") {
      spec.password = std::string(value);
    } else if (name == "password-file") {
      if (value.front() != '/') return Error{"password-file= must be an absolute path"};
      spec.password_file = std::string(value);
    } else if (name == "helo") {
      if (!is_reply_domain(value)) return Error{"helo= must be a host name"};
      spec.helo = std::string(value);
    } else if (name == "ca-file") {
      if (value.front() != '/') return Error{"ca-file= must be an absolute path"};
      spec.ca_file = std::string(value);
    } else {
      return Error{"unknown option: " + std::string(name)};
    }
  }
  if (!spec.password.empty() && !spec.password_file.empty())
    return Error{"give password= or password-file=, not both"};
  if (spec.user.empty() && (!spec.password.empty() || !spec.password_file.empty()))
    return Error{"a password needs user="};
  if (!spec.user.empty() && spec.password.empty() && spec.password_file.empty())
    return Error{"user= needs password-file= (or password=)"};
  // Never send a password in clear to another host unless told so explicitly.
  if (!starttls_given && !spec.user.empty() && !is_loopback(spec.host)) spec.starttls = StartTls::required;
  return ReplyTransportSpec{spec, {}};
}

}  // namespace

std::string_view to_string(SendStatus status) noexcept {
  switch (status) {
    case SendStatus::sent: return "sent";
    case SendStatus::temporary: return "temporary";
    case SendStatus::permanent: return "permanent";
  }
  return "?";
}

Result<ReplyTransportSpec> parse_reply_transport(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (has_control(text)) return Error{"control character in ReplyTransport"};
  if (text.starts_with("sendmail:")) return parse_sendmail(text.substr(9));
  if (text.starts_with("smtp://")) return parse_smtp(text, false);
  if (text.starts_with("smtps://")) return parse_smtp(text, true);
  return Error{"ReplyTransport must start with sendmail:, smtp:// or smtps://"};
}

std::unique_ptr<ReplyTransport> make_reply_transport(const ReplyTransportSpec& spec) {
  if (const auto* sendmail = std::get_if<SendmailSpec>(&spec.kind))
    return std::make_unique<SendmailTransport>(sendmail->path, sendmail->args, spec.timeout);
  SmtpSpec smtp = std::get<SmtpSpec>(spec.kind);
  if (!smtp.password_file.empty()) {
    std::ifstream in(smtp.password_file);
    std::string line;
    if (!in || !std::getline(in, line)) throw std::runtime_error("cannot read the SMTP password file " + smtp.password_file);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) throw std::runtime_error("the SMTP password file " + smtp.password_file + " has an empty first line");
    smtp.password = std::move(line);
  }
  return std::make_unique<SmtpTransport>(std::move(smtp), spec.timeout);
}

}  // namespace aamp::mail
