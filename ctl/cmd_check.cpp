// cmd_check.cpp — `aampctl check FILE.eml --rcpt MAILBOX... [--auth-user U] [--client-ip IP]
// [--mail-from S]`: the decision the milter would take for this message, with the reason,
// from the very decide() the milter runs, with the milter's configuration (-c, default
// /etc/aamp-milter/aamp-milter.conf when present) over the live database — and changing
// nothing: no audit row, no pair code consumed, no reply queued (DryRunStore below).
// Exit 0 when the message would be accepted, 1 otherwise, 2 on usage or I/O errors.
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "ctl/eml.hpp"
#include "milter/config.hpp"
#include "platform/system.hpp"
#include "policy/cidr.hpp"
#include "policy/engine.hpp"
#include "policy/header_block.hpp"
#include "policy/sender_pattern.hpp"
#include "policy/validator.hpp"
#include "store/sql_store.hpp"

namespace aamp::ctl {

namespace {

// Reads through to the real store; writes nothing (no audit row, no thread or delivery
// recorded). A pair.request is peeked at, not redeemed.
class DryRunStore final : public Store {
 public:
  explicit DryRunStore(Store& real) : real_(real) {}
  std::optional<ProtectedMailbox> find_mailbox(std::string_view recipient) override {
    return real_.find_mailbox(recipient);
  }
  std::vector<SenderRule> matching_rules(std::int64_t mailbox_id, std::string_view sender) override {
    return real_.matching_rules(mailbox_id, sender);
  }
  void record_message(const MessageWrites& /*writes*/) override {}
  PairRedemption redeem_pair_code(const PairAttempt& attempt,
                                  const std::function<PairEffects(const PairCheck&)>& /*effects*/) override {
    PairRedemption r;
    r.check = real_.peek_pair_code(attempt);
    return r;
  }
  PairCheck peek_pair_code(const PairAttempt& attempt) override { return real_.peek_pair_code(attempt); }
  RegistryView registry_view(std::string_view recipient, std::string_view task_id,
                             std::string_view message_id) override {
    return real_.registry_view(recipient, task_id, message_id);
  }
  std::optional<OutboxReply> queued_reply(std::string_view message_id) override {
    return real_.queued_reply(message_id);
  }

 private:
  Store& real_;
};

milter::Config load(const Globals& g) {
  if (auto c = milter_config(g)) return std::move(*c);
  milter::Config defaults;  // no configuration file: the daemon's built-in defaults
  defaults.policy.authserv_id = milter::local_host_name();
  return defaults;
}

std::string reply_text(const Decision& d) { return d.reply ? d.reply->str() : std::string(); }

struct Args {
  std::vector<std::string> rcpts;
  std::optional<std::string> auth_user, client_ip, mail_from, file;
};

int check(const Args& a, const Globals& g) {
  const auto& rcpts = a.rcpts;
  const auto& auth_user = a.auth_user;
  const auto& client_ip = a.client_ip;
  const auto& mail_from = a.mail_from;
  const std::string file = required(a.file, "FILE.eml");
  if (rcpts.empty()) throw UsageError("check: at least one --rcpt MAILBOX is required");
  for (const auto& r : rcpts)
    if (normalize_address(r).find('@') == std::string::npos)
      throw UsageError(fmt::format("check: --rcpt '{}' is not a mail address", r));
  if (client_ip && !client_ip->empty() && !parse_ip(*client_ip))
    throw UsageError(fmt::format("check: --client-ip '{}' is not an IP address", *client_ip));

  const milter::Config config = load(g);
  std::string text;
  try {
    text = read_header_section(file);
  } catch (const ReadError& e) {
    throw UsageError(e.message);
  }

  MessageFacts facts;
  facts.queue_id = "aampctl-check";
  facts.headers = split_header_block(text).fields;
  facts.recipients = rcpts;
  facts.auth_user = auth_user.value_or("");
  facts.client_addr = client_ip.value_or("");
  if (mail_from) {
    facts.envelope_from = *mail_from;
  } else {  // the From address stands in for the envelope sender
    const Validation v = validate(facts.headers, config.policy.validation);
    facts.envelope_from = v.message.from;
  }

  Globals with_db = g;
  if (!with_db.db && !config.database.empty()) with_db.db = config.database;
  store::SqlStore db(database_path(with_db));
  DryRunStore dry(db);
  SystemClock clock;
  CryptoRng rng;
  const Decision d = decide(facts, EngineContext{config.policy, dry, clock, rng});

  const std::string action(to_string(d.action));
  if (g.json) {
    nlohmann::json recipients = nlohmann::json::array();
    for (const auto& r : d.recipients)
      recipients.push_back({{"recipient", r.recipient},
                            {"protected", r.protected_mailbox},
                            {"removed", std::find(d.delete_recipients.begin(), d.delete_recipients.end(), r.recipient) !=
                                            d.delete_recipients.end()},
                            {"verdict", std::string(r.verdict ? to_string(*r.verdict) : "")},
                            {"reason", r.reason}});
    nlohmann::json added = nlohmann::json::array();
    for (const auto& h : d.add_headers) added.push_back({{"name", h.name}, {"value", h.value}});
    print_json({{"verdict", action},
                {"reply", d.reply ? nlohmann::json(reply_text(d)) : nlohmann::json(nullptr)},
                {"reason", d.reason},
                {"aamp", d.aamp},
                {"intent", d.intent},
                {"taskId", d.task_id},
                {"policyVerdict", std::string(to_string(d.verdict))},
                {"recipients", recipients},
                {"addHeaders", added},
                {"removeHeaders", d.delete_headers.size()}});
  } else {
    fmt::print("{}{}{}\n", action, d.reply ? ": " + reply_text(d) : std::string(),
               d.reason.empty() ? std::string() : " (" + std::string(to_string(d.verdict)) + ": " + d.reason + ")");
    for (const auto& r : d.recipients)
      if (r.protected_mailbox) fmt::print("  {}: {} — {}\n", r.recipient, r.verdict ? to_string(*r.verdict) : "", r.reason);
    for (const auto& h : d.add_headers) fmt::print("  + {}: {}\n", h.name, h.value);
    if (!d.delete_headers.empty()) fmt::print("  - {} forged Authentication-Results field(s)\n", d.delete_headers.size());
  }
  return d.action == Action::accept ? 0 : 1;
}

}  // namespace

void add_check(Commands& c) {
  auto a = std::make_shared<Args>();
  auto& cmd = c.add(c.root(), "check",
                    "check FILE.eml --rcpt MAILBOX... [--auth-user U] [--client-ip IP] [--mail-from S]",
                    "the milter's decision for a message, changing nothing (exit 0 accepted, 1 not)");
  Commands::positional(cmd, "FILE.eml", a->file, "the message; - reads standard input");
  Commands::options(cmd, "--rcpt", a->rcpts, "MAILBOX", "an envelope recipient (at least one)");
  Commands::option(cmd, "--auth-user", a->auth_user, "U", "the SMTP AUTH login");
  Commands::option(cmd, "--client-ip", a->client_ip, "IP", "the client address (default none: local submission)");
  Commands::option(cmd, "--mail-from", a->mail_from, "S", "the envelope sender (default the From address)");
  c.runs(cmd, [a, &c] { return check(*a, c.globals()); });
}

}  // namespace aamp::ctl
