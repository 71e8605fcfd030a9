// session_test.cpp — the milter session without libmilter: facts collected from macros,
// envelope and headers; the decision at end of headers (decide / accept now / pass); the
// Postfix and Stalwart quirks (queue id late or never, trimmed values, no SMFIP_SKIP); the
// store that will not open; the one summary line. The engine and MemoryStore are real.
#include "milter/session.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>
#include <optional>
#include <functional>
#include <regex>
#include <set>

#include "tests/support/fixtures.hpp"
#include "tests/support/memory_store.hpp"

namespace aamp::milter {
namespace {

using test::MemoryStore;

class MapMacros final : public Macros {
 public:
  MapMacros() = default;
  MapMacros(std::initializer_list<std::pair<const std::string, std::string>> init) : m_(init) {}
  std::optional<std::string_view> get(std::string_view name) const override {
    const auto it = m_.find(std::string(name));
    if (it == m_.end()) return std::nullopt;
    return std::string_view(it->second);
  }

 private:
  std::map<std::string, std::string> m_;
};

class FixedSource final : public StoreSource {
 public:
  explicit FixedSource(std::shared_ptr<Store> store) : store_(std::move(store)) {}
  std::shared_ptr<Store> acquire() override {
    ++calls;
    if (!store_) throw StoreError(StoreErrorKind::unavailable, "cannot open /var/lib/aamp/aamp.db: no such file");
    return store_;
  }
  int calls = 0;

