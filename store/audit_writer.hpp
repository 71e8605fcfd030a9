// audit_writer.hpp — group commit for what decisions write: each message's audit rows and
// registry entries (policy/store.hpp MessageWrites). Every message's writes are committed
// before the milter answers the MTA (a write that fails still takes the configured store
// failure action), but the writes of messages that arrive while a commit is in flight
// share the next transaction: the per-commit cost (WAL frames for each table and index
// page on SQLite, a round trip on PostgreSQL) is paid once per batch instead of once per
// message. No thread of its own: the first waiting caller commits for everyone waiting
// (leader/follower). Thread-safe; no SQL in this header.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "policy/store.hpp"

namespace aamp::store {

class AuditWriter {
 public:
  // Writes the given messages' writes in ONE transaction, or throws (and writes none).
  using CommitBatch = std::function<void(const std::vector<const MessageWrites*>& batch)>;

  explicit AuditWriter(CommitBatch commit, std::size_t max_batch = 128);

  // Returns once `writes` are committed; throws what their commit threw. When a batch of
  // several messages fails, each is retried alone, so one bad write fails only its caller.
  void write(const MessageWrites& writes);

 private:
  struct Waiter {
    const MessageWrites* writes;
    bool done = false;
    std::exception_ptr error;
  };
  void lead(std::unique_lock<std::mutex>& lock);  // commits one batch; lock held on entry and exit

  const CommitBatch commit_;
  const std::size_t max_batch_;
  std::mutex mu_;
  std::condition_variable done_;
  std::vector<Waiter*> pending_;  // oldest first
  bool leading_ = false;          // a caller is committing a batch right now
};

}  // namespace aamp::store
