// store_source.hpp — the daemon's StoreSource: opens the policy database on demand and
// opens it again when that is the way back to service: after a failed open (at most once
// a second, so a broken database does not cost every message an open), after a SQLite
// file was replaced (another inode at the same path), and when a reload names another
// database. The daemon never creates or migrates a database (aampctl init and migrate
// do): a file that vanished is never re-created behind the operator's back, which would
// be an empty policy, protecting nothing. A PostgreSQL store stays open across outages:
// its pool drops broken connections and opens new ones. No SQL here: the opener is injected.
// Thread-safe: acquire() and configure() take one mutex; an open runs under it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "milter/session.hpp"

namespace aamp::milter {

// Opens the store at `database` (a path or a connection string), requiring its schema to
// be what this program needs. Throws StoreError.
using StoreOpener = std::function<std::shared_ptr<Store>(const std::string& database, int busy_timeout_ms)>;

class ReopeningStoreSource final : public StoreSource {
 public:
  ReopeningStoreSource(StoreOpener opener, const Clock& clock) : opener_(std::move(opener)), clock_(clock) {}

  // Sets the database; a different path than before drops the open store (the next
  // acquire opens the new one). Does not open.
  void configure(const std::string& path, int busy_timeout_ms);

  // Opens now (startup). Throws StoreError.
  void open_now();

  std::shared_ptr<Store> acquire() override;

  // Drops the open store (shutdown; a reload that changed the busy timeout).
  void close();

 private:
  std::shared_ptr<Store> open_locked();

  StoreOpener opener_;
  const Clock& clock_;
  std::mutex mutex_;
  std::string path_;
  std::string display_;  // path_ fit for a log line (no password)
  bool file_ = true;     // a SQLite file, watched for replacement
  int busy_timeout_ms_ = 5000;
  std::shared_ptr<Store> store_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  UnixTime retry_after_ = 0;  // no open before this second after a failure
  std::string last_error_;
};

// The store as the reply worker needs it: one object that lives as long as the daemon and
// forwards each call to whatever the source holds now (so a reopened database is picked up
// without restarting the worker). Every call may throw StoreError, like the store's own.
class CurrentStore final : public Store, public Outbox {
 public:
  explicit CurrentStore(StoreSource& source) : source_(source) {}

  std::optional<ProtectedMailbox> find_mailbox(std::string_view recipient) override {
    return source_.acquire()->find_mailbox(recipient);
  }
  std::vector<SenderRule> matching_rules(std::int64_t mailbox_id, std::string_view sender) override {
    return source_.acquire()->matching_rules(mailbox_id, sender);
  }
  void record_message(const MessageWrites& writes) override { source_.acquire()->record_message(writes); }
  PairRedemption redeem_pair_code(const PairAttempt& attempt,
                                  const std::function<PairEffects(const PairCheck&)>& effects) override {
    return source_.acquire()->redeem_pair_code(attempt, effects);
  }
  PairCheck peek_pair_code(const PairAttempt& attempt) override { return source_.acquire()->peek_pair_code(attempt); }
  RegistryView registry_view(std::string_view recipient, std::string_view task_id,
                             std::string_view message_id) override {
    return source_.acquire()->registry_view(recipient, task_id, message_id);
  }
  std::optional<OutboxReply> queued_reply(std::string_view message_id) override {
    return source_.acquire()->queued_reply(message_id);
  }

  std::vector<OutboxReply> due_replies(UnixTime now, int limit) override { return outbox()->due_replies(now, limit); }
  OutboxBacklog backlog() override { return outbox()->backlog(); }
  bool claim(std::int64_t id, UnixTime now, UnixTime until) override { return outbox()->claim(id, now, until); }
  void release(std::int64_t id, UnixTime due_at) override { outbox()->release(id, due_at); }
  void mark_sent(std::int64_t id, UnixTime now) override { outbox()->mark_sent(id, now); }
  void mark_failed(std::int64_t id, UnixTime next_attempt_at, const std::string& error) override {
    outbox()->mark_failed(id, next_attempt_at, error);
  }
  void mark_abandoned(std::int64_t id, UnixTime now, const std::string& error) override {
    outbox()->mark_abandoned(id, now, error);
  }

 private:
  std::shared_ptr<Outbox> outbox() {
    auto outbox = std::dynamic_pointer_cast<Outbox>(source_.acquire());
    if (!outbox) throw StoreError(StoreErrorKind::io, "this store keeps no outbox");
    return outbox;
  }
  StoreSource& source_;
};

}  // namespace aamp::milter
