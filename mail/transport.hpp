// transport.hpp — how a built pair.respond leaves aamp-milter: the ReplyTransport interface,
// the `ReplyTransport` config value it is made from (docs/configuration.md), and the
// factory. Implementations: sendmail_transport.hpp (fork/exec of sendmail(1)) and
// smtp_transport.hpp (SMTP submission with libcurl). No milter, no store here.
// Threading: one transport object serves one thread at a time (the reply worker); the
// parse and factory functions are reentrant.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/names.hpp"
#include "policy/result.hpp"

namespace aamp::mail {

enum class SendStatus {
  sent,       // the MTA took the message (sendmail exited 0; SMTP answered 250 to the final ".")
  temporary,  // not taken; worth another attempt later (most failures, timeouts, cancellation)
  permanent,  // refused for good (the recipient was refused with 5xx, an unusable address)
};
std::string_view to_string(SendStatus status) noexcept;

struct SendResult {
  SendStatus status = SendStatus::temporary;
  std::string detail;  // why, for logs and the outbox's last_error: one line, printable ASCII
};

class ReplyTransport {
 public:
  virtual ~ReplyTransport() = default;
  // Hands one message to the MTA. `message`: RFC 5322 bytes with CRLF line ends (as
  // build_pair_respond makes them). `envelope_from`: "" for the null sender, else an
  // addr-spec; `recipient`: an addr-spec; both are refused (permanent) unless
  // is_reply_mailbox. Bounded by the transport's timeout; returns early with `temporary`
  // when `stop` is requested (whatever was in flight is abandoned, never half-delivered).
  // Never throws for a delivery failure.
  virtual SendResult send(std::string_view message, std::string_view envelope_from, std::string_view recipient,
                          std::stop_token stop = {}) = 0;
  // For logs: the spec without secrets, e.g. "smtp://127.0.0.1:2525 (starttls=opportunistic)".
  virtual std::string describe() const = 0;
};

// `sendmail:PATH [ARG ...]`.
struct SendmailSpec {
  std::string path;               // absolute
  std::vector<std::string> args;  // put before our own "-i -f SENDER -- RCPT"
};

enum class StartTls {
  required,       // STARTTLS or no mail; the certificate and host name are verified
  opportunistic,  // STARTTLS when offered, unverified unless ca-file= is given (Postfix's `may`)
  off,            // never
};
inline constexpr NameTable<StartTls, 3> kStartTlsNames{
    {{"required", StartTls::required}, {"opportunistic", StartTls::opportunistic}, {"off", StartTls::off}}};
constexpr std::string_view to_string(StartTls mode) noexcept { return name_of(kStartTlsNames, mode); }

// `smtp://HOST[:PORT] [name=value ...]` or `smtps://...`.
struct SmtpSpec {
  bool implicit_tls = false;  // smtps://
  std::string host;           // host name, IPv4 address, or "[IPv6]"
  int port = 25;              // 25 for smtp://, 465 for smtps:// unless given
  StartTls starttls = StartTls::opportunistic;
  std::string user;           // empty: no AUTH
  std::string password;       // inline `password=`; prefer password_file
  std::string password_file;  // read by make_reply_transport
  std::string helo;           // EHLO name; empty: this host's name
  std::string ca_file;        // PEM bundle; empty: the system store
};

struct ReplyTransportSpec {
  std::variant<SendmailSpec, SmtpSpec> kind;
  std::chrono::milliseconds timeout{60'000};  // `ReplyTimeout`: bound on one attempt
};

// Parses the `ReplyTransport` value (grammar in docs/configuration.md). The Error sentence
// names the offending word; it never repeats a password.
Result<ReplyTransportSpec> parse_reply_transport(std::string_view text);

// Makes the transport. Reads SmtpSpec::password_file (call before dropping privileges);
// throws std::runtime_error when it cannot. Does not connect or run anything yet.
std::unique_ptr<ReplyTransport> make_reply_transport(const ReplyTransportSpec& spec);

}  // namespace aamp::mail