 private:
  std::shared_ptr<Store> store_;
};

struct Rig {
  explicit Rig(std::function<void(Config&)> tweak = {}) {
    Config c;
    c.database = "/var/lib/aamp/aamp.db";
    c.policy.authserv_id = "mx.example.test";
    if (tweak) tweak(c);
    config = std::make_shared<const Config>(c);
    mailbox_id = store->add_mailbox(ProtectedMailbox{0, "agent@example.test", MailboxMode::enforce, {Intent::task_dispatch}, kAnyTrust});
    SenderRule rule;
    rule.mailbox_id = mailbox_id;
    rule.pattern = "alice@example.test";
    store->add_rule(rule);
  }
  Session session() { return Session(config, Services{source, clock, rng, nullptr}); }

  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  FixedSource source{store};
  test::FixedClock clock;
  test::CountingRng rng;
  std::shared_ptr<const Config> config;
  std::int64_t mailbox_id = 0;
};

HeaderList dispatch_headers(const std::string& from = "Alice <alice@example.test>", const std::string& task = "t-1") {
  return {{"From", from},
          {"To", "agent@example.test"},
          {"Subject", "work"},
          {"X-AAMP-Version", "1.1"},
          {"X-AAMP-Intent", "task.dispatch"},
          {"X-AAMP-TaskId", task}};
}

// A whole Postfix-style message up to end of headers.
void send_message(Session& s, const HeaderList& headers, const std::vector<std::string>& rcpts,
                  const MapMacros& mail_macros = MapMacros{{"{auth_authen}", "alice@example.test"}},
                  const std::string& sender = "<alice@example.test>") {
  s.mail_from(sender, mail_macros);
  for (const auto& r : rcpts) s.rcpt_to(r, MapMacros{});
  for (const auto& h : headers) s.header(h.name, h.value);
}

void postfix_connect(Session& s) {
  s.negotiate(true);
  s.connect("client.example.test", "192.0.2.9", MapMacros{{"{daemon_name}", "mx.example.test"}});
  s.helo("client.example.test");
}

TEST(Session, AllowedDispatchOnPostfix) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  send_message(s, dispatch_headers(), {"<agent@example.test>"});
  ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
  const MessageEnd end = s.end_of_message(MapMacros{{"i", "4XyZ1"}});
  ASSERT_TRUE(end.decision);
  EXPECT_EQ(end.decision->action, Action::accept);
  ASSERT_EQ(end.decision->add_headers.size(), 1u);
  EXPECT_EQ(end.decision->add_headers[0].name, "Authentication-Results");
  EXPECT_EQ(end.decision->add_headers[0].value.rfind("mx.example.test; aamp=pass", 0), 0u);
  EXPECT_EQ(end.severity, Severity::info);
  EXPECT_EQ(end.summary,
            "4XyZ1: client=client.example.test[192.0.2.9] auth=alice@example.test envelope-from=<alice@example.test> "
            "from=alice@example.test rcpts=<agent@example.test>:allow intent=task.dispatch task=t-1 action=accept "
            "verdict=allow reason=\"sender rule 2 (configured, alice@example.test) allows it\"");
  // The facts the engine saw.
  EXPECT_EQ(s.facts().queue_id, "4XyZ1");
  EXPECT_EQ(s.facts().client_addr, "192.0.2.9");
  EXPECT_EQ(s.facts().client_name, "client.example.test");
  EXPECT_EQ(s.facts().helo, "client.example.test");
  EXPECT_EQ(s.facts().auth_user, "alice@example.test");
  EXPECT_EQ(s.facts().envelope_from, "alice@example.test");
  EXPECT_EQ(s.facts().recipients, std::vector<std::string>{"<agent@example.test>"});
  ASSERT_EQ(rig.store->audit().size(), 1u);
  EXPECT_EQ(rig.store->audit()[0].message_id, "4XyZ1");
}

TEST(Session, QueueIdArrivesLate) {
  struct Row {
    const char* label;
    MapMacros mail, rcpt, eom;
    std::string want_id;  // "" = our own id
  };
  const std::vector<Row> rows = {
      {"i with MAIL", {{"i", "MAILID"}}, {}, {}, "MAILID"},
      {"i after the first RCPT (Postfix)", {}, {{"i", "RCPTID"}}, {}, "RCPTID"},
      {"i only at end of message", {}, {}, {{"i", "EOMID"}}, "EOMID"},
      {"empty i is no id", {{"i", ""}}, {}, {}, ""},
      {"never (Stalwart)", {}, {}, {}, ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Rig rig;
    Session s = rig.session();
    postfix_connect(s);
    s.mail_from("<alice@example.test>", row.mail);
    s.rcpt_to("<agent@example.test>", row.rcpt);
    for (const auto& h : dispatch_headers()) s.header(h.name, h.value);
    ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
    const auto end = s.end_of_message(row.eom);
    if (row.want_id.empty()) {
      EXPECT_TRUE(std::regex_match(s.facts().queue_id, std::regex("aamp-[A-Za-z0-9_-]{8}"))) << s.facts().queue_id;
    } else {
      EXPECT_EQ(s.facts().queue_id, row.want_id);
    }
    EXPECT_EQ(end.summary.rfind(s.facts().queue_id + ": ", 0), 0u) << end.summary;
  }
}

TEST(Session, OwnIdsAreUniquePerMessage) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    send_message(s, dispatch_headers(), {"<agent@example.test>"});
    s.end_of_headers();
    s.end_of_message(MapMacros{});
    ids.insert(s.facts().queue_id);
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST(Session, WhatEndOfHeadersSays) {
  struct Row {
    const char* label;
    bool mta_can_skip;
    HeaderList headers;
    AfterHeaders want;
  };
  const HeaderList plain = {{"From", "bob@example.test"}, {"Subject", "lunch"}};
  HeaderList forged = plain;
  forged.push_back({"Authentication-Results", "mx.example.test; aamp=pass policy.rule=1"});
  HeaderList others = plain;
  others.push_back({"Authentication-Results", "upstream.example.test; dkim=pass"});
  const std::vector<Row> rows = {
      {"not AAMP, Postfix: accept now", true, plain, AfterHeaders::accept_now},
      {"not AAMP, Stalwart (no SKIP): pass to the end", false, plain, AfterHeaders::pass},
      {"AAMP, Postfix", true, dispatch_headers(), AfterHeaders::decide},
      {"AAMP, Stalwart", false, dispatch_headers(), AfterHeaders::decide},
      {"a forged verdict of ours", true, forged, AfterHeaders::decide},
      {"someone else's verdict", true, others, AfterHeaders::accept_now},
      {"lower-case AAMP names (nodemailer)", true, {{"From", "a@b.test"}, {"x-aamp-intent", "task.ack"}}, AfterHeaders::decide},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Rig rig;
    Session s = rig.session();
    s.negotiate(row.mta_can_skip);
    s.connect("c", "192.0.2.1", MapMacros{});
    send_message(s, row.headers, {"<agent@example.test>"});
    EXPECT_EQ(s.end_of_headers(), row.want);
    const auto end = s.end_of_message(MapMacros{});
    EXPECT_EQ(end.decision.has_value(), row.want == AfterHeaders::decide);
    EXPECT_EQ(end.summary.empty(), row.want != AfterHeaders::decide);
    EXPECT_EQ(rig.source.calls, row.want == AfterHeaders::decide ? 1 : 0);  // no store work for plain mail
  }
}

TEST(Session, ForgedVerdictRemovedFromPlainMail) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  send_message(s, {{"Authentication-Results", "other.test; spf=pass"}, {"From", "bob@example.test"},
                   {"Authentication-Results", "mx.example.test; aamp=pass"}},
               {"<agent@example.test>"});
  ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
  const auto end = s.end_of_message(MapMacros{});
  ASSERT_TRUE(end.decision);
  EXPECT_EQ(end.decision->action, Action::accept);
  ASSERT_EQ(end.decision->delete_headers.size(), 1u);
  EXPECT_EQ(end.decision->delete_headers[0].index, 2);
}

// The notice naming the forged verdicts removed: plain mail as AAMP mail, only when applied.
TEST(Session, RemovalLine) {
  const HeaderList plain = {{"From", "bob@example.test"}, {"Subject", "lunch"}};
  const HeaderField forged{"Authentication-Results", "=?utf-8?q?mx.example.test?=; aamp=pass"};
  const HeaderField other{"Authentication-Results", "mx.upstream.test; spf=pass"};
  const auto with = [](HeaderList h, const HeaderList& extra) {
    h.insert(h.end(), extra.begin(), extra.end());
    return h;
  };
  struct Row {
    const char* label;
    HeaderList headers;
    bool auth;  // SMTP AUTH as alice@example.test
    std::string want;
  };
  const Row rows[] = {
      {"plain mail", with(plain, {other, forged}), false,
       "4XyZ1: removed 1 forged verdict claiming our authserv-id: Authentication-Results#2"},
      {"allowed dispatch", with(dispatch_headers(), {forged, other, forged}), true,
       "4XyZ1: removed 2 forged verdicts claiming our authserv-id: Authentication-Results#3,Authentication-Results#1"},
      {"ten, eight named", with(plain, HeaderList(10, forged)), false,
       "4XyZ1: removed 10 forged verdicts claiming our authserv-id: Authentication-Results#10,"
       "Authentication-Results#9,Authentication-Results#8,Authentication-Results#7,Authentication-Results#6,"
       "Authentication-Results#5,Authentication-Results#4,Authentication-Results#3,..."},
      {"a refused dispatch keeps its fields", with(dispatch_headers(), {forged}), false, ""},
      {"nothing forged", with(plain, {other}), false, ""},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    Rig rig;
    Session s = rig.session();
    postfix_connect(s);
    send_message(s, r.headers, {"<agent@example.test>"},
                 r.auth ? MapMacros{{"{auth_authen}", "alice@example.test"}} : MapMacros{});
    s.end_of_headers();
    const MessageEnd end = s.end_of_message(MapMacros{{"i", "4XyZ1"}});
    EXPECT_EQ(end.removals, r.want);
    EXPECT_EQ(end.removals.find(" verdict="), std::string::npos);  // never taken for a summary line
  }
}

TEST(Session, StalwartSession) {
  // Stalwart: names itself in {daemon_name}, offers no SMFIP_SKIP, never sends `i`, sends
  // {auth_authen} empty for unauthenticated clients and header values trimmed.
  Rig rig;
  Session s = rig.session();
  s.negotiate(false);
  s.connect("client.example.test", "", MapMacros{{"{daemon_name}", "Stalwart Mail Server v0.10.5"}, {"{client_addr}", "192.0.2.77"}});
  EXPECT_TRUE(s.is_stalwart());
  s.mail_from("<alice@example.test>", MapMacros{{"{auth_authen}", "alice@example.test"}, {"{mail_addr}", "alice@example.test"}});
  s.rcpt_to("<agent@example.test>", MapMacros{{"{rcpt_addr}", "agent@example.test"}});
  for (const auto& h : dispatch_headers()) s.header(h.name, std::string(h.value));
  ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
  const auto end = s.end_of_message(MapMacros{});
  ASSERT_TRUE(end.decision);
  EXPECT_EQ(end.decision->action, Action::accept);
  EXPECT_EQ(end.decision->add_headers.size(), 1u);
  EXPECT_EQ(s.facts().client_addr, "192.0.2.77");
  EXPECT_TRUE(std::regex_match(s.facts().queue_id, std::regex("aamp-[A-Za-z0-9_-]{8}")));

  // An unauthenticated Stalwart client: {auth_authen} arrives empty.
  s.mail_from("<alice@example.test>", MapMacros{{"{auth_authen}", ""}});
  EXPECT_EQ(s.facts().auth_user, "");
}

// What Stalwart 0.16.19 sends (message.rs:206-257): at connect {daemon_name}, an empty `j`,
// {client_addr}, {client_port}, {client_ptr}; at MAIL {mail_addr} and {auth_authen} only when
// the client authenticated; at RCPT {rcpt_addr}; never `i`. `skip`: an operator added SKIP
// to its flagsProtocol (it offers 0x42, no SKIP, by default).
void stalwart_connect(Session& s, bool skip = false) {
  s.negotiate(skip);
  s.connect("client.example.test", "192.0.2.77",
            MapMacros{{"{daemon_name}", "Stalwart v0.16.19"}, {"j", ""}, {"{client_addr}", "192.0.2.77"},
                      {"{client_port}", "50123"}, {"{client_ptr}", "client.example.test"}});
  s.helo("client.example.test");
}

void stalwart_message(Session& s, const HeaderList& headers, const std::vector<std::string>& rcpts,
                      const std::string& sender, std::optional<std::string> auth) {
  MapMacros mail{{"{mail_addr}", sender}};
  if (auth) mail = MapMacros{{"{mail_addr}", sender}, {"{auth_authen}", *auth}};
  s.mail_from("<" + sender + ">", mail);
  for (const auto& r : rcpts) s.rcpt_to("<" + r + ">", MapMacros{{"{rcpt_addr}", r}});
  for (const auto& h : headers) s.header(h.name, h.value);
}

TEST(Session, StalwartIsNeverAcceptedEarlyEvenWhenItOffersSkip) {
  // Stalwart treats ACCEPT like CONTINUE (message.rs:524-530): an early ACCEPT would leave
  // it waiting for an EOM answer libmilter never sends, and the message would tempfail.
  struct Row {
    const char* label;
    std::string daemon_name;
    bool mta_can_skip;
    AfterHeaders want;
  };
  const Row rows[] = {
      {"Postfix offering SKIP: accept now", "mx.example.test", true, AfterHeaders::accept_now},
      {"Stalwart 0.16 offering SKIP: pass", "Stalwart v0.16.19", true, AfterHeaders::pass},
      {"Stalwart before 0.12 offering SKIP: pass", "Stalwart Mail Server v0.10.5", true, AfterHeaders::pass},
      {"Stalwart by default (no SKIP): pass", "Stalwart v0.16.19", false, AfterHeaders::pass},
  };
  const HeaderList plain = {{"From", "bob@example.test"}, {"Subject", "lunch"}};
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Rig rig;
    Session s = rig.session();
    s.negotiate(row.mta_can_skip);
    s.connect("c", "192.0.2.1", MapMacros{{"{daemon_name}", row.daemon_name}});
    send_message(s, plain, {"<agent@example.test>"});
    EXPECT_EQ(s.end_of_headers(), row.want);
    const auto end = s.end_of_message(MapMacros{});
    EXPECT_FALSE(end.decision.has_value());  // accepted unchanged either way
  }
}

