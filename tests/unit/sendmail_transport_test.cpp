// sendmail_transport_test.cpp — SendmailTransport against real programs: shell scripts
// standing in for sendmail(1) that record what they got, fail, hang, die, or ignore their
// input; and the PDEATHSIG promise (the child dies with the process that started it).
#include "mail/sendmail_transport.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
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
  struct Row {
    const char* label;
    std::string body;
    std::size_t size;
  };
  const Row rows[] = {
      {"reads nothing, small message", "exit 0\n", 200},
      {"reads nothing, large message", "exit 0\n", 4 << 20},
      {"reads a little", "head -c 10 >/dev/null\nexit 0\n", 4 << 20},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    TempDir dir;
    SendmailTransport transport(script(dir, "lazy", row.body), {}, 10s);
    const SendResult result = transport.send(std::string(row.size, 'x'), "", "requester@example.com");
    EXPECT_EQ(result.status, SendStatus::temporary);
    EXPECT_NE(result.detail.find("sendmail exited before reading the whole message ("), std::string::npos)
        << result.detail;
  }
}

// sendmail takes EOF on its input for the end of the message. Whatever outlives us (here a
// grandchild, which PDEATHSIG does not reach) reads the whole message, never a part cut off
// by our death: the input is a complete file, not a pipe we were still feeding.
TEST(SendmailTransport, OurDeathNeverCutsTheInputShort) {
  TempDir dir;
  // Like Postfix's sendmail handing the message to postdrop: a process of its own reads
  // the input after sendmail is gone. The pid file is written only once that reader runs:
  // written first, it let the test kill us while the script had not forked yet, and the
  // script died with us (PR_SET_PDEATHSIG) before any reader existed.
  const std::string path = script(dir, "escape",
                                  "exec 3<&0\n"
                                  "( sleep 1; cat <&3 > " + dir.file("got.tmp") + "; mv " + dir.file("got.tmp") + " " +
                                      dir.file("got") + " ) &\n"
                                  "echo $$ > " + dir.file("pid") + "\n"
                                  "exec sleep 30\n");
  std::string message;
  for (int i = 0; i < 200000; ++i) message += "line " + std::to_string(i) + " of a long reply body\r\n";
  const pid_t sender = ::fork();
  ASSERT_GE(sender, 0);
  if (sender == 0) {
    SendmailTransport transport(path, {}, 60s);
    transport.send(message, "", "requester@example.com");
    ::_exit(0);
  }
  ASSERT_GT(wait_for_pid_file(dir.file("pid")), 0);
  ::kill(sender, SIGKILL);
  int status = 0;
  ::waitpid(sender, &status, 0);
  for (int i = 0; i < 1000 && !file_exists(dir.file("got")); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(file_exists(dir.file("got")));
  std::erase(message, '\r');
  EXPECT_EQ(read_file(dir.file("got")).size(), message.size());
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

// Runs a shell command line (test set-up only) and returns its standard output.
std::string run(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    ::pclose(pipe);
  }
  return out;
}

// The real thing: Postfix's own sendmail(1) with a throwaway configuration directory. No
// master runs, so the message stays in maildrop, where postcat shows its envelope.
TEST(SendmailTransport, RealPostfixSendmailQueuesTheEnvelopeWeAskFor) {
  if (::access("/usr/sbin/postfix", X_OK) != 0 || ::geteuid() != 0) GTEST_SKIP() << "needs Postfix and root";
  struct Row {
    const char* label;
    std::string from;
    std::string want_sender;
  };
  const Row rows[] = {{"null sender", "", "sender: \n"}, {"agent mailbox", "agent@example.com", "sender: agent@example.com\n"}};
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    TempDir dir;
    const std::string etc = dir.file("etc");
    const std::string d = dir.path().string();
    std::filesystem::create_directories(etc);
    std::filesystem::copy_file(std::filesystem::exists("/etc/postfix/master.cf") ? "/etc/postfix/master.cf"
                                                                                 : "/usr/share/postfix/master.cf.dist",
                               etc + "/master.cf");
    write_file(etc + "/main.cf",
               "compatibility_level = 3.6\nconfig_directory = " + etc + "\nqueue_directory = " + d +
                   "/queue\ndata_directory = " + d + "/data\nmeta_directory = /etc/postfix\n"
                   "inet_interfaces = loopback-only\nmydestination =\nalias_maps =\nalias_database =\n"
                   "maillog_file = " + d + "/postfix.log\nmaillog_file_prefixes = " + d + "\n");
    std::filesystem::create_directories(d + "/queue");
    std::filesystem::create_directories(d + "/data");
    run("/usr/sbin/postfix -c " + etc + " post-install create-missing 2>&1");
    ASSERT_TRUE(std::filesystem::is_directory(d + "/queue/maildrop")) << "postfix post-install failed";

    SendmailTransport transport("/usr/sbin/sendmail", {"-C", etc}, 30s);
    const SendResult result = transport.send(kMessage, row.from, "requester@example.com");
    ASSERT_EQ(result.status, SendStatus::sent) << result.detail;
    const auto queued = test::list_files(d + "/queue/maildrop");
    ASSERT_EQ(queued.size(), 1u);
    const std::string record = run("/usr/sbin/postcat -c " + etc + " " + d + "/queue/maildrop/" + queued[0]);
    EXPECT_NE(record.find(row.want_sender), std::string::npos) << record;
    EXPECT_NE(record.find("recipient: requester@example.com\n"), std::string::npos) << record;
    EXPECT_NE(record.find("Subject: [AAMP Pair] completed\n\nAAMP Pair Response\n.\n..dot\n"), std::string::npos)
        << record;
  }
}

}  // namespace
}  // namespace aamp::mail
