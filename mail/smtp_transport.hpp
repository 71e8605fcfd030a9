// smtp_transport.hpp — delivers a reply by SMTP submission with libcurl (smtp:// with
// optional STARTTLS, or smtps://), with optional AUTH. One connection per message: replies
// are rare, and a fresh session never inherits a broken one. libcurl parses the replies,
// dot-stuffs the body and drives TLS; we never write SMTP ourselves.
// Threading: one SmtpTransport per thread at a time (each send() owns its curl handle);
// curl_global_init runs once per process, before the first handle (std::call_once).
#pragma once

#include <chrono>
#include <string>

#include "mail/transport.hpp"

namespace aamp::mail {

// Whether TLS to this server checks its certificate chain and host name (against ca_file
// when given, else the system store): always for smtps:// and starttls=required; for
// starttls=opportunistic only with ca_file, otherwise TLS guards against passive
// eavesdropping only (Postfix's `may`). starttls=off never starts TLS.
bool verifies_server_certificate(const SmtpSpec& spec) noexcept;

class SmtpTransport final : public ReplyTransport {
 public:
  // `spec.password` must already hold the password when `spec.user` is set (the factory
  // reads password_file into it).
  SmtpTransport(SmtpSpec spec, std::chrono::milliseconds timeout);

  // 250 to the final ".": sent. A 5xx refusal of the recipient: permanent. Anything else
  // (refused connection, timeout, STARTTLS required but not offered, AUTH refused, 4xx,
  // 5xx to MAIL or DATA): temporary, with libcurl's sentence and the last reply code.
  SendResult send(std::string_view message, std::string_view envelope_from, std::string_view recipient,
                  std::stop_token stop = {}) override;
  std::string describe() const override;

 private:
  SmtpSpec spec_;
  std::chrono::milliseconds timeout_;
  std::string url_;  // scheme://host:port/helo
};

}  // namespace aamp::mail
