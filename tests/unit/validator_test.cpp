// validator_test.cpp — table tests for policy/validator.hpp: every intent's valid and
// invalid forms, folding, name case, duplicates, encodings, both modes, bounds, and the
// parser-differential traps. Header blocks are written as text and split with
// split_header_block(); rows that need bytes a text block cannot carry build HeaderLists.
#include "policy/validator.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "policy/header_block.hpp"

namespace aamp {
namespace {

using namespace std::string_literals;
using Want = std::vector<std::pair<ViolationCode, std::string>>;  // code, field; in order

constexpr auto strict = ValidationMode::strict;
constexpr auto sdk = ValidationMode::sdk;

HeaderList block(const std::string& text) { return split_header_block(text).fields; }

// A well-formed AAMP message of `intent` plus `extra` header lines.
std::string msg(std::string_view intent, std::string_view extra = "") {
  return "Received: from mx.example.net by mail.example.com\n"
         "From: Dispatcher <dispatcher@example.com>\n"
         "To: agent@example.com\n"
         "Message-ID: <m1@example.com>\n"
         "Subject: [AAMP Task] Review\n"
         "X-AAMP-Version: 1.1\n"
         "X-AAMP-Intent: " + std::string(intent) + "\n"
         "X-AAMP-TaskId: task-1\n" + std::string(extra);
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

struct Row {
  const char* label;
  HeaderList headers;
  ValidationMode mode;
  Verdict want;
  Want violations;
};

void run(const std::vector<Row>& rows, std::size_t max_field_length = 8192) {
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = validate(row.headers, ValidatorOptions{row.mode, max_field_length});
    Want have;
    for (const auto& v : got.violations) have.emplace_back(v.code, v.field);
    EXPECT_EQ(got.verdict, row.want) << to_string(got.verdict);
    EXPECT_EQ(have, row.violations) << (got.violations.empty() ? "" : got.violations.front().message);
    for (const auto& v : got.violations) {
      EXPECT_FALSE(v.message.empty());
      for (const char c : v.message) EXPECT_TRUE(c >= ' ' && c < 0x7f && c != '%') << v.message;
      for (const char c : v.field) EXPECT_TRUE(c > ' ' && c < 0x7f) << v.field;
    }
    EXPECT_EQ(is_aamp(row.headers), row.want != Verdict::not_aamp);
  }
}

constexpr auto V = Verdict::valid;
constexpr auto I = Verdict::invalid;
constexpr auto N = Verdict::not_aamp;
constexpr auto missing = ViolationCode::missing_field;
constexpr auto dup = ViolationCode::duplicate_field;
constexpr auto unknown = ViolationCode::unknown_intent;
constexpr auto version = ViolationCode::unsupported_version;
constexpr auto bad = ViolationCode::invalid_value;
constexpr auto too_long = ViolationCode::field_too_long;
constexpr auto froms = ViolationCode::multiple_from;
constexpr auto malformed = ViolationCode::malformed_header;

TEST(Validator, NotAamp) {
  run({
      {"plain mail", block("From: a@example.com\nSubject: hi\n"), strict, N, {}},
      {"empty block", {}, strict, N, {}},
      {"only Status", block("From: a@example.com\nX-AAMP-Status: completed\n"), strict, N, {}},
      {"only Pair-Code", block("X-AAMP-Pair-Code: 7r8g5A2k\n"), strict, N, {}},
      {"only unknown X-AAMP field", block("X-AAMP-Foo: bar\n"), strict, N, {}},
      {"near-miss name", block("X-AAMP-Intents: task.dispatch\nX-AAMP-Task-Id: t\n"), strict, N, {}},
      {"malformed but not aamp", HeaderList{{"", "junk"}, {"Bad Name", "x\0y"s}}, strict, N, {}},
  });
}

TEST(Validator, EveryIntentValid) {
  run({
      {"task.dispatch", block(msg("task.dispatch")), strict, V, {}},
      {"task.cancel", block(msg("task.cancel")), strict, V, {}},
      {"task.ack", block(msg("task.ack")), strict, V, {}},
      {"task.help_needed", block(msg("task.help_needed", "X-AAMP-SuggestedOptions: a|b\n")), strict, V, {}},
      {"task.result completed", block(msg("task.result", "X-AAMP-Status: completed\n")), strict, V, {}},
      {"task.result rejected", block(msg("task.result", "X-AAMP-Status: rejected\nX-AAMP-ErrorMsg: no\n")), strict, V, {}},
      {"task.stream.opened", block(msg("task.stream.opened", "X-AAMP-Stream-Id: s-1\n")), strict, V, {}},
      {"pair.request", block(msg("pair.request", "X-AAMP-Pair-Code: 7r8g5A2k\n")), strict, V, {}},
      {"pair.respond", block(msg("pair.respond", "X-AAMP-Status: completed\n")), strict, V, {}},
      {"card.query", block(msg("card.query")), strict, V, {}},
      {"card.response", block(msg("card.response", "X-AAMP-Card-Summary: I review code\n")), strict, V, {}},
      {"sdk mode too", block(msg("task.ack")), sdk, V, {}},
  });
}

TEST(Validator, RequiredFields) {
  const std::string no_version = "From: a@example.com\nX-AAMP-Intent: task.ack\nX-AAMP-TaskId: t\n";
  run({
      {"no version strict", block(no_version), strict, I, {{missing, "X-AAMP-Version"}}},
      {"no version sdk", block(no_version), sdk, V, {}},
      {"no intent", block("From: a@example.com\nX-AAMP-Version: 1.1\nX-AAMP-TaskId: t\n"), strict, I,
       {{missing, "X-AAMP-Intent"}}},
      {"no task id", block("From: a@example.com\nX-AAMP-Version: 1.1\nX-AAMP-Intent: task.ack\n"), strict, I,
       {{missing, "X-AAMP-TaskId"}}},
      {"only version", block("X-AAMP-Version: 1.1\n"), strict, I,
       {{missing, "X-AAMP-Intent"}, {missing, "X-AAMP-TaskId"}, {missing, "From"}}},
      {"no from", block("X-AAMP-Version: 1.1\nX-AAMP-Intent: task.ack\nX-AAMP-TaskId: t\n"), strict, I,
       {{missing, "From"}}},
      {"no from sdk", block("X-AAMP-Intent: task.ack\nX-AAMP-TaskId: t\n"), sdk, I, {{missing, "From"}}},
      {"task.result no status strict", block(msg("task.result")), strict, I, {{missing, "X-AAMP-Status"}}},
      {"task.result no status sdk", block(msg("task.result")), sdk, V, {}},
      {"pair.respond no status strict", block(msg("pair.respond")), strict, I, {{missing, "X-AAMP-Status"}}},
      {"pair.respond no status sdk", block(msg("pair.respond")), sdk, I, {{missing, "X-AAMP-Status"}}},
      {"pair.request no code", block(msg("pair.request")), strict, I, {{missing, "X-AAMP-Pair-Code"}}},
      {"pair.request no code sdk", block(msg("pair.request")), sdk, I, {{missing, "X-AAMP-Pair-Code"}}},
      {"stream.opened no id", block(msg("task.stream.opened")), strict, I, {{missing, "X-AAMP-Stream-Id"}}},
      {"invalid required is not also missing", block(msg("task.result", "X-AAMP-Status: done\n")), strict, I,
       {{bad, "X-AAMP-Status"}}},
      {"status on other intents is checked", block(msg("task.ack", "X-AAMP-Status: maybe\n")), strict, I,
       {{bad, "X-AAMP-Status"}}},
  });
}

TEST(Validator, Version) {
  const auto with = [](std::string_view v) {
    return block("From: a@example.com\nX-AAMP-Version: " + std::string(v) + "\nX-AAMP-Intent: task.ack\nX-AAMP-TaskId: t\n");
  };
  run({
      {"1.1", with("1.1"), strict, V, {}},
      {"1.0", with("1.0"), strict, V, {}},
      {"1.25", with("1.25"), strict, V, {}},
      {"2.0 unsupported", with("2.0"), strict, I, {{version, "X-AAMP-Version"}}},
      {"2.0 unsupported in sdk", with("2.0"), sdk, I, {{version, "X-AAMP-Version"}}},
      {"01.1 is not 1.x", with("01.1"), strict, I, {{version, "X-AAMP-Version"}}},
      {"bare major", with("1"), strict, I, {{bad, "X-AAMP-Version"}}},
      {"three parts", with("1.1.1"), strict, I, {{bad, "X-AAMP-Version"}}},
      {"v prefix", with("v1.1"), strict, I, {{bad, "X-AAMP-Version"}}},
      {"empty minor", with("1."), strict, I, {{bad, "X-AAMP-Version"}}},
      {"empty", with(""), strict, I, {{bad, "X-AAMP-Version"}}},
      {"huge minor", with("1.1234567890"), strict, I, {{bad, "X-AAMP-Version"}}},
  });
}

TEST(Validator, IntentMatchedExactly) {
  run({
      {"upper case", block(msg("Task.Dispatch")), strict, I, {{unknown, "X-AAMP-Intent"}}},
      {"upper case sdk", block(msg("TASK.DISPATCH")), sdk, I, {{unknown, "X-AAMP-Intent"}}},
      {"unknown", block(msg("task.unknown")), strict, I, {{unknown, "X-AAMP-Intent"}}},
      {"empty", block(msg("")), strict, I, {{unknown, "X-AAMP-Intent"}}},
      {"prefix of an intent", block(msg("task")), strict, I, {{unknown, "X-AAMP-Intent"}}},
      {"encoded-word", block(msg("=?utf-8?q?task.dispatch?=")), strict, I, {{bad, "X-AAMP-Intent"}}},
      {"encoded-word base64", block(msg("=?UTF-8?B?dGFzay5kaXNwYXRjaA==?=")), sdk, I, {{bad, "X-AAMP-Intent"}}},
      {"trailing space strict", block(msg("task.dispatch ")), strict, I, {{bad, "X-AAMP-Intent"}}},
      {"trailing tab strict", block(msg("task.dispatch\t")), strict, I, {{bad, "X-AAMP-Intent"}}},
      {"trailing space sdk", block(msg("task.dispatch ")), sdk, V, {}},
      {"leading spaces are the separator", block(msg("   task.dispatch")), strict, V, {}},
      {"inner space", block(msg("task. dispatch")), strict, I, {{bad, "X-AAMP-Intent"}}},
      {"non-ascii look-alike", block(msg("task.dispatc\xd5\xb0")), strict, I, {{bad, "X-AAMP-Intent"}}},
      {"two intents in one", block(msg("task.dispatch,task.cancel")), strict, I, {{unknown, "X-AAMP-Intent"}}},
  });
}

TEST(Validator, Identifiers) {
  const std::string ok256 = repeat('a', 256);
  const std::string long257 = repeat('a', 257);
  run({
      {"task id 256", block(msg("task.ack", "").replace(msg("task.ack").find("task-1"), 6, ok256)), strict, V, {}},
      {"task id 257", block(msg("task.ack").replace(msg("task.ack").find("task-1"), 6, long257)), strict, I,
       {{bad, "X-AAMP-TaskId"}}},
      {"task id with space", block(msg("task.ack").replace(msg("task.ack").find("task-1"), 6, "task 1")), strict, I,
       {{bad, "X-AAMP-TaskId"}}},
      {"task id empty", block(msg("task.ack").replace(msg("task.ack").find("task-1"), 6, "")), strict, I,
       {{bad, "X-AAMP-TaskId"}}},
      {"task id encoded-word", block(msg("task.ack").replace(msg("task.ack").find("task-1"), 6, "=?utf-8?b?dGFzaw==?=")),
       strict, I, {{bad, "X-AAMP-TaskId"}}},
      {"task id non-ascii", block(msg("task.ack").replace(msg("task.ack").find("task-1"), 6, "t\xc3\xa2" "che")), strict,
       I, {{bad, "X-AAMP-TaskId"}}},
      {"task id punctuation ok", block(msg("task.ack").replace(msg("task.ack").find("task-1"), 6, "<a.b+c@d>")), strict,
       V, {}},
      {"parent id ok", block(msg("task.dispatch", "X-AAMP-ParentTaskId: p-1\n")), strict, V, {}},
      {"parent id space", block(msg("task.dispatch", "X-AAMP-ParentTaskId: p 1\n")), strict, I,
       {{bad, "X-AAMP-ParentTaskId"}}},
      {"session key 257", block(msg("task.dispatch", "X-AAMP-Session-Key: " + long257 + "\n")), strict, I,
       {{bad, "X-AAMP-Session-Key"}}},
      {"session key ok", block(msg("task.dispatch", "X-AAMP-Session-Key: rollout-thread-42\n")), strict, V, {}},
      {"stream id empty", block(msg("task.stream.opened", "X-AAMP-Stream-Id:\n")), strict, I,
       {{bad, "X-AAMP-Stream-Id"}}},
      {"stream id trailing space strict", block(msg("task.stream.opened", "X-AAMP-Stream-Id: s1 \n")), strict, I,
       {{bad, "X-AAMP-Stream-Id"}}},
      {"stream id trailing space sdk", block(msg("task.stream.opened", "X-AAMP-Stream-Id: s1 \n")), sdk, V, {}},
  });
}

TEST(Validator, PairCode) {
  const auto code = [](const std::string& c) { return block(msg("pair.request", "X-AAMP-Pair-Code: " + c + "\n")); };
  run({
      {"8 chars", code("7r8g5A2k"), strict, V, {}},
      {"4 chars", code("abcd"), strict, V, {}},
      {"128 chars", code(repeat('A', 128)), strict, V, {}},
      {"3 chars", code("abc"), strict, I, {{bad, "X-AAMP-Pair-Code"}}},
      {"129 chars", code(repeat('A', 129)), strict, I, {{bad, "X-AAMP-Pair-Code"}}},
      {"standard base64 plus", code("ab+cd"), strict, I, {{bad, "X-AAMP-Pair-Code"}}},
      {"slash", code("ab/cd"), strict, I, {{bad, "X-AAMP-Pair-Code"}}},
      {"padding", code("abcdef=="), strict, I, {{bad, "X-AAMP-Pair-Code"}}},
      {"url alphabet", code("-_-_"), strict, V, {}},
  });
}

TEST(Validator, PriorityAndExpiry) {
  const auto prio = [](const std::string& p) { return block(msg("task.dispatch", "X-AAMP-Priority: " + p + "\n")); };
  const auto exp = [](const std::string& e) { return block(msg("task.dispatch", "X-AAMP-Expires-At: " + e + "\n")); };
  run({
      {"urgent", prio("urgent"), strict, V, {}},
      {"high", prio("high"), strict, V, {}},
      {"normal", prio("normal"), strict, V, {}},
      {"upper case strict", prio("HIGH"), strict, I, {{bad, "X-AAMP-Priority"}}},
      {"unknown strict", prio("low"), strict, I, {{bad, "X-AAMP-Priority"}}},
      {"unknown sdk", prio("low"), sdk, V, {}},
      {"control char sdk", HeaderList{{"From", "a@example.com"}, {"X-AAMP-Intent", "task.ack"},
                                      {"X-AAMP-TaskId", "t"}, {"X-AAMP-Priority", "lo\x01w"}},
       sdk, I, {{bad, "X-AAMP-Priority"}}},
      {"expires utc", exp("2026-08-01T12:00:00.000Z"), strict, V, {}},
      {"expires offset", exp("2026-08-01T14:00:00+02:00"), strict, V, {}},
      {"expires no offset", exp("2026-08-01T12:00:00"), strict, I, {{bad, "X-AAMP-Expires-At"}}},
      {"expires words", exp("tomorrow"), strict, I, {{bad, "X-AAMP-Expires-At"}}},
      {"expires date only", exp("2026-08-01"), sdk, I, {{bad, "X-AAMP-Expires-At"}}},
      {"expires bad day", exp("2026-02-30T00:00:00Z"), strict, I, {{bad, "X-AAMP-Expires-At"}}},
  });
}

TEST(Validator, DispatchContext) {
  const auto ctx = [](const std::string& c) {
    return block(msg("task.dispatch", "X-AAMP-Dispatch-Context: " + c + "\n"));
  };
  run({
      {"fixture", ctx("project_key=proj%20123; source=feishu"), strict, V, {}},
      {"empty entries", ctx("a=1;;"), strict, V, {}},
      {"folded", block(msg("task.dispatch", "X-AAMP-Dispatch-Context: a=1;\n b=2\n")), strict, V, {}},
      {"bad key strict", ctx("Source=feishu"), strict, I, {{bad, "X-AAMP-Dispatch-Context"}}},
      {"bad key sdk", ctx("Source=feishu; a=1"), sdk, V, {}},
      {"no equals strict", ctx("novalue"), strict, I, {{bad, "X-AAMP-Dispatch-Context"}}},
      {"duplicate key strict", ctx("a=1; a=2"), strict, I, {{bad, "X-AAMP-Dispatch-Context"}}},
      {"duplicate key sdk", ctx("a=1; a=2"), sdk, I, {{bad, "X-AAMP-Dispatch-Context"}}},
      {"bad percent", ctx("a=%zz"), strict, I, {{bad, "X-AAMP-Dispatch-Context"}}},
      {"percent not utf-8", ctx("a=%ff"), sdk, I, {{bad, "X-AAMP-Dispatch-Context"}}},
      {"raw non-ascii", ctx("a=\xc3\xa9"), strict, I, {{bad, "X-AAMP-Dispatch-Context"}}},
      {"encoded-word", ctx("a==?utf-8?q?x?="), strict, I, {{bad, "X-AAMP-Dispatch-Context"}}},
  });
}

TEST(Validator, Base64UrlJsonFields) {
  const auto rules = [](const std::string& r) {
    return block(msg("pair.request", "X-AAMP-Pair-Code: 7r8g5A2k\nX-AAMP-Dispatch-Context-Rules: " + r + "\n"));
  };
  std::string bomb;
  for (int i = 0; i < 1000; ++i) bomb += "W1tb";  // "[[[" x 1000
  const auto result = [](const std::string& r) {
    return block(msg("task.result", "X-AAMP-Status: completed\nX-AAMP-StructuredResult: " + r + "\n"));
  };
  run({
      {"rules e30", rules("e30"), strict, V, {}},
      {"rules padded", rules("e30="), strict, V, {}},
      {"rules fixture", rules("eyJzb3VyY2UiOlsiZmVpc2h1IiwiZ2l0aHViIl19"), strict, V, {}},
      {"rules not base64url", rules("e30+"), strict, I, {{bad, "X-AAMP-Dispatch-Context-Rules"}}},
      {"rules array", rules("WyJhIl0"), strict, I, {{bad, "X-AAMP-Dispatch-Context-Rules"}}},       // ["a"]
      {"rules string value", rules("eyJhIjoiYiJ9"), strict, I, {{bad, "X-AAMP-Dispatch-Context-Rules"}}},  // {"a":"b"}
      {"rules empty", rules(""), strict, I, {{bad, "X-AAMP-Dispatch-Context-Rules"}}},
      {"result fixture",
       result("W3siZmllbGRLZXkiOiJzdW1tYXJ5IiwiZmllbGRUeXBlS2V5IjoidGV4dCIsInZhbHVlIjoiZG9uZSJ9XQ"), strict, V, {}},
      {"result not json", result("ZG9uZQ"), strict, I, {{bad, "X-AAMP-StructuredResult"}}},  // done
      {"result not base64url", result("e30/"), strict, I, {{bad, "X-AAMP-StructuredResult"}}},
      {"result bomb", result(bomb), strict, I, {{bad, "X-AAMP-StructuredResult"}}},  // [[[[...
  });
}

TEST(Validator, TextFields) {
  const auto err = [](std::string e) {
    return HeaderList{{"From", "a@example.com"}, {"X-AAMP-Version", "1.1"}, {"X-AAMP-Intent", "task.result"},
                      {"X-AAMP-TaskId", "t"}, {"X-AAMP-Status", "rejected"}, {"X-AAMP-ErrorMsg", std::move(e)}};
  };
  run({
      {"ascii", err("invalid or expired pair code"), strict, V, {}},
      {"utf-8", err("\xe6\x97\xa0\xe6\x95\x88"), strict, V, {}},
      {"encoded-word kept as text", err("=?utf-8?q?caf=C3=A9?="), strict, V, {}},
      {"trailing space is text", err("no "), strict, V, {}},
      {"empty", err(""), strict, V, {}},
      {"tab ok", err("a\tb"), strict, V, {}},
      {"latin-1", err("caf\xe9"), strict, I, {{bad, "X-AAMP-ErrorMsg"}}},
      {"control", err("a\x1b[31mred"), strict, I, {{bad, "X-AAMP-ErrorMsg"}}},
      {"delete", err("a\x7f"), strict, I, {{bad, "X-AAMP-ErrorMsg"}}},
      {"legacy fields",
       block(msg("task.help_needed", "X-AAMP-Question: which db?\nX-AAMP-BlockedReason: no schema\nX-AAMP-Output: x\n")),
       strict, V, {}},
      {"legacy control char", HeaderList{{"From", "a@example.com"}, {"X-AAMP-Version", "1.1"},
                                         {"X-AAMP-Intent", "task.ack"}, {"X-AAMP-TaskId", "t"},
                                         {"X-AAMP-Question", "a\x01"}},
       strict, I, {{bad, "X-AAMP-Question"}}},
  });
}

TEST(Validator, Duplicates) {
  run({
      {"two intents", block(msg("task.dispatch", "X-AAMP-Intent: task.cancel\n")), strict, I,
       {{dup, "X-AAMP-Intent"}}},
      {"two identical intents", block(msg("task.ack", "X-AAMP-Intent: task.ack\n")), sdk, I,
       {{dup, "X-AAMP-Intent"}}},
      {"names differ in case", block(msg("task.ack", "x-aamp-intent: task.ack\n")), strict, I,
       {{dup, "X-AAMP-Intent"}}},
      {"two task ids", block(msg("task.ack", "X-AAMP-TASKID: other\n")), strict, I, {{dup, "X-AAMP-TaskId"}}},
      {"two versions", block(msg("task.ack", "X-AAMP-Version: 1.1\n")), strict, I, {{dup, "X-AAMP-Version"}}},
      {"two pair codes", block(msg("pair.request", "X-AAMP-Pair-Code: 7r8g5A2k\nX-AAMP-Pair-Code: AAAAAAAA\n")), strict,
       I, {{dup, "X-AAMP-Pair-Code"}}},
      {"three statuses reported once", block(msg("task.result", "X-AAMP-Status: completed\nX-AAMP-Status: rejected\n"
                                                               "X-AAMP-Status: completed\n")),
       strict, I, {{dup, "X-AAMP-Status"}}},
      {"two legacy outputs", block(msg("task.result", "X-AAMP-Status: completed\nX-AAMP-Output: a\nX-AAMP-Output: b\n")),
       strict, I, {{dup, "X-AAMP-Output"}}},
      {"two rules", block(msg("pair.request", "X-AAMP-Pair-Code: abcd\nX-AAMP-Dispatch-Context-Rules: e30\n"
                                              "X-AAMP-Dispatch-Context-Rules: e30\n")),
       strict, I, {{dup, "X-AAMP-Dispatch-Context-Rules"}}},
      {"unknown x-aamp twice is fine", block(msg("task.ack", "X-AAMP-Foo: 1\nX-AAMP-Foo: 2\n")), strict, V, {}},
      {"two froms", block(msg("task.ack", "From: other@example.org\n")), strict, I, {{froms, "From"}}},
      {"from in any case", block(msg("task.ack", "FROM: other@example.org\n")), sdk, I, {{froms, "From"}}},
      {"two subjects are not aamp's business", block(msg("task.ack", "Subject: again\n")), strict, V, {}},
  });
}

TEST(Validator, From) {
  const auto from = [](const std::string& f) {
    return block("From: " + f + "\nX-AAMP-Version: 1.1\nX-AAMP-Intent: task.ack\nX-AAMP-TaskId: t\n");
  };
  run({
      {"angle", from("<dispatcher@example.com>"), strict, V, {}},
      {"display name", from("\"Disp, Inc\" <d@example.com>"), strict, V, {}},
      {"comment", from("d@example.com (Disp)"), strict, V, {}},
      {"encoded display name", from("=?utf-8?q?x=40y?= <d@example.com>"), strict, V, {}},
      {"quoted local part", from("\"a@b\"@example.com"), strict, V, {}},
      {"two mailboxes", from("a@example.com, b@example.com"), strict, I, {{bad, "From"}}},
      {"group", from("team: a@example.com;"), strict, I, {{bad, "From"}}},
      {"empty group", from("undisclosed-recipients:;"), strict, I, {{bad, "From"}}},
      {"double at", from("a@b@example.com"), strict, I, {{bad, "From"}}},
      {"at in bare display name", from("a@evil.com <d@example.com>"), strict, I, {{bad, "From"}}},
      {"trailing garbage", from("<d@example.com> junk"), strict, I, {{bad, "From"}}},
      {"no domain", from("dispatcher"), strict, I, {{bad, "From"}}},
      {"trailing dot domain", from("d@example.com."), strict, I, {{bad, "From"}}},
      {"trailing dot in angle", from("D <d@example.com.>"), strict, I, {{bad, "From"}}},
      {"double dot domain", from("d@example..com"), strict, I, {{bad, "From"}}},
      {"space after at", from("d@ example.com"), strict, I, {{bad, "From"}}},
      {"domain literal", from("d@[192.0.2.1]"), strict, V, {}},
      {"idn domain", from("d@b\xc3\xbc" "cher.example"), strict, V, {}},
      {"empty", from(""), strict, I, {{bad, "From"}}},
      {"encoded-word address", from("<=?utf-8?q?a=40b.com?=>"), strict, I, {{bad, "From"}}},
      {"latin-1 name", from("Caf\xe9 <d@example.com>"), strict, I, {{bad, "From"}}},
      {"nul", HeaderList{{"From", "a@example.com\0b@evil.com"s}, {"X-AAMP-Version", "1.1"},
                         {"X-AAMP-Intent", "task.ack"}, {"X-AAMP-TaskId", "t"}},
       strict, I, {{malformed, "From"}}},
  });
}

TEST(Validator, Folding) {
  run({
      {"folded intent crlf", block(msg("task.dispatch").replace(msg("task.dispatch").find("X-AAMP-Intent: "), 15,
                                                                 "X-AAMP-Intent:\r\n ")),
       strict, V, {}},
      {"postfix lf-tab fold", HeaderList{{"From", "a@example.com"}, {"X-AAMP-Version", "1.1"},
                                         {"X-AAMP-Intent", "\n\ttask.ack"}, {"X-AAMP-TaskId", "t"}},
       strict, V, {}},
      {"fold inside task id splits it", HeaderList{{"From", "a@example.com"}, {"X-AAMP-Version", "1.1"},
                                                   {"X-AAMP-Intent", "task.ack"}, {"X-AAMP-TaskId", "task-\r\n 1"}},
       strict, I, {{bad, "X-AAMP-TaskId"}}},
      {"folded from", HeaderList{{"From", "Dispatcher\r\n <d@example.com>"}, {"X-AAMP-Version", "1.1"},
                                 {"X-AAMP-Intent", "task.ack"}, {"X-AAMP-TaskId", "t"}},
       strict, V, {}},
      {"folded error message", HeaderList{{"From", "a@example.com"}, {"X-AAMP-Version", "1.1"},
                                          {"X-AAMP-Intent", "task.result"}, {"X-AAMP-TaskId", "t"},
                                          {"X-AAMP-Status", "rejected"}, {"X-AAMP-ErrorMsg", "a long\r\n\treason"}},
       strict, V, {}},
      {"trailing fold strict", HeaderList{{"From", "a@example.com"}, {"X-AAMP-Version", "1.1"},
                                          {"X-AAMP-Intent", "task.ack\r\n "}, {"X-AAMP-TaskId", "t"}},
       strict, I, {{bad, "X-AAMP-Intent"}}},
  });
}

TEST(Validator, NameCase) {
  run({
      {"all lower", block("from: a@example.com\nx-aamp-version: 1.1\nx-aamp-intent: task.ack\nx-aamp-taskid: t\n"),
       strict, V, {}},
      {"all upper", block("FROM: a@example.com\nX-AAMP-VERSION: 1.1\nX-AAMP-INTENT: task.ack\nX-AAMP-TASKID: t\n"),
       strict, V, {}},
      {"mixed", block("fRoM: a@example.com\nx-AaMp-VeRsIoN: 1.1\nX-aamp-Intent: task.ack\nx-AAMP-taskID: t\n"), sdk,
       V, {}},
  });
}

TEST(Validator, Bounds) {
  const std::string big(8193, 'x');
  run({
      {"error msg 8192", block(msg("task.result", "X-AAMP-Status: rejected\nX-AAMP-ErrorMsg: " + repeat('x', 8192) + "\n")),
       strict, V, {}},
      {"error msg 8193", block(msg("task.result", "X-AAMP-Status: rejected\nX-AAMP-ErrorMsg: " + big + "\n")), strict, I,
       {{too_long, "X-AAMP-ErrorMsg"}}},
      {"unknown x-aamp is not bounded", block(msg("task.ack", "X-AAMP-Foo: " + big + "\n")), strict, V, {}},
      {"too-long intent", block(msg(big)), sdk, I, {{too_long, "X-AAMP-Intent"}}},
      {"folds do not count", HeaderList{{"From", "a@example.com"}, {"X-AAMP-Version", "1.1"},
                                        {"X-AAMP-Intent", "task.result"}, {"X-AAMP-TaskId", "t"},
                                        {"X-AAMP-Status", "rejected"},
                                        {"X-AAMP-ErrorMsg", repeat('x', 4000) + "\r\n " + repeat('x', 4000)}},
       strict, V, {}},
  });
  run({
      {"configured bound", block(msg("task.ack").replace(msg("task.ack").find("task-1"), 6, repeat('a', 101))), strict,
       I, {{too_long, "X-AAMP-TaskId"}}},
      {"from bounded too", block("From: " + repeat('a', 95) + "@example.com\nX-AAMP-Intent: task.ack\nX-AAMP-TaskId: t\n"),
       sdk, I, {{too_long, "From"}}},
  }, 100);

  HeaderList hostile = block(msg("task.ack"));
  for (int i = 0; i < 10000; ++i) hostile.push_back({"", "junk"});
  const auto got = validate(hostile);
  EXPECT_EQ(got.verdict, Verdict::invalid);
  EXPECT_LE(got.violations.size(), 64U);
}

TEST(Validator, MalformedHeaders) {
  const HeaderList base = block(msg("task.ack"));
  const auto plus = [&](HeaderField h) {
    HeaderList l = base;
    l.push_back(std::move(h));
    return l;
  };
  run({
      {"empty name", plus({"", "x"}), strict, I, {{malformed, "(empty)"}}},
      {"line without colon", block(msg("task.ack", "this is not a header\n")), strict, I, {{malformed, "(empty)"}}},
      {"space in name", block(msg("task.ack", "Bad Name: x\n")), strict, I, {{malformed, "Bad?Name"}}},
      {"nul in ordinary value", plus({"Received", "a\0b"s}), strict, I, {{malformed, "Received"}}},
      {"bare cr", plus({"Comments", "a\rb"}), strict, I, {{malformed, "Comments"}}},
      {"lf without fold", plus({"Comments", "a\nX-AAMP-Intent: task.dispatch"}), strict, I, {{malformed, "Comments"}}},
      {"nul in intent", HeaderList{{"From", "a@example.com"}, {"X-AAMP-Version", "1.1"},
                                   {"X-AAMP-Intent", "task.ack\0x"s}, {"X-AAMP-TaskId", "t"}},
       strict, I, {{malformed, "X-AAMP-Intent"}}},
      {"space before colon", block(msg("task.ack", "X-AAMP-Intent : task.dispatch\n")), strict, I,
       {{malformed, "X-AAMP-Intent"}, {dup, "X-AAMP-Intent"}}},
      {"space before colon makes it aamp", block("From: a@example.com\nX-AAMP-Intent : task.dispatch\n"), sdk, I,
       {{malformed, "X-AAMP-Intent"}, {missing, "X-AAMP-TaskId"}}},
      {"kelvin sign task id", block("From: a@example.com\nX-AAMP-Tas\xe2\x84\xaaId: t\n"), sdk, I,
       {{malformed, "X-AAMP-TaskId"}, {missing, "X-AAMP-Intent"}}},
      {"dotless i intent", block(msg("task.ack", "X-AAMP-\xc4\xb1ntent: task.cancel\n")), strict, I,
       {{malformed, "X-AAMP-Intent"}, {dup, "X-AAMP-Intent"}}},
      {"8-bit name", plus({"X-\xc3\xa9t\xc3\xa9", "x"}), strict, I, {{malformed, "X-??t??"}}},
  });
}

TEST(Validator, ViolationsInHeaderOrder) {
  const auto got = validate(block("X-AAMP-Intent: Task.Ack\nFrom: a@b@c\nX-AAMP-Version: 9.0\nX-AAMP-Intent: x\n"));
  Want have;
  for (const auto& v : got.violations) have.emplace_back(v.code, v.field);
  EXPECT_EQ(have, (Want{{unknown, "X-AAMP-Intent"}, {bad, "From"}, {version, "X-AAMP-Version"},
                        {dup, "X-AAMP-Intent"}, {missing, "X-AAMP-TaskId"}}));
}

TEST(Validator, MessagesAreSafe) {
  const auto got = validate(
      block(msg("pair.request", "X-AAMP-Pair-Code: secretcode+\nX-AAMP-Pair-Code: othersecret\n")
                .replace(msg("pair.request").find("pair.request"), 12, "evil\x1b[0m%s\xc3\xa9" + repeat('z', 100))));
  ASSERT_FALSE(got.violations.empty());
  for (const auto& v : got.violations) {
    SCOPED_TRACE(v.message);
    EXPECT_EQ(v.message.find("secretcode"), std::string::npos);
    EXPECT_EQ(v.message.find("othersecret"), std::string::npos);
    EXPECT_EQ(v.message.find('\x1b'), std::string::npos);
    EXPECT_EQ(v.message.find('%'), std::string::npos);
    EXPECT_LT(v.message.size(), 200U);
  }
}

TEST(Validator, DecodesEveryField) {
  const auto got = validate(block(
      "From: \"Disp\" <Dispatcher@EXAMPLE.Com>\n"
      "Message-ID: <dispatch-context@example.com>\n"
      "Subject: [AAMP Task] Continue\n rollout\n"
      "X-AAMP-Version: 1.1\n"
      "X-AAMP-Intent: task.dispatch\n"
      "X-AAMP-TaskId: task-context-1\n"
      "X-AAMP-Priority: high\n"
      "X-AAMP-Expires-At: 2026-08-01T12:00:00.000Z\n"
      "X-AAMP-Session-Key: rollout-thread-42\n"
      "X-AAMP-Dispatch-Context: project_key=proj%20123; source=feishu\n"
      "X-AAMP-ParentTaskId: task-parent-1\n"
      "X-AAMP-Stream-Id: s-9\n"
      "X-AAMP-Status: completed\n"
      "X-AAMP-Pair-Code: 7r8g5A2k\n"
      "X-AAMP-Dispatch-Context-Rules: eyJzb3VyY2UiOlsiZmVpc2h1IiwiZ2l0aHViIl19\n"
      "X-AAMP-StructuredResult: e30\n"
      "X-AAMP-ErrorMsg: none\n"
      "X-AAMP-Card-Summary: reviews code\n"
      "X-AAMP-SuggestedOptions: PostgreSQL | MySQL||\n"
      "X-AAMP-Output: out\n"
      "X-AAMP-Question: q?\n"
      "X-AAMP-BlockedReason: why\n"
      "X-AAMP-Unknown-Extension: kept\n"));
  ASSERT_EQ(got.verdict, Verdict::valid) << (got.violations.empty() ? "" : got.violations[0].message);
  const AampMessage& m = got.message;
  EXPECT_EQ(m.version, "1.1");
  EXPECT_EQ(m.intent, Intent::task_dispatch);
  EXPECT_EQ(m.intent_text, "task.dispatch");
  EXPECT_EQ(m.task_id, "task-context-1");
  EXPECT_EQ(m.from, "Dispatcher@example.com");
  EXPECT_EQ(m.message_id, "<dispatch-context@example.com>");
  EXPECT_EQ(m.subject, "[AAMP Task] Continue rollout");
  EXPECT_EQ(m.priority, Priority::high);
  EXPECT_EQ(m.expires_at_text, "2026-08-01T12:00:00.000Z");
  EXPECT_EQ(m.expires_at, 1785585600);
  EXPECT_EQ(m.session_key, "rollout-thread-42");
  EXPECT_EQ(m.dispatch_context, (DispatchContext{{"project_key", "proj 123"}, {"source", "feishu"}}));
  EXPECT_EQ(m.parent_task_id, "task-parent-1");
  EXPECT_EQ(m.stream_id, "s-9");
  EXPECT_EQ(m.status, TaskStatus::completed);
  EXPECT_EQ(m.pair_code, "7r8g5A2k");
  EXPECT_EQ(m.dispatch_context_rules, (ContextRules{{"source", {"feishu", "github"}}}));
  EXPECT_EQ(m.structured_result, "{}");
  EXPECT_EQ(m.error_msg, "none");
  EXPECT_EQ(m.card_summary, "reviews code");
  EXPECT_EQ(m.suggested_options, (std::vector<std::string>{"PostgreSQL", "MySQL"}));
  EXPECT_EQ(m.output, "out");
  EXPECT_EQ(m.question, "q?");
  EXPECT_EQ(m.blocked_reason, "why");
}

TEST(Validator, Defaults) {
  const auto minimal = block("From: a@example.com\nx-aamp-intent: task.dispatch\nx-aamp-taskid: t\n");
  const auto got = validate(minimal, {ValidationMode::sdk});
  ASSERT_EQ(got.verdict, Verdict::valid);
  EXPECT_EQ(got.message.version, "1.1");
  EXPECT_EQ(got.message.priority, Priority::normal);
  const auto result = validate(block(msg("task.result")), {ValidationMode::sdk});
  ASSERT_EQ(result.verdict, Verdict::valid);
  EXPECT_EQ(result.message.status, TaskStatus::completed);
  const auto low = validate(block(msg("task.dispatch", "X-AAMP-Priority: low\n")), {ValidationMode::sdk});
  EXPECT_EQ(low.message.priority, Priority::normal);
  // The first copy is decoded, as the SDKs read it; the verdict is still invalid.
  const auto dupe = validate(block(msg("task.dispatch", "X-AAMP-Intent: task.cancel\n")));
  EXPECT_EQ(dupe.verdict, Verdict::invalid);
  EXPECT_EQ(dupe.message.intent, Intent::task_dispatch);
}

TEST(Validator, Strings) {
  const std::vector<std::pair<ViolationCode, std::string_view>> codes = {
      {missing, "missing-field"},   {dup, "duplicate-field"},   {unknown, "unknown-intent"},
      {version, "unsupported-version"}, {bad, "invalid-value"}, {too_long, "field-too-long"},
      {froms, "multiple-from"},     {malformed, "malformed-header"}};
  for (const auto& [code, text] : codes) EXPECT_EQ(to_string(code), text);
  EXPECT_EQ(to_string(Verdict::not_aamp), "not-aamp");
  EXPECT_EQ(to_string(Verdict::valid), "valid");
  EXPECT_EQ(to_string(Verdict::invalid), "invalid");
}

TEST(HeaderBlock, Split) {
  struct SplitRow {
    const char* label;
    std::string text;
    HeaderList want;
    bool complete;
  };
  const std::vector<SplitRow> rows = {
      {"crlf", "A: 1\r\nB:2\r\n\r\nbody", {{"A", "1"}, {"B", "2"}}, true},
      {"lf", "A: 1\nB:  2\n\nbody", {{"A", "1"}, {"B", "2"}}, true},
      {"fold kept", "A: 1\r\n 2\r\n\t3\r\n\r\n", {{"A", "1\r\n 2\r\n\t3"}}, true},
      {"no body", "A: 1\n", {{"A", "1"}}, false},
      {"no final newline", "A: 1", {{"A", "1"}}, false},
      {"mbox separator", "From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\n\n", {{"From", "a@b"}}, true},
      {"junk line", "A: 1\njunk\n\n", {{"A", "1"}, {"", "junk"}}, true},
      {"leading continuation", " x\nA: 1\n", {{"", " x"}, {"A", "1"}}, false},
      {"colon in value", "A: b: c\n", {{"A", "b: c"}}, false},
      {"empty value", "A:\n", {{"A", ""}}, false},
      {"space before colon kept", "A : 1\n", {{"A ", "1"}}, false},
      {"empty input", "", {}, false},
      {"blank first line", "\nA: 1\n", {}, true},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = split_header_block(row.text);
    ASSERT_EQ(got.fields.size(), row.want.size());
    for (std::size_t i = 0; i < row.want.size(); ++i) {
      EXPECT_EQ(got.fields[i].name, row.want[i].name);
      EXPECT_EQ(got.fields[i].value, row.want[i].value);
    }
    EXPECT_EQ(got.complete, row.complete);
  }
  EXPECT_EQ(split_header_block("A: 1\r\n\r\nbody").size, 8U);
}

}  // namespace
}  // namespace aamp
