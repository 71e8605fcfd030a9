// audit_writer.cpp — see audit_writer.hpp.
#include "store/audit_writer.hpp"

#include <algorithm>

namespace aamp::store {

AuditWriter::AuditWriter(CommitBatch commit, std::size_t max_batch)
    : commit_(std::move(commit)), max_batch_(std::max<std::size_t>(1, max_batch)) {}

void AuditWriter::write(const AuditRecord& record) {
  Waiter me{&record, false, nullptr};
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

  std::vector<const AuditRecord*> rows;
  rows.reserve(batch.size());
  for (const Waiter* w : batch) rows.push_back(w->record);
  try {
    commit_(rows);
  } catch (...) {
    if (batch.size() == 1) {
      batch.front()->error = std::current_exception();
    } else {  // find out whose row it was: each alone, each with its own outcome
      for (Waiter* w : batch) {
        try {
          commit_({w->record});
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
