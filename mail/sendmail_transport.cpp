// sendmail_transport.cpp — see sendmail_transport.hpp. Between fork() and execve() the
// child of a multi-threaded process may only make async-signal-safe calls: everything it
// needs (argv, envp) is built before the fork, and it only calls prctl, getppid, dup2,
// fcntl, close_range, sigprocmask, sigaction, execve, write and _exit.
#include "mail/sendmail_transport.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <stop_token>
#include <system_error>
#include <utility>

#include "policy/reply_fields.hpp"
#include "policy/text_safety.hpp"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace aamp::mail {
namespace {

using namespace std::string_view_literals;

constexpr std::size_t kMaxCapturedOutput = 2048;

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

std::string errno_text(const char* what) { return fmt::format("{}: {}", what, std::generic_category().message(errno)); }

// Moves a descriptor to 3 or above (close-on-exec), so that the child's dup2 onto 0, 1
// and 2 can never clobber one of its own sources, even if the daemon runs with a standard
// descriptor closed.
Fd above_stdio(Fd fd) {
  if (fd.get() > 2) return fd;
  return Fd(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37): call the kernel directly.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string to_lf(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
    out.push_back(message[i]);
  }
  return out;
}

// Writes "sendmail: cannot execute: errno N\n" with async-signal-safe calls only.
void report_exec_failure(int error) {
  char text[64] = "cannot execute the sendmail program: errno ";
  std::size_t len = std::strlen(text);
  char digits[12];
  std::size_t n = 0;
  unsigned value = error < 0 ? 0u : static_cast<unsigned>(error);
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && n < sizeof digits);
  while (n > 0 && len + 2 < sizeof text) text[len++] = digits[--n];
  text[len++] = '\n';
  [[maybe_unused]] const auto ignored = ::write(2, text, len);
}

// The child: never returns.
[[noreturn]] void exec_child(int input, int output, pid_t parent, char* const argv[]) {
  // Die with the thread that forked us; and if it is gone already, do not start at all.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  ::dup2(input, 0);
  ::dup2(output, 1);
  ::dup2(output, 2);
  ::close_range(3, ~0U, 0);
  // The daemon's threads block signals (libmilter's do) and may ignore SIGPIPE; both would
  // survive execve. Give sendmail a clean slate.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // NOLINT(concurrency-mt-unsafe): the child has one thread
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
  ::execve(argv[0], argv, environ);
  report_exec_failure(errno);
  ::_exit(127);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 75) return "exit status 75 (EX_TEMPFAIL)";
    if (code == 127) return "exit status 127 (could not execute)";
    return fmt::format("exit status {}", code);
  }
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("wait status {:#x}", status);
}

}  // namespace

SendmailTransport::SendmailTransport(std::string path, std::vector<std::string> args,
                                     std::chrono::milliseconds timeout)
    : path_(std::move(path)), args_(std::move(args)), timeout_(timeout) {}

std::string SendmailTransport::describe() const {
  std::string text = "sendmail:" + path_;
  for (const auto& arg : args_) text += " " + arg;
  return text;
}

