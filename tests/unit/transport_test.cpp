// transport_test.cpp — the `ReplyTransport` grammar (parse_reply_transport) and the
// factory (make_reply_transport: password files, describe() without secrets).
#include "mail/transport.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/files.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::mail {
namespace {

TEST(ParseReplyTransport, Sendmail) {
  struct Row {
    const char* label;
    std::string input;
    std::string want_path;
    std::vector<std::string> want_args;
  };
  const Row rows[] = {
      {"plain", "sendmail:/usr/sbin/sendmail", "/usr/sbin/sendmail", {}},
      {"with config dir", "sendmail:/usr/sbin/sendmail -C /etc/postfix-agents", "/usr/sbin/sendmail",
       {"-C", "/etc/postfix-agents"}},
      {"tabs and extra spaces", "  sendmail:/usr/sbin/sendmail\t-C   /x  ", "/usr/sbin/sendmail", {"-C", "/x"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = parse_reply_transport(row.input);
    ASSERT_TRUE(got.ok()) << got.error();
    const auto* spec = std::get_if<SendmailSpec>(&got->kind);
    ASSERT_NE(spec, nullptr);
    EXPECT_EQ(spec->path, row.want_path);
    EXPECT_EQ(spec->args, row.want_args);
  }
}

TEST(ParseReplyTransport, Smtp) {
  struct Row {
    const char* label;
    std::string input;
    bool want_tls;
    std::string want_host;
    int want_port;
    StartTls want_starttls;
    std::string want_user;
  };
  const Row rows[] = {
      {"default port", "smtp://127.0.0.1", false, "127.0.0.1", 25, StartTls::opportunistic, ""},
      {"port", "smtp://mail.example.com:587", false, "mail.example.com", 587, StartTls::opportunistic, ""},
      {"smtps default port", "smtps://mail.example.com", true, "mail.example.com", 465, StartTls::opportunistic, ""},
      {"IPv6", "smtp://[::1]:2525", false, "[::1]", 2525, StartTls::opportunistic, ""},
      {"auth to a remote host requires STARTTLS", "smtp://mail.example.com:587 user=bot password-file=/etc/p",
       false, "mail.example.com", 587, StartTls::required, "bot"},
      {"auth on loopback stays opportunistic", "smtp://127.0.0.1:587 user=bot password=pw", false, "127.0.0.1", 587,
       StartTls::opportunistic, "bot"},
      {"explicit starttls wins", "smtp://mail.example.com user=bot password=pw starttls=opportunistic", false,
       "mail.example.com", 25, StartTls::opportunistic, "bot"},
      {"starttls off", "smtp://localhost:25 starttls=off", false, "localhost", 25, StartTls::off, ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = parse_reply_transport(row.input);
    ASSERT_TRUE(got.ok()) << got.error();
    const auto* spec = std::get_if<SmtpSpec>(&got->kind);
    ASSERT_NE(spec, nullptr);
    EXPECT_EQ(spec->implicit_tls, row.want_tls);
    EXPECT_EQ(spec->host, row.want_host);
    EXPECT_EQ(spec->port, row.want_port);
    EXPECT_EQ(spec->starttls, row.want_starttls);
    EXPECT_EQ(spec->user, row.want_user);
  }
  const auto full = parse_reply_transport(
      "smtp://mail.example.com:587 helo=milter.example.com ca-file=/etc/ssl/ca.pem user=bot password-file=/etc/p");
  ASSERT_TRUE(full.ok()) << full.error();
  const auto& spec = std::get<SmtpSpec>(full->kind);
  EXPECT_EQ(spec.helo, "milter.example.com");
  EXPECT_EQ(spec.ca_file, "/etc/ssl/ca.pem");
  EXPECT_EQ(spec.password_file, "/etc/p");
}

TEST(ParseReplyTransport, Refusals) {
  struct Row {
    const char* label;
    std::string input;
    std::string want_error;
  };
  const Row rows[] = {
      {"empty", "", "must start with"},
      {"unknown scheme", "lmtp://127.0.0.1", "must start with"},
      {"sendmail without path", "sendmail:", "needs the program's path"},
      {"relative sendmail", "sendmail:sendmail -C x", "absolute"},
      {"control character", "sendmail:/usr/sbin/sendmail\n-C /x", "control character"},
      {"user in URL", "smtp://bot:pw@mail.example.com", "HOST[:PORT] only"},
      {"path in URL", "smtp://mail.example.com/helo", "HOST[:PORT] only"},
      {"bad port", "smtp://mail.example.com:99999", "not a port number"},
      {"empty port", "smtp://mail.example.com:", "not a port number"},
      {"bad host", "smtp://mail_example.com", "not a host name"},
      {"bad IPv6", "smtp://[zz]:25", "not an IPv6 address"},
      {"unknown option", "smtp://127.0.0.1 tls=yes", "unknown option: tls"},
      {"word without =", "smtp://127.0.0.1 secure", "name=value"},
      {"duplicate", "smtp://127.0.0.1 helo=a.example helo=b.example", "given twice: helo"},
      {"bad starttls", "smtp://127.0.0.1 starttls=maybe", "starttls= takes"},
      {"user without password", "smtp://127.0.0.1 user=bot", "user= needs"},
      {"password without user", "smtp://127.0.0.1 password=pw", "needs user="},
      {"both passwords", "smtp://127.0.0.1 user=bot password=pw password-file=/p", "not both"},
      {"relative password file", "smtp://127.0.0.1 user=bot password-file=p", "absolute"},
      {"bad helo", "smtp://127.0.0.1 helo=a\\b", "helo= must be a host name"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = parse_reply_transport(row.input);
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.error().find(row.want_error), std::string::npos) << got.error();
  }
  // The sentence never repeats a password, even for a bad option next to it.
  const auto bad = parse_reply_transport("smtp://127.0.0.1 user=bot password=hunter2 password=hunter3");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().find("hunter"), std::string::npos) << bad.error();
}

TEST(MakeReplyTransport, ReadsThePasswordFileAndDescribesWithoutIt) {
  test::TempDir dir;
  test::write_file(dir.file("secret"), "hunter2\r\nignored second line\n", 0600);
  const auto spec = parse_reply_transport("smtp://127.0.0.1:2525 user=bot password-file=" + dir.file("secret"));
  ASSERT_TRUE(spec.ok()) << spec.error();
  const auto transport = make_reply_transport(*spec);
  EXPECT_EQ(transport->describe(), "smtp://127.0.0.1:2525 starttls=opportunistic user=bot");

  const auto missing = parse_reply_transport("smtp://127.0.0.1 user=bot password-file=" + dir.file("nope"));
  ASSERT_TRUE(missing.ok());
  EXPECT_THROW(make_reply_transport(*missing), std::runtime_error);
  test::write_file(dir.file("empty"), "\n", 0600);
  const auto empty = parse_reply_transport("smtp://127.0.0.1 user=bot password-file=" + dir.file("empty"));
  ASSERT_TRUE(empty.ok());
  EXPECT_THROW(make_reply_transport(*empty), std::runtime_error);

  const auto sendmail = parse_reply_transport("sendmail:/usr/sbin/sendmail -C /etc/postfix");
  ASSERT_TRUE(sendmail.ok());
  EXPECT_EQ(make_reply_transport(*sendmail)->describe(), "sendmail:/usr/sbin/sendmail -C /etc/postfix");
}

}  // namespace
}  // namespace aamp::mail
