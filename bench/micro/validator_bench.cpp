// validator_bench.cpp — Google Benchmark for the validator on the header blocks the milter
// sees: a typical task.dispatch (15 ordinary headers + the AAMP ones), a pair.request, an
// invalid message, and is_aamp() on ordinary mail. The reference in the same run is a
// copy of the same HeaderList (what the milter spends collecting the headers anyway).
#include <benchmark/benchmark.h>

#include <string>

#include "policy/address.hpp"
#include "policy/header_block.hpp"
#include "policy/validator.hpp"

namespace {

const std::string kOrdinary =
    "Return-Path: <dispatcher@example.com>\r\n"
    "Received: from mx.example.net (mx.example.net [192.0.2.7])\r\n"
    "\tby mail.example.com (Postfix) with ESMTPS id 4XyzAbc123\r\n"
    "\tfor <agent@example.com>; Mon, 01 Jun 2026 12:00:00 +0000 (UTC)\r\n"
    "Received: from [10.0.0.5] (unknown [10.0.0.5]) by mx.example.net (Postfix)\r\n"
    "\twith ESMTPSA id 9AbCdEf; Mon, 01 Jun 2026 11:59:59 +0000 (UTC)\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1;\r\n"
    "\th=from:to:subject:date:message-id:x-aamp-intent:x-aamp-taskid;\r\n"
    "\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
    "\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIHRoZSByaWdodCBsZW5ndGg=\r\n"
    "Authentication-Results: mail.example.com; dkim=pass header.d=example.com; spf=pass\r\n"
    "From: Dispatcher <dispatcher@example.com>\r\n"
    "To: Agent <agent@example.com>\r\n"
    "Message-ID: <dispatch-context-1@example.com>\r\n"
    "Subject: [AAMP Task] Continue rollout\r\n"
    "Date: Mon, 01 Jun 2026 12:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "User-Agent: aamp-sdk/1.1\r\n"
    "List-Unsubscribe: <mailto:unsubscribe@example.com>\r\n"
    "X-Mailer: aamp-sdk 1.1.0\r\n";

const std::string kDispatch = kOrdinary +
                              "X-AAMP-Version: 1.1\r\n"
                              "X-AAMP-Intent: task.dispatch\r\n"
                              "X-AAMP-TaskId: task-context-1\r\n"
                              "X-AAMP-Priority: high\r\n"
                              "X-AAMP-Expires-At: 2026-08-01T12:00:00.000Z\r\n"
                              "X-AAMP-Session-Key: rollout-thread-42\r\n"
                              "X-AAMP-Dispatch-Context: project_key=proj%20123; source=feishu\r\n"
                              "X-AAMP-ParentTaskId: task-parent-1\r\n\r\n";

const std::string kPairRequest = kOrdinary +
                                 "X-AAMP-Version: 1.1\r\n"
                                 "X-AAMP-Intent: pair.request\r\n"
                                 "X-AAMP-TaskId: pair-request-1\r\n"
                                 "X-AAMP-Pair-Code: 7r8g5A2k\r\n"
                                 "X-AAMP-Dispatch-Context-Rules: eyJzb3VyY2UiOlsiZmVpc2h1IiwiZ2l0aHViIl19\r\n\r\n";

const std::string kInvalid = kOrdinary +
                             "X-AAMP-Version: 1.1\r\n"
                             "X-AAMP-Intent: task.dispatch\r\n"
                             "X-AAMP-TaskId: task context\r\n"
                             "X-AAMP-Intent: pair.request\r\n\r\n";

aamp::HeaderList headers(const std::string& block) { return aamp::split_header_block(block).fields; }

void BM_Reference_CopyHeaders(benchmark::State& state) {
  const auto h = headers(kDispatch);
  for (auto _ : state) {
    aamp::HeaderList copy = h;
    benchmark::DoNotOptimize(copy.data());
  }
}
BENCHMARK(BM_Reference_CopyHeaders);

void BM_ValidateDispatch(benchmark::State& state) {
  const auto h = headers(kDispatch);
  if (aamp::validate(h).verdict != aamp::Verdict::valid) state.SkipWithError("fixture is not valid");
  for (auto _ : state) benchmark::DoNotOptimize(aamp::validate(h));
}
BENCHMARK(BM_ValidateDispatch);

void BM_ValidatePairRequest(benchmark::State& state) {
  const auto h = headers(kPairRequest);
  if (aamp::validate(h).verdict != aamp::Verdict::valid) state.SkipWithError("fixture is not valid");
  for (auto _ : state) benchmark::DoNotOptimize(aamp::validate(h));
}
BENCHMARK(BM_ValidatePairRequest);

void BM_ValidateInvalid(benchmark::State& state) {
  const auto h = headers(kInvalid);
  if (aamp::validate(h).verdict != aamp::Verdict::invalid) state.SkipWithError("fixture is not invalid");
  for (auto _ : state) benchmark::DoNotOptimize(aamp::validate(h));
}
BENCHMARK(BM_ValidateInvalid);

void BM_IsAampOrdinaryMail(benchmark::State& state) {
  const auto h = headers(kOrdinary + "\r\n");
  if (aamp::is_aamp(h)) state.SkipWithError("fixture is AAMP");
  for (auto _ : state) benchmark::DoNotOptimize(aamp::is_aamp(h));
}
BENCHMARK(BM_IsAampOrdinaryMail);

void BM_ValidateOrdinaryMail(benchmark::State& state) {
  const auto h = headers(kOrdinary + "\r\n");
  for (auto _ : state) benchmark::DoNotOptimize(aamp::validate(h));
}
BENCHMARK(BM_ValidateOrdinaryMail);

}  // namespace

namespace {

void BM_FromMailbox(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(aamp::parse_from_mailbox("Dispatcher <dispatcher@example.com>"));
}
BENCHMARK(BM_FromMailbox);

}  // namespace
