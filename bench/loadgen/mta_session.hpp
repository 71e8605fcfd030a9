// mta_session.hpp — one milter connection driven the way Postfix 3.7's smtpd and cleanup
// drive it (src/milter/milter8.c): option negotiation offering everything, the default
// macro sets before every event (even a skipped one), CONNECT, HELO, then per message MAIL,
// RCPT..., DATA, the headers, EOH, body chunks, end of body, and ABORT when the transaction
// ends; QUIT at the end. Honours what the filter negotiated: skipped steps are not sent,
// unanswered steps are not waited for, SMFIR_SKIP skips the rest of that event type.
// One MtaSession belongs to one thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/loadgen/milter_wire.hpp"
#include "bench/loadgen/transport.hpp"

namespace aamp::loadgen {

// The SMTP client as smtpd saw it.
struct ClientInfo {
  std::string name;        // verified reverse name, or "unknown"
  std::string addr;        // "192.0.2.7"
  std::uint16_t port = 0;  // client's source port
  char family = SMFIA_INET;
  std::string helo;
};

// One mail transaction as smtpd and cleanup would hand it to the filter.
struct MessageSpec {
  std::string auth_login;  // SASL login, "" when the client did not authenticate
  std::string sender;      // envelope sender without angle brackets; "" is the null sender
  std::vector<std::string> recipients;
  std::vector<std::pair<std::string, std::string>> headers;  // name, value without the leading space
  std::string body;        // CRLF line endings
};

// What the MTA would do with the message, from the filter's final reply.
enum class Verdict {
  accept,    // SMFIR_ACCEPT, or CONTINUE/SKIP at the end of the message
  reject,    // SMFIR_REJECT or a 5xx SMFIR_REPLYCODE (or every recipient refused with one)
  tempfail,  // SMFIR_TEMPFAIL or a 4xx SMFIR_REPLYCODE
  discard,   // SMFIR_DISCARD
  shutdown,  // SMFIR_SHUTDOWN: the MTA answers 421 and hangs up
};
std::string_view to_string(Verdict v) noexcept;

// The stage at which the final reply came.
enum class Stage { mail, rcpt, data, header, eoh, body, eom };
std::string_view to_string(Stage s) noexcept;

struct Modifications {
  unsigned add_header = 0, ins_header = 0, chg_header = 0, del_rcpt = 0, add_rcpt = 0, chg_from = 0, repl_body = 0;
  bool quarantine = false;
  bool any() const noexcept {
    return add_header || ins_header || chg_header || del_rcpt || add_rcpt || chg_from || repl_body || quarantine;
  }
};

struct MessageOutcome {
  Verdict verdict = Verdict::accept;
  Stage stage = Stage::eom;
  std::string reply;        // SMFIR_REPLYCODE text, "" for the one-letter replies
  unsigned rcpts_refused = 0;  // refused at RCPT while others went on
  Modifications mods;
  std::chrono::nanoseconds latency{0};  // MAIL sent -> final reply received
};

struct SessionOptions {
  ConnectionOptions connection;
  std::string mta_hostname = "mx.bench.test";  // $myhostname: macros j and {daemon_name}
  std::string mta_version = "Postfix 3.7.11";  // macro v
  std::string daemon_addr = "127.0.0.1";       // {daemon_addr}
};

class MtaSession {
 public:
  MtaSession(const Endpoint& endpoint, const SessionOptions& options, Clock::time_point hard_deadline);

  // SMFIC_OPTNEG. Throws SessionError when the filter's answer is not compatible.
  const OptnegReply& negotiate();
  // CONNECT and HELO. False when the filter ended the connection there (accept, reject,
  // tempfail): Postfix then sends it nothing more.
  bool open(const ClientInfo& client);
  // One transaction, then SMFIC_ABORT as Postfix's mail_reset() sends it.
  MessageOutcome send_message(const MessageSpec& message, std::string_view queue_id);
  // Holds a transaction open: everything up to and including the body, no end of body.
  // finish_message() completes it. For the RSS measurement with many open connections.
  bool start_message(const MessageSpec& message, std::string_view queue_id);
  MessageOutcome finish_message();
  // SMFIC_QUIT and close.
  void quit() noexcept;

  const OptnegReply& negotiated() const noexcept { return negotiated_; }

 private:
  enum class Sent { skipped, unanswered, answered };
  struct Reply {
    Sent sent = Sent::skipped;
    char code = SMFIR_CONTINUE;
    std::string text;  // SMFIR_REPLYCODE
  };
  Reply event(char command, MacroStage stage, std::uint32_t skip_flag, std::uint32_t no_reply_flag, const std::string& packet,
              Modifications* mods = nullptr);
  MacroPairs macros_for(MacroStage stage) const;
  void set_macro(const std::string& name, std::string value);
  // Sends the transaction up to the body; false with `out_` filled when it ended early.
  bool run_until_eob(const MessageSpec& message, std::string_view queue_id);
  MessageOutcome end(const Reply& r, Stage stage);

  Connection conn_;
  SessionOptions options_;
  OptnegReply negotiated_;
  std::array<std::vector<std::string>, kMacroStages> macro_names_;
  std::map<std::string, std::string> macros_;  // current values, by name as Postfix spells it
  char skip_event_type_ = 0;                   // after SMFIR_SKIP: drop further events of this type
  bool connection_done_ = false;               // the filter ended the connection at CONNECT/HELO
  Clock::time_point started_{};
  MessageOutcome out_;
};

}  // namespace aamp::loadgen
