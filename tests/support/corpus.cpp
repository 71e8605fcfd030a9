// corpus.cpp — see corpus.hpp.
#include "tests/support/corpus.hpp"

#include <array>
#include <charconv>
#include <stdexcept>
#include <string_view>

#include "policy/header_block.hpp"
#include "policy/text.hpp"
#include "tests/support/files.hpp"
#include "tests/support/paths.hpp"

namespace aamp::test {

namespace {

constexpr std::string_view kPrefix = "X-Test-";

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t comma = s.find(',');
    const std::string_view item = trim(s.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  return out;
}

std::optional<ExpectedReply> parse_expected_reply(std::string_view s) {
  s = trim(s);
  if (s == "completed") return ExpectedReply{TaskStatus::completed, ""};
  if (s.starts_with("rejected")) return ExpectedReply{TaskStatus::rejected, std::string(trim(s.substr(8)))};
  return std::nullopt;
}

// The leading digits of a file name: its sequence group.
std::string group_of(const std::string& name) {
  std::size_t n = 0;
  while (n < name.size() && name[n] >= '0' && name[n] <= '9') ++n;
  return name.substr(0, n);
}

}  // namespace

Result<CorpusCase> parse_corpus_case(const std::string& name, const std::string& bytes) {
  CorpusCase c;
  c.name = name;
  c.group = group_of(name);
  if (c.group.empty()) return Error{"the file name must start with digits (NNN-name.eml)"};
  bool saw_action = false, saw_verdict = false, saw_audit = false, saw_mail_from = false;
  std::vector<ExpectedReply> outbox;
  bool outbox_none = false;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t eol = bytes.find('\n', pos);
    const std::string_view line(bytes.data() + pos, (eol == std::string::npos ? bytes.size() : eol) - pos);
    if (!istarts_with(line, kPrefix)) break;
    pos = eol == std::string::npos ? bytes.size() : eol + 1;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Error{"a pseudo-header without ':': " + std::string(line)};
    const std::string field = to_lower(line.substr(kPrefix.size(), colon - kPrefix.size()));
    const std::string value(trim(line.substr(colon + 1)));
    if (field == "why") {
      c.why = value;
    } else if (field == "category") {
      c.category = value;
    } else if (field == "rcpt") {
      c.recipients.push_back(value);
    } else if (field == "mail-from") {
      c.mail_from = value;
      saw_mail_from = true;
    } else if (field == "auth-user") {
      c.auth_user = value;
    } else if (field == "client-addr") {
      c.client_addr = value;
    } else if (field == "clock") {
      std::int64_t v = 0;
      const std::string_view digits = std::string_view(value).substr(value.starts_with('+') ? 1 : 0);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), v).ec != std::errc())
        return Error{"X-Test-Clock must be +SECONDS"};
      c.clock_advance = v;
    } else if (field == "store-fault") {
      c.store_fault = value;
    } else if (field == "expect-action") {
      const auto a = parse_name(kActionNames, value);
      if (!a) return Error{"unknown action '" + value + "'"};
      c.action = *a;
      saw_action = true;
    } else if (field == "expect-reply") {
      c.reply_prefix = value;
    } else if (field == "expect-verdict") {
      c.verdict = value;
      saw_verdict = true;
    } else if (field == "expect-audit") {
      if (value != "none") c.audit = split_list(value);
      saw_audit = true;
    } else if (field == "expect-delete-rcpt") {
      c.deleted_recipients.push_back(value);
    } else if (field == "expect-outbox") {
      if (value == "none") {
        outbox_none = true;
      } else {
        const auto r = parse_expected_reply(value);
        if (!r) return Error{"X-Test-Expect-Outbox must be none, completed or rejected ERRORMSG"};
        outbox.push_back(*r);
      }
    } else if (field == "expect-in-reply-to") {
      c.in_reply_to = value == "none" ? "" : value;
    } else if (field == "expect-removed-headers") {
      c.removed_headers = std::stoi(value);
    } else if (field == "expect-verdict-header") {
      c.verdict_header = value;
    } else if (field == "known-bug") {
      c.known_bug = value;
    } else if (field == "blackbox") {
      c.blackbox = value;
    } else {
      return Error{"unknown pseudo-header X-Test-" + field};
    }
  }
  c.message = bytes.substr(pos);
  if (c.why.empty()) return Error{"X-Test-Why is required"};
  if (c.category.empty()) return Error{"X-Test-Category is required"};
  if (c.recipients.empty()) return Error{"at least one X-Test-Rcpt is required"};
  if (!saw_mail_from) return Error{"X-Test-Mail-From is required (empty for the null sender)"};
  if (!saw_action || !saw_verdict || !saw_audit)
    return Error{"X-Test-Expect-Action, -Verdict and -Audit are required"};
  const bool has_reply = c.action == Action::reject || c.action == Action::tempfail;
  if (has_reply != c.reply_prefix.has_value())
    return Error{"X-Test-Expect-Reply is required with reject and tempfail, and only with them"};
  if (outbox_none && !outbox.empty()) return Error{"X-Test-Expect-Outbox: none and a reply at once"};
  if (outbox_none || !outbox.empty()) c.outbox = outbox;
  if (!c.blackbox.empty() && !c.blackbox.starts_with("skip ") && !c.blackbox.starts_with("dropped: "))
    return Error{"X-Test-Blackbox must be 'skip REASON' or 'dropped: REASON'"};
  return c;
}

