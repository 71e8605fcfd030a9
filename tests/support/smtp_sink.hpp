// smtp_sink.hpp — Postfix's smtp-sink(1) on 127.0.0.1 and a free port, capturing each mail
// transaction to its own file (-d), for tests of SMTP clients against a real server.
// Started in the constructor (ready to accept when it returns), stopped by PID in the
// destructor. One owner; not thread-safe.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "tests/support/files.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::test {

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int free_loopback_port();

class SmtpSink {
 public:
  // `options`: extra smtp-sink options, e.g. {"-f", "RCPT"} to refuse RCPT with 5xx.
  // `port`: 0 for a free one, or the port a client was already pointed at.
  explicit SmtpSink(std::vector<std::string> options = {}, int port = 0);
  ~SmtpSink();
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  int port() const noexcept { return port_; }
  // The captured transactions, oldest name first: smtp-sink's X-Client-Addr, X-Helo-Args,
  // X-Mail-Args, X-Rcpt-Args and Received lines, then the message as received.
  // Waits first until smtp-sink has finished with every session (wait_idle): a client that
  // has its last reply has not necessarily been seen to hang up, and smtp-sink removes the
  // dump of an unfinished transaction only then.
  std::vector<std::string> dumps() const;
  // Returns once smtp-sink holds no client connection and no dump file open (at most 10 s,
  // then throws): every transaction it was sent is then complete on disk or removed.
  void wait_idle() const;

 private:
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace aamp::test