TEST(Session, StalwartMacrosWithoutAuthAuthenMeanUnauthenticated) {
  // Absent (Stalwart) and empty {auth_authen} are the same: no login.
  struct Row {
    const char* label;
    std::optional<std::string> auth;
  };
  const Row rows[] = {{"absent, as Stalwart sends it", std::nullopt}, {"empty", ""}, {"blank", " "}};
  std::vector<std::string> summaries;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Rig rig;
    Session s = rig.session();
    stalwart_connect(s);
    stalwart_message(s, dispatch_headers(), {"agent@example.test"}, "alice@example.test", row.auth);
    EXPECT_EQ(s.facts().auth_user, "");
    ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
    const auto end = s.end_of_message(MapMacros{});
    ASSERT_TRUE(end.decision);
    EXPECT_EQ(s.facts().auth_user, "");
    EXPECT_EQ(s.facts().client_addr, "192.0.2.77");
    EXPECT_TRUE(std::regex_match(s.facts().queue_id, std::regex("aamp-[A-Za-z0-9_-]{8}")));  // never `i`
    summaries.push_back(end.summary);
  }
  EXPECT_NE(summaries[0].find(" auth=- "), std::string::npos) << summaries[0];
  EXPECT_NE(summaries[0].find(" verdict=untrusted "), std::string::npos) << summaries[0];
  EXPECT_EQ(summaries[1], summaries[0]);
  EXPECT_EQ(summaries[2], summaries[0]);
}

