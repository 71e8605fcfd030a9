// outbox_worker_helper.cpp — the reply worker as a process of its own, for the fault test
// that kills it with SIGKILL mid-send (tests/unit/outbox_worker_test.cpp). Runs an
// OutboxWorker over a SQLite outbox with a sendmail transport until SIGTERM or SIGINT,
// then stops it cleanly. Signals are blocked in every thread and taken by sigwait, as
// libmilter does in the daemon. Log lines go to stderr.
//   usage: outbox_worker_helper DATABASE SENDMAIL_PROGRAM
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "mail/outbox_worker.hpp"
#include "mail/sendmail_transport.hpp"
#include "platform/system.hpp"
#include "store/sql_store.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATABASE SENDMAIL_PROGRAM\n", argv[0]);
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    aamp::store::SqlStore store(argv[1]);
    aamp::mail::SendmailTransport transport(argv[2], {}, std::chrono::seconds(60));
    aamp::SystemClock clock;
    aamp::mail::OutboxWorkerOptions options;
    options.poll_interval = std::chrono::milliseconds(100);
    options.retry_initial = std::chrono::seconds(1);
    options.lock_file = std::string(argv[1]) + ".outbox.lock";  // as the daemon sets it on a SQLite file
    aamp::mail::OutboxWorker worker(
        store, transport, clock, options,
        [](aamp::mail::LogLevel, const std::string& line) { std::fprintf(stderr, "worker: %s\n", line.c_str()); },
        &store);
    worker.start();
    std::fprintf(stderr, "helper: started\n");
    int signal = 0;
    sigwait(&signals, &signal);
    worker.stop();
    std::fprintf(stderr, "helper: stopped by signal %d\n", signal);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "helper: %s\n", e.what());
    return 1;
  }
}
