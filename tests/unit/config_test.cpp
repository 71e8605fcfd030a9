// config_test.cpp — the configuration file: every key's accepted and refused values, the
// file:line in errors, defaults, socket specs, durations, list files and SenderLogins.
#include "milter/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

namespace aamp::milter {
namespace {

constexpr const char* kBase = "Database /var/lib/aamp/aamp.db\n";

Result<Config> parse(const std::string& text, const std::string& base_dir = "") {
  return parse_config(text, "test.conf", base_dir, "mx.example.test");
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "aamp-config-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = path_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(Config, Defaults) {
  auto c = parse(kBase);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->database, "/var/lib/aamp/aamp.db");
  EXPECT_EQ(c->socket.str(), "inet:8891@127.0.0.1");
  EXPECT_EQ(c->policy.authserv_id, "mx.example.test");
  EXPECT_EQ(c->policy.mode, EnforcementMode::enforce);
  EXPECT_EQ(c->policy.validation.mode, ValidationMode::strict);
  EXPECT_EQ(c->policy.validation.max_field_length, 8192u);
  EXPECT_TRUE(c->policy.internal_hosts.empty());
  EXPECT_TRUE(c->policy.trusted_authserv_ids.empty());
  EXPECT_TRUE(c->policy.login_grants.empty());
  EXPECT_TRUE(c->policy.reject_stale_dispatch);
  EXPECT_EQ(c->policy.on.bad_message, Action::reject);
  EXPECT_EQ(c->policy.on.policy_deny, Action::reject);
  EXPECT_EQ(c->policy.on.store_error, Action::tempfail);
  EXPECT_EQ(c->policy.on.internal_error, Action::tempfail);
  EXPECT_EQ(c->policy.pair_requests, PairRequestHandling::consume);
  EXPECT_EQ(c->policy.pair_limits.max_failures, 5);
  EXPECT_FALSE(c->policy.pair_trust.has_value());  // the mailbox's own trust set
  EXPECT_TRUE(c->syslog);
  EXPECT_EQ(c->syslog_facility, "mail");
  EXPECT_FALSE(c->user.has_value());
  EXPECT_EQ(c->pid_file, "");
  EXPECT_EQ(c->busy_timeout_ms, 5000);
  EXPECT_EQ(c->milter_timeout_s, 300);
  EXPECT_EQ(c->reply.transport, "sendmail:/usr/sbin/sendmail");
  EXPECT_EQ(c->reply.envelope_sender, ReplySettings::EnvelopeSender::null_sender);
  EXPECT_EQ(c->reply.max_attempts, 12);
}

struct GoodRow {
  const char* label;
  std::string text;  // appended to kBase
  std::function<void(const Config&)> check;
};

TEST(Config, AcceptedValues) {
  const std::vector<GoodRow> rows = {
      {"keys are case-insensitive", "SOCKET inet:10025@localhost\nauthservid mx.a.test\n",
       [](const Config& c) {
         EXPECT_EQ(c.socket.libmilter_spec(), "inet:10025@localhost");
         EXPECT_EQ(c.policy.authserv_id, "mx.a.test");
       }},
      {"comments and blank lines", "# a comment\n\n   # indented\nMode report   # trailing\n",
       [](const Config& c) { EXPECT_EQ(c.policy.mode, EnforcementMode::report); }},
      {"hash inside a value is kept", "ReplyTransport sendmail:/usr/sbin/sendmail -C /etc/p#x\n",
       [](const Config& c) { EXPECT_EQ(c.reply.transport, "sendmail:/usr/sbin/sendmail -C /etc/p#x"); }},
      {"recipient delimiters", "RecipientDelimiter +-\n",
       [](const Config& c) { EXPECT_EQ(c.policy.recipient_delimiters, "+-"); }},
      {"tabs separate key and value", "Mode\treport\n",
       [](const Config& c) { EXPECT_EQ(c.policy.mode, EnforcementMode::report); }},
      {"CRLF line ends", "Mode report\r\nCompatibility sdk\r\n",
       [](const Config& c) {
         EXPECT_EQ(c.policy.mode, EnforcementMode::report);
         EXPECT_EQ(c.policy.validation.mode, ValidationMode::sdk);
       }},
      {"inet6 with brackets", "Socket inet6:8891@[::1]\n",
       [](const Config& c) {
         EXPECT_EQ(c.socket.kind, SocketSpec::Kind::inet6);
         EXPECT_EQ(c.socket.host, "::1");
         EXPECT_EQ(c.socket.libmilter_spec(), "inet6:8891@::1");
         EXPECT_EQ(c.socket.str(), "inet6:8891@[::1]");
       }},
      {"inet without host listens everywhere", "Socket inet:8891\n",
       [](const Config& c) { EXPECT_EQ(c.socket.libmilter_spec(), "inet:8891"); }},
      {"unix socket with mode and owner",
       "Socket unix:/run/aamp/milter.sock\nSocketMode 0600\nSocketOwner postfix:postfix\n",
       [](const Config& c) {
         EXPECT_EQ(c.socket.kind, SocketSpec::Kind::unix);
         EXPECT_EQ(c.socket.path, "/run/aamp/milter.sock");
         EXPECT_EQ(c.socket_mode, 0600u);
         ASSERT_TRUE(c.socket_owner);
         EXPECT_EQ(c.socket_owner->user, "postfix");
         EXPECT_EQ(c.socket_owner->group, "postfix");
       }},
      {"local: is unix:", "Socket local:/tmp/m.sock\n",
       [](const Config& c) { EXPECT_EQ(c.socket.libmilter_spec(), "unix:/tmp/m.sock"); }},
      {"internal hosts v4 and v6, commas and spaces", "InternalHosts 192.0.2.0/24, 2001:db8::/32 10.1.2.3\n",
       [](const Config& c) {
         ASSERT_EQ(c.policy.internal_hosts.size(), 3u);
         EXPECT_EQ(c.policy.internal_hosts[2].prefix, 32);
       }},
      {"internal hosts accumulate over lines", "InternalHosts 192.0.2.0/24\nInternalHosts ::1\n",
       [](const Config& c) { EXPECT_EQ(c.policy.internal_hosts.size(), 2u); }},
      {"trusted authserv-ids are lower-cased", "TrustedAuthservIDs MX1.Example.TEST, mx2.example.test\n",
       [](const Config& c) {
         EXPECT_EQ(c.policy.trusted_authserv_ids, (std::vector<std::string>{"mx1.example.test", "mx2.example.test"}));
       }},
      {"failure actions", "On-BadMessage quarantine\nOn-PolicyDeny discard\nOn-StoreError accept\nOn-InternalError reject\n",
       [](const Config& c) {
         EXPECT_EQ(c.policy.on.bad_message, Action::quarantine);
         EXPECT_EQ(c.policy.on.policy_deny, Action::discard);
         EXPECT_EQ(c.policy.on.store_error, Action::accept);
         EXPECT_EQ(c.policy.on.internal_error, Action::reject);
       }},
      {"action names any case", "On-StoreError TempFail\n",
       [](const Config& c) { EXPECT_EQ(c.policy.on.store_error, Action::tempfail); }},
      {"stale dispatch off", "StaleDispatch no\n",
       [](const Config& c) { EXPECT_FALSE(c.policy.reject_stale_dispatch); }},
      {"pairing knobs", "PairRequests deliver\nPairMaxFailures 3\nPairFailureWindow 10m\nPairLockout 1h\nPairTrust auth internal\n",
       [](const Config& c) {
         EXPECT_EQ(c.policy.pair_requests, PairRequestHandling::deliver);
         EXPECT_EQ(c.policy.pair_limits.max_failures, 3);
         EXPECT_EQ(c.policy.pair_limits.window, 600);
         EXPECT_EQ(c.policy.pair_limits.lockout, 3600);
         EXPECT_EQ(c.policy.pair_trust, std::optional<TrustSet>(trust_auth | trust_internal));
       }},
      {"pair trust none", "PairTrust none\n", [](const Config& c) { EXPECT_EQ(c.policy.pair_trust, std::optional<TrustSet>(0u)); }},
      {"pair trust any", "PairTrust any\n", [](const Config& c) { EXPECT_EQ(c.policy.pair_trust, std::optional<TrustSet>(kAnyTrust)); }},
      {"max field length", "MaxFieldLength 1024\n",
       [](const Config& c) { EXPECT_EQ(c.policy.validation.max_field_length, 1024u); }},
      {"user and group", "UserID aamp:mail\n",
       [](const Config& c) {
         ASSERT_TRUE(c.user);
         EXPECT_EQ(c.user->str(), "aamp:mail");
       }},
      {"syslog off, facility local3", "Syslog no\nSyslogFacility LOCAL3\n",
       [](const Config& c) {
         EXPECT_FALSE(c.syslog);
         EXPECT_EQ(c.syslog_facility, "local3");
       }},
      {"busy timeout in ms", "BusyTimeout 250ms\n", [](const Config& c) { EXPECT_EQ(c.busy_timeout_ms, 250); }},
      {"busy timeout in s", "BusyTimeout 2s\n", [](const Config& c) { EXPECT_EQ(c.busy_timeout_ms, 2000); }},
      {"milter timeout", "Timeout 2m\n", [](const Config& c) { EXPECT_EQ(c.milter_timeout_s, 120); }},
      {"pid file", "PidFile /run/aamp-milter.pid\n",
       [](const Config& c) { EXPECT_EQ(c.pid_file, "/run/aamp-milter.pid"); }},
      {"reply transport kept as written, with options",
       "ReplyTransport smtp://127.0.0.1:587 user=agent password-file=/etc/aamp/pw\n",
       [](const Config& c) { EXPECT_EQ(c.reply.transport, "smtp://127.0.0.1:587 user=agent password-file=/etc/aamp/pw"); }},
      {"reply worker knobs",
       "ReplyEnvelopeSender mailbox\nReplyTimeout 2m\nReplyRetryInitial 10s\nReplyRetryMax 2h\n"
       "ReplyMaxAttempts 3\nReplyMaxAge 2d\nReplyPollInterval 5s\n",
       [](const Config& c) {
         EXPECT_EQ(c.reply.envelope_sender, ReplySettings::EnvelopeSender::mailbox);
         EXPECT_EQ(c.reply.timeout_s, 120);
         EXPECT_EQ(c.reply.retry_initial_s, 10);
         EXPECT_EQ(c.reply.retry_max_s, 7200);
         EXPECT_EQ(c.reply.max_attempts, 3);
         EXPECT_EQ(c.reply.max_age_s, 172800);
         EXPECT_EQ(c.reply.poll_interval_s, 5);
       }},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    auto c = parse(std::string(kBase) + row.text);
    ASSERT_TRUE(c.ok()) << c.error();
    row.check(*c);
  }
}

struct BadRow {
  const char* label;
  std::string text;   // the whole file
  std::string want;   // the error must contain this
};

TEST(Config, RefusedValues) {
  const std::string b = kBase;  // line 1
  const std::vector<BadRow> rows = {
      {"unknown key", b + "Frobnicate yes\n", "test.conf:2: unknown key 'Frobnicate'"},
      {"key without value", b + "Mode\n", "test.conf:2: Mode: needs a value"},
      {"key given twice", b + "Mode report\nmode enforce\n", "test.conf:3: mode: given twice (first on line 2)"},
      {"database missing", "Mode report\n", "Database is required"},
      {"bad mode", b + "Mode audit\n", "test.conf:2: Mode: expected enforce or report"},
      {"letter as recipient delimiter", b + "RecipientDelimiter +x\n",
       "test.conf:2: RecipientDelimiter: expected the characters of Postfix's recipient_delimiter"},
      {"at sign as recipient delimiter", b + "RecipientDelimiter @\n", "RecipientDelimiter: expected"},
      {"bad compatibility", b + "Compatibility loose\n", "expected strict or sdk"},
      {"bad socket type", b + "Socket tcp:25\n", "test.conf:2: Socket: unknown socket type 'tcp'"},
      {"socket port zero", b + "Socket inet:0@127.0.0.1\n", "expected a port from 1 to 65535"},
      {"socket port too big", b + "Socket inet:70000\n", "expected a port from 1 to 65535"},
      {"socket without colon", b + "Socket 8891\n", "expected inet:PORT@HOST"},
      {"unix relative path", b + "Socket unix:milter.sock\n", "absolute path"},
      {"inet with an IPv6 address", b + "Socket inet:8891@::1\n", "needs inet6"},
      {"inet6 with an IPv4 address", b + "Socket inet6:8891@127.0.0.1\n", "inet6 needs an IPv6 address"},
      {"socket mode on inet", b + "SocketMode 0600\n", "test.conf:2: SocketMode: applies to unix: sockets only"},
      {"socket mode not octal", b + "Socket unix:/tmp/x\nSocketMode 0689\n", "expected an octal mode"},
      {"bad cidr", b + "InternalHosts 192.0.2.0/33\n", "test.conf:2: InternalHosts: 192.0.2.0/33"},
      {"bad cidr text", b + "InternalHosts example.com\n", "InternalHosts: example.com"},
      {"missing cidr file", b + "InternalHosts file:/nonexistent/hosts\n", "cannot read /nonexistent/hosts"},
      {"bad action", b + "On-PolicyDeny bounce\n", "expected accept, reject, tempfail, quarantine or discard"},
      {"bad bool", b + "StaleDispatch maybe\n", "StaleDispatch: expected yes or no"},
      {"bad pair requests", b + "PairRequests drop\n", "expected consume or deliver"},
      {"pair failures zero", b + "PairMaxFailures 0\n", "expected a number from 1 to 1000"},
      {"bad duration unit", b + "PairLockout 5w\n", "unknown duration unit 'w'"},
      {"duration not a number", b + "PairLockout soon\n", "a duration is a number"},
      {"lockout in ms", b + "PairLockout 1500ms\n", "whole seconds"},
      {"bad trust", b + "PairTrust dkim\n", "unknown trust basis 'dkim'"},
      {"none mixed", b + "PairTrust none auth\n", "'none' cannot be combined"},
      {"busy timeout too long", b + "BusyTimeout 60s\n", "below the MTA's milter timeouts"},
      {"milter timeout too short", b + "Timeout 1s\n", "expected 10s to 7210s"},
      {"max field length too small", b + "MaxFieldLength 10\n", "from 256 to 1048576"},
      {"bad authserv-id", b + "AuthservID mx;evil\n", "AuthservID: expected one token"},
      {"bad trusted id", b + "TrustedAuthservIDs a;b\n", "a;b: not an authserv-id"},
      {"bad facility", b + "SyslogFacility kern\n", "expected mail, daemon, user, auth, or local0 to local7"},
      {"bad user", b + "UserID bad/user\n", "expected USER or USER:GROUP"},
      {"empty group", b + "UserID aamp:\n", "expected USER or USER:GROUP"},
      {"bad transport", b + "ReplyTransport lmtp://x\n", "expected sendmail:PATH"},
      {"bad envelope sender", b + "ReplyEnvelopeSender agent\n", "expected null or mailbox"},
      {"retry max below initial", b + "ReplyRetryInitial 1h\nReplyRetryMax 10m\n", "ReplyRetryMax must not be shorter"},
      {"zero attempts", b + "ReplyMaxAttempts 0\n", "expected a number from 1 to 1000"},
      {"missing sender logins", b + "SenderLogins /nonexistent/logins\n", "SenderLogins: cannot read /nonexistent/logins"},
      {"line too long", b + "Mode " + std::string(70000, 'x') + "\n", "test.conf:2: line longer than 64 KiB"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    auto c = parse(row.text);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().find(row.want), std::string::npos) << c.error();
  }
}

TEST(Config, ListFilesAndSenderLogins) {
  TempDir dir;
  dir.write("internal", "# office networks\n192.0.2.0/24\n2001:db8::/48, 198.51.100.7\n\n");
  dir.write("logins",
            "# login  patterns\n"
            "alice@example.test  alice@example.test, @sales.example.test\n"
            "CI-Bot  ci-*@example.test\n"
            "alice@example.test  bob@example.test\n");
  auto c = parse(std::string(kBase) + "InternalHosts file:internal 10.0.0.0/8\nSenderLogins logins\n", dir.str());
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c->policy.internal_hosts.size(), 4u);
  EXPECT_EQ(c->policy.internal_hosts[3].prefix, 8);
  ASSERT_EQ(c->policy.login_grants.size(), 2u);
  EXPECT_EQ(c->policy.login_grants[0].login, "alice@example.test");
  ASSERT_EQ(c->policy.login_grants[0].may_send_as.size(), 3u);
  EXPECT_EQ(c->policy.login_grants[0].may_send_as[1].kind, PatternKind::domain);
  EXPECT_EQ(c->policy.login_grants[0].may_send_as[1].text, "@sales.example.test");
  EXPECT_EQ(c->policy.login_grants[1].login, "ci-bot");
  EXPECT_EQ(c->policy.login_grants[1].may_send_as[0].kind, PatternKind::wildcard);
}