TEST(Session, EveryRecipientRefusedIsDiscardedOnStalwartAsOnPostfix) {
  // Stalwart's DISCARD answers 250 and drops the message (data.rs:608-611); a message left
  // with zero recipients would be stored and never delivered (data.rs:740). So no MTA gets
  // "remove every recipient" from us.
  struct Row {
    const char* label;
    bool stalwart;
  };
  for (const Row& row : {Row{"Postfix", false}, Row{"Stalwart", true}}) {
    SCOPED_TRACE(row.label);
    Rig rig([](Config& c) { c.policy.on.policy_deny = Action::discard; });
    Session s = rig.session();
    if (row.stalwart) {
      stalwart_connect(s);
      stalwart_message(s, dispatch_headers("Bob <bob@example.test>"), {"agent@example.test"}, "bob@example.test",
                       "bob@example.test");
    } else {
      postfix_connect(s);
      send_message(s, dispatch_headers("Bob <bob@example.test>"), {"<agent@example.test>"},
                   MapMacros{{"{auth_authen}", "bob@example.test"}}, "<bob@example.test>");
    }
    ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
    const auto end = s.end_of_message(MapMacros{});
    ASSERT_TRUE(end.decision);
    EXPECT_EQ(end.decision->action, Action::discard);
    EXPECT_TRUE(end.decision->delete_recipients.empty());
  }
}

