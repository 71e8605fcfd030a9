// race_helper_main.cpp — the second process of sqlite_store_test's cross-process race.
// Opens the database with its own SqlStore and prints "ready". Then, for each CODE in
// turn: waits for one line on stdin (the round's start signal, sent when the test's own
// threads start on the same code), has THREADS threads try to redeem that code at once,
// prints "<code> <outcome>" per attempt and then "done".
//   store_race_helper DB MAILBOX_ID REQUESTER THREADS NOW CODE...
// Exit status 0 when every attempt returned an outcome, 1 on a StoreError or bad usage.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/sql_store.hpp"

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: store_race_helper DB MAILBOX_ID REQUESTER THREADS NOW CODE...\n");
    return 1;
  }
  try {
    aamp::store::StoreOptions options;
    options.max_connections = std::atoi(argv[4]);
    aamp::store::SqlStore store(argv[1], options);
    const std::int64_t mailbox_id = std::atoll(argv[2]);
    const std::string requester = argv[3];
    const int threads = std::atoi(argv[4]);
    const aamp::UnixTime now = std::atoll(argv[5]);
    const std::vector<std::string> codes(argv + 6, argv + argc);

    std::cout << "ready" << std::endl;
    std::mutex out_mu;
    bool failed = false;
    for (const auto& code : codes) {
      std::string line;
      if (!std::getline(std::cin, line)) return 1;
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
          aamp::PairAttempt a;
          a.mailbox_id = mailbox_id;
          a.requester = requester;
          a.code = code;
          a.now = now;
          a.limits.max_failures = 1'000'000;  // the race is about consuming, not lockouts
          try {
            const auto r = store.redeem_pair_code(a, [&](const aamp::PairCheck&) {
              aamp::PairEffects fx;
              fx.audit.at = now;
              fx.audit.verdict = aamp::AuditVerdict::pair_rejected;
              return fx;
            });
            std::lock_guard lock(out_mu);
            std::cout << code << ' ' << aamp::to_string(r.check.outcome) << '\n';
          } catch (const std::exception& e) {
            std::lock_guard lock(out_mu);
            std::cerr << "store_race_helper: " << e.what() << '\n';
            failed = true;
          }
        });
      }
      for (auto& t : pool) t.join();
      std::cout << "done" << std::endl;
    }
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_race_helper: %s\n", e.what());
    return 1;
  }
}