TEST(Config, ListFileErrorsNameTheirLine) {
  TempDir dir;
  const auto internal = dir.write("internal", "192.0.2.0/24\nnot-a-net\n");
  const auto logins = dir.write("logins", "alice@example.test\n");
  auto c = parse(std::string(kBase) + "InternalHosts file:" + internal + "\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find(internal + ":2: not-a-net"), std::string::npos) << c.error();

  c = parse(std::string(kBase) + "SenderLogins " + logins + "\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find(logins + ":1: expected a login and at least one sender pattern"), std::string::npos)
      << c.error();

  dir.write("logins2", "alice@example.test  a@@b\n");
  c = parse(std::string(kBase) + "SenderLogins logins2\n", dir.str());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("logins2:1: a@@b:"), std::string::npos) << c.error();
}

TEST(Config, RelativePathsUseTheBaseDirectory) {
  auto c = parse("Database ./state/aamp.db\nPidFile run/aamp.pid\n", "/srv/aamp");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->database, "/srv/aamp/state/aamp.db");
  EXPECT_EQ(c->pid_file, "/srv/aamp/run/aamp.pid");
}

TEST(Config, LoadConfigNamesTheFile) {
  TempDir dir;
  const auto path = dir.write("aamp-milter.conf", "Database /tmp/x.db\nMode bogus\n");
  auto c = load_config(path, dir.str());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), path + ":2: Mode: expected enforce or report");
  EXPECT_FALSE(load_config(dir.str() + "/missing.conf", "").ok());
}