TEST(Session, StalwartShapedHeaderValuesDecideAsPostfixShapedOnes) {
  // Postfix: the value as written after "Name: ", folds included. Stalwart: trimmed (no
  // leading or trailing white space), the folds inside kept (client.rs:229-230).
  struct Row {
    const char* label;
    HeaderList postfix;
    HeaderList stalwart;
    const char* sender;
    const char* want;  // verdict/action
  };
  const Row rows[] = {
      {"valid dispatch",
       {{"From", "Alice\r\n <alice@example.test>"}, {"To", " agent@example.test"}, {"Subject", "work "},
        {"X-AAMP-Version", "1.1"}, {"X-AAMP-Intent", "\r\n\ttask.dispatch"}, {"X-AAMP-TaskId", "t-1"}},
       {{"From", "Alice\r\n <alice@example.test>"}, {"To", "agent@example.test"}, {"Subject", "work"},
        {"X-AAMP-Version", "1.1"}, {"X-AAMP-Intent", "task.dispatch"}, {"X-AAMP-TaskId", "t-1"}},
       "alice@example.test", "allow/accept"},
      {"pair.request",
       {{"From", "Newbie\r\n\t<newbie@example.org>"}, {"To", "agent@example.test"}, {"Subject", "[AAMP Pair] request"},
        {"X-AAMP-Version", " 1.1"}, {"X-AAMP-Intent", "pair.request"}, {"X-AAMP-TaskId", "\r\n pair-task-1"},
        {"X-AAMP-Pair-Code", "LiveCode-A1b2C3"}},
       {{"From", "Newbie\r\n\t<newbie@example.org>"}, {"To", "agent@example.test"}, {"Subject", "[AAMP Pair] request"},
        {"X-AAMP-Version", "1.1"}, {"X-AAMP-Intent", "pair.request"}, {"X-AAMP-TaskId", "pair-task-1"},
        {"X-AAMP-Pair-Code", "LiveCode-A1b2C3"}},
       "newbie@example.org", "pair-completed/discard"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    for (const bool stalwart : {false, true}) {
      SCOPED_TRACE(stalwart ? "Stalwart-shaped" : "Postfix-shaped");
      Rig rig;
      rig.store->add_pair_code(rig.mailbox_id, "LiveCode-A1b2C3", rig.clock.now() + 300);
      Session s = rig.session();
      if (stalwart) {
        stalwart_connect(s);
        stalwart_message(s, row.stalwart, {"agent@example.test"}, row.sender, row.sender);
      } else {
        postfix_connect(s);
        send_message(s, row.postfix, {"<agent@example.test>"}, MapMacros{{"{auth_authen}", row.sender}},
                     std::string("<") + row.sender + ">");
      }
      ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
      const auto end = s.end_of_message(MapMacros{});
      ASSERT_TRUE(end.decision);
      EXPECT_EQ(std::string(to_string(end.decision->verdict)) + "/" + std::string(to_string(end.decision->action)), row.want)
          << end.summary;
    }
  }
}

TEST(Session, TrimmedAndFoldedValuesDecideAlike) {
  // Postfix: no leading space, folded with CRLF+WSP; values without folds as well.
  const HeaderList postfix = {{"From", "Alice\r\n <alice@example.test>"}, {"X-AAMP-Version", "1.1"},
                              {"X-AAMP-Intent", "\n\ttask.dispatch"}, {"X-AAMP-TaskId", "t-1"}};
  const HeaderList stalwart = {{"From", "Alice <alice@example.test>"}, {"X-AAMP-Version", "1.1"},
                               {"X-AAMP-Intent", "task.dispatch"}, {"X-AAMP-TaskId", "t-1"}};
  std::vector<std::string> verdicts;
  for (const auto* headers : {&postfix, &stalwart}) {
    Rig rig;
    Session s = rig.session();
    postfix_connect(s);
    send_message(s, *headers, {"<agent@example.test>"});
    s.end_of_headers();
    const auto end = s.end_of_message(MapMacros{});
    ASSERT_TRUE(end.decision);
    verdicts.push_back(std::string(to_string(end.decision->verdict)) + "/" + std::string(to_string(end.decision->action)));
  }
  EXPECT_EQ(verdicts[0], "allow/accept");
  EXPECT_EQ(verdicts[1], verdicts[0]);
}

TEST(Session, EnvelopeAndMacros) {
  struct Row {
    const char* label;
    std::string sender;
    MapMacros mail, eom;
    std::string want_sender, want_auth;
  };
  const std::vector<Row> rows = {
      {"brackets stripped", "<Alice@Example.test>", {}, {}, "Alice@Example.test", ""},
      {"null sender", "<>", {}, {}, "", ""},
      {"no brackets", "alice@example.test", {}, {}, "alice@example.test", ""},
      {"auth with MAIL", "<a@b.test>", {{"{auth_authen}", "alice"}}, {}, "a@b.test", "alice"},
      {"auth only at end of message", "<a@b.test>", {}, {{"{auth_authen}", "late"}}, "a@b.test", "late"},
      {"auth with spaces around", "<a@b.test>", {{"{auth_authen}", " alice "}}, {}, "a@b.test", "alice"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Rig rig;
    Session s = rig.session();
    postfix_connect(s);
    s.mail_from(row.sender, row.mail);
    s.rcpt_to("<agent@example.test>", MapMacros{});
    for (const auto& h : dispatch_headers()) s.header(h.name, h.value);
    s.end_of_headers();
    s.end_of_message(row.eom);
    EXPECT_EQ(s.facts().envelope_from, row.want_sender);
    EXPECT_EQ(s.facts().auth_user, row.want_auth);
  }
}

TEST(Session, MessagesOnOneConnectionDoNotMix) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  send_message(s, dispatch_headers(), {"<agent@example.test>", "<other@example.test>"});
  s.end_of_headers();
  s.end_of_message(MapMacros{{"i", "FIRST"}});
  send_message(s, dispatch_headers("Alice <alice@example.test>", "t-2"), {"<agent@example.test>"});
  s.end_of_headers();
  s.end_of_message(MapMacros{});
  EXPECT_EQ(s.facts().recipients.size(), 1u);
  EXPECT_EQ(s.facts().headers.size(), dispatch_headers().size());
  EXPECT_NE(s.facts().queue_id, "FIRST");  // the MTA's id belonged to the first message
}

TEST(Session, AbortForgetsTheMessage) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  send_message(s, dispatch_headers(), {"<agent@example.test>"});
  s.abort();
  EXPECT_TRUE(s.facts().headers.empty());
  EXPECT_TRUE(s.facts().recipients.empty());
  const auto end = s.end_of_message(MapMacros{});
  EXPECT_FALSE(end.decision);
  EXPECT_EQ(rig.source.calls, 0);
  EXPECT_EQ(s.log_id().rfind("conn-", 0), 0u);  // between messages: the connection's id
}

