// mix.cpp — see mix.hpp. Message templates: what a Postfix cleanup would pass on for typical
// relayed mail and for the reference SDK's AAMP messages (headers as the SDK writes them).
#include "bench/loadgen/mix.hpp"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "bench/loadgen/corpus.hpp"

namespace aamp::loadgen {
namespace {

using bench::kCodeMailboxes;
using bench::kMailboxes;
using bench::kRulesPerMailbox;
using bench::kWrongCodeMailboxes;

constexpr char kDate[] = "Mon, 03 Mar 2025 10:00:00 +0000";
constexpr char kBase64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string hex(std::uint64_t v, int digits) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string s(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = kHex[v & 0xF];
  return s;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// What makes this process's Message-IDs its own: bench/run starts the generator many times
// against one milter and one database, and the milter delivers one Message-ID once per
// recipient (a repeated serial would be a copy, removed as a duplicate, not a new message).
const std::string& run_nonce() {
  static const std::string nonce = [] {
    std::random_device device;
    return hex((std::uint64_t{device()} << 32) ^ device(), 16);
  }();
  return nonce;
}

void common_headers(Headers& h, const std::string& from, const std::string& to, const std::string& subject,
                    std::uint64_t serial) {
  h.emplace_back("From", from);
  h.emplace_back("To", to);
  h.emplace_back("Subject", subject);
  h.emplace_back("Date", kDate);
  // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict for
  // "<" + std::to_string(serial), a literal prepended to a temporary string.
  std::string message_id = "<";
  message_id += std::to_string(serial);
  message_id += '.';
  message_id += run_nonce();
  message_id += ".lg@loadgen.bench.test>";
  h.emplace_back("Message-ID", std::move(message_id));
  h.emplace_back("MIME-Version", "1.0");
  h.emplace_back("Content-Type", "text/plain; charset=utf-8");
}

}  // namespace

std::optional<Mix> parse_mix(std::string_view text) {
  Mix mix;
  unsigned total = 0;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    std::size_t k = 0;
    while (k < kKinds && kKindNames[k] != name) ++k;
    if (k == kKinds) return std::nullopt;
    unsigned w = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), w);
    if (ec != std::errc{} || end != value.data() + value.size() || w > 1000000) return std::nullopt;
    mix.weights[k] = w;
    total += w;
  }
  if (total == 0) return std::nullopt;
  return mix;
}

std::string format_mix(const Mix& mix) {
  std::string out;
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (mix.weights[k] == 0) continue;
    if (!out.empty()) out += ',';
    out += std::string(kKindNames[k]) + "=" + std::to_string(mix.weights[k]);
  }
  return out;
}

const PairCode* CodePool::take() noexcept {
  const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
  return i < codes_.size() ? &codes_[i] : nullptr;
}

std::size_t CodePool::taken() const noexcept {
  const std::size_t n = next_.load(std::memory_order_relaxed);
  return n < codes_.size() ? n : codes_.size();
}

std::optional<std::vector<PairCode>> read_codes(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path;
    return std::nullopt;
  }
  std::vector<PairCode> codes;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    PairCode c;
    if (!(fields >> c.mailbox >> c.code) || c.mailbox < 0 || c.mailbox >= kMailboxes || c.code.empty()) {
      *error = path + ":" + std::to_string(n) + ": expected MAILBOX_INDEX CODE";
      return std::nullopt;
    }
    codes.push_back(std::move(c));
  }
  return codes;
}

MessageFactory::MessageFactory(const Mix& mix, CodePool* codes, std::size_t body_size, std::uint64_t seed)
    : kinds_(mix.weights.begin(), mix.weights.end()), codes_(codes), body_size_(body_size), rng_(seed) {}

