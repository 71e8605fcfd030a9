// session_fuzz.cpp — the whole per-message path: a milter Session (milter/session.hpp, the
// code every libmilter callback calls) fed a fuzzed sequence of milter events against a
// MemoryStore with a seeded scene, and the real config parser for its settings. Beyond "no
// crash, no sanitizer report, no exception" it checks what the MTA and the log rely on
// (reply syntax, header and recipient changes that apply.cpp can carry out, one log line
// without control characters) and that no guarded intent reaches an enforced mailbox
// without a sender rule for its From. Under GCC this replays tests/fuzz/corpus/session/.
//
// Input: text lines (LF); unknown lines are ignored, at most kMaxEvents are played.
//   set KEY VALUE       config line for the next `connect` (replaces KEY; bad -> ignored)
//   skip 0|1            the MTA offers SMFIP_SKIP (Postfix) or not (Stalwart)
//   macro NAME=VALUE    the MTA sends macro NAME from now on; `macro NAME` stops sending it
//   connect HOST ADDR   a new connection (a new Session on the current config)
//   helo NAME | mail SENDER | rcpt RCPT | header NAME:VALUE | eoh | eom | abort
//   body TEXT           ignored: callbacks.cpp answers body chunks without the Session
//   clock SECONDS       the clock moves forward
//   fail OPERATION KIND the next call of a Store method throws (kind: unavailable busy ...)
//   store down|up       the database cannot be opened / can again
// Arguments take the escapes \n \r \t \0 \\ \xHH. Events before the first `connect` go to
// a session on the default config, as when an MTA skips the connect step.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "milter/config.hpp"
#include "milter/session.hpp"
#include "policy/intent.hpp"
#include "policy/sender_pattern.hpp"
#include "policy/store.hpp"
#include "policy/text.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/memory_store.hpp"

namespace {

using aamp::milter::Macros;
using aamp::milter::Session;

constexpr std::size_t kMaxEvents = 4000;
constexpr aamp::UnixTime kStart = 1'790'000'000;

// An invariant: on failure, say which one before aborting (the crash input is kept).
#define REQUIRE(condition)                                                          \
  do {                                                                              \
    if (!(condition)) {                                                             \
      std::fprintf(stderr, "session_fuzz.cpp:%d: %s does not hold\n", __LINE__, #condition); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)

std::string unescape(std::string_view in) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\' || i + 1 == in.size()) {
      out.push_back(in[i]);
      continue;
    }
    const char c = in[++i];
    switch (c) {
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case '0': out.push_back('\0'); break;
      case 'x':
        if (i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
          out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
          i += 2;
        } else {
          out += "\\x";
        }
        break;
      default: out.push_back(c); break;
    }
  }
  return out;
}

class MapMacros final : public Macros {
 public:
  std::optional<std::string_view> get(std::string_view name) const override {
    const auto it = m_.find(name);
    if (it == m_.end()) return std::nullopt;
    return std::string_view(it->second);
  }
  void set(std::string name, std::string value) { m_[std::move(name)] = std::move(value); }
  void erase(const std::string& name) { m_.erase(name); }

 private:
  std::map<std::string, std::string, std::less<>> m_;
};

class SwitchableSource final : public aamp::milter::StoreSource {
 public:
  explicit SwitchableSource(std::shared_ptr<aamp::test::MemoryStore> store) : store_(std::move(store)) {}
  std::shared_ptr<aamp::Store> acquire() override {
    if (down) throw aamp::StoreError(aamp::StoreErrorKind::unavailable, "cannot open the database: fuzz says so");
    return store_;
  }
  bool down = false;