// The message's phase as the MTA's events move it, seen from outside: whether end of
// message decides, and whose id the log uses afterwards.
TEST(Session, PhaseFollowsTheEvents) {
  struct Row {
    const char* label;
    std::function<void(Session&)> events;  // after a Postfix connect, before end of message
    bool want_decision;
    bool want_connection_id;  // the log id after end of message
  };
  const auto mail = [](Session& s) { send_message(s, dispatch_headers(), {"<agent@example.test>"}); };
  const auto plain = [](Session& s) { send_message(s, {{"From", "bob@example.test"}}, {"<agent@example.test>"}); };
  const std::vector<Row> rows = {
      {"no message at all", [](Session&) {}, false, true},
      {"AAMP after end of headers", [&](Session& s) { mail(s); s.end_of_headers(); }, true, false},
      {"AAMP without end of headers is still decided", mail, true, false},
      {"plain mail passed at end of headers", [&](Session& s) { plain(s); s.end_of_headers(); }, false, true},
      {"aborted after end of headers", [&](Session& s) { mail(s); s.end_of_headers(); s.abort(); }, false, true},
      {"RCPT without MAIL starts a message",
       [](Session& s) {
         s.rcpt_to("<agent@example.test>", MapMacros{});
         for (const auto& h : dispatch_headers()) s.header(h.name, h.value);
         s.end_of_headers();
       },
       true, false},
      {"headers before MAIL are dropped",
       [](Session& s) {
         for (const auto& h : dispatch_headers()) s.header(h.name, h.value);
         s.end_of_headers();
       },
       false, true},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Rig rig;
    Session s = rig.session();
    postfix_connect(s);
    row.events(s);
    const auto end = s.end_of_message(MapMacros{});
    EXPECT_EQ(end.decision.has_value(), row.want_decision);
    EXPECT_EQ(s.log_id().rfind("conn-", 0) == 0, row.want_connection_id);
  }
}

