// policy_cache.hpp — the protected mailboxes and sender rules in memory, so that the two
// lookups every AAMP message makes (find_mailbox, matching_rules) cost no database round
// trip. Loaded in full at construction; then a background thread re-reads only the
// mailboxes the change log (policy_changes, schema 0005) names, every refresh_interval.
// A cache whose last successful refresh is older than max_staleness refuses to answer
// (StoreError unavailable): the milter applies On-StoreError rather than an old policy.
// Pair codes and lockouts are never cached. The SQL lives behind PolicySource
// (store/sql_policy_source.*); nothing here knows SQL.
// Threading: lookups from any number of threads, lock-free except for one mutex held
// only to copy the current snapshot's pointer; refresh() from any thread (calls take turns).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "policy/sender_pattern.hpp"
#include "policy/store.hpp"

namespace aamp::store {

// One sender rule as the cache keeps it: the rule and its pattern kind (which the
// matching needs and SenderRule does not carry).
struct CachedRule {
  SenderRule rule;
  PatternKind kind = PatternKind::exact;
};

// One mailbox's row and all its rules, as the database holds them now.
struct MailboxRows {
  ProtectedMailbox mailbox;
  std::vector<CachedRule> rules;
};

// One row of the change log: something about mailbox `mailbox_id` changed.
struct PolicyChange {
  std::int64_t seq = 0;
  std::int64_t mailbox_id = 0;
};

// Everything, and the last change the data includes (at least).
struct PolicyLoad {
  std::int64_t seq = 0;
  std::vector<MailboxRows> mailboxes;
};

// Where the cache reads policy from. Implementations throw StoreError.
class PolicySource {
 public:
  virtual ~PolicySource() = default;
  // The highest seq of the change log first, then every mailbox and rule, read after it:
  // the data is at least as new as the seq, so no change is skipped.
  virtual PolicyLoad load_all() = 0;
  // The change log after `seq`, in seq order.
  virtual std::vector<PolicyChange> changes_since(std::int64_t seq) = 0;
  // The change log's end: the highest seq (0 when empty). One indexed read.
  virtual std::int64_t last_seq() = 0;
  // These mailboxes as they are now, with their rules; one that no longer exists is absent.
  virtual std::vector<MailboxRows> load_mailboxes(std::span<const std::int64_t> ids) = 0;
  // The database as messages name it (never a password: display_database()).
  virtual const std::string& name() const noexcept = 0;
};

struct PolicyCacheOptions {
  std::chrono::milliseconds refresh_interval{250};  // how often the background thread refreshes
  // Lookups throw StoreError(unavailable) once the last successful refresh is older: with
  // the interval above, a change is enforced within about interval + max_staleness.
  std::chrono::milliseconds max_staleness{1000};
  // A refresh after a gap longer than this (the database away for a long time) reloads
  // everything instead of reading the change log, which is pruned after a day.
  std::chrono::milliseconds full_reload_after{std::chrono::hours(1)};
  // More changed mailboxes than this in one refresh: one full load beats many small reads.
  std::size_t max_incremental = 256;
  bool background = true;  // false: refresh() is called by hand (tests)
  // Monotonic time; injected so tests decide what is stale.
  std::function<std::chrono::steady_clock::time_point()> clock = [] { return std::chrono::steady_clock::now(); };
};

class PolicyCache {
 public:
  // Loads everything now (StoreError when that fails) and starts the refresh thread.
  explicit PolicyCache(std::unique_ptr<PolicySource> source, PolicyCacheOptions options = {});
  ~PolicyCache();  // stops the thread at once, even in the middle of its wait
  PolicyCache(const PolicyCache&) = delete;
  PolicyCache& operator=(const PolicyCache&) = delete;

  // Exactly Store::find_mailbox and Store::matching_rules (as store/sqlite_store.cpp
  // answers them), from memory. StoreError(unavailable) when the cache is stale.
  std::optional<ProtectedMailbox> find_mailbox(std::string_view recipient) const;
  std::vector<SenderRule> matching_rules(std::int64_t mailbox_id, std::string_view sender) const;

  // Reads the change log and publishes a new snapshot when something changed. Remembers a
  // failure (last_error) and rethrows it; the next call tries again.
  void refresh();
  // Catches up at once when the change log moved past the snapshot: one read of its end,
  // and a refresh only when it did. What a store whose database is a local file calls
  // before each message's lookups, so that a change is enforced from the next message on.
  // Throws StoreError like refresh().
  void sync();

  std::size_t mailbox_count() const;
  std::size_t rule_count() const;
  // The change log position the current snapshot includes.
  std::int64_t seq() const;
  // Heap bytes the current snapshot holds, estimated from sizes and capacities (strings,
  // vectors, hash nodes and buckets; allocator overhead not counted).
  std::size_t memory_bytes() const;
  // The last refresh failure's message; "" after a success.
  std::string last_error() const;

  struct Snapshot;  // defined in policy_cache.cpp

 private:
  std::shared_ptr<const Snapshot> current() const;
  std::shared_ptr<const Snapshot> fresh() const;  // current(), or StoreError when stale
  void publish(std::shared_ptr<const Snapshot> next);
  void run() noexcept;

  const std::unique_ptr<PolicySource> source_;
  const PolicyCacheOptions options_;

  mutable std::mutex snapshot_mu_;  // held only to copy or swap snapshot_
  std::shared_ptr<const Snapshot> snapshot_;
  // steady_clock ticks of the last successful refresh (or load).
  std::atomic<std::chrono::steady_clock::rep> refreshed_at_{0};

  std::mutex refresh_mu_;  // one refresh at a time: each builds on the snapshot the last one published
  mutable std::mutex error_mu_;
  std::string last_error_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: started after everything above exists
};

}  // namespace aamp::store
