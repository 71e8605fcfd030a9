// apply_plan_test.cpp — what apply.cpp will call for a Decision (milter/apply_plan.hpp),
// without libmilter: removal order, insertion order, the index check, reply validation, the
// fallback replies, the status by code class, the reply text handed to libmilter.
// Tables: label, input, want.
#include "milter/apply_plan.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aamp::milter {
namespace {

std::vector<std::pair<std::string, int>> removals_of(const ApplyPlan& plan) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& r : plan.removals) out.emplace_back(r.name, r.index);
  return out;
}

TEST(ApplyPlan, ValidReply) {
  struct Row {
    const char* label;
    SmtpReply reply;
    bool want;
  };
  const Row rows[] = {
      {"550 5.7.1", {"550", "5.7.1", "x"}, true},
      {"451 4.3.0", {"451", "4.3.0", "x"}, true},
      {"three-digit subject and detail", {"554", "5.123.456", "x"}, true},
      {"empty text is valid", {"550", "5.7.1", ""}, true},
      {"2xx refused", {"250", "2.0.0", "x"}, false},
      {"two-digit code", {"55", "5.7.1", "x"}, false},
      {"four-digit code", {"5500", "5.7.1", "x"}, false},
      {"letter in code", {"5x0", "5.7.1", "x"}, false},
      {"class mismatch", {"550", "4.7.1", "x"}, false},
      {"missing xcode", {"550", "", "x"}, false},
      {"xcode without detail", {"550", "5.7.", "x"}, false},
      {"xcode without subject", {"550", "5..1", "x"}, false},
      {"subject over three digits", {"550", "5.1234.1", "x"}, false},
      {"detail over three digits", {"550", "5.7.1234", "x"}, false},
      {"letter in detail", {"550", "5.7.x", "x"}, false},
      {"no dot after class", {"550", "5-7.1", "x"}, false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(valid_reply(row.reply), row.want);
  }
}

TEST(ApplyPlan, HeaderRemovalOrder) {
  struct Row {
    const char* label;
    std::vector<HeaderRemoval> input;
    std::vector<std::pair<std::string, int>> want;
  };
  const Row rows[] = {
      {"none", {}, {}},
      {"one", {{"Authentication-Results", 1}}, {{"Authentication-Results", 1}}},
      {"highest index first",
       {{"Authentication-Results", 1}, {"Authentication-Results", 3}, {"Authentication-Results", 2}},
       {{"Authentication-Results", 3}, {"Authentication-Results", 2}, {"Authentication-Results", 1}}},
      {"names grouped case-insensitively, the spelling kept",
       {{"authentication-results", 1}, {"X-Other", 1}, {"Authentication-Results", 2}},
       {{"Authentication-Results", 2}, {"authentication-results", 1}, {"X-Other", 1}}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Decision d;
    d.delete_headers = row.input;
    EXPECT_EQ(removals_of(plan_application(d)), row.want);
  }
}

TEST(ApplyPlan, RemovalIndexBelowOneThrowsBeforeAnyChange) {
  struct Row {
    const char* label;
    Action action;
    int index;
    bool throws;
  };
  const Row rows[] = {
      {"accept, index 0", Action::accept, 0, true},
      {"accept, negative index", Action::accept, -2, true},
      {"quarantine, index 0", Action::quarantine, 0, true},
      {"reject applies no header change", Action::reject, 0, false},
      {"tempfail applies no header change", Action::tempfail, 0, false},
      {"discard applies no header change", Action::discard, 0, false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Decision d;
    d.action = row.action;
    d.delete_headers = {{"Authentication-Results", 2}, {"Authentication-Results", row.index}};
    if (row.throws) {
      EXPECT_THROW(plan_application(d), std::runtime_error);
    } else {
      EXPECT_TRUE(plan_application(d).removals.empty());
    }
  }
}

TEST(ApplyPlan, ChangesByAction) {
  Decision base;
  base.delete_headers = {{"Authentication-Results", 1}};
  base.add_headers = {{"Authentication-Results", "mx; aamp=pass"}, {"X-Second", "2"}};
  base.delete_recipients = {"<a@example.net>", "<b@example.net>"};
  base.reply = SmtpReply{"550", "5.7.1", "no"};
  base.quarantine_reason = "aamp-milter: held";
  struct Row {
    const char* label;
    Action action;
    bool changes;
    std::optional<std::string> quarantine;
    EomStatus status;
  };
  const Row rows[] = {
      {"accept", Action::accept, true, std::nullopt, EomStatus::proceed},
      {"quarantine", Action::quarantine, true, "aamp-milter: held", EomStatus::proceed},
      {"reject", Action::reject, false, std::nullopt, EomStatus::reject},
      {"discard", Action::discard, false, std::nullopt, EomStatus::discard},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Decision d = base;
    d.action = row.action;
    const ApplyPlan plan = plan_application(d);
    EXPECT_EQ(plan.status, row.status);
    EXPECT_EQ(plan.quarantine_reason, row.quarantine);
    EXPECT_EQ(plan.reply.has_value(), row.action == Action::reject);
    if (!row.changes) {
      EXPECT_TRUE(plan.removals.empty() && plan.insertions.empty() && plan.delete_recipients.empty());
      continue;
    }
    EXPECT_EQ(removals_of(plan), (std::vector<std::pair<std::string, int>>{{"Authentication-Results", 1}}));
    // Inserted one by one at index 0: the last of the Decision goes first.
    ASSERT_EQ(plan.insertions.size(), 2u);
    EXPECT_EQ(plan.insertions[0].name, "X-Second");
    EXPECT_EQ(plan.insertions[1].name, "Authentication-Results");
    EXPECT_EQ(plan.insertions[1].value, "mx; aamp=pass");
    EXPECT_EQ(plan.delete_recipients, base.delete_recipients);
  }
}

TEST(ApplyPlan, QuarantineReason) {
  struct Row {
    const char* label;
    std::string input;
    std::string want;
  };
  const Row rows[] = {
      {"as given", "aamp-milter: stale task.dispatch", "aamp-milter: stale task.dispatch"},
      {"empty: our name", "", "aamp-milter"},
      {"CR/LF replaced", "aamp-milter: a\r\nb", "aamp-milter: a??b"},
      {"bounded to 200 bytes", std::string(250, 'x'), std::string(200, 'x') + "..."},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Decision d;
    d.action = Action::quarantine;
    d.quarantine_reason = row.input;
    EXPECT_EQ(plan_application(d).quarantine_reason, row.want);
  }
}

TEST(ApplyPlan, Refusal) {
  struct Row {
    const char* label;
    Action action;
    std::optional<SmtpReply> given;
    std::string want_reply;  // code xcode text, as smfi_setreply gets it
    EomStatus want_status;
    bool warns;
  };
  const Row rows[] = {
      {"reject as given", Action::reject, SmtpReply{"550", "5.7.1", "not allowed"}, "550 5.7.1 not allowed",
       EomStatus::reject, false},
      {"tempfail as given", Action::tempfail, SmtpReply{"451", "4.3.0", "try later"}, "451 4.3.0 try later",
       EomStatus::tempfail, false},
      {"reject without reply: fallback", Action::reject, std::nullopt,
       "550 5.7.1 message refused by AAMP policy", EomStatus::reject, false},
      {"tempfail without reply: fallback", Action::tempfail, std::nullopt,
       "451 4.3.0 temporary local problem, try again later", EomStatus::tempfail, false},
      {"invalid reply: the action's fallback", Action::reject, SmtpReply{"250", "2.0.0", "ok"},
       "550 5.7.1 message refused by AAMP policy", EomStatus::reject, true},
      {"invalid tempfail reply: the action's fallback", Action::tempfail, SmtpReply{"451", "5.3.0", "x"},
       "451 4.3.0 temporary local problem, try again later", EomStatus::tempfail, true},
      {"4xx reply with reject: tempfail by code class", Action::reject, SmtpReply{"451", "4.7.1", "later"},
       "451 4.7.1 later", EomStatus::tempfail, false},
      {"5xx reply with tempfail: reject by code class", Action::tempfail, SmtpReply{"554", "5.3.0", "no"},
       "554 5.3.0 no", EomStatus::reject, false},
      {"text made safe for libmilter", Action::reject, SmtpReply{"550", "5.7.1", " 100%\r\nsure "},
       "550 5.7.1 100%%  sure", EomStatus::reject, false},
      {"empty text: fallback text", Action::reject, SmtpReply{"550", "5.7.1", ""}, "550 5.7.1 message refused",
       EomStatus::reject, false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Decision d;
    d.action = row.action;
    d.reply = row.given;
    d.delete_headers = {{"Authentication-Results", 1}};
    const ApplyPlan plan = plan_application(d);
    ASSERT_TRUE(plan.reply.has_value());
    EXPECT_EQ(plan.reply->str(), row.want_reply);
    EXPECT_EQ(plan.status, row.want_status);
    EXPECT_EQ(!plan.warning.empty(), row.warns) << plan.warning;
    EXPECT_TRUE(plan.removals.empty());
  }
}

TEST(ApplyPlan, InvalidReplyWarning) {
  Decision d;
  d.action = Action::reject;
  d.reply = SmtpReply{"2\r\n0", "5.7.1\x01xxxxxxxxxxxxxxxxxxxx", "ok"};
  EXPECT_EQ(plan_application(d).warning,
            "apply: invalid SMTP reply \"2??0 5.7.1?xxxxxxxxxx...\": using \"550 5.7.1 message refused by AAMP policy\"");
}

}  // namespace
}  // namespace aamp::milter
