// daemon_signals.hpp — how the daemon's signals reach it. HUP, USR1, TERM and INT get a
// handler that writes the signal's number into a pipe; the main thread — which never runs
// smfi_main and keeps these signals unblocked — reads the pipe (in poll(), which a handler
// never restarts: ThreadSanitizer runs handlers only when the interrupted call returns).
// Every other thread blocks them, so the main thread is the only one that takes them.
// libmilter's own signal thread, which would stop the milter on HUP, never takes a signal:
// its sigwait() is replaced at link time (libmilter_sigwait.cpp).
// No libmilter. Threading: install() before any thread starts; wait() on the main thread;
// post() from any thread; the handler is async-signal-safe.
#pragma once

#include <pthread.h>

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

 private:
  int read_fd_ = -1;
  sigset_t set_{};
};

}  // namespace aamp::milter
