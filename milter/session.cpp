// session.cpp — see session.hpp. The MTA quirks live here, each written beside the code
// that handles it.
#include "milter/session.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>

#include "platform/system.hpp"
#include "policy/engine.hpp"
#include "policy/text.hpp"
#include "policy/text_safety.hpp"

namespace aamp::milter {

namespace {

// Bounds on what one message may make us hold. Postfix caps the header block at
// header_size_limit (100 KiB by default) and recipients at smtpd_recipient_limit (1000);
// these are far above both and only stop a runaway client.
constexpr std::size_t kMaxHeaderBytes = 4u << 20;
constexpr std::size_t kMaxHeaders = 10'000;
constexpr std::size_t kMaxRecipients = 10'000;
constexpr std::size_t kMaxNamedRemovals = 8;  // a removal line names at most this many fields

std::string strip_brackets(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = trim(s.substr(1, s.size() - 2));
  return std::string(s);
}

std::string macro_or(const Macros& macros, std::string_view name, std::string_view fallback = {}) {
  const auto v = macros.get(name);
  return std::string(v ? *v : fallback);
}

// A header that decides anything: dropping one of these would let a message slip past.
bool relevant_header(std::string_view name) {
  return istarts_with(name, "X-AAMP-") || iequals(name, "From") || iequals(name, "Authentication-Results");
}

std::string first_header(const HeaderList& headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return unfold(h.value);
  return {};
}

}  // namespace

std::string address_text(const struct sockaddr* address) {
  if (address == nullptr) return {};
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    if (inet_ntop(AF_INET, &in->sin_addr, buf.data(), buf.size())) return buf.data();
  } else if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, buf.data(), buf.size())) return buf.data();
  }
  return {};
}

std::string make_message_id(Rng& rng) { return "aamp-" + random_token(rng, 6); }

// cppcheck-suppress passedByValue ; Services is three references: a copy costs what a reference does
Session::Session(std::shared_ptr<const Config> config, Services services)
    : config_(std::move(config)), services_(services), connection_id_("conn-" + random_token(services.rng, 6)) {}

const std::string& Session::log_id() const noexcept { return phase_ == Phase::idle ? connection_id_ : message_id_; }

void Session::connect(std::string_view host_name, std::string_view address, const Macros& macros) {
  client_name_ = for_log_line(host_name, 255);
  client_addr_ = std::string(address);
  // Stalwart passes the address in {client_addr} as well; use it when the socket address
  // was not IPv4/IPv6 (miltertest's "unspec", a unix-socket MTA).
  if (client_addr_.empty()) client_addr_ = for_log_line(macro_or(macros, "{client_addr}"), 64);
  // Stalwart names itself in {daemon_name} ("Stalwart v0.16.19"; "Stalwart Mail Server vX"
  // before 0.12). Negotiation came before this, so end_of_headers, not negotiate, combines
  // the two: Stalwart ignores ACCEPT whatever step flags it offered.
  stalwart_ = istarts_with(macro_or(macros, "{daemon_name}"), "stalwart");
}

void Session::helo(std::string_view name) { helo_ = for_log_line(name, 255); }

void Session::reset_message() {
  facts_ = MessageFacts{};
  message_id_.clear();
  header_bytes_ = 0;
  dropped_relevant_ = false;
  phase_ = Phase::idle;
}

void Session::adopt_queue_id(const Macros& macros) {
  // Postfix defines `i` only after the first accepted RCPT (the queue file is created
  // then); Stalwart never sends it. Keep our own id until the MTA's appears.
  const auto i = macros.get("i");
  if (i && !trim(*i).empty()) message_id_ = for_log_line(trim(*i), 64);
}

void Session::mail_from(std::string_view sender, const Macros& macros) {
  reset_message();
  phase_ = Phase::envelope;
  message_id_ = make_message_id(services_.rng);
  adopt_queue_id(macros);
  facts_.envelope_from = strip_brackets(sender);
  // Postfix and Stalwart send {auth_authen} with MAIL. Stalwart leaves it out when the client
  // did not authenticate (message.rs:235-241); Postfix may send it empty. Absent and empty
  // both mean unauthenticated.
  facts_.auth_user = std::string(trim(macro_or(macros, "{auth_authen}")));
}

void Session::rcpt_to(std::string_view recipient, const Macros& macros) {
  if (phase_ == Phase::idle) mail_from("", macros);
  adopt_queue_id(macros);
  if (facts_.recipients.size() >= kMaxRecipients) {
    // A recipient we do not hold cannot be refused one by one: refuse the message instead.
    dropped_relevant_ = true;
    return;
  }
  facts_.recipients.emplace_back(trim(recipient));
}

void Session::header(std::string_view name, std::string_view value) {
  if (phase_ == Phase::idle) return;
  const std::size_t size = name.size() + value.size();
  if (facts_.headers.size() >= kMaxHeaders || header_bytes_ + size > kMaxHeaderBytes) {
    if (relevant_header(name)) dropped_relevant_ = true;
    return;
  }
  header_bytes_ += size;
  // Stalwart trims header values (no leading or trailing white space) and keeps the folds
  // inside them; Postfix sends them without the leading space, folded. The validator
  // unfolds both to the same text.
  facts_.headers.push_back(HeaderField{std::string(name), std::string(value)});
}

