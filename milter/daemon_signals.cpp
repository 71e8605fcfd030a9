// daemon_signals.cpp — see daemon_signals.hpp.
#include "milter/daemon_signals.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>

namespace aamp::milter {

namespace {

int g_write_fd = -1;  // set once, before the handlers are installed

void on_signal(int sig) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(sig);
  // Non-blocking: a full pipe (a flood of signals) drops the byte; the reader has many.
  (void)!::write(g_write_fd, &byte, 1);
  errno = saved;
}

}  // namespace

void SignalPipe::install() {
  sigemptyset(&set_);
  for (int s : {SIGHUP, SIGUSR1, SIGTERM, SIGINT}) sigaddset(&set_, s);
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set_, nullptr); rc != 0)
    throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  if (fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) throw std::system_error(errno, std::generic_category(), "fcntl");
  read_fd_ = fds[0];
  g_write_fd = fds[1];
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // SA_NODEFER: the main thread keeps the signal unblocked while its handler runs, so a
  // second one arriving then waits for no other thread.
  sa.sa_flags = SA_RESTART | SA_NODEFER;
  for (int s : {SIGHUP, SIGUSR1, SIGTERM, SIGINT})
    if (sigaction(s, &sa, nullptr) != 0) throw std::system_error(errno, std::generic_category(), "sigaction");
}

void SignalPipe::unblock_here() { (void)pthread_sigmask(SIG_UNBLOCK, &set_, nullptr); }

int SignalPipe::wait() {
  // poll(), not a blocking read(): a handler installed with SA_RESTART restarts read() after
  // it runs, but poll() always returns EINTR. That matters where the handler does not run in
  // the interrupted call itself — ThreadSanitizer defers a signal's handler to the end of the
  // intercepted call, so a restarted read() would never see the byte the handler writes.
  while (true) {
    pollfd fd{read_fd_, POLLIN, 0};
    const int ready = ::poll(&fd, 1, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return kMilterEnded;  // cannot happen on a valid fd; treat it as the end
    unsigned char byte = 0;
    const ssize_t n = ::read(read_fd_, &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    // The write end never closes while we run; anything else is a bug: treat it as the end.
    return kMilterEnded;
  }
}

void SignalPipe::post_milter_ended() {
  const auto byte = static_cast<unsigned char>(kMilterEnded);
  // This byte must arrive: wait while a flood of signals fills the pipe.
  while (::write(g_write_fd, &byte, 1) != 1) {
    if (errno != EAGAIN && errno != EINTR) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

pthread_t SignalPipe::start_blocked_thread(void* (*body)(void*), void* arg) const {
  pthread_attr_t attr;
  if (const int rc = pthread_attr_init(&attr); rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_attr_init");
  int rc = pthread_attr_setsigmask_np(&attr, &set_);
  pthread_t thread{};
  if (rc == 0) rc = pthread_create(&thread, &attr, body, arg);
  (void)pthread_attr_destroy(&attr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_create");
  return thread;
}

}  // namespace aamp::milter