 private:
  std::shared_ptr<aamp::test::MemoryStore> store_;
};

// The scene: what an operator set up with aampctl.
struct Scene {
  std::int64_t agent = 0;   // agent@example.test, enforce, default guarded intents
  std::int64_t domain = 0;  // @corp.test, enforce, dispatch + card.query, auth only
  std::int64_t report = 0;  // report@example.test, report mode
};

Scene seed(aamp::test::MemoryStore& store) {
  using aamp::Intent;
  Scene s;
  s.agent = store.add_mailbox({0, "agent@example.test", aamp::MailboxMode::enforce,
                               {Intent::task_dispatch, Intent::task_cancel, Intent::card_query}, aamp::kAnyTrust});
  s.domain = store.add_mailbox(
      {0, "@corp.test", aamp::MailboxMode::enforce, {Intent::task_dispatch, Intent::card_query}, aamp::trust_auth});
  s.report = store.add_mailbox({0, "report@example.test", aamp::MailboxMode::report,
                                {Intent::task_dispatch}, aamp::kAnyTrust});
  aamp::SenderRule alice;
  alice.mailbox_id = s.agent;
  alice.pattern = "alice@example.test";
  store.add_rule(alice);
  aamp::SenderRule partners;
  partners.mailbox_id = s.domain;
  partners.pattern = "@partner.test";
  partners.context = {{"project", {"alpha", "beta"}}};
  store.add_rule(partners);
  aamp::SenderRule bots;
  bots.mailbox_id = s.agent;
  bots.pattern = "ci-*@example.test";
  store.add_rule(bots);
  // Pair codes: live, live with rules, bound to one address of the domain, expired, revoked.
  store.add_pair_code(s.agent, "Q29kZTEy", kStart + 300);
  store.add_pair_code(s.agent, "UnVsZXMx", kStart + 300, {{"project", {"alpha"}}});
  store.add_pair_code(s.domain, "RG9tYWlu", kStart + 300, {}, 0, "ops@corp.test");
  store.add_pair_code(s.agent, "T2xkT2xk", kStart - 1);
  const auto revoked = store.add_pair_code(s.agent, "UmV2b2tl", kStart + 300);
  store.revoke_pair_code(revoked, kStart);
  return s;
}

std::optional<aamp::StoreErrorKind> parse_kind(std::string_view s) {
  using K = aamp::StoreErrorKind;
  if (s == "unavailable") return K::unavailable;
  if (s == "busy") return K::busy;
  if (s == "corrupt") return K::corrupt;
  if (s == "full") return K::full;
  if (s == "schema") return K::schema;
  if (s == "io") return K::io;
  return std::nullopt;
}

const std::map<std::string, std::string, std::less<>>& base_config() {
  static const std::map<std::string, std::string, std::less<>> base = {
      {"database", "/var/lib/aamp-milter/aamp.db"},
      {"authservid", "mx.example.test"},
      {"internalhosts", "10.0.0.0/8, 2001:db8::/32"},
      {"trustedauthservids", "dkim.example.test"},
      {"senderlogins", "logins"},
      {"syslog", "no"},
  };
  return base;
}

std::shared_ptr<const aamp::milter::Config> build_config(const std::map<std::string, std::string, std::less<>>& lines) {
  std::string text;
  for (const auto& [key, value] : lines) text += key + " " + value + "\n";
  const aamp::milter::FileReader files = [](const std::string& path) -> aamp::Result<std::string> {
    if (path.find("logins") != std::string::npos) return std::string("bob@example.test alice@example.test, @corp.test\n");
    return aamp::Error{"no such file in the fuzz target: " + path};
  };
  auto config = aamp::milter::parse_config(text, "fuzz.conf", "/etc/aamp-milter", "mx.example.test", files);
  if (!config) return nullptr;
  return std::make_shared<const aamp::milter::Config>(std::move(config).value());
}

bool digit(char c) { return c >= '0' && c <= '9'; }

// RFC 5321 §4.2 reply code and RFC 3463 enhanced code of the same class; one line of text.
void check_reply(const aamp::SmtpReply& r, char want_class) {
  REQUIRE(r.code.size() == 3 && r.code[0] == want_class && digit(r.code[1]) && digit(r.code[2]));
  const auto dot1 = r.xcode.find('.');
  const auto dot2 = r.xcode.find('.', dot1 == std::string::npos ? 0 : dot1 + 1);
  REQUIRE(r.xcode.size() >= 5 && r.xcode[0] == want_class && dot1 == 1 && dot2 != std::string::npos);
  REQUIRE(dot2 > 2 && dot2 <= 5 && r.xcode.size() - dot2 - 1 >= 1 && r.xcode.size() - dot2 - 1 <= 3);
  for (std::size_t i = 2; i < r.xcode.size(); ++i) REQUIRE(i == dot2 || digit(r.xcode[i]));
  REQUIRE(!r.text.empty());
  // No '%': for_milter_reply doubles it for libmilter, and Stalwart shows "%%" to the client.
  for (const char c : r.text) REQUIRE(c >= 0x20 && c < 0x7f && c != '%');
}

bool printable_line(std::string_view s) {
  for (const char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

// Whether `from` may dispatch to the mailbox: a rule of the mailbox matches it.
bool has_rule(const aamp::test::MemoryStore& store, std::int64_t mailbox_id, std::string_view from) {
  const std::string address = aamp::normalize_address(from);
  for (const auto& rule : store.rules()) {
    if (rule.mailbox_id != mailbox_id) continue;
    aamp::SenderPattern pattern{aamp::PatternKind::exact, rule.pattern};
    if (rule.origin == aamp::RuleOrigin::configured) {
      auto parsed = aamp::parse_sender_pattern(rule.pattern);
      REQUIRE(parsed.ok());
      pattern = *parsed;
    }
    if (aamp::matches(pattern, address)) return true;
  }
  return false;
}

std::optional<aamp::ProtectedMailbox> mailbox_of(const aamp::test::MemoryStore& store, std::string_view recipient) {
  const std::string address = aamp::normalize_recipient(recipient);
  // append, not "@" + std::string(...): GCC 12 at -O3 reports a false -Wrestrict.
  const std::string domain = std::string("@").append(aamp::domain_of(address));
  std::optional<aamp::ProtectedMailbox> by_domain;
  for (const auto& m : store.mailboxes()) {
    if (m.address == address) return m;
    if (m.address == domain && address.find('@') != std::string::npos) by_domain = m;
  }
  return by_domain;
}

void check_end(const aamp::milter::MessageEnd& end, const aamp::MessageFacts& facts, const Session& session,
               const aamp::test::MemoryStore& store) {
  REQUIRE(printable_line(end.summary));
  if (!end.decision) {
    REQUIRE(end.summary.empty());
    return;
  }
  const aamp::Decision& d = *end.decision;
  REQUIRE(end.summary.rfind(session.log_id() + ": ", 0) == 0 || end.summary.rfind(facts.queue_id + ": ", 0) == 0);
  switch (d.action) {
    case aamp::Action::reject: REQUIRE(d.reply.has_value()); check_reply(*d.reply, '5'); break;
    case aamp::Action::tempfail: REQUIRE(d.reply.has_value()); check_reply(*d.reply, '4'); break;
    case aamp::Action::quarantine: REQUIRE(!d.quarantine_reason.empty() && printable_line(d.quarantine_reason)); break;
    default: break;
  }
  // Removals name fields that are there (smfi_chgheader counts per name, from 1).
  for (const auto& removal : d.delete_headers) {
    int present = 0;
    for (const auto& h : facts.headers) present += aamp::iequals(h.name, removal.name) ? 1 : 0;
    REQUIRE(removal.index >= 1 && removal.index <= present);
  }
  // Additions: a field name, and a value that cannot start another field.
  for (const auto& add : d.add_headers) {
    REQUIRE(!add.name.empty());
    for (const char c : add.name) REQUIRE(c > 0x20 && c < 0x7f && c != ':');
    for (std::size_t i = 0; i < add.value.size(); ++i) {
      const char c = add.value[i];
      REQUIRE(c != '\0' && c != '\r');
      if (c == '\n') REQUIRE(i + 1 < add.value.size() && (add.value[i + 1] == ' ' || add.value[i + 1] == '\t'));
    }
  }
  // Recipients removed are recipients the MTA gave, and never all of them on accept.
  for (const auto& r : d.delete_recipients) {
    bool known = false;
    for (const auto& given : facts.recipients) known = known || given == r;
    REQUIRE(known);
  }
  // Never zero recipients through delrcpt, on any MTA: Stalwart would store such a message
  // and never deliver it. Every recipient gone is a REJECT or a DISCARD.
  if (d.action == aamp::Action::accept && !facts.recipients.empty())
    REQUIRE(d.delete_recipients.size() < facts.recipients.size());

  // The promise: a guarded intent reaches an enforced mailbox only from a sender it allows
  // (unless the operator chose to fail open: an On-* action of accept, or report mode).
  const aamp::Policy& policy = session.config().policy;
  const bool fails_open = policy.on.bad_message == aamp::Action::accept || policy.on.policy_deny == aamp::Action::accept ||
                          policy.on.store_error == aamp::Action::accept ||
                          policy.on.internal_error == aamp::Action::accept;
  if (d.action != aamp::Action::accept || policy.mode != aamp::EnforcementMode::enforce || fails_open) return;
  const auto intent = aamp::parse_intent(d.intent);
  if (!intent) return;
  for (const auto& given : facts.recipients) {
    bool removed = false;
    for (const auto& r : d.delete_recipients) removed = removed || r == given;
    if (removed) continue;
    const auto mailbox = mailbox_of(store, given);
    if (!mailbox || mailbox->mode != aamp::MailboxMode::enforce) continue;
    bool guarded = false;
    for (const auto g : mailbox->guarded_intents) guarded = guarded || g == *intent;
    if (guarded) REQUIRE(has_rule(store, mailbox->id, d.header_from));
  }
}

struct Player {
  Player() : store(std::make_shared<aamp::test::MemoryStore>()), source(store), clock(kStart) {
    seed(*store);
    config_lines = base_config();
    config = build_config(config_lines);
    REQUIRE(config != nullptr);
  }

  Session& session() {
    if (!current) current = std::make_unique<Session>(config, aamp::milter::Services{source, clock, rng});
    return *current;
  }

  void play(std::string_view op, std::string_view rest) {
    const std::string arg = unescape(rest);
    if (op == "set") {
      const auto space = arg.find(' ');
      if (space == std::string::npos || space == 0) return;
      auto lines = config_lines;
      lines[aamp::to_lower(arg.substr(0, space))] = arg.substr(space + 1);
      if (auto c = build_config(lines)) {
        config_lines = std::move(lines);
        config = std::move(c);
      }
    } else if (op == "skip") {
      can_skip = arg != "0";
      session().negotiate(can_skip);
    } else if (op == "macro") {
      const auto eq = arg.find('=');
      if (eq == std::string::npos) macros.erase(arg);
      else macros.set(arg.substr(0, eq), arg.substr(eq + 1));
    } else if (op == "connect") {
      const auto space = arg.find(' ');
      current.reset();
      session().negotiate(can_skip);
      session().connect(arg.substr(0, space), space == std::string::npos ? "" : arg.substr(space + 1), macros);
    } else if (op == "helo") {
      session().helo(arg);
    } else if (op == "mail") {
      session().mail_from(arg, macros);
    } else if (op == "rcpt") {
      session().rcpt_to(arg, macros);
    } else if (op == "header") {
      const auto colon = arg.find(':');
      if (colon == std::string::npos) session().header(arg, "");
      else session().header(std::string_view(arg).substr(0, colon), std::string_view(arg).substr(colon + 1));
    } else if (op == "eoh") {
      const auto after = session().end_of_headers();
      if (after == aamp::milter::AfterHeaders::accept_now) REQUIRE(session().mta_can_skip());
    } else if (op == "eom") {
      Session& s = session();
      const auto end = s.end_of_message(macros);
      check_end(end, s.facts(), s, *store);
    } else if (op == "abort") {
      session().abort();
    } else if (op == "clock") {
      const long long seconds = std::strtoll(arg.c_str(), nullptr, 10);
      if (seconds > 0 && seconds < 10'000'000) clock.advance(seconds);
    } else if (op == "fail") {
      const auto space = arg.find(' ');
      if (space == std::string::npos) return;
      if (const auto kind = parse_kind(std::string_view(arg).substr(space + 1)))
        store->fail_next(*kind, arg.substr(0, space));
    } else if (op == "store") {
      source.down = arg == "down";
    }
  }

  std::shared_ptr<aamp::test::MemoryStore> store;
  SwitchableSource source;
  aamp::test::FixedClock clock;
  aamp::test::CountingRng rng;
  std::map<std::string, std::string, std::less<>> config_lines;
  std::shared_ptr<const aamp::milter::Config> config;
  MapMacros macros;
  bool can_skip = true;
  std::unique_ptr<Session> current;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Player player;
  std::size_t pos = 0;
  for (std::size_t events = 0; pos < input.size() && events < kMaxEvents; ++events) {
    auto end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(pos, end - pos);
    pos = end + 1;
    const auto space = line.find(' ');
    player.play(line.substr(0, space), space == std::string_view::npos ? std::string_view{} : line.substr(space + 1));
  }
  return 0;
}
