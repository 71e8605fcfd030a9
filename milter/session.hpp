// session.hpp — one MTA connection as the milter sees it: a connection context (client,
// HELO, the MTA's quirks, the config snapshot taken when it connected) and a message
// context reset for every MAIL FROM, collecting aamp::MessageFacts. At end of headers it
// says whether the message needs a decision; at end of message it asks the engine.
// No libmilter here: callbacks.cpp feeds it plain strings and applies what it returns, so
// every step is unit-tested with MemoryStore (tests/unit/session_test.cpp).
// Threading: one Session per connection, used by one libmilter thread at a time.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "milter/config.hpp"
#include "metrics/aamp_metrics.hpp"
#include "milter/log.hpp"
#include "policy/clock.hpp"
#include "policy/decision.hpp"
#include "policy/facts.hpp"
#include "policy/store.hpp"

namespace aamp::milter {

// The MTA's macros at the current stage, as smfi_getsymval finds them ("i", "{auth_authen}").
class Macros {
 public:
  virtual ~Macros() = default;
  // nullopt when the MTA did not send it.
  virtual std::optional<std::string_view> get(std::string_view name) const = 0;
};

// Where sessions get the store from. The daemon's implementation opens the database on
// demand and reopens it when the file was replaced or an open failed before, so that the
// service resumes by itself when a fault clears.
class StoreSource {
 public:
  virtual ~StoreSource() = default;
  // Throws StoreError when the store cannot be opened now.
  virtual std::shared_ptr<Store> acquire() = 0;
};

// What every session shares (owned by the daemon, outliving every session).
struct Services {
  StoreSource& stores;
  const Clock& clock;
  Rng& rng;
  metrics::AampMetrics* metrics = nullptr;  // each decision counted and timed when set
};

// What to tell the MTA at end of headers.
enum class AfterHeaders {
  decide,      // AAMP (or a forged verdict of ours): continue, skip the body, decide at the end
  accept_now,  // nothing for us and the MTA can stop here: SMFIS_ACCEPT
  pass,        // nothing for us, but this MTA would keep sending (no SMFIP_SKIP, or Stalwart
               // whatever it offered): continue, ignore the body, accept unchanged at the end
};

// The end of one message: what to apply, the one summary line to log, and a notice when
// forged verdicts of ours are removed.
struct MessageEnd {
  std::optional<Decision> decision;  // nullopt: accept unchanged (the message needed nothing)
  std::string summary;               // "" when there is nothing to log
  Severity severity = Severity::info;
  std::string removals;              // "" unless the decision removes header fields: which ones
};

class Session {
 public:
  Session(std::shared_ptr<const Config> config, Services services);

  const Config& config() const noexcept { return *config_; }
  // The id log lines start with: the MTA's queue id, else ours, else the connection's.
  const std::string& log_id() const noexcept;

  // Negotiation: whether the MTA understands SMFIS_SKIP (Postfix and Sendmail do; Stalwart
  // does not offer it by default, and keeps sending body chunks after an early ACCEPT even
  // when an operator makes it offer SKIP).
  void negotiate(bool mta_can_skip) noexcept { mta_can_skip_ = mta_can_skip; }
  bool mta_can_skip() const noexcept { return mta_can_skip_; }
  // `address` is the client's textual IP ("" when unknown); macros of the connect stage.
  void connect(std::string_view host_name, std::string_view address, const Macros& macros);
  void helo(std::string_view name);
  // Starts a new message (resets the message context). `sender` as the MTA gave it.
  void mail_from(std::string_view sender, const Macros& macros);
  void rcpt_to(std::string_view recipient, const Macros& macros);
  void header(std::string_view name, std::string_view value);
  AfterHeaders end_of_headers();
  // There is no body step: we decide on headers only, so the body matters to nobody.
  // Stalwart repeats the header block inside the body chunks; ignoring them is correct.
  MessageEnd end_of_message(const Macros& macros);
  // The MTA aborted the message (RSET, client gone): forget it, keep the connection.
  void abort() noexcept;

  // For tests and logs.
  const MessageFacts& facts() const noexcept { return facts_; }
  bool is_stalwart() const noexcept { return stalwart_; }

 private:
  // Where the current message stands (Postfix milter8.c keeps one MILTER8_STAT_* likewise).
  enum class Phase {
    idle,      // no message: before the first MAIL FROM, after an abort or a passed message;
               // log lines use the connection's id
    envelope,  // MAIL FROM seen: collecting recipients and headers; an end of message that
               // comes without end of headers is decided
    deciding,  // end of headers found AAMP (or a forged verdict of ours): decide at end of message
    passing,   // end of headers found nothing for us: accept unchanged at end of message
  };

  void reset_message();
  void adopt_queue_id(const Macros& macros);
  std::string summary_line(const Decision& d) const;
  std::string removal_line(const Decision& d) const;

  std::shared_ptr<const Config> config_;
  Services services_;

  // Connection context.
  std::string connection_id_;
  std::string client_name_;
  std::string client_addr_;
  std::string helo_;
  bool stalwart_ = false;
  bool mta_can_skip_ = false;

  // Message context (reset by mail_from and abort).
  Phase phase_ = Phase::idle;
  MessageFacts facts_;
  std::string message_id_;   // the MTA's `i`, or ours
  std::size_t header_bytes_ = 0;
  bool dropped_relevant_ = false;  // a header that matters was dropped over the bounds
};

// The textual address of a socket address from the MTA ("" for anything but IPv4/IPv6).
std::string address_text(const struct sockaddr* address);

// A short random id for a message when the MTA sends no `i` ("aamp-" and 8 characters).
std::string make_message_id(Rng& rng);

}  // namespace aamp::milter
