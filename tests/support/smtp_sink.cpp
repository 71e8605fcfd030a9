// smtp_sink.cpp — see smtp_sink.hpp.
#include "tests/support/smtp_sink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace aamp::test {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in address = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// What smtp-sink has open that says it is still busy: client sockets (beyond its one
// listening socket) and dump files under `mail_dir`. Read from /proc/PID/fd.
struct OpenFiles {
  int sockets = 0;
  int dumps = 0;
};

OpenFiles open_files(pid_t pid, const std::string& mail_dir) {
  namespace fs = std::filesystem;
  OpenFiles open;
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code link_ec;
    const std::string target = fs::read_symlink(it->path(), link_ec).string();
    if (link_ec) continue;  // closed since the listing
    if (target.rfind("socket:", 0) == 0) ++open.sockets;
    if (target.rfind(mail_dir + "/", 0) == 0) ++open.dumps;
  }
  if (ec) throw std::runtime_error("cannot list the descriptors of smtp-sink: " + ec.message());
  return open;
}

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

SmtpSink::SmtpSink(std::vector<std::string> options, int port) {
  ::chmod(dir_.path().c_str(), 0777);  // smtp-sink writes as nobody when started as root
  ::mkdir(dir_.file("mail").c_str(), 0777);
  ::chmod(dir_.file("mail").c_str(), 0777);
  port_ = port != 0 ? port : free_loopback_port();
  std::vector<std::string> words{"/usr/sbin/smtp-sink"};
  if (::geteuid() == 0) words.insert(words.end(), {"-u", "nobody"});
  words.insert(words.end(), {"-d", dir_.file("mail/%M.")});
  words.insert(words.end(), options.begin(), options.end());
  words.insert(words.end(), {"127.0.0.1:" + std::to_string(port_), "10"});
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  const std::string log = dir_.file("smtp-sink.log");

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepts(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("smtp-sink exited at start: " + read_file(log));
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("smtp-sink did not start listening");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

SmtpSink::~SmtpSink() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

void SmtpSink::wait_idle() const {
  // smtp-sink is one event-driven process: it notices a client's hang-up when its event loop
  // gets to it, closes the dump file and, for an unfinished transaction, removes it. Only
  // when nothing is open any more is the directory what the sessions left.
  const std::string mail_dir = dir_.file("mail");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    const OpenFiles open = open_files(pid_, mail_dir);
    if (open.sockets <= 1 && open.dumps == 0) return;  // the listening socket only
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("smtp-sink still has " + std::to_string(open.sockets - 1) + " client(s) and " +
                               std::to_string(open.dumps) + " dump file(s) open after 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::vector<std::string> SmtpSink::dumps() const {
  wait_idle();
  std::vector<std::string> texts;
  for (const auto& name : list_files(dir_.file("mail"))) {
    const std::string path = dir_.file("mail/" + name);
    // Idle means every descriptor is closed; smtp-sink may still be between closing an
    // unfinished transaction's dump and removing it. A dump gone by now was never complete.
    if (!file_exists(path)) continue;
    try {
      texts.push_back(read_file(path));
    } catch (const std::runtime_error&) {
      if (file_exists(path)) throw;
    }
  }
  return texts;
}

}  // namespace aamp::test