TEST(Config, Durations) {
  struct Row {
    const char* label;
    const char* text;
    std::int64_t want;  // -1: refused
  };
  const std::vector<Row> rows = {
      {"bare seconds", "90", 90}, {"seconds", "30s", 30},       {"minutes", "15m", 900},
      {"hours", "2h", 7200},      {"days", "1d", 86400},        {"upper-case unit", "5M", 300},
      {"empty", "", -1},          {"negative", "-5s", -1},      {"fraction", "1.5h", -1},
      {"ms not whole", "10ms", -1}, {"ms whole", "2000ms", 2},  {"overflow", "99999999999999d", -1},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    auto d = parse_duration(row.text);
    if (row.want < 0) {
      EXPECT_FALSE(d.ok());
    } else {
      ASSERT_TRUE(d.ok()) << d.error();
      EXPECT_EQ(*d, row.want);
    }
  }
}

// A reload restarts the reply worker when the settings differ: every field must count.
TEST(Config, ReplySettingsCompareEveryField) {
  struct Row {
    const char* label;
    std::function<void(ReplySettings&)> change;
  };
  const std::vector<Row> rows = {
      {"transport", [](ReplySettings& r) { r.transport = "smtp://relay.example.test"; }},
      {"envelope sender", [](ReplySettings& r) { r.envelope_sender = ReplySettings::EnvelopeSender::mailbox; }},
      {"timeout", [](ReplySettings& r) { r.timeout_s += 1; }},
      {"retry initial", [](ReplySettings& r) { r.retry_initial_s += 1; }},
      {"retry max", [](ReplySettings& r) { r.retry_max_s += 1; }},
      {"max attempts", [](ReplySettings& r) { r.max_attempts += 1; }},
      {"max age", [](ReplySettings& r) { r.max_age_s += 1; }},
      {"poll interval", [](ReplySettings& r) { r.poll_interval_s += 1; }},
  };
  EXPECT_EQ(ReplySettings{}, ReplySettings{});
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    ReplySettings changed;
    row.change(changed);
    EXPECT_NE(changed, ReplySettings{});
  }
}

