// daemon_signals.hpp — how the daemon's signals reach it. libmilter's smfi_main starts a
// thread of its own that sigwait()s for HUP, TERM and INT and stops the milter on any of
// them (sendmail's libmilter/signal.c), so a plain sigwait() of ours for HUP would race it.
// Instead: HUP, USR1, TERM and INT get a handler that writes the signal's number into a pipe,
// and the main thread — which never runs smfi_main and keeps these signals unblocked — reads
// the pipe (in poll(), which a handler never restarts: ThreadSanitizer runs handlers only when
// the interrupted call returns). Linux offers a signal sent to the process to its main thread
// first when that thread does not block it (kernel/signal.c, complete_signal), so libmilter's
// thread never sees one; every other thread blocks them, and readiness waits until libmilter's
// thread is in sigwait (a HUP pending as it starts waiting would be its). What is left to
// chance (a HUP arriving while the main thread has another signal pending and is not running)
// makes libmilter stop on its own; the daemon then exits non-zero (daemon.cpp) so that
// systemd's Restart=on-failure restarts it.
// No libmilter. Threading: install() before any thread starts; wait() on the main thread;
// post() from any thread; the handler is async-signal-safe.
#pragma once

#include <pthread.h>

#include <chrono>
#include <csignal>

namespace aamp::milter {

class SignalPipe {
 public:
  // What wait() returns besides a signal number: a thread said the milter ended.
  static constexpr int kMilterEnded = 0;

  // Blocks HUP, USR1, TERM and INT in the calling thread (threads started afterwards inherit
  // the mask), makes the pipe and installs the handlers. Throws std::system_error.
  void install();
  // Unblocks the four signals in the calling thread (the main thread, once every thread
  // that must not take them has started): signals sent meanwhile arrive now.
  void unblock_here();
  // The next signal number (SIGHUP, SIGUSR1, SIGTERM, SIGINT) or kMilterEnded; blocks.
  int wait();
  // Queues kMilterEnded for wait(); from any thread.
  void post_milter_ended();
  // Starts `body` on a thread with the four signals blocked (the thread that runs
  // smfi_main), whatever the calling thread's mask. Throws std::system_error.
  pthread_t start_blocked_thread(void* (*body)(void*), void* arg) const;
  // Waits (at most `timeout`) until a thread other than the calling one waits in sigwait()
  // for SIGHUP — libmilter's signal thread, the only one that does — read from
  // /proc/self/task/*/status, where a thread in sigwait shows the signals it waits for as
  // unblocked. A HUP sent before then could be taken by that thread as it starts waiting.
  // False when the timeout passed.
  bool await_foreign_sigwait(std::chrono::milliseconds timeout) const;

 private:
  int read_fd_ = -1;
  sigset_t set_{};
};

}  // namespace aamp::milter