TEST(Session, StoreThatWillNotOpen) {
  struct Row {
    const char* label;
    Action on_store_error;
    Action want;
    std::optional<std::string> want_reply;
    Severity want_severity;
  };
  const std::vector<Row> rows = {
      {"tempfail (default)", Action::tempfail, Action::tempfail,
       "451 4.3.0 temporary local problem: policy store unavailable, try again later", Severity::error},
      {"reject", Action::reject, Action::reject, "554 5.3.0 local problem: policy store unavailable", Severity::warning},
      {"fail open", Action::accept, Action::accept, std::nullopt, Severity::warning},
      {"quarantine", Action::quarantine, Action::quarantine, std::nullopt, Severity::warning},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Rig rig([&](Config& c) { c.policy.on.store_error = row.on_store_error; });
    FixedSource broken{nullptr};
    Session s(rig.config, Services{broken, rig.clock, rig.rng, nullptr});
    postfix_connect(s);
    send_message(s, dispatch_headers(), {"<agent@example.test>"});
    ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
    const auto end = s.end_of_message(MapMacros{{"i", "Q9"}});
    ASSERT_TRUE(end.decision);
    EXPECT_EQ(end.decision->action, row.want);
    EXPECT_EQ(end.decision->reply ? std::optional<std::string>(end.decision->reply->str()) : std::nullopt, row.want_reply);
    EXPECT_EQ(to_string(end.decision->verdict), "store-error");
    EXPECT_EQ(end.severity, row.want_severity);
    EXPECT_NE(end.summary.find("intent=task.dispatch task=t-1"), std::string::npos) << end.summary;
    EXPECT_NE(end.summary.find("verdict=store-error"), std::string::npos) << end.summary;
    if (row.want_reply) {
      EXPECT_NE(end.summary.find(" reply=" + row.want_reply->substr(0, 3) + "/"), std::string::npos) << end.summary;
    }
  }
}