SendResult SendmailTransport::send(std::string_view message, std::string_view envelope_from,
                                   std::string_view recipient, std::stop_token stop) {
  if (!envelope_from.empty() && !is_reply_mailbox(envelope_from))
    return {SendStatus::permanent, "the envelope sender is not a plain addr-spec"};
  if (!is_reply_mailbox(recipient)) return {SendStatus::permanent, "the recipient is not a plain addr-spec"};

  const std::string input = to_lf(message);
  std::vector<std::string> words;
  words.reserve(args_.size() + 6);
  words.push_back(path_);
  words.insert(words.end(), args_.begin(), args_.end());
  // -i: a line with a lone "." is text, not the end. "<>" is the null sender (Postfix
  // and Sendmail both read it so). "--" ends the options: the recipient is never one.
  for (std::string_view w : {"-i"sv, "-f"sv}) words.emplace_back(w);
  words.emplace_back(envelope_from.empty() ? "<>" : std::string(envelope_from));
  words.emplace_back("--");
  words.emplace_back(recipient);
  std::vector<char*> argv;
  argv.reserve(words.size() + 1);
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  // stdin is a complete in-memory file, written before sendmail starts, never a pipe we
  // feed: sendmail takes EOF on stdin for the end of the message (with -i or without), so
  // a pipe cut off by our death would have it queue a truncated reply. From a file it can
  // only ever read the whole message. The read offset, shared with the child, tells us
  // afterwards how much it read.
  Fd input_file(::memfd_create("aamp-reply", MFD_CLOEXEC));
  if (!input_file) return {SendStatus::temporary, errno_text("memfd_create")};
  input_file = above_stdio(std::move(input_file));
  for (std::size_t done = 0; done < input.size();) {
    const ssize_t n = ::write(input_file.get(), input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {SendStatus::temporary, errno_text("writing the message to memory")};
    done += static_cast<std::size_t>(n);
  }
  if (::lseek(input_file.get(), 0, SEEK_SET) != 0) return {SendStatus::temporary, errno_text("lseek")};
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {SendStatus::temporary, errno_text("pipe2")};
  Fd from_child = above_stdio(Fd(pipe_fds[0]));
  Fd child_output = above_stdio(Fd(pipe_fds[1]));
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!input_file || !from_child || !child_output || !wake)
    return {SendStatus::temporary, errno_text("descriptor setup")};
  const std::stop_callback on_stop(stop, [fd = wake.get()] {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto ignored = ::write(fd, &one, sizeof one);
  });

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return {SendStatus::temporary, errno_text("fork")};
  if (pid == 0) exec_child(input_file.get(), child_output.get(), parent, argv.data());

  child_output.reset();
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  Fd child_fd(open_pidfd(pid));
  // Without pidfd_open (Linux before 5.3, seccomp filters that predate it, valgrind 3.19)
  // the exit is noticed by waitpid(WNOHANG) between short polls instead.
  const bool poll_for_exit = !child_fd && errno == ENOSYS;
  if (!child_fd && !poll_for_exit) {  // cannot watch it: do not leave it behind
    const std::string error = errno_text("pidfd_open");
    ::kill(pid, SIGKILL);
    int ignored = 0;
    ::waitpid(pid, &ignored, 0);
    return {SendStatus::temporary, error};
  }
  set_nonblocking(from_child.get());

  std::string output;
  const auto capture = [&output](const char* data, ssize_t n) {
    if (n > 0 && output.size() < kMaxCapturedOutput)
      output.append(data, std::min(static_cast<std::size_t>(n), kMaxCapturedOutput - output.size()));
  };
  std::string abort_reason;  // set when we kill the child
  bool exited = false;
  int status = 0;
  while (!exited) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      abort_reason = fmt::format("timed out after {} ms", timeout_.count());
      break;
    }
    pollfd fds[3] = {{child_fd.get(), POLLIN, 0}, {wake.get(), POLLIN, 0},
                     {from_child.get(), POLLIN, 0}};  // a negative fd is skipped by poll
    const std::int64_t slice = poll_for_exit ? 20 : 60'000;
    const int ready = ::poll(fds, 3, static_cast<int>(std::min<std::int64_t>(left.count(), slice)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      abort_reason = errno_text("poll");
      break;
    }
    if (fds[1].revents != 0) {
      abort_reason = "cancelled: the reply worker is stopping";
      break;
    }
    if (fds[2].revents != 0 && from_child) {
      char buf[4096];
      const ssize_t n = ::read(from_child.get(), buf, sizeof buf);
      if (n > 0) capture(buf, n);
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) from_child.reset();
    }
    if (fds[0].revents != 0) exited = true;
    if (poll_for_exit && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;  // reaped here
  }
  if (!abort_reason.empty()) ::kill(pid, SIGKILL);  // only sendmail: postdrop sees EOF and discards
  if (!(poll_for_exit && exited)) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (from_child) {  // what it said last; a grandchild may hold the pipe, so do not wait for EOF
    char buf[4096];
    ssize_t n = 0;
    while (output.size() < kMaxCapturedOutput && (n = ::read(from_child.get(), buf, sizeof buf)) > 0) capture(buf, n);
  }
  const std::string said = for_header_value(output, kMaxCapturedOutput);
  const std::string suffix = said.empty() ? "" : ": " + said;
  if (!abort_reason.empty()) return {SendStatus::temporary, fmt::format("{} (sendmail killed){}", abort_reason, suffix)};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    const off_t read = ::lseek(input_file.get(), 0, SEEK_CUR);
    if (read >= 0 && static_cast<std::size_t>(read) >= input.size()) return {SendStatus::sent, said};
    return {SendStatus::temporary, fmt::format("sendmail exited before reading the whole message ({} of {} bytes){}",
                                               std::max<off_t>(read, 0), input.size(), suffix)};
  }
  return {SendStatus::temporary, fmt::format("sendmail failed, {}{}", describe_status(status), suffix)};
}

}  // namespace aamp::mail
