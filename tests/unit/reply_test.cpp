// reply_test.cpp — the pair.respond we build (mail/reply.hpp), parsed back with GMime: it
// must say what the official "rejected pair response" fixture expects, thread to the
// request, be byte-identical on a resend, and keep every injection attempt out of the
// header block.
#include "mail/reply.hpp"

#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "policy/address.hpp"
#include "policy/header_block.hpp"
#include "policy/validator.hpp"
#include "tests/support/paths.hpp"

namespace aamp::mail {
namespace {

using namespace std::string_view_literals;

struct GObjectUnref {
  void operator()(void* object) const noexcept { g_object_unref(object); }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

// What a reader of the built mail sees: headers in order (unfolded by GMime), the From
// and To addr-specs, and the decoded text body.
struct Parsed {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string from;
  std::string to;
  std::string body;

  std::vector<std::string> all(std::string_view name) const {
    std::vector<std::string> values;
    for (const auto& [n, v] : headers)
      if (g_ascii_strcasecmp(n.c_str(), std::string(name).c_str()) == 0) values.push_back(v);
    return values;
  }
  std::string one(std::string_view name) const {
    const auto values = all(name);
    EXPECT_EQ(values.size(), 1u) << name;
    return values.empty() ? std::string() : values.front();
  }
};

std::string first_mailbox(InternetAddressList* list) {
  if (list == nullptr || internet_address_list_length(list) != 1) return "<not exactly one address>";
  auto* address = internet_address_list_get_address(list, 0);
  if (!INTERNET_ADDRESS_IS_MAILBOX(address)) return "<not a mailbox>";
  return internet_address_mailbox_get_addr(reinterpret_cast<InternetAddressMailbox*>(address));
}

Parsed parse(const std::string& bytes) {
  ensure_gmime_initialized();
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  Parsed parsed;
  if (!message) {
    ADD_FAILURE() << "GMime cannot parse the reply";
    return parsed;
  }
  // GMime splits one header block between the message and its (only) body part.
  GMimeObject* body = g_mime_message_get_mime_part(message.get());
  for (GMimeObject* holder : {reinterpret_cast<GMimeObject*>(message.get()), body}) {
    if (holder == nullptr) continue;
    GMimeHeaderList* list = g_mime_object_get_header_list(holder);
    for (int i = 0; i < g_mime_header_list_get_count(list); ++i) {
      GMimeHeader* header = g_mime_header_list_get_header_at(list, i);
      const char* value = g_mime_header_get_value(header);
      parsed.headers.emplace_back(g_mime_header_get_name(header), value != nullptr ? value : "");
    }
  }
  parsed.from = first_mailbox(g_mime_message_get_from(message.get()));
  parsed.to = first_mailbox(g_mime_message_get_to(message.get()));
  if (body != nullptr && GMIME_IS_TEXT_PART(body)) {
    char* text = g_mime_text_part_get_text(reinterpret_cast<GMimeTextPart*>(body));
    for (const char* p = text; *p != '\0'; ++p)  // the text as a reader sees it: LF line ends
      if (*p != '\r') parsed.body.push_back(*p);
    g_free(text);
  }
  return parsed;
}

OutboxReply fixture_reply() {
  OutboxReply reply;
  reply.id = 7;
  reply.message_id = "<pair-response@example.com>";
  reply.from = "agent@example.com";
  reply.to = "requester@example.com";
  reply.task_id = "pair-request-1";
  reply.status = TaskStatus::rejected;
  reply.error_msg = "invalid or expired pair code";
  reply.in_reply_to = "<pair-request-1@requester.example.com>";
  reply.created_at = 1790000000;  // 2026-09-21T14:13:20Z
  return reply;
}

std::string build_ok(const OutboxReply& reply) {
  auto built = build_pair_respond(reply);
  if (!built) {
    ADD_FAILURE() << built.error();
    return {};
  }
  return std::move(built).value();
}

// The wire form: CRLF everywhere, no bare CR or LF, 7-bit, no line over RFC 5322's 998.
void expect_clean_wire_form(const std::string& bytes) {
  std::size_t line_length = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    ASSERT_LT(c, 0x80u) << "8-bit byte at " << i;
    if (c == '\r') {
      ASSERT_TRUE(i + 1 < bytes.size() && bytes[i + 1] == '\n') << "bare CR at " << i;
      ++i;
      line_length = 0;
      continue;
    }
    ASSERT_NE(c, '\n') << "bare LF at " << i;
    ASSERT_TRUE(c >= 0x20 || c == '\t') << "control character " << int(c) << " at " << i;
    ASSERT_LE(++line_length, 998u);
  }
  EXPECT_TRUE(bytes.ends_with("\r\n"));
}

TEST(Reply, MatchesTheRejectedPairResponseFixture) {
  std::ifstream in(test::source_dir() + "/tests/conformance/parser.json");
  ASSERT_TRUE(in) << "tests/conformance/parser.json";
  const auto fixtures = nlohmann::json::parse(in);
  const nlohmann::json* fixture = nullptr;
  for (const auto& c : fixtures.at("cases"))
    if (c.at("name") == "rejected pair response") fixture = &c;
  ASSERT_NE(fixture, nullptr);
  const auto& want = fixture->at("expected");

  OutboxReply reply = fixture_reply();
  reply.message_id = want.at("messageId");
  reply.from = want.at("from");
  reply.to = want.at("to");
  reply.task_id = want.at("taskId");
  reply.error_msg = want.at("reason");
  const std::string bytes = build_ok(reply);
  expect_clean_wire_form(bytes);
  const Parsed got = parse(bytes);

  EXPECT_EQ(got.one("X-AAMP-Version"), want.at("protocolVersion"));
  EXPECT_EQ(got.one("X-AAMP-Intent"), want.at("intent"));
  EXPECT_EQ(got.one("X-AAMP-TaskId"), want.at("taskId"));
  EXPECT_EQ(got.one("X-AAMP-Status"), want.at("status"));
  EXPECT_EQ(want.at("success"), false);
  EXPECT_EQ(got.one("X-AAMP-ErrorMsg"), want.at("reason"));
  EXPECT_EQ(got.from, want.at("from"));
  EXPECT_EQ(got.to, want.at("to"));
  EXPECT_EQ(got.one("Message-Id"), want.at("messageId"));
  EXPECT_EQ(got.one("Subject"), want.at("subject"));
  // The fixture's bodyText is the body's title line; ours adds one sentence after it.
  const std::string title = want.at("bodyText");
  EXPECT_TRUE(got.body.starts_with(title + "\n")) << got.body;
  EXPECT_NE(got.body.find("Pairing rejected: invalid or expired pair code."), std::string::npos) << got.body;

  // And our own validator, in both modes, reads the same.
  const HeaderBlock block = split_header_block(bytes);
  ASSERT_TRUE(block.complete);
  for (const auto mode : {ValidationMode::strict, ValidationMode::sdk}) {
    SCOPED_TRACE(mode == ValidationMode::strict ? "strict" : "sdk");
    const Validation v = validate(block.fields, ValidatorOptions{mode});
    ASSERT_EQ(v.verdict, Verdict::valid) << (v.violations.empty() ? "" : v.violations.front().message);
    EXPECT_EQ(v.message.version, want.at("protocolVersion"));
    EXPECT_EQ(v.message.intent, Intent::pair_respond);
    EXPECT_EQ(v.message.task_id, want.at("taskId"));
    EXPECT_EQ(v.message.status, TaskStatus::rejected);
    EXPECT_EQ(v.message.error_msg, std::optional<std::string>(want.at("reason")));
    EXPECT_EQ(v.message.from, want.at("from"));
    EXPECT_EQ(v.message.message_id, want.at("messageId"));
    EXPECT_EQ(v.message.subject, want.at("subject"));
  }
}

TEST(Reply, CarriesEveryRequiredHeader) {
  struct Row {
    const char* label;
    TaskStatus status;
    std::string error_msg;
    std::string want_subject;
    std::string want_status;
    std::vector<std::string> want_error;  // X-AAMP-ErrorMsg values
  };
  const Row rows[] = {
      {"completed", TaskStatus::completed, "", "[AAMP Pair] completed", "completed", {}},
      {"completed ignores an error text", TaskStatus::completed, "stale", "[AAMP Pair] completed", "completed", {}},
      {"rejected", TaskStatus::rejected, "pair code already used", "[AAMP Pair] rejected", "rejected",
       {"pair code already used"}},
      {"rejected without a reason", TaskStatus::rejected, "", "[AAMP Pair] rejected", "rejected",
       {"pair request rejected"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    OutboxReply reply = fixture_reply();
    reply.status = row.status;
    reply.error_msg = row.error_msg;
    const std::string bytes = build_ok(reply);
    expect_clean_wire_form(bytes);
    const Parsed got = parse(bytes);
    EXPECT_EQ(got.from, "agent@example.com");
    EXPECT_EQ(got.to, "requester@example.com");
    EXPECT_EQ(got.one("Subject"), row.want_subject);
    EXPECT_EQ(got.one("Date"), "Mon, 21 Sep 2026 14:13:20 +0000");
    EXPECT_EQ(got.one("Message-Id"), "<pair-response@example.com>");
    EXPECT_EQ(got.one("In-Reply-To"), "<pair-request-1@requester.example.com>");
    EXPECT_EQ(got.one("References"), "<pair-request-1@requester.example.com>");
    EXPECT_EQ(got.one("Auto-Submitted"), "auto-replied");
    EXPECT_EQ(got.one("X-AAMP-Version"), "1.1");
    EXPECT_EQ(got.one("X-AAMP-Intent"), "pair.respond");
    EXPECT_EQ(got.one("X-AAMP-TaskId"), "pair-request-1");
    EXPECT_EQ(got.one("X-AAMP-Status"), row.want_status);
    EXPECT_EQ(got.all("X-AAMP-ErrorMsg"), row.want_error);
    EXPECT_EQ(got.one("MIME-Version"), "1.0");
    EXPECT_EQ(got.one("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_TRUE(got.body.starts_with("AAMP Pair Response\n\n")) << got.body;
    const Validation v = validate(split_header_block(bytes).fields);
    EXPECT_EQ(v.verdict, Verdict::valid) << (v.violations.empty() ? "" : v.violations.front().message);
    EXPECT_EQ(v.message.intent, Intent::pair_respond);
  }
}

TEST(Reply, ResendIsByteIdentical) {
  const OutboxReply reply = fixture_reply();
  EXPECT_EQ(build_ok(reply), build_ok(reply));
  OutboxReply retried = reply;  // what the worker changes between attempts
  retried.attempts = 5;
  retried.next_attempt_at = reply.created_at + 3600;
  retried.last_error = "sendmail exited with status 75";
  EXPECT_EQ(build_ok(retried), build_ok(reply));
}

TEST(Reply, WithoutInReplyToHasNoThreadingHeaders) {
  OutboxReply reply = fixture_reply();
  reply.in_reply_to.clear();
  const Parsed got = parse(build_ok(reply));
  EXPECT_TRUE(got.all("In-Reply-To").empty());
  EXPECT_TRUE(got.all("References").empty());
}

// Fields that must appear verbatim are refused when unsafe: the build fails.
TEST(Reply, RefusesUnsafeVerbatimFields) {
  const std::string injections[] = {
      "\r\nBcc: victim@example.net", "\nBcc: victim@example.net", "\rBcc: victim@example.net",
      "\r\n X-Folded: 1", "\r\n\r\nInjected body", std::string("\0Bcc: victim@example.net", 24), " \t",
      "\xc2\x85" "Bcc: victim@example.net",  // U+0085 NEL
  };
  struct Field {
    const char* label;
    std::string OutboxReply::*member;
    std::string base;
  };
  const Field fields[] = {
      {"message id", &OutboxReply::message_id, "<pair-response@example.com>"},
      {"message id inside brackets", &OutboxReply::message_id, "<pair-response@example.com"},
      {"from", &OutboxReply::from, "agent@example.com"},
      {"to", &OutboxReply::to, "requester@example.com"},
      {"task id", &OutboxReply::task_id, "pair-request-1"},
  };
  for (const auto& field : fields) {
    for (const auto& injection : injections) {
      SCOPED_TRACE(std::string(field.label) + " + " + testing::PrintToString(injection));
      OutboxReply reply = fixture_reply();
      reply.*field.member = field.base + injection + (field.member == &OutboxReply::message_id ? ">" : "");
      const auto built = build_pair_respond(reply);
      EXPECT_FALSE(built.ok());
    }
  }
  struct Row {
    const char* label;
    std::string OutboxReply::*member;
    std::string value;
  };
  const Row rows[] = {
      {"display name in from", &OutboxReply::from, "Agent <agent@example.com>"},
      {"two recipients", &OutboxReply::to, "a@example.com, b@example.com"},
      {"group syntax", &OutboxReply::to, "undisclosed-recipients:;"},
      {"empty to", &OutboxReply::to, ""},
      {"empty task id", &OutboxReply::task_id, ""},
      {"task id with space", &OutboxReply::task_id, "pair request"},
      {"empty message id", &OutboxReply::message_id, ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    OutboxReply reply = fixture_reply();
    reply.*row.member = row.value;
    EXPECT_FALSE(build_pair_respond(reply).ok());
  }
}

// Fields that are courtesy or prose are cleaned instead: the reply still goes out, and the
// injected text never forms a header of its own.
TEST(Reply, CleansErrorMsgAndDropsUnsafeInReplyTo) {
  const std::string injections[] = {
      "\r\nBcc: victim@example.net", "\nBcc: victim@example.net", "\rBcc: victim@example.net",
      "\r\n X-Folded: 1", "\r\n\r\nBcc: victim@example.net", std::string("x\0Bcc: victim@example.net", 25),
      "\xc2\x85" "Bcc: victim@example.net", "\r\nX-AAMP-Status: completed",
  };
  for (const auto& injection : injections) {
    SCOPED_TRACE(testing::PrintToString(injection));
    OutboxReply reply = fixture_reply();
    reply.error_msg = "invalid code" + injection;
    reply.in_reply_to = "<req@example.com>" + injection;
    const std::string bytes = build_ok(reply);
    expect_clean_wire_form(bytes);
    const Parsed got = parse(bytes);
    EXPECT_TRUE(got.all("Bcc").empty());
    EXPECT_TRUE(got.all("X-Folded").empty());
    EXPECT_TRUE(got.all("In-Reply-To").empty());
    EXPECT_TRUE(got.all("References").empty());
    EXPECT_EQ(got.all("X-AAMP-Status"), std::vector<std::string>{"rejected"});
    const Validation v = validate(split_header_block(bytes).fields);
    EXPECT_EQ(v.verdict, Verdict::valid) << (v.violations.empty() ? "" : v.violations.front().message);
    const std::string error = got.one("X-AAMP-ErrorMsg");
    EXPECT_TRUE(error.starts_with("invalid code")) << error;
    EXPECT_EQ(error.find_first_of("\r\n"), std::string::npos);
    // The body's sentence is cleaned the same way: the text stays one line.
    const auto line = got.body.find("Pairing rejected: ");
    ASSERT_NE(line, std::string::npos);
    EXPECT_EQ(got.body.substr(line, got.body.find('\n', line) - line), "Pairing rejected: " + error + ".");
  }
}

TEST(Reply, LongErrorMsgIsCutNotFolded) {
  OutboxReply reply = fixture_reply();
  reply.error_msg = std::string(5000, 'x');
  const std::string bytes = build_ok(reply);
  expect_clean_wire_form(bytes);
  EXPECT_EQ(parse(bytes).one("X-AAMP-ErrorMsg"), std::string(200, 'x'));
}

// GMime folds a long unstructured value by encoding its long words (RFC 2047): a TaskId or
// ErrorMsg must reach the wire as written, or the requester cannot match the reply.
TEST(Reply, LongTaskIdAndErrorMsgAreWrittenVerbatim) {
  struct Row {
    const char* label;
    std::string task_id;
    std::string error_msg;
  };
  const std::vector<Row> rows = {
      {"255-character task id", std::string(255, 'p'), "unknown pair code"},
      {"task id with percent signs", "pair-%0D%0ABcc:x@evil.example-" + std::string(60, 'q'), "unknown pair code"},
      {"200-character error word", "pair-request-1", std::string(200, 'x')},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    OutboxReply reply = fixture_reply();
    reply.task_id = row.task_id;
    reply.error_msg = row.error_msg;
    const std::string bytes = build_ok(reply);
    expect_clean_wire_form(bytes);
    EXPECT_NE(bytes.find("\r\nX-AAMP-TaskId: " + row.task_id + "\r\n"), std::string::npos);
    EXPECT_NE(bytes.find("\r\nX-AAMP-ErrorMsg: " + row.error_msg + "\r\n"), std::string::npos);
    EXPECT_EQ(bytes.substr(0, bytes.find("\r\n\r\n")).find("=?"), std::string::npos) << "an encoded-word";
    const Validation v = validate(split_header_block(bytes).fields);
    EXPECT_EQ(v.verdict, Verdict::valid) << (v.violations.empty() ? "" : v.violations[0].message);
    EXPECT_EQ(v.message.task_id, row.task_id);
  }
}

}  // namespace
}  // namespace aamp::mail
