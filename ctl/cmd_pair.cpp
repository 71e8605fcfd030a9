// cmd_pair.cpp — `aampctl pair issue|list|revoke`: one-time pair codes (brief §4). A code
// is drawn from OpenSSL's CSPRNG (CryptoRng), shown once in the aamp://connect URL (and a
// terminal QR code), and only its hash is stored. `pair list` never shows codes. The
// mailbox a code belongs to is the one the engine's judge_recipient() finds for a
// pair.request to that address (with the milter's RecipientDelimiter, from -c CONFIG).
#include <qrencode.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "platform/system.hpp"
#include "policy/encodings.hpp"
#include "policy/recipient.hpp"
#include "store/sql_store.hpp"

namespace aamp::ctl {

namespace {

constexpr std::size_t kDefaultCodeBytes = 12;  // 96 bits, 16 base64url characters (docs/decisions.md)
constexpr std::size_t kMinCodeBytes = 6;       // what the reference implementation draws
constexpr std::size_t kMaxCodeBytes = 64;
constexpr UnixTime kDefaultTtl = 5 * 60;
constexpr UnixTime kMaxTtl = 7 * 86400;

// The QR code in Unicode half blocks, two modules per character cell vertically, light
// modules drawn (for the usual dark terminal) with a 4-module quiet zone (ISO/IEC 18004).
std::string render_qr(const std::string& text) {
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
                                                      &QRcode_free);
  if (!qr) throw std::runtime_error("cannot render the QR code (libqrencode failed)");
  constexpr int kQuiet = 4;
  const int w = qr->width;
  const int size = w + 2 * kQuiet;
  auto light = [&](int x, int y) {
    x -= kQuiet;
    y -= kQuiet;
    if (x < 0 || y < 0 || x >= w || y >= w) return true;
    return (qr->data[y * w + x] & 1) == 0;
  };
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      const bool top = light(x, y);
      const bool bottom = y + 1 < size ? light(x, y + 1) : false;
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += '\n';
  }
  return out;
}

nlohmann::json code_json(const store::PairCodeEntry& e, UnixTime t) {
  nlohmann::json rules = nlohmann::json::object();
  for (const auto& [k, v] : e.rules) rules[k] = v;
  return {{"id", e.id},
          {"mailbox", e.mailbox},
          {"state", std::string(to_string(e.state(t)))},
          {"rules", rules},
          {"createdAt", time_text(e.created_at)},
          {"createdBy", e.created_by},
          {"expiresAt", time_text(e.expires_at)},
          {"consumedAt", optional_time_json(e.consumed_at)},
          {"consumedBy", e.consumed_by.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.consumed_by)},
          {"revokedAt", optional_time_json(e.revoked_at)},
          {"note", e.note},
          {"address", e.address.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.address)}};
}

struct Args {
  std::optional<std::string> mailbox, ttl, rules_json, bytes, note, id;
  std::vector<std::string> rules;
  bool qr = false;
};

int issue(const Args& a, const Globals& g) {
  const auto& mailbox = a.mailbox;
  const auto& ttl_text = a.ttl;
  const auto& rule_pairs = a.rules;
  const auto& rules_json = a.rules_json;
  const auto& bytes_text = a.bytes;
  const auto& note = a.note;
  const bool qr = a.qr;
  if (!mailbox) throw UsageError("pair issue: --mailbox M is required");
  const std::string address = normalize_address(*mailbox);
  const auto pattern = parse_sender_pattern(address);
  if (!pattern || pattern->kind != PatternKind::exact)
    throw UsageError(fmt::format("pair issue: --mailbox '{}' must be one agent's address (a pairing URL names "
                                 "the mailbox the request goes to)",
                                 *mailbox));
  const UnixTime ttl = ttl_text ? parse_duration(*ttl_text, "--ttl", kMaxTtl) : kDefaultTtl;
  std::size_t bytes = kDefaultCodeBytes;
  if (bytes_text) {
    const auto n = parse_id(*bytes_text, "--bytes");
    if (n < static_cast<std::int64_t>(kMinCodeBytes) || n > static_cast<std::int64_t>(kMaxCodeBytes))
      throw UsageError(fmt::format("--bytes {} is outside {}..{}", *bytes_text, kMinCodeBytes, kMaxCodeBytes));
    bytes = static_cast<std::size_t>(n);
  }
  const ContextRules rules = parse_context_rules(rule_pairs, rules_json, "--rules");

  auto admin = open_admin(g);
  // The milter's own judge, with its RecipientDelimiter: the row that will handle a
  // pair.request sent to `address`, and the address at which it redeems the code.
  const auto config = milter_config(g);
  store::SqlStore db(admin.database());
  const RecipientJudgement judged =
      judge_recipient(db, config ? config->policy : Policy{}, address, Intent::pair_request);
  if (!judged.mailbox)
    throw UsageError(fmt::format("{} is not a protected mailbox (add it with `aampctl mailbox add {}`)", address,
                                 address));
  const ProtectedMailbox& mb = *judged.mailbox;
  const std::string& bound = judged.address;
  CryptoRng rng;
  const std::string code = random_token(rng, bytes);
  const UnixTime t = now();
  const auto id =
      admin.add_pair_code(mb.id, code, t, t + ttl, rules, operator_name(), note.value_or(""), bound);

  std::string url = fmt::format("aamp://connect?mailbox={}&pair_code={}", percent_encode(address), percent_encode(code));
  if (!rules.empty()) url += "&dispatch_context_rules=" + percent_encode(encode_context_rules(rules));
  if (g.json) {
    print_json({{"url", url}, {"code", code}, {"mailbox", address}, {"expiresAt", time_text(t + ttl)}, {"id", id}});
  } else {
    fmt::print("{}\n", url);
    if (qr || isatty(STDOUT_FILENO) == 1) fmt::print("{}", render_qr(url));
    fmt::print("pair code {} for {} expires at {}\n", id, address, time_text(t + ttl));
  }
  (void)std::fflush(stdout);
  if (bound != address)
    fmt::print(stderr, "aampctl: note: the milter delivers {} to {} (RecipientDelimiter): the code is bound to {}\n",
               address, bound, bound);
  if (mb.address != bound)
    fmt::print(stderr,
               "aampctl: note: {} is protected by the domain mailbox {}: the code works only for {}, but the pairing "
               "lets the requester dispatch to every address of {} (add {} as its own mailbox to pair with it alone)\n",
               bound, mb.address, bound, mb.address, bound);
  if (judged.protection == Protection::off)
    fmt::print(stderr, "aampctl: note: {} is in mode off: the milter will not handle its pair.request\n", mb.address);
  return 0;
}