int MessageFactory::uniform(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

Kind MessageFactory::draw_kind() { return static_cast<Kind>(kinds_(rng_)); }

std::string MessageFactory::body(std::string_view first_line) {
  static const std::string kLine =
      "The quick brown fox jumps over the lazy dog; benchmark text line for the milter.\r\n";
  std::string b;
  b.reserve(body_size_ + kLine.size() + first_line.size() + 4);
  b.append(first_line);
  b.append("\r\n\r\n");
  while (b.size() < body_size_) b.append(kLine);
  return b;
}

Generated MessageFactory::next(std::uint64_t serial) {
  Generated g;
  g.kind = draw_kind();
  g.queue_id = hex(rng_() & 0xFFFFFFFFFFULL, 10);  // Postfix short queue ids: 10+ hex digits
  auto& m = g.message;
  Headers& h = m.headers;

  const PairCode* code = nullptr;
  if (g.kind == Kind::pair_valid) {
    code = codes_ ? codes_->take() : nullptr;
    if (code == nullptr) {
      ++codes_exhausted_;
      g.kind = Kind::pair_wrong;
    }
  }

  // Authenticated kinds come from submission clients, the rest from the Internet; no client
  // is an internal host, so SMTP AUTH is the only trust a sender shows.
  const bool authenticated = g.kind != Kind::plain;
  const unsigned octet = 1 + static_cast<unsigned>(uniform(254));
  g.client.family = SMFIA_INET;
  g.client.port = static_cast<std::uint16_t>(1024 + uniform(60000));
  if (authenticated) {
    g.client.addr = "203.0.113." + std::to_string(octet);
    g.client.name = "submit" + std::to_string(octet) + ".clients.bench.test";
  } else {
    g.client.addr = (octet % 2 ? "192.0.2." : "198.51.100.") + std::to_string(octet);
    g.client.name = octet % 5 == 0 ? "unknown" : "mail" + std::to_string(octet) + ".senders.example.org";
  }
  g.client.helo = g.client.name == "unknown" ? "[" + g.client.addr + "]" : g.client.name;

  const std::string task_id = "task-" + std::to_string(serial) + "-" + hex(rng_() & 0xFFFFFF, 6);
  switch (g.kind) {
    case Kind::plain: {
      const unsigned list = static_cast<unsigned>(serial % 20);
      m.sender = "news" + std::to_string(serial % 1000) + "@list" + std::to_string(list) + ".example.org";
      m.recipients.push_back(uniform(2) ? bench::mailbox_address(uniform(kMailboxes))
                                        : "user" + std::to_string(uniform(5000)) + "@elsewhere.bench.test");
      // What relayed mail carries before our MTA: upstream Received lines, a DKIM signature.
      h.emplace_back("Received", "from relay" + std::to_string(list) + ".example.org (relay" + std::to_string(list) +
                                     ".example.org [192.0.2.9])\n\tby mx.example.org (Postfix) with ESMTPS id 4Q" +
                                     g.queue_id + "\n\tfor <" + m.recipients[0] + ">; " + kDate);
      h.emplace_back("DKIM-Signature",
                     "v=1; a=rsa-sha256; c=relaxed/relaxed; d=list" + std::to_string(list) +
                         ".example.org; s=s1;\n\th=from:to:subject:date:message-id;\n\tbh=47DEQpj8HBSa+/"
                         "TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFz"
                         "IHRoZSBsZW5ndGggb2Ygb25lIGZvciB0aGUgYmVuY2htYXJr");
      common_headers(h, m.sender, m.recipients[0], "Newsletter " + std::to_string(serial), serial);
      h.emplace_back("List-Unsubscribe", "<mailto:unsubscribe@list" + std::to_string(list) + ".example.org>");
      m.body = body("Hello, this is ordinary mail.");
      break;
    }
    case Kind::allowed:
    case Kind::denied:
    case Kind::invalid: {
      const int mailbox = uniform(kMailboxes);
      const int j = uniform(kRulesPerMailbox);
      const bench::RuleSpec rule = bench::rule(mailbox, j);
      m.sender = g.kind == Kind::denied ? bench::stranger(serial) : bench::sender_for_rule(mailbox, j);
      m.auth_login = m.sender;  // SASL login == From: the login may use its own address
      m.recipients.push_back(bench::mailbox_address(mailbox));
      common_headers(h, m.sender, m.recipients[0], "[AAMP Task] Benchmark task " + std::to_string(serial), serial);
      h.emplace_back("X-AAMP-Version", "1.1");
      std::string intent = "task.dispatch", priority = serial % 3 ? "normal" : "high";
      if (g.kind == Kind::invalid) {
        switch (serial % 4) {
          case 0: intent = "task.explode"; break;     // unknown intent
          case 1: priority = "whenever"; break;       // Priority outside its grammar
          case 2: h.emplace_back("X-AAMP-Intent", "task.cancel"); break;  // two different intents
          default: break;                              // TaskId missing (below)
        }
      }
      h.emplace_back("X-AAMP-Intent", intent);
      if (!(g.kind == Kind::invalid && serial % 4 == 3)) h.emplace_back("X-AAMP-TaskId", task_id);
      h.emplace_back("X-AAMP-Priority", priority);
      h.emplace_back("X-AAMP-Expires-At", "2099-12-31T23:59:59Z");
      h.emplace_back("X-AAMP-Session-Key", "bench-session-" + std::to_string(serial % 97));
      if (rule.needs_context || serial % 2)
        h.emplace_back("X-AAMP-Dispatch-Context",
                       std::string(bench::kContextKey) + "=" + (serial % 2 ? bench::kContextValueA : bench::kContextValueB) +
                           "; source=bench");
      m.body = body("Please run the benchmark task " + task_id + ".");
      break;
    }
    case Kind::pair_valid:
    case Kind::pair_wrong: {
      std::string secret;
      int mailbox = 0;
      if (code != nullptr) {
        mailbox = code->mailbox;
        secret = code->code;
        m.sender = "peer" + std::to_string(serial) + "@peers.bench.test";
      } else {
        mailbox = kCodeMailboxes + uniform(kWrongCodeMailboxes);
        for (int i = 0; i < 8; ++i) secret.push_back(kBase64url[uniform(64)]);
        m.sender = "guesser" + std::to_string(serial) + "@peers.bench.test";
      }
      m.auth_login = m.sender;
      m.recipients.push_back(bench::mailbox_address(mailbox));
      common_headers(h, m.sender, m.recipients[0], "[AAMP Pair] Connection request", serial);
      h.emplace_back("X-AAMP-Version", "1.1");
      h.emplace_back("X-AAMP-Intent", "pair.request");
      h.emplace_back("X-AAMP-TaskId", "pair-" + task_id);
      h.emplace_back("X-AAMP-Pair-Code", secret);
      h.emplace_back("X-AAMP-Dispatch-Context-Rules", "e30");
      // The reference SDK writes the code into the body as well.
      m.body = body("Pair code: " + secret);
      break;
    }
  }
  return g;
}

}  // namespace aamp::loadgen
