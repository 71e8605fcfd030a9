// smtp_transport_test.cpp — SmtpTransport (libcurl) against Postfix's smtp-sink on
// 127.0.0.1: what the server receives (envelope, EHLO, the message with its dots), and
// every way a submission fails: nothing listening, STARTTLS required but not offered, AUTH
// refused, 4xx and 5xx replies, a server that stalls (timeout) and a stop request; and
// which settings verify the server certificate (smtp-sink offers no STARTTLS: TLS itself is
// tested against Postfix in tests/e2e/test_reply_transports.py).
#include "mail/smtp_transport.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/smtp_sink.hpp"

namespace aamp::mail {
namespace {

using namespace std::chrono_literals;
using test::SmtpSink;

constexpr std::string_view kMessage =
    "From: agent@example.com\r\nTo: requester@example.com\r\nSubject: [AAMP Pair] completed\r\n"
    "Message-Id: <aamp-pair.1@example.com>\r\n\r\nAAMP Pair Response\r\n.\r\n..two dots\r\n";

SmtpSpec sink_spec(const SmtpSink& sink) {
  SmtpSpec spec;
  spec.host = "127.0.0.1";
  spec.port = sink.port();
  spec.helo = "aamp.example.com";
  return spec;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

TEST(SmtpTransport, DeliversEnvelopeAndMessage) {
  struct Row {
    const char* label;
    std::string from;
    std::string want_mail_args;
  };
  const Row rows[] = {
      {"null sender", "", "X-Mail-Args: <>"},
      {"agent mailbox as sender", "agent@example.com", "X-Mail-Args: <agent@example.com>"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    SmtpSink sink;
    SmtpTransport transport(sink_spec(sink), 10s);
    const SendResult result = transport.send(kMessage, row.from, "requester@example.com");
    ASSERT_EQ(result.status, SendStatus::sent) << result.detail;
    const auto dumps = sink.dumps();
    ASSERT_EQ(dumps.size(), 1u);
    const std::string& got = dumps.front();
    EXPECT_TRUE(contains(got, row.want_mail_args + "\n")) << got;
    EXPECT_TRUE(contains(got, "X-Rcpt-Args: <requester@example.com>\n")) << got;
    EXPECT_TRUE(contains(got, "X-Helo-Args: aamp.example.com\n")) << got;
    // The message arrives whole; libcurl dot-stuffed it and smtp-sink took the dots off.
    EXPECT_TRUE(contains(got, "Message-Id: <aamp-pair.1@example.com>\n\nAAMP Pair Response\n.\n..two dots\n")) << got;
  }
}

TEST(SmtpTransport, NothingListening) {
  SmtpSpec spec;
  spec.host = "127.0.0.1";
  spec.port = test::free_loopback_port();
  SmtpTransport transport(spec, 10s);
  const SendResult result = transport.send(kMessage, "", "requester@example.com");
  EXPECT_EQ(result.status, SendStatus::temporary);
  EXPECT_TRUE(contains(result.detail, "curl error 7")) << result.detail;  // CURLE_COULDNT_CONNECT
}

TEST(SmtpTransport, RefusalsAndFailures) {
  struct Row {
    const char* label;
    std::vector<std::string> sink_options;
    StartTls starttls;
    std::string user;
    SendStatus want;
    std::string want_in_detail;
  };
  const Row rows[] = {
      {"recipient refused 5xx is permanent", {"-f", "RCPT"}, StartTls::opportunistic, "", SendStatus::permanent,
       "RCPT failed: 500"},
      {"recipient refused 4xx", {"-r", "RCPT"}, StartTls::opportunistic, "", SendStatus::temporary, "RCPT failed: 450"},
      {"sender refused 5xx", {"-f", "MAIL"}, StartTls::opportunistic, "", SendStatus::temporary, "last SMTP reply 500"},
      {"DATA refused", {"-r", "DATA"}, StartTls::opportunistic, "", SendStatus::temporary, "last SMTP reply 450"},
      {"final dot refused", {"-f", "."}, StartTls::opportunistic, "", SendStatus::temporary, "last SMTP reply 500"},
      {"server hangs up at DATA", {"-q", "DATA"}, StartTls::opportunistic, "", SendStatus::temporary, "curl error"},
      {"STARTTLS required, not offered", {}, StartTls::required, "", SendStatus::temporary, "curl error 64"},
      // smtp-sink answers AUTH with 250 instead of 235: libcurl must not take that as success.
      {"AUTH not accepted", {}, StartTls::opportunistic, "aamp-replies", SendStatus::temporary, "curl error 67"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    SmtpSink sink(row.sink_options);
    SmtpSpec spec = sink_spec(sink);
    spec.starttls = row.starttls;
    spec.user = row.user;
    spec.password = row.user.empty() ? "" : "secret";
    SmtpTransport transport(spec, 10s);
    const SendResult result = transport.send(kMessage, "", "requester@example.com");
    EXPECT_EQ(result.status, row.want) << result.detail;
    EXPECT_TRUE(contains(result.detail, row.want_in_detail)) << result.detail;
    EXPECT_FALSE(contains(result.detail, "secret"));
    // smtp-sink dumps what it received even when it then refuses the final dot.
    if (row.sink_options != std::vector<std::string>{"-f", "."}) {
      for (const auto& dump : sink.dumps()) EXPECT_FALSE(contains(dump, "AAMP Pair Response")) << dump;
    }
  }
}

TEST(SmtpTransport, StalledServerTimesOut) {
  SmtpSink sink({"-w", "30"});  // waits 30 s before answering DATA
  SmtpTransport transport(sink_spec(sink), 500ms);
  const SendResult result = transport.send(kMessage, "", "requester@example.com");
  EXPECT_EQ(result.status, SendStatus::temporary);
  EXPECT_TRUE(contains(result.detail, "curl error 28")) << result.detail;  // CURLE_OPERATION_TIMEDOUT
}

TEST(SmtpTransport, StopCancelsASendInFlight) {
  SmtpSink sink({"-w", "30"});
  SmtpTransport transport(sink_spec(sink), 60s);
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  const SendResult result = transport.send(kMessage, "", "requester@example.com", stop.get_token());
  stopper.join();
  EXPECT_EQ(result.status, SendStatus::temporary);
  EXPECT_TRUE(contains(result.detail, "cancelled")) << result.detail;
}

TEST(SmtpTransport, UnsafeEnvelopeIsRefusedBeforeConnecting) {
  SmtpSink sink;
  SmtpTransport transport(sink_spec(sink), 10s);
  for (const std::string to : {"requester@example.com>\r\nRCPT TO:<x@evil.test", "a@example.com> NOTIFY=NEVER", ""}) {
    SCOPED_TRACE(to);
    EXPECT_EQ(transport.send(kMessage, "", to).status, SendStatus::permanent);
  }
  EXPECT_EQ(transport.send(kMessage, "agent@example.com>\r\nRSET", "requester@example.com").status,
            SendStatus::permanent);
  EXPECT_TRUE(sink.dumps().empty());
}

TEST(SmtpTransport, DescribeNamesNoSecret) {
  SmtpSpec spec;
  spec.host = "mail.example.com";
  spec.port = 587;
  spec.starttls = StartTls::required;
  spec.user = "aamp-replies";
  spec.password = "hunter2";
  const SmtpTransport transport(spec, 10s);
  EXPECT_EQ(transport.describe(), "smtp://mail.example.com:587 starttls=required user=aamp-replies");
}

TEST(SmtpTransport, VerifiesServerCertificate) {
  struct Row {
    const char* label;
    bool implicit_tls;
    StartTls starttls;
    const char* ca_file;
    bool want;
  };
  const Row rows[] = {
      {"opportunistic: Postfix's may, unverified", false, StartTls::opportunistic, "", false},
      {"opportunistic with ca-file", false, StartTls::opportunistic, "/etc/ssl/local-ca.pem", true},
      {"required, system store", false, StartTls::required, "", true},
      {"required with ca-file", false, StartTls::required, "/etc/ssl/local-ca.pem", true},
      {"smtps, system store", true, StartTls::opportunistic, "", true},
      {"smtps with ca-file", true, StartTls::opportunistic, "/etc/ssl/local-ca.pem", true},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    SmtpSpec spec;
    spec.host = "mail.example.com";
    spec.implicit_tls = row.implicit_tls;
    spec.starttls = row.starttls;
    spec.ca_file = row.ca_file;
    EXPECT_EQ(verifies_server_certificate(spec), row.want);
  }
}

}  // namespace
}  // namespace aamp::mail
