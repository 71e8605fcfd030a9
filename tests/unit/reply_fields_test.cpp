// reply_fields_test.cpp — the header-safety grammar of pair.respond fields and the
// Message-ID maker (policy/reply_fields.hpp). Tables: label, input, want.
#include "policy/reply_fields.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace aamp {
namespace {

// Counts up from a seed: deterministic and different on every call.
class CountingRng final : public Rng {
 public:
  void fill(std::span<std::byte> out) override {
    for (auto& b : out) b = static_cast<std::byte>(next_++);
  }

 private:
  unsigned char next_ = 0;
};

using namespace std::string_view_literals;

struct BoolRow {
  const char* label;
  std::string_view input;
  bool want;
};

TEST(ReplyFields, Mailbox) {
  const BoolRow rows[] = {
      {"plain", "requester@example.com", true},
      {"dots and plus", "first.last+tag@mail.example.org", true},
      {"atext specials", "a!#$%&'*+-/=?^_`{|}~@example.com", true},
      {"no at", "requester.example.com", false},
      {"empty local", "@example.com", false},
      {"empty domain", "requester@", false},
      {"leading dot", ".a@example.com", false},
      {"double dot", "a..b@example.com", false},
      {"quoted local part", "\"a b\"@example.com", false},
      {"CRLF in local part", "a\r\nBcc: x@evil.test@example.com", false},
      {"LF in domain", "a@example.com\nBcc: x@evil.test", false},
      {"CR alone", "a@exam\rple.com", false},
      {"NUL", "a@example.com\0x"sv, false},
      {"space", "a b@example.com", false},
      {"angle brackets", "<a@example.com>", false},
      {"second address", "a@example.com,b@example.com", false},
      {"SMTP parameter", "a@example.com> SIZE=1", false},
      {"address literal", "a@[127.0.0.1]", false},
      {"8-bit", "j\xc3\xb6rg@example.com", false},
      {"label starts with hyphen", "a@-example.com", false},
      {"trailing dot", "a@example.com.", false},
      {"two ats", "a@b@example.com", false},
      {"too long", std::string_view("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com"), false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(is_reply_mailbox(row.input), row.want);
  }
}

TEST(ReplyFields, MessageId) {
  const BoolRow rows[] = {
      {"ours", "<aamp-pair.00ff@example.com>", true},
      {"typical", "<CAF=abc.123@mail.gmail.com>", true},
      {"domain literal", "<x@[127.0.0.1]>", true},
      {"no brackets", "x@example.com", false},
      {"no at", "<xexample.com>", false},
      {"CRLF injection", "<x@example.com>\r\nBcc: victim@example.net", false},
      {"LF inside", "<x@exa\nmple.com>", false},
      {"space inside", "<x y@example.com>", false},
      {"comment", "<x@example.com> (c)", false},
      {"two ids", "<a@b> <c@d>", false},
      {"empty left", "<@example.com>", false},
      {"NUL", "<x@exa\0mple.com>"sv, false},
      {"8-bit", "<\xff@example.com>", false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(is_reply_message_id(row.input), row.want);
  }
  EXPECT_FALSE(is_reply_message_id("<" + std::string(250, 'a') + "@b>"));
}

TEST(ReplyFields, TaskId) {
  const BoolRow rows[] = {
      {"uuid", "8c1c9d2e-5b9f-4c9a-9a67-0d2f0b3c8f11", true},
      {"fixture", "pair-request-1", true},
      {"empty", "", false},
      {"space", "pair request", false},
      {"CRLF header injection", "t1\r\nX-AAMP-Status: completed", false},
      {"bare LF", "t1\nX-Evil: 1", false},
      {"bare CR", "t1\rX-Evil: 1", false},
      {"TAB", "t1\tx", false},
      {"NUL", "t1\0x"sv, false},
      {"DEL", "t1\x7f", false},
      {"8-bit", "t\xc3\xa9", false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(is_reply_task_id(row.input), row.want);
  }
  EXPECT_TRUE(is_reply_task_id(std::string(255, 'a')));
  EXPECT_FALSE(is_reply_task_id(std::string(256, 'a')));
}

TEST(ReplyFields, MakeMessageId) {
  CountingRng rng;
  const std::string first = make_reply_message_id(rng, "Example.COM");
  EXPECT_EQ(first, "<aamp-pair.000102030405060708090a0b0c0d0e0f@example.com>");
  EXPECT_TRUE(is_reply_message_id(first));
  std::set<std::string> seen{first};
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(seen.insert(make_reply_message_id(rng, "example.com")).second);

  struct Row {
    const char* label;
    std::string_view domain;
    std::string_view want_suffix;
  };
  const Row rows[] = {
      {"plain", "mail.example.org", "@mail.example.org>"},
      {"CRLF in domain", "example.com>\r\nBcc: x@evil.test", "@aamp-milter.invalid>"},
      {"empty", "", "@aamp-milter.invalid>"},
      {"8-bit", "b\xc3\xbcro.example", "@aamp-milter.invalid>"},
      {"literal", "[127.0.0.1]", "@aamp-milter.invalid>"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const std::string id = make_reply_message_id(rng, row.domain);
    EXPECT_TRUE(id.ends_with(row.want_suffix)) << id;
    EXPECT_TRUE(is_reply_message_id(id)) << id;
  }
}

}  // namespace
}  // namespace aamp
