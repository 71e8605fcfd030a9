// audit_writer.cpp — see audit_writer.hpp.
#include "store/audit_writer.hpp"

#include <algorithm>

namespace aamp::store {

AuditWriter::AuditWriter(CommitBatch commit, std::size_t max_batch)
    : commit_(std::move(commit)), max_batch_(std::max<std::size_t>(1, max_batch)) {}

void AuditWriter::write(const MessageWrites& writes) {
  Waiter me{&writes, false, nullptr};
  std::unique_lock lock(mu_);
  // cppcheck-suppress danglingLifetime ; a leader takes &me out of pending_ before it sets
  // me.done, and this function does not return before me.done
  pending_.push_back(&me);
  while (!me.done) {
    if (!leading_) {
      lead(lock);
    } else {
      done_.wait(lock);
    }
  }
  if (me.error) std::rethrow_exception(me.error);
}

void AuditWriter::lead(std::unique_lock<std::mutex>& lock) {
  leading_ = true;
  const auto n = std::min(pending_.size(), max_batch_);
  std::vector<Waiter*> batch(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  lock.unlock();

  std::vector<const MessageWrites*> writes;
  writes.reserve(batch.size());
  for (const Waiter* w : batch) writes.push_back(w->writes);
  try {
    commit_(writes);
  } catch (...) {
    if (batch.size() == 1) {
      batch.front()->error = std::current_exception();
    } else {  // find out whose write it was: each alone, each with its own outcome
      for (Waiter* w : batch) {
        try {
          commit_({w->writes});
        } catch (...) {
          w->error = std::current_exception();
        }
      }
    }
  }

  lock.lock();
  for (Waiter* w : batch) w->done = true;
  leading_ = false;
  done_.notify_all();
}

}  // namespace aamp::store
