// sendmail_transport.hpp — delivers a reply by running sendmail(1): one child process per
// message, the envelope on its command line (`PATH ARGS... -i -f SENDER -- RCPT`), its exit
// status the verdict. No shell is involved. Its standard input is a complete in-memory file
// (memfd), never a pipe we feed: sendmail takes EOF for the end of the message, so a pipe
// cut off by our death would have it queue a truncated reply. And the child dies with the
// thread that started it (PR_SET_PDEATHSIG = SIGKILL), so a death of aamp-milter mid-send
// usually leaves nothing queued (postdrop discards an unfinished message), and the reply,
// still pending in the outbox, goes out once after the restart (docs/replies.md).
// Threading: send() may run in several threads at once; each call owns its child.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "mail/transport.hpp"

namespace aamp::mail {

class SendmailTransport final : public ReplyTransport {
 public:
  SendmailTransport(std::string path, std::vector<std::string> args, std::chrono::milliseconds timeout);

  // Converts the message to LF line ends (sendmail reads local text). Exit 0 after reading
  // the whole message: sent. Any other exit, a signal, a message not read to its end, or
  // the timeout (the child is killed): temporary, with the child's stderr/stdout (first
  // 2 KiB, one line) in detail.
  SendResult send(std::string_view message, std::string_view envelope_from, std::string_view recipient,
                  std::stop_token stop = {}) override;
  std::string describe() const override;

 private:
  std::string path_;
  std::vector<std::string> args_;
  std::chrono::milliseconds timeout_;
};

}  // namespace aamp::mail