TEST(Session, StoreErrorDuringTheDecision) {
  Rig rig;
  rig.store->fail_always(StoreErrorKind::corrupt);
  Session s = rig.session();
  postfix_connect(s);
  send_message(s, dispatch_headers(), {"<agent@example.test>"});
  s.end_of_headers();
  const auto end = s.end_of_message(MapMacros{});
  ASSERT_TRUE(end.decision);
  EXPECT_EQ(end.decision->action, Action::tempfail);
  EXPECT_EQ(end.decision->reply->code, "451");
  EXPECT_EQ(end.severity, Severity::error);
}

TEST(Session, EachConnectionKeepsItsSnapshot) {
  // Report mode on one snapshot, enforce on the other: the same stranger is refused by one only.
  Rig enforce;
  Rig report([](Config& c) { c.policy.mode = EnforcementMode::report; });
  std::vector<Action> actions;
  for (Rig* rig : {&enforce, &report}) {
    Session s = rig->session();
    postfix_connect(s);
    send_message(s, dispatch_headers("mallory@evil.test"), {"<agent@example.test>"}, MapMacros{}, "<mallory@evil.test>");
    s.end_of_headers();
    actions.push_back(s.end_of_message(MapMacros{}).decision->action);
  }
  EXPECT_EQ(actions, (std::vector<Action>{Action::reject, Action::accept}));
}

TEST(Session, OversizedHeaderBlockIsNotJudgedOnPart) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  s.mail_from("<alice@example.test>", MapMacros{});
  s.rcpt_to("<agent@example.test>", MapMacros{});
  const std::string filler(1000, 'x');
  for (int i = 0; i < 5000; ++i) s.header("X-Filler", filler);
  s.header("X-AAMP-Intent", "task.dispatch");  // over the bound: dropped, but it matters
  ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
  const auto end = s.end_of_message(MapMacros{});
  ASSERT_TRUE(end.decision);
  EXPECT_EQ(end.decision->action, Action::reject);
  EXPECT_EQ(end.decision->reply->str().rfind("554 5.6.0", 0), 0u);
  EXPECT_EQ(rig.source.calls, 0);
}

TEST(Session, OversizedPlainMailStillPasses) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  s.mail_from("<bob@example.test>", MapMacros{});
  s.rcpt_to("<agent@example.test>", MapMacros{});
  const std::string filler(1000, 'x');
  for (int i = 0; i < 5000; ++i) s.header("X-Filler", filler);
  EXPECT_EQ(s.end_of_headers(), AfterHeaders::accept_now);
}

TEST(Session, SummaryLineIsSafe) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  HeaderList h = dispatch_headers("Mallory <mallory@evil.test>", "t-1\r\nInjected: yes");
  send_message(s, h, {"<agent@example.test>"}, MapMacros{}, "<mallory@evil.test>");
  s.end_of_headers();
  const auto end = s.end_of_message(MapMacros{});
  EXPECT_EQ(end.summary.find('\r'), std::string::npos);
  EXPECT_EQ(end.summary.find('\n'), std::string::npos);
}

TEST(Session, SummaryNeverShowsAPairCode) {
  Rig rig;
  Session s = rig.session();
  postfix_connect(s);
  HeaderList h = {{"From", "bob@partner.test"}, {"X-AAMP-Version", "1.1"}, {"X-AAMP-Intent", "pair.request"},
                  {"X-AAMP-TaskId", "p-1"}, {"X-AAMP-Pair-Code", "Zm9vYmFyYmF6"}};
  send_message(s, h, {"<agent@example.test>"}, MapMacros{{"{auth_authen}", "bob@partner.test"}}, "<bob@partner.test>");
  ASSERT_EQ(s.end_of_headers(), AfterHeaders::decide);
  const auto end = s.end_of_message(MapMacros{});
  ASSERT_TRUE(end.decision);
  EXPECT_NE(end.summary.find("intent=pair.request"), std::string::npos) << end.summary;
  EXPECT_EQ(end.summary.find("Zm9vYmFyYmF6"), std::string::npos) << end.summary;
}

TEST(Session, AddressText) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.1", &v4.sin_addr);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
  sockaddr other{};
  other.sa_family = AF_UNIX;
  EXPECT_EQ(address_text(reinterpret_cast<const sockaddr*>(&v4)), "192.0.2.1");
  EXPECT_EQ(address_text(reinterpret_cast<const sockaddr*>(&v6)), "2001:db8::1");
  EXPECT_EQ(address_text(&other), "");
  EXPECT_EQ(address_text(nullptr), "");
}

}  // namespace
}  // namespace aamp::milter
