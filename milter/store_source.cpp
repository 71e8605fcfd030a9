// store_source.cpp — see store_source.hpp.
#include "milter/store_source.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <system_error>

#include "milter/log.hpp"
#include "store/database_name.hpp"

namespace aamp::milter {

void ReopeningStoreSource::configure(const std::string& path, int busy_timeout_ms) {
  std::lock_guard lock(mutex_);
  if (path != path_ || busy_timeout_ms != busy_timeout_ms_) {
    store_.reset();
    retry_after_ = 0;
  }
  path_ = path;
  display_ = store::display_database(path);
  file_ = store::dialect_of(path) == store::Dialect::sqlite;
  busy_timeout_ms_ = busy_timeout_ms;
}

void ReopeningStoreSource::open_now() {
  std::lock_guard lock(mutex_);
  store_.reset();
  retry_after_ = 0;
  open_locked();
}

void ReopeningStoreSource::close() {
  std::lock_guard lock(mutex_);
  store_.reset();
}

std::shared_ptr<Store> ReopeningStoreSource::open_locked() {
  struct stat st {};
  if (file_ && stat(path_.c_str(), &st) != 0) {
    const int err = errno;
    retry_after_ = clock_.now() + 1;
    last_error_ = "cannot open the database " + path_ + ": " + std::generic_category().message(err) +
                  (err == ENOENT ? " (create it with `aampctl init`)" : "");
    throw StoreError(StoreErrorKind::unavailable, last_error_);
  }
  try {
    auto store = opener_(path_, busy_timeout_ms_);
    if (!store) throw StoreError(StoreErrorKind::unavailable, "the database " + display_ + " did not open");
    if (file_ && stat(path_.c_str(), &st) != 0)
      throw StoreError(StoreErrorKind::unavailable, "the database " + path_ + " vanished while it was opened");
    store_ = std::move(store);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    if (!last_error_.empty()) logf(Severity::notice, "database {} is available again", display_);
    last_error_.clear();
    retry_after_ = 0;
    return store_;
  } catch (const StoreError& e) {
    retry_after_ = clock_.now() + 1;
    if (last_error_ != e.what()) logf(Severity::error, "database {}: {}", display_, e.what());
    last_error_ = e.what();
    throw;
  }
}

std::shared_ptr<Store> ReopeningStoreSource::acquire() {
  std::lock_guard lock(mutex_);
  if (store_ && !file_) return store_;  // a server: its driver reconnects by itself
  if (store_) {
    struct stat st {};
    // One stat per message: cheap, and it notices a database restored from a backup or
    // replaced by a file that is not one (the open handle would still see the old inode).
    if (stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) return store_;
    logf(Severity::notice, "database {} was replaced or removed: opening it again", path_);
    store_.reset();
    retry_after_ = 0;
  }
  if (clock_.now() < retry_after_)
    throw StoreError(StoreErrorKind::unavailable, last_error_.empty() ? "the database is unavailable" : last_error_);
  return open_locked();
}

}  // namespace aamp::milter
