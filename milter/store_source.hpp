// store_source.hpp — the daemon's StoreSource: opens the policy database on demand and
// opens it again when that is the way back to service: after a failed open (at most once
// a second, so a broken database does not cost every message an open), after the file was
// replaced (another inode at the same path), and when a reload names another file. A
// database file that vanished is never re-created behind the operator's back: that would
// be an empty policy, protecting nothing. No SQLite here: the opener is injected.
// Thread-safe: acquire() and configure() take one mutex; an open runs under it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "milter/session.hpp"

namespace aamp::milter {

// Opens (and, with `create`, creates and migrates) the store at `path`. Throws StoreError.
using StoreOpener = std::function<std::shared_ptr<Store>(const std::string& path, int busy_timeout_ms, bool create)>;

class ReopeningStoreSource final : public StoreSource {
 public:
  ReopeningStoreSource(StoreOpener opener, const Clock& clock) : opener_(std::move(opener)), clock_(clock) {}

  // Sets the database; a different path than before drops the open store (the next
  // acquire opens the new one). Does not open.
  void configure(const std::string& path, int busy_timeout_ms);

  // Opens now, creating the file when it is missing (startup). Throws StoreError.
  void open_now();

  std::shared_ptr<Store> acquire() override;

  // Drops the open store (shutdown; a reload that changed the busy timeout).
  void close();

 private:
  std::shared_ptr<Store> open_locked(bool create);

  StoreOpener opener_;
  const Clock& clock_;
  std::mutex mutex_;
  std::string path_;
  int busy_timeout_ms_ = 5000;
  std::shared_ptr<Store> store_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  UnixTime retry_after_ = 0;  // no open before this second after a failure
  std::string last_error_;
};

}  // namespace aamp::milter
