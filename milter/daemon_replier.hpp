// daemon_replier.hpp — the reply worker as the daemon runs it: the transport made from the
// Reply* settings (mail/transport.hpp) and the outbox worker that sends through it
// (mail/outbox_worker.hpp), made together and stopped together. A reload makes a new
// Replier when the settings changed. No libmilter. Threading: made and destroyed by one
// thread at a time; the worker runs on a thread of its own and notify() is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mail/outbox_worker.hpp"
#include "mail/transport.hpp"
#include "milter/config.hpp"
#include "policy/clock.hpp"
#include "policy/store.hpp"

namespace aamp::milter {

// The ReplyTransport of `c` parsed, with ReplyTimeout; the error reads "ReplyTransport: ...".
Result<mail::ReplyTransportSpec> reply_transport_spec(const Config& c);

// Reply settings that parse but are likely to fail at the server: one sentence each, for
// `-n` (standard error) and the start-up log (warning). Not errors: some servers accept them.
std::vector<std::string> reply_settings_warnings(const Config& c, const mail::ReplyTransportSpec& spec);

// The reply worker and the transport it sends through (the worker goes first).
struct Replier {
  // Throws StartupError (kExitConfig) for a transport that does not parse, or what the
  // transport throws (it reads a password file: make it before the privilege drop).
  Replier(Store& store, Outbox& outbox, const Clock& clock, const Config& c, mail::AttemptSink attempts = {});
  ~Replier() { worker.reset(); }  // stops and joins before the transport goes
  Replier(const Replier&) = delete;
  Replier& operator=(const Replier&) = delete;

  ReplySettings settings;
  std::unique_ptr<mail::ReplyTransport> transport;
  std::unique_ptr<mail::OutboxWorker> worker;
};

}  // namespace aamp::milter