int list(const Args& a, const Globals& g) {
  const auto& mailbox = a.mailbox;
  std::optional<std::string> address;
  if (mailbox) address = store::parse_mailbox_address(*mailbox);
  auto admin = open_admin(g);
  const auto all = admin.list_pair_codes(address);
  const UnixTime t = now();
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : all) out.push_back(code_json(e, t));
    print_json(out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(all.size());
  for (const auto& e : all)
    rows.push_back({std::to_string(e.id), e.mailbox, std::string(to_string(e.state(t))),
                    time_text(e.created_at), time_text(e.expires_at), e.consumed_by.empty() ? "-" : e.consumed_by,
                    rules_display(e.rules), e.note.empty() ? "-" : e.note});
  print_table({"ID", "MAILBOX", "STATE", "CREATED", "EXPIRES", "USED BY", "RULES", "NOTE"}, rows);
  return 0;
}

int revoke(const Args& a, const Globals& g) {
  const auto id = parse_id(required(a.id, "pair code ID"), "pair code ID");
  auto admin = open_admin(g);
  const UnixTime t = now();
  const auto e = admin.revoke_pair_code(id, t);
  if (g.json) print_json(code_json(e, t));
  else fmt::print("revoked pair code {} for {}\n", e.id, e.mailbox);
  return 0;
}

}  // namespace

void add_pair(Commands& c) {
  auto& group = c.add(c.root(), "pair", "pair issue|list|revoke ...", "one-time pair codes");
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "issue",
                      "pair issue --mailbox M [--ttl 5m] [--rules key=v1,v2]... [--rules-json JSON] [--bytes N] [--qr] "
                      "[--note TEXT]",
                      "make a one-time pair code for the agent address M and print its aamp://connect URL");
    Commands::option(cmd, "--mailbox", a->mailbox, "M", "the agent address the code is for (required)");
    Commands::option(cmd, "--ttl", a->ttl, "DURATION", "how long the code lives (default 5m, at most 7d)");
    Commands::options(cmd, "--rules", a->rules, "key=v1,v2", "a dispatch-context rule the paired sender gets");
    Commands::option(cmd, "--rules-json", a->rules_json, "JSON", "the rules as one JSON object");
    Commands::option(cmd, "--bytes", a->bytes, "N", "random bytes in the code (default 12, 6..64)");
    Commands::flag(cmd, "--qr", a->qr, "print the QR code even when stdout is not a terminal");
    Commands::option(cmd, "--note", a->note, "TEXT", "a note for operators");
    c.runs(cmd, [a, &c] { return issue(*a, c.globals()); });
  }
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "list", "pair list [--mailbox M]", "list the pair codes (never the codes themselves)");
    Commands::option(cmd, "--mailbox", a->mailbox, "M", "only this mailbox's codes");
    c.runs(cmd, [a, &c] { return list(*a, c.globals()); });
  }
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "revoke", "pair revoke ID", "stop a live (or expired) pair code");
    Commands::positional(cmd, "ID", a->id, "the code's id (pair list)");
    c.runs(cmd, [a, &c] { return revoke(*a, c.globals()); });
  }
}

}  // namespace aamp::ctl
