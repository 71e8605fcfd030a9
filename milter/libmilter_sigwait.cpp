// libmilter_sigwait.cpp — takes libmilter's signal thread out of signal handling.
// libmilter's smfi_main starts a thread that sigwait()s for HUP, TERM and INT and stops the
// milter on any of them (sendmail's libmilter/signal.c, mi_signal_thread); it has no option
// to turn that off. The daemon takes these signals itself (daemon_signals.hpp): HUP reloads.
// A second taker of the same signals would race the first: the kernel hands a process's
// signal to whichever thread can take it, so a HUP meant to reload could stop the milter.
// The executable links libmilter statically with `-Wl,--wrap=sigwait` (milter/CMakeLists.txt),
// so libmilter's one call to sigwait() — the only one in the program — lands here, and here
// it never returns: that thread sleeps with every signal blocked until the process ends,
// and the main thread is the only one that ever takes HUP, USR1, TERM or INT.
#include <csignal>

#include <pthread.h>
#include <unistd.h>

// NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): the name --wrap requires
extern "C" int __wrap_sigwait(const sigset_t* /*set*/, int* /*sig*/) {
  sigset_t all;
  sigfillset(&all);
  (void)pthread_sigmask(SIG_BLOCK, &all, nullptr);
  while (true) pause();  // no signal is unblocked here: pause() never returns
}
