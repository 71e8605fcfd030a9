// audit_writer.hpp — group commit for audit rows. Every decision's row is committed before
// the milter answers the MTA (an audit write that fails still takes the configured store
// failure action), but rows that arrive while a commit is in flight share the next
// transaction: the per-commit cost (WAL frames for the table and each index page) is paid
// once per batch instead of once per row. No thread of its own: the first waiting caller
// commits for everyone waiting (leader/follower). Thread-safe; no SQLite in this header.
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
  // Writes the given rows in ONE transaction, or throws (and writes none).
  using CommitBatch = std::function<void(const std::vector<const AuditRecord*>& rows)>;

  explicit AuditWriter(CommitBatch commit, std::size_t max_batch = 128);

  // Returns once `record` is committed; throws what its commit threw. When a batch of
  // several rows fails, each row is retried alone, so one bad row fails only its caller.
  void write(const AuditRecord& record);

 private:
  struct Waiter {
    const AuditRecord* record;
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