std::string corpus_dir() { return source_dir() + "/tests/corpus"; }

std::vector<CorpusCase> load_corpus(const std::string& dir) {
  std::vector<CorpusCase> cases;
  for (const auto& name : list_files(dir)) {
    if (!name.ends_with(".eml")) continue;
    auto c = parse_corpus_case(name, read_file(dir + "/" + name));
    if (!c) throw std::runtime_error(name + ": " + c.error());
    cases.push_back(std::move(c).value());
  }
  return cases;
}

std::vector<std::vector<const CorpusCase*>> corpus_groups(const std::vector<CorpusCase>& cases) {
  std::vector<std::vector<const CorpusCase*>> groups;
  for (const auto& c : cases) {
    if (groups.empty() || groups.back().front()->group != c.group) groups.emplace_back();
    groups.back().push_back(&c);
  }
  return groups;
}

std::unique_ptr<CorpusScene> make_corpus_scene() {
  auto s = std::make_unique<CorpusScene>();
  Policy& p = s->policy;
  p.authserv_id = "mx.example.net";
  p.trusted_authserv_ids = {"border.example.net"};
  p.internal_hosts = {*parse_cidr("10.0.0.0/8"), *parse_cidr("fd00::/8")};
  p.login_grants = {{"relay@example.com", {*parse_sender_pattern("@example.com")}},
                    {"ci-bot", {*parse_sender_pattern("ci-*@partner.example")}}};

  const auto mailbox = [&](const std::string& address, MailboxMode mode, TrustSet trust) {
    ProtectedMailbox m;
    m.address = address;
    m.mode = mode;
    m.trust = trust;
    return s->store.add_mailbox(m);
  };
  s->agent = mailbox("agent@example.net", MailboxMode::enforce, kAnyTrust);
  s->agents_domain = mailbox("@agents.example.net", MailboxMode::enforce, kAnyTrust);
  s->watch = mailbox("watch@example.net", MailboxMode::report, kAnyTrust);
  s->authonly = mailbox("authonly@example.net", MailboxMode::enforce, trust_auth);
  s->off = mailbox("off@example.net", MailboxMode::off, kAnyTrust);

  const auto rule = [&](std::int64_t mailbox_id, const std::string& pattern, ContextRules context = {}) {
    SenderRule r;
    r.mailbox_id = mailbox_id;
    r.pattern = pattern;
    r.context = std::move(context);
    r.created_by = "corpus-scene";
    return s->store.add_rule(r);
  };
  rule(s->agent, "alice@example.com");
  rule(s->agent, "@partner.example", {{"project", {"p1", "p2"}}});
  rule(s->agents_domain, "alice@example.com");
  rule(s->watch, "alice@example.com");
  rule(s->authonly, "alice@example.com");

  const UnixTime now = s->clock.now();
  s->store.add_pair_code(s->agent, "LiveCode-A1b2C3", now + 300, {{"project", {"p1", "p2"}}}, now - 60);
  s->store.add_pair_code(s->agent, "LongCode-Z9y8X7", now + 3600, {}, now - 60);
  s->store.add_pair_code(s->agent, "ExpiredCode-Q1", now - 1, {}, now - 301);
  s->store.add_pair_code(s->agent, "UsedCode-W2e3", now + 300, {}, now - 120);
  const auto revoked = s->store.add_pair_code(s->agent, "RevokedCode-R4", now + 300, {}, now - 60);
  s->store.revoke_pair_code(revoked, now - 30);
  s->store.add_pair_code(s->agents_domain, "DomainCode-D5f6", now + 300, {}, now - 60);
  s->store.add_pair_code(s->watch, "WatchCode-V7k8", now + 300, {}, now - 60);
  // UsedCode-W2e3 was redeemed a minute ago by earlier@example.org (who is now paired).
  s->store.redeem_pair_code(PairAttempt{s->agent, "earlier@example.org", "UsedCode-W2e3", now - 60, p.pair_limits,
                                        "agent@example.net"},
                            [&](const PairCheck&) {
                              PairEffects e;
                              e.audit.at = now - 60;
                              e.audit.recipient = "agent@example.net";
                              e.audit.verdict = AuditVerdict::pair_completed;
                              e.audit.reason = "corpus scene";
                              return e;
                            });
  return s;
}

MessageFacts corpus_facts(const CorpusCase& c) {
  MessageFacts f;
  f.queue_id = "corpus-" + c.name.substr(0, c.name.find('-'));
  f.client_addr = c.client_addr;
  f.client_name = "client.example.org";
  f.helo = "client.example.org";
  f.auth_user = c.auth_user;
  f.envelope_from = c.mail_from;
  f.recipients = c.recipients;
  f.headers = split_header_block(c.message).fields;
  return f;
}

int store_calls(const MemoryStore& store) {
  static constexpr std::array<std::string_view, 5> kOperations = {
      "find_mailbox", "matching_rules", "record_audit", "redeem_pair_code", "peek_pair_code"};
  int n = 0;
  for (const auto op : kOperations) n += store.calls(op);
  return n;
}

}  // namespace aamp::test