TEST(Config, FacilityNames) {
  EXPECT_TRUE(syslog_facility_code("mail"));
  EXPECT_TRUE(syslog_facility_code("LOCAL7"));
  EXPECT_TRUE(syslog_facility_code("auth"));
  EXPECT_FALSE(syslog_facility_code("local8"));
}

}  // namespace
}  // namespace aamp::milter

namespace aamp::milter {
namespace {

TEST(Config, HookKeys) {
  auto off = parse(kBase);
  ASSERT_TRUE(off.ok()) << off.error();
  EXPECT_FALSE(off->hook.listen);
  EXPECT_EQ(off->hook.credential.kind(), http::Credential::Kind::none);
  EXPECT_EQ(off->hook.max_request, std::size_t{64} << 20);
  EXPECT_EQ(off->hook.timeout_s, 30);

  auto c = parse(std::string(kBase) + "HookListen 127.0.0.1:8892\nHookAuth bearer:s3cret\nHookMaxRequestSize 10m\nHookTimeout 1m\n");
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_TRUE(c->hook.listen);
  EXPECT_EQ(http::to_string(*c->hook.listen), "127.0.0.1:8892");
  EXPECT_EQ(c->hook.credential.masked(), "bearer:****");
  EXPECT_EQ(c->hook.max_request, std::size_t{10} << 20);
  EXPECT_EQ(c->hook.timeout_s, 60);

  auto bare = parse(std::string(kBase) + "HookListen 8892\nHookAuth basic:stalwart:pw\nHookMaxRequestSize 2048\n");
  ASSERT_TRUE(bare.ok()) << bare.error();
  EXPECT_EQ(http::to_string(*bare->hook.listen), "127.0.0.1:8892");
  EXPECT_EQ(bare->hook.credential.masked(), "basic:stalwart:****");
  EXPECT_EQ(bare->hook.max_request, 2048u);

  TempDir dir;
  dir.write("hook.secret", "bearer:from-a-file\n");
  auto file = parse(std::string(kBase) + "HookAuth file:hook.secret\n", dir.str());
  ASSERT_TRUE(file.ok()) << file.error();
  http::Request request;
  request.headers.emplace_back("Authorization", "Bearer from-a-file");
  EXPECT_TRUE(file->hook.credential.allows(request));
}

TEST(Config, HookKeysRefused) {
  const std::string b = kBase;
  const std::vector<BadRow> rows = {
      {"hook host name", b + "HookListen localhost:8892\n", "test.conf:2: HookListen: \"localhost\" is not a numeric IPv4"},
      {"hook bad port", b + "HookListen 127.0.0.1:99999\n", "HookListen: bad port"},
      {"hook v6 unbracketed", b + "HookListen ::1:8892\n", "in brackets"},
      {"hook auth scheme", b + "HookAuth token:abc\n", "HookAuth: expected bearer:TOKEN or basic:USER:PASSWORD"},
      {"hook auth basic no password", b + "HookAuth basic:user\n", "expected basic:USER:PASSWORD"},
      {"hook auth missing file", b + "HookAuth file:/nonexistent/hook.secret\n", "cannot read /nonexistent/hook.secret"},
      {"hook size unit", b + "HookMaxRequestSize 5t\n", "expected a size from 1k to 1g"},
      {"hook size too small", b + "HookMaxRequestSize 10\n", "expected a size from 1k to 1g"},
      {"hook size too big", b + "HookMaxRequestSize 2g\n", "expected a size from 1k to 1g"},
      {"hook timeout", b + "HookTimeout 2h\n", "expected 1s to 3600s"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    auto c = parse(row.text);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().find(row.want), std::string::npos) << c.error();
  }
  // The secret never appears in an error.
  auto bad = parse(b + "HookAuth bearer:has space-s3cret\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().find("s3cret"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace aamp::milter
