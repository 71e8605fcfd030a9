// daemon_replier.cpp — see daemon_replier.hpp. The worker logs through the daemon's log.
#include "milter/daemon_replier.hpp"

#include <chrono>
#include <string>
#include <variant>

#include "milter/daemon.hpp"
#include "milter/daemon_startup.hpp"
#include "milter/log.hpp"
#include "store/database_name.hpp"

namespace aamp::milter {

namespace {

mail::OutboxWorkerOptions worker_options(const ReplySettings& r, const std::string& database) {
  mail::OutboxWorkerOptions o;
  // On a SQLite file, one sending process per database (a flock beside the file); on a
  // server shared by several hosts, every worker sends and Outbox::claim keeps each reply
  // to one of them.
  if (store::dialect_of(database) == store::Dialect::sqlite) o.lock_file = database + ".outbox.lock";
  o.envelope_sender = r.envelope_sender == ReplySettings::EnvelopeSender::mailbox ? mail::EnvelopeSender::mailbox
                                                                                  : mail::EnvelopeSender::null;
  o.retry_initial = std::chrono::seconds(r.retry_initial_s);
  o.retry_max = std::chrono::seconds(r.retry_max_s);
  o.max_attempts = r.max_attempts;
  o.max_age = std::chrono::seconds(r.max_age_s);
  o.poll_interval = std::chrono::seconds(r.poll_interval_s);
  o.claim_lease = std::chrono::seconds(2 * r.timeout_s + 30);  // outlasts one send, with room
  return o;
}

void log_reply_worker(mail::LogLevel level, const std::string& line) {
  log_line(level == mail::LogLevel::info      ? Severity::info
           : level == mail::LogLevel::warning ? Severity::warning
                                              : Severity::error,
           line);
}

}  // namespace

Result<mail::ReplyTransportSpec> reply_transport_spec(const Config& c) {
  auto spec = mail::parse_reply_transport(c.reply.transport);
  if (!spec) return Error{"ReplyTransport: " + spec.error()};
  spec.value().timeout = std::chrono::seconds(c.reply.timeout_s);
  return spec;
}

std::vector<std::string> reply_settings_warnings(const Config& c, const mail::ReplyTransportSpec& spec) {
  std::vector<std::string> out;
  const auto* smtp = std::get_if<mail::SmtpSpec>(&spec.kind);
  // Stalwart's default `mustMatchSender` refuses an authenticated MAIL FROM:<> with
  // "501 5.5.4": every reply would be retried until abandoned (docs/configuration.md).
  if (smtp && !smtp->user.empty() && c.reply.envelope_sender == ReplySettings::EnvelopeSender::null_sender)
    out.emplace_back(
        "ReplyTransport logs in (user=) but ReplyEnvelopeSender is null: submission servers such as Stalwart "
        "require the envelope sender to match the login and refuse MAIL FROM:<> (501 5.5.4); set "
        "ReplyEnvelopeSender mailbox");
  return out;
}

Replier::Replier(Store& store, Outbox& outbox, const Clock& clock, const Config& c, mail::AttemptSink attempts)
    : settings(c.reply) {
  auto spec = reply_transport_spec(c);
  if (!spec) throw StartupError(kExitConfig, spec.error());
  transport = mail::make_reply_transport(*spec);  // reads a password file: before the privilege drop
  worker = std::make_unique<mail::OutboxWorker>(outbox, *transport, clock, worker_options(c.reply, c.database),
                                                log_reply_worker, &store, std::move(attempts));
}

}  // namespace aamp::milter
