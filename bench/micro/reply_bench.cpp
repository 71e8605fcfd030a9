// reply_bench.cpp — the cost of a pair.respond: building it with GMime (reference: our
// validator reading the same header block, the per-message work of the milter), and one
// sendmail-transport delivery (reference: a bare posix_spawn + wait of the same program).
// Replies are rare (one per pair.request); these figures bound the worker, not the milter.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "mail/reply.hpp"
#include "mail/sendmail_transport.hpp"
#include "policy/header_block.hpp"
#include "policy/validator.hpp"
#include "tests/support/files.hpp"
#include "tests/support/temp_dir.hpp"

extern char** environ;

namespace {

aamp::OutboxReply sample_reply() {
  aamp::OutboxReply reply;
  reply.message_id = "<aamp-pair.3f9c0d5e8a7b41c2a1d4e6f708192a3b@example.com>";
  reply.from = "agent@example.com";
  reply.to = "requester@example.com";
  reply.task_id = "8c1c9d2e-5b9f-4c9a-9a67-0d2f0b3c8f11";
  reply.status = aamp::TaskStatus::rejected;
  reply.error_msg = "invalid or expired pair code";
  reply.in_reply_to = "<request-1@requester.example.com>";
  reply.created_at = 1790000000;
  return reply;
}

void BM_BuildPairRespond(benchmark::State& state) {
  const auto reply = sample_reply();
  for (auto _ : state) benchmark::DoNotOptimize(aamp::mail::build_pair_respond(reply));
}
BENCHMARK(BM_BuildPairRespond);

void BM_ValidateReplyHeaders_Reference(benchmark::State& state) {
  const std::string bytes = *aamp::mail::build_pair_respond(sample_reply());
  const auto fields = aamp::split_header_block(bytes).fields;
  for (auto _ : state) benchmark::DoNotOptimize(aamp::validate(fields));
}
BENCHMARK(BM_ValidateReplyHeaders_Reference);

void BM_SendmailTransport(benchmark::State& state) {
  aamp::test::TempDir dir;
  const std::string script = dir.file("sendmail");
  aamp::test::write_file(script, "#!/bin/sh\nexec cat >/dev/null\n", 0755);
  aamp::mail::SendmailTransport transport(script, {}, std::chrono::seconds(10));
  const std::string message = *aamp::mail::build_pair_respond(sample_reply());
  for (auto _ : state) {
    const auto result = transport.send(message, "", "requester@example.com");
    if (result.status != aamp::mail::SendStatus::sent) state.SkipWithError(result.detail.c_str());
  }
}
BENCHMARK(BM_SendmailTransport)->UseRealTime();

void BM_SpawnAndWait_Reference(benchmark::State& state) {
  aamp::test::TempDir dir;
  const std::string script = dir.file("sendmail");
  aamp::test::write_file(script, "#!/bin/sh\nexec cat >/dev/null\n", 0755);
  std::string path = script;
  char* argv[] = {path.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  for (auto _ : state) {
    pid_t pid = 0;
    if (posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, environ) != 0) state.SkipWithError("spawn");
    int status = 0;
    waitpid(pid, &status, 0);
  }
  posix_spawn_file_actions_destroy(&actions);
}
BENCHMARK(BM_SpawnAndWait_Reference)->UseRealTime();

}  // namespace