AfterHeaders Session::end_of_headers() {
  // libmilter trap: after SMFIS_ACCEPT it forgets the message, and silently ignores the
  // BODY and EOM commands that follow. Postfix stops sending after ACCEPT; Stalwart does
  // not (it treats ACCEPT like CONTINUE at every step, message.rs:524-530), then waits for
  // an EOM answer that never comes and tempfails. Accept early only when the MTA offered
  // SMFIP_SKIP and is not Stalwart: an operator may add SKIP to Stalwart's flagsProtocol,
  // and Stalwart honours SKIP only inside the body loop (client.rs:270).
  const AfterHeaders nothing_for_us = mta_can_skip_ && !stalwart_ ? AfterHeaders::accept_now : AfterHeaders::pass;
  if (phase_ == Phase::idle) return nothing_for_us;
  if (dropped_relevant_ || needs_decision(facts_.headers, config_->policy)) {
    phase_ = Phase::deciding;
    return AfterHeaders::decide;
  }
  phase_ = Phase::passing;
  return nothing_for_us;
}

void Session::abort() noexcept { reset_message(); }

MessageEnd Session::end_of_message(const Macros& macros) {
  if (phase_ == Phase::idle) return MessageEnd{};
  adopt_queue_id(macros);
  if (phase_ == Phase::passing) {
    reset_message();
    return MessageEnd{};
  }
  if (facts_.auth_user.empty()) facts_.auth_user = std::string(trim(macro_or(macros, "{auth_authen}")));
  facts_.queue_id = message_id_;
  facts_.client_addr = client_addr_;
  facts_.client_name = client_name_;
  facts_.helo = helo_;

  const Policy& policy = config_->policy;
  const auto started = std::chrono::steady_clock::now();
  Decision d;
  if (dropped_relevant_) {
    // Headers or recipients we could not hold: never judge a message on part of it.
    const Action action = policy.mode == EnforcementMode::report ? Action::accept : policy.on.bad_message;
    d = failure_decision(action, FailureKind::too_large, "header block or recipient list over the milter's bounds");
    d.aamp = true;
  } else {
    try {
      const std::shared_ptr<Store> store = services_.stores.acquire();
      d = decide(facts_, EngineContext{policy, *store, services_.clock, services_.rng});
    } catch (const StoreError& e) {
      // The engine maps the store's failures itself; this is the store that would not open.
      d = failure_decision(policy.on.store_error, FailureKind::store_error, e.what());
      d.aamp = true;
      d.store_error = e.kind();
    }
  }
  if (services_.metrics != nullptr)
    services_.metrics->decision(d, policy.mode, std::chrono::steady_clock::now() - started);
  MessageEnd end;
  end.summary = summary_line(d);
  end.removals = removal_line(d);
  if (d.action == Action::tempfail) end.severity = Severity::error;
  else if (d.verdict == AuditVerdict::store_error || d.verdict == AuditVerdict::internal_error) end.severity = Severity::warning;
  end.decision = std::move(d);
  return end;
}

std::string Session::summary_line(const Decision& d) const {
  std::string rcpts;
  if (!d.recipients.empty()) {
    for (const auto& r : d.recipients) {
      if (!rcpts.empty()) rcpts += ',';
      // Appended piece by piece: "<" + a temporary string makes GCC 12 at -O3 report a
      // false -Wrestrict (so does the loop below and the one in removal_line).
      rcpts += '<';
      rcpts += for_log_line(strip_brackets(r.recipient), 128);
      rcpts += '>';
      if (r.protected_mailbox && r.verdict) rcpts += ":" + for_log_line(to_string(*r.verdict), 32);
    }
  } else {
    for (const auto& r : facts_.recipients) {
      if (!rcpts.empty()) rcpts += ',';
      rcpts += '<';
      rcpts += for_log_line(strip_brackets(r), 128);
      rcpts += '>';
    }
  }
  const std::string from = !d.header_from.empty() ? d.header_from : strip_brackets(first_header(facts_.headers, "From"));
  const std::string intent = !d.intent.empty() ? d.intent : first_header(facts_.headers, "X-AAMP-Intent");
  const std::string task = !d.task_id.empty() ? d.task_id : first_header(facts_.headers, "X-AAMP-TaskId");
  std::string line =
      message_id_ + ": client=" + for_log_field(client_name_, 128) + "[" + for_log_line(client_addr_, 64) + "]";
  line += " auth=" + for_log_field(facts_.auth_user, 128);
  line += " envelope-from=<" + for_log_line(facts_.envelope_from, 256) + ">";
  line += " from=" + for_log_field(from, 256);
  line += " rcpts=" + (rcpts.empty() ? std::string("-") : rcpts);
  line += " intent=" + for_log_field(intent, 64);
  line += " task=" + for_log_field(task, 128);
  line += " action=" + std::string(to_string(d.action));
  if (d.reply && (d.action == Action::reject || d.action == Action::tempfail))
    line += " reply=" + for_log_line(d.reply->code, 3) + "/" + for_log_line(d.reply->xcode, 9);
  line += " verdict=" + for_log_field(to_string(d.verdict), 64);
  line += " reason=" + for_log_field(d.reason, 300);
  return line;
}

// Only what is applied: a refused or discarded message keeps its fields (apply.cpp). Names
// and indices only, never a value: "4XyZ1: removed 2 forged verdicts claiming our
// authserv-id: Authentication-Results#3,Authentication-Results#1".
std::string Session::removal_line(const Decision& d) const {
  if (d.delete_headers.empty() || (d.action != Action::accept && d.action != Action::quarantine)) return {};
  std::string line = message_id_ + ": removed " + std::to_string(d.delete_headers.size()) +
                     (d.delete_headers.size() == 1 ? " forged verdict" : " forged verdicts") + " claiming our authserv-id: ";
  for (std::size_t i = 0; i < d.delete_headers.size() && i < kMaxNamedRemovals; ++i) {
    if (i != 0) line += ',';
    line += for_log_line(d.delete_headers[i].name, 64);
    line += '#';
    line += std::to_string(d.delete_headers[i].index);
  }
  if (d.delete_headers.size() > kMaxNamedRemovals) line += ",...";
  return line;
}

}  // namespace aamp::milter
