// sendmail_transport_test.cpp — SendmailTransport against real programs: shell scripts
// standing in for sendmail(1) that record what they got, fail, hang, die, or ignore their
// input; and the PDEATHSIG promise (the child dies with the process that started it).
#include "mail/sendmail_transport.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/files.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::mail {
namespace {

using namespace std::chrono_literals;
using test::file_exists;
using test::read_file;
using test::TempDir;
using test::write_file;

constexpr std::string_view kMessage =
    "From: agent@example.com\r\nTo: requester@example.com\r\nSubject: [AAMP Pair] completed\r\n"
    "\r\nAAMP Pair Response\r\n.\r\n..dot\r\n";
constexpr std::string_view kMessageLf =
    "From: agent@example.com\nTo: requester@example.com\nSubject: [AAMP Pair] completed\n"
    "\nAAMP Pair Response\n.\n..dot\n";

// A script in `dir` named `name` with `body` after the shebang; returns its path.
std::string script(const TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir.file(name);
  write_file(path, "#!/bin/sh\n" + body, 0755);
  return path;
}

// Records its arguments (one per line) and its input, then renames both into place, so a
// half-run never leaves a "delivered" file behind: the way postdrop commits a queue file.
std::string recorder(const TempDir& dir, const std::string& before_commit = "") {
  return script(dir, "record",
                "echo $$ > " + (dir.file("pid")) + "\n"
                "cat > " + (dir.file("msg.tmp")) + "\n"
                "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + (dir.file("args.tmp")) + "\n" +
                before_commit +
                "mv " + (dir.file("args.tmp")) + " " + (dir.file("args")) + "\n"
                "mv " + (dir.file("msg.tmp")) + " " + (dir.file("delivered")) + "\n");
}

bool process_gone(pid_t pid, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie still answers kill(0): the test's own children are reaped by their parent.
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

pid_t wait_for_pid_file(const std::string& path) {
  for (int i = 0; i < 1000; ++i) {  // at most 10 s
    if (file_exists(path)) {
      const std::string text = read_file(path);
      if (!text.empty() && text.back() == '\n') return static_cast<pid_t>(std::stol(text));
    }
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

TEST(SendmailTransport, PassesEnvelopeAndMessage) {
  struct Row {
    const char* label;
    std::vector<std::string> args;
    std::string from;
    std::string want_args;
  };
  const Row rows[] = {
      {"agent mailbox as sender", {}, "agent@example.com",
       "-i\n-f\nagent@example.com\n--\nrequester@example.com\n"},
      {"null sender", {}, "", "-i\n-f\n<>\n--\nrequester@example.com\n"},
      {"configured arguments first", {"-C", "/etc/postfix-agents"}, "",
       "-C\n/etc/postfix-agents\n-i\n-f\n<>\n--\nrequester@example.com\n"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    TempDir dir;
    SendmailTransport transport(recorder(dir), row.args, 10s);
    const SendResult result = transport.send(kMessage, row.from, "requester@example.com");
    EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
    EXPECT_EQ(read_file(dir.file("args")), row.want_args);
    EXPECT_EQ(read_file(dir.file("delivered")), kMessageLf);  // LF line ends, dots untouched (-i)
  }
}

TEST(SendmailTransport, LargeMessageDoesNotDeadlock) {
  TempDir dir;
  // Chatty too: output and input both exceed the pipe and socket buffers.
  const std::string path = script(dir, "chatty",
                                  "head -c 300000 /dev/zero | tr '\\0' x >&2 &\n"
                                  "cat > " + (dir.file("delivered")) + "\nwait\n");
  std::string message;
  for (int i = 0; i < 40000; ++i) message += "line " + std::to_string(i) + " of a long reply body\r\n";
  SendmailTransport transport(path, {}, 30s);
  const SendResult result = transport.send(message, "", "requester@example.com");
  EXPECT_EQ(result.status, SendStatus::sent);
  std::string want;
  for (int i = 0; i < 40000; ++i) want += "line " + std::to_string(i) + " of a long reply body\n";
  EXPECT_EQ(read_file(dir.file("delivered")), want);
  EXPECT_LE(result.detail.size(), 2048u);
}

TEST(SendmailTransport, FailuresAreTemporaryWithTheirOutput) {
  struct Row {
    const char* label;
    std::string body;
    std::vector<std::string> want_in_detail;
  };
  const Row rows[] = {
      {"EX_TEMPFAIL with stderr", "cat >/dev/null\necho 'postdrop: warning: queue file write error' >&2\nexit 75\n",
       {"exit status 75 (EX_TEMPFAIL)", "postdrop: warning: queue file write error"}},
      {"other status, stdout too", "cat >/dev/null\necho 'fatal: bad config'\nexit 78\n",
       {"exit status 78", "fatal: bad config"}},
      {"killed by a signal", "cat >/dev/null\nkill -KILL $$\n", {"killed by signal 9"}},
      {"newlines in output become one line", "cat >/dev/null\nprintf 'a\\r\\nX-Evil: 1\\n' >&2\nexit 1\n",
       {"exit status 1: a X-Evil: 1"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    TempDir dir;
    SendmailTransport transport(script(dir, "fail", row.body), {}, 10s);
    const SendResult result = transport.send(kMessage, "", "requester@example.com");
    EXPECT_EQ(result.status, SendStatus::temporary);
    for (const auto& want : row.want_in_detail) EXPECT_NE(result.detail.find(want), std::string::npos) << result.detail;
    EXPECT_EQ(result.detail.find_first_of("\r\n"), std::string::npos);
  }
}

TEST(SendmailTransport, MissingProgram) {
  TempDir dir;
  SendmailTransport transport(dir.file("no-such-sendmail"), {}, 10s);
  const SendResult result = transport.send(kMessage, "", "requester@example.com");
  EXPECT_EQ(result.status, SendStatus::temporary);
  EXPECT_NE(result.detail.find("exit status 127"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("cannot execute the sendmail program: errno 2"), std::string::npos) << result.detail;
}

TEST(SendmailTransport, ExitWithoutReadingTheMessageIsNotSent) {
  TempDir dir;
  SendmailTransport transport(script(dir, "lazy", "exit 0\n"), {}, 10s);
  const std::string big(4 << 20, 'x');  // more than any socket buffer holds
  const SendResult result = transport.send(big, "", "requester@example.com");
  EXPECT_EQ(result.status, SendStatus::temporary);
  EXPECT_NE(result.detail.find("before taking the whole message"), std::string::npos) << result.detail;
}

TEST(SendmailTransport, HangingProgramIsKilledAtTheTimeout) {
  TempDir dir;
  SendmailTransport transport(script(dir, "hang", "echo $$ > " + (dir.file("pid")) + "\nexec sleep 30\n"), {}, 300ms);
  const SendResult result = transport.send(kMessage, "", "requester@example.com");
  EXPECT_EQ(result.status, SendStatus::temporary);
  EXPECT_NE(result.detail.find("timed out after 300 ms (sendmail killed)"), std::string::npos) << result.detail;
  const pid_t pid = wait_for_pid_file(dir.file("pid"));
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(process_gone(pid, 1ms));  // killed and reaped before send() returned
}

TEST(SendmailTransport, StopCancelsASendInFlight) {
  TempDir dir;
  SendmailTransport transport(script(dir, "hang", "echo $$ > " + (dir.file("pid")) + "\nexec sleep 30\n"), {}, 60s);
  std::stop_source stop;
  std::thread stopper([&] {
    wait_for_pid_file(dir.file("pid"));
    stop.request_stop();
  });
  const SendResult result = transport.send(kMessage, "", "requester@example.com", stop.get_token());
  stopper.join();
  EXPECT_EQ(result.status, SendStatus::temporary);
  EXPECT_NE(result.detail.find("cancelled"), std::string::npos) << result.detail;
  const pid_t pid = wait_for_pid_file(dir.file("pid"));
  EXPECT_TRUE(process_gone(pid, 1ms));
}

TEST(SendmailTransport, UnsafeEnvelopeIsRefusedWithoutRunningAnything) {
  struct Row {
    const char* label;
    std::string from;
    std::string to;
  };
  const Row rows[] = {
      {"option as recipient", "", "-bs"},
      {"CRLF in recipient", "", "requester@example.com\r\nRCPT TO:<x@evil.test>"},
      {"two recipients", "", "a@example.com b@example.com"},
      {"option as sender", "-oQ/tmp", "requester@example.com"},
      {"angle brackets in sender", "<>", "requester@example.com"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    TempDir dir;
    SendmailTransport transport(recorder(dir), {}, 10s);
    const SendResult result = transport.send(kMessage, row.from, row.to);
    EXPECT_EQ(result.status, SendStatus::permanent);
    EXPECT_FALSE(file_exists(dir.file("pid")));
  }
}

// The daemon's threads block signals (libmilter does); the child must not inherit that.
// (Not a shell script: dash clears its signal mask itself, sendmail does not.)
TEST(SendmailTransport, ChildStartsWithACleanSignalMask) {
  TempDir dir;
  const std::string path = dir.file("mask");
  write_file(path,
             "#!/usr/bin/python3\n"
             "import sys\n"
             "sys.stdin.read()\n"
             "blocked = [l.split()[1] for l in open('/proc/self/status') if l.startswith('SigBlk:')][0]\n"
             "open('" + (dir.file("sigblk")) + "', 'w').write(blocked)\n",
             0755);
  SendmailTransport transport(path, {}, 10s);
  SendResult result;
  std::thread sender([&] {
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    result = transport.send(kMessage, "", "requester@example.com");
  });
  sender.join();
  EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
  EXPECT_EQ(read_file(dir.file("sigblk")), "0000000000000000");
}

// The exactly-once promise: a process killed mid-send takes its sendmail child with it,
// so the half-sent reply is never committed (and is sent again, once, after a restart).
TEST(SendmailTransport, ChildDiesWithTheProcessThatStartedIt) {
  TempDir dir;
  const std::string path = recorder(dir, "sleep 2\n");  // commits 2 s after reading its input
  const pid_t sender = ::fork();
  ASSERT_GE(sender, 0);
  if (sender == 0) {
    SendmailTransport transport(path, {}, 60s);
    transport.send(kMessage, "", "requester@example.com");
    ::_exit(0);
  }
  const pid_t child = wait_for_pid_file(dir.file("pid"));
  ASSERT_GT(child, 0);
  while (!file_exists(dir.file("args.tmp"))) std::this_thread::sleep_for(10ms);  // input read, now sleeping
  ::kill(sender, SIGKILL);
  int status = 0;
  ::waitpid(sender, &status, 0);
  EXPECT_TRUE(process_gone(child, 5s)) << "the sendmail stand-in outlived its parent";
  std::this_thread::sleep_for(2500ms);  // past the moment it would have committed
  EXPECT_FALSE(file_exists(dir.file("delivered")));
}

}  // namespace
}  // namespace aamp::mail
