// audit_writer_test.cpp — group commit of what decisions write (store/audit_writer.hpp):
// every message's writes are committed exactly once and before its write() returns,
// concurrent messages share commits, a failing write fails only its own caller, and a
// failing store fails everyone.
#include "store/audit_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace aamp::store {
namespace {

using namespace std::chrono_literals;

// Records what each commit wrote; optionally slow, optionally refusing some rows.
struct Sink {
  std::mutex mu;
  std::map<std::string, int> committed;  // message_id -> times committed
  int commits = 0;
  std::set<std::string> refuse;          // a batch holding one of these throws
  bool fail_all = false;
  std::chrono::microseconds delay{0};

  void commit(const std::vector<const MessageWrites*>& batch) {
    std::this_thread::sleep_for(delay);
    const std::lock_guard lock(mu);
    if (fail_all) throw StoreError(StoreErrorKind::full, "disk full");
    for (const auto* m : batch)
      for (const auto& r : m->audit)
        if (refuse.contains(r.message_id)) throw StoreError(StoreErrorKind::io, "CHECK constraint failed");
    for (const auto* m : batch)
      for (const auto& r : m->audit) ++committed[r.message_id];
    ++commits;
  }
  int times(const std::string& id) {
    const std::lock_guard lock(mu);
    const auto it = committed.find(id);
    return it == committed.end() ? 0 : it->second;
  }
};

MessageWrites row(const std::string& id) {
  AuditRecord r;
  r.message_id = id;
  return {{r}, {}};
}

TEST(AuditWriter, OneCallerCommitsAlone) {
  Sink sink;
  AuditWriter w([&](const auto& rows) { sink.commit(rows); });
  w.write(row("a"));
  w.write(row("b"));
  EXPECT_EQ(sink.times("a"), 1);
  EXPECT_EQ(sink.times("b"), 1);
  EXPECT_EQ(sink.commits, 2);
}

TEST(AuditWriter, ConcurrentRowsShareCommitsAndEachIsCommittedBeforeItsWriteReturns) {
  Sink sink;
  sink.delay = 2ms;  // a commit takes a while, as an fsync-ing one does
  AuditWriter w([&](const auto& rows) { sink.commit(rows); });
  constexpr int kThreads = 8, kEach = 40;
  std::atomic<int> early{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        w.write(row(id));
        if (sink.times(id) != 1) ++early;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(early.load(), 0) << "a write returned before its row was committed";
  EXPECT_EQ(sink.committed.size(), static_cast<std::size_t>(kThreads * kEach));
  for (const auto& [id, n] : sink.committed) EXPECT_EQ(n, 1) << id;
  EXPECT_LT(sink.commits, kThreads * kEach) << "no two rows ever shared a commit";
}

TEST(AuditWriter, ABadRowFailsOnlyItsOwnCaller) {
  Sink sink;
  sink.delay = 2ms;
  sink.refuse = {"bad"};
  AuditWriter w([&](const auto& rows) { sink.commit(rows); });
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      try {
        w.write(row(t == 3 ? "bad" : "good-" + std::to_string(t)));
      } catch (const StoreError&) {
        ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 1);
  EXPECT_EQ(sink.times("bad"), 0);
  for (int t = 0; t < 6; ++t) {
    if (t != 3) {
      EXPECT_EQ(sink.times("good-" + std::to_string(t)), 1) << t;
    }
  }
}

TEST(AuditWriter, AFailingStoreFailsEveryCallerWithItsError) {
  Sink sink;
  sink.fail_all = true;
  AuditWriter w([&](const auto& rows) { sink.commit(rows); });
  std::atomic<int> full{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      try {
        w.write(row("x"));
      } catch (const StoreError& e) {
        if (e.kind() == StoreErrorKind::full) ++full;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(full.load(), 4);
  sink.fail_all = false;
  EXPECT_NO_THROW(w.write(row("after")));  // the writer recovers when the store does
}

}  // namespace
}  // namespace aamp::store
