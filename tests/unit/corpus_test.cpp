// corpus_test.cpp — replays the adversarial corpus (tests/corpus/*.eml, format in its
// README.md) through aamp::decide against the one fixed scene, and checks each file's
// expected outcome plus the invariants every hostile message must keep: no exception, a
// clear SMTP reply when refused, printable verdict headers and audit rows, no pair code in
// clear, and pair.respond replies that carry no byte of injected header. One test per
// sequence group; files of a group share one scene, in name order. Single-threaded.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <set>

#include "mail/reply.hpp"
#include "policy/encodings.hpp"
#include "policy/engine.hpp"
#include "policy/header_block.hpp"
#include "policy/reply_fields.hpp"
#include "policy/text.hpp"
#include "policy/validator.hpp"
#include "tests/support/corpus.hpp"

namespace aamp {
namespace {

using test::CorpusCase;
using test::CorpusScene;

const std::vector<test::CorpusCase>& corpus() {
  static const std::vector<test::CorpusCase> cases = test::load_corpus(test::corpus_dir());
  return cases;
}

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

std::string first_value(const HeaderList& headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return unfold(h.value);
  return {};
}

// What one message did, collected for the expectation check.
struct MessageRun {
  Decision decision;
  std::vector<AuditRecord> audit;    // rows this message added
  std::vector<OutboxReply> replies;  // replies this message queued
  int store_calls = 0;
  double micros = 0;
  bool threw = false;
  std::string exception;
};

MessageRun run_case(CorpusScene& scene, const CorpusCase& c) {
  scene.clock.advance(c.clock_advance);
  if (!c.store_fault.empty()) scene.store.fail_next(StoreErrorKind::busy, c.store_fault);
  const MessageFacts facts = test::corpus_facts(c);
  const std::size_t audit_before = scene.store.audit().size();
  const std::size_t outbox_before = scene.store.outbox().size();
  const int calls_before = test::store_calls(scene.store);
  MessageRun r;
  const auto start = std::chrono::steady_clock::now();
  try {
    r.decision = decide(facts, EngineContext{scene.policy, scene.store, scene.clock, scene.rng});
  } catch (const std::exception& e) {
    r.threw = true;
    r.exception = e.what();
  } catch (...) {
    r.threw = true;
  }
  r.micros = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  r.store_calls = test::store_calls(scene.store) - calls_before;
  const auto audit = scene.store.audit();
  r.audit.assign(audit.begin() + static_cast<std::ptrdiff_t>(audit_before), audit.end());
  const auto outbox = scene.store.outbox();
  for (std::size_t i = outbox_before; i < outbox.size(); ++i) r.replies.push_back(outbox[i].reply);
  return r;
}

// ---------------------------------------------------------------------------------------
// The invariants: true of every file, whatever it expects.

void check_invariants(const MessageFacts& facts, const MessageRun& r) {
  ASSERT_FALSE(r.threw) << "decide() threw: " << r.exception;
  const Decision& d = r.decision;
  EXPECT_NE(to_string(d.verdict), "internal-error") << d.reason;

  // A refusal is a clear SMTP reply: 4xx/5xx matching the action, an enhanced code of the
  // same class, readable printable-ASCII text of bounded length.
  if (d.action == Action::reject || d.action == Action::tempfail) {
    ASSERT_TRUE(d.reply.has_value()) << "refused without a reply";
    const char cls = d.action == Action::reject ? '5' : '4';
    EXPECT_TRUE(std::regex_match(d.reply->code, std::regex("[45][0-9][0-9]"))) << d.reply->code;
    EXPECT_EQ(d.reply->code.front(), cls);
    EXPECT_TRUE(std::regex_match(d.reply->xcode, std::regex("[45]\\.[0-9]{1,3}\\.[0-9]{1,3}"))) << d.reply->xcode;
    EXPECT_EQ(d.reply->xcode.front(), cls);
    EXPECT_TRUE(printable_ascii(d.reply->text)) << d.reply->text;
    EXPECT_GE(d.reply->text.size(), 10u) << d.reply->text;
    EXPECT_LE(d.reply->text.size(), 400u);
    EXPECT_TRUE(std::regex_search(d.reply->text, std::regex("[A-Za-z]{3,} [A-Za-z]{2,}"))) << d.reply->text;
  } else {
    EXPECT_FALSE(d.reply.has_value()) << d.reply->str();
  }
  for (const auto& h : d.add_headers) {
    EXPECT_EQ(h.name, "Authentication-Results");
    EXPECT_TRUE(printable_ascii(h.value)) << h.value;
    EXPECT_TRUE(istarts_with(h.value, "mx.example.net;")) << h.value;
  }
  EXPECT_TRUE(printable_ascii(d.quarantine_reason));

  // Audit rows: what came from the message is printable ASCII; our reason is UTF-8 without
  // control characters (redact_code writes an ellipsis); never the pair code whole.
  const std::string code = first_value(facts.headers, "X-AAMP-Pair-Code");
  for (const auto& a : r.audit) {
    for (const std::string* s : {&a.message_id, &a.client_addr, &a.auth_user, &a.envelope_from, &a.header_from,
                                 &a.recipient, &a.intent, &a.task_id})
      EXPECT_TRUE(printable_ascii(*s)) << *s;
    EXPECT_TRUE(printable_ascii(std::string(to_string(a.verdict))));
    EXPECT_TRUE(is_valid_utf8(a.reason)) << a.reason;
    EXPECT_TRUE(std::none_of(a.reason.begin(), a.reason.end(), [](char c) { return c >= 0 && c < 0x20; })) << a.reason;
    if (code.size() >= 4) {
      EXPECT_EQ(a.reason.find(code), std::string::npos) << "pair code in clear in the audit row";
    }
  }
  EXPECT_EQ(r.audit.empty(), std::none_of(d.recipients.begin(), d.recipients.end(),
                                          [](const RecipientOutcome& o) { return o.protected_mailbox; }) ||
                                 d.verdict == AuditVerdict::store_error)
      << "every protected recipient gets an audit row (unless the store failed)";

  // Work, not time: a bounded number of store calls per recipient.
  EXPECT_LE(r.store_calls, 3 * static_cast<int>(facts.recipients.size()) + 1) << "store calls";

  // Every queued pair.respond is safe to send: its fields pass the reply grammar, the built
  // mail has exactly the headers it should, once each, and our validator finds it valid.
  const std::string task_id = first_value(facts.headers, "X-AAMP-TaskId");
  const std::string from = validate(facts.headers).message.from;
  for (const auto& reply : r.replies) {
    SCOPED_TRACE("queued reply " + reply.message_id);
    EXPECT_TRUE(is_reply_message_id(reply.message_id));
    EXPECT_TRUE(is_reply_mailbox(reply.from)) << reply.from;
    EXPECT_TRUE(is_reply_mailbox(reply.to)) << reply.to;
    EXPECT_TRUE(is_reply_task_id(reply.task_id)) << reply.task_id;
    EXPECT_EQ(reply.task_id, task_id) << "the reply echoes the request's TaskId unchanged";
    EXPECT_EQ(reply.to, from) << "the reply goes to the request's From, nowhere else";
    EXPECT_TRUE(reply.in_reply_to.empty() || is_reply_message_id(reply.in_reply_to)) << reply.in_reply_to;
    EXPECT_TRUE(printable_ascii(reply.error_msg)) << reply.error_msg;
    const auto built = mail::build_pair_respond(reply);
    ASSERT_TRUE(built) << built.error();
    const auto block = split_header_block(*built);
    ASSERT_TRUE(block.complete);
    static const std::set<std::string> kAllowed = {
        "from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
        "x-aamp-version", "x-aamp-intent", "x-aamp-taskid", "x-aamp-status", "x-aamp-errormsg",
        "mime-version", "content-type", "content-transfer-encoding"};
    std::map<std::string, int> seen;
    for (const auto& h : block.fields) {
      EXPECT_TRUE(kAllowed.count(to_lower(h.name)) == 1) << "unexpected header in the reply: " << h.name;
      EXPECT_EQ(++seen[to_lower(h.name)], 1) << "header twice in the reply: " << h.name;
      EXPECT_TRUE(printable_ascii(unfold(h.value))) << h.name << ": " << h.value;
    }
    const Validation v = validate(block.fields);
    EXPECT_EQ(v.verdict, Verdict::valid) << (v.violations.empty() ? "" : v.violations[0].message);
    EXPECT_EQ(v.message.task_id, task_id);
    EXPECT_EQ(v.message.intent, Intent::pair_respond);
  }
}

// ---------------------------------------------------------------------------------------
// The file's own expectations. Returns the mismatches (empty: as expected).

std::vector<std::string> mismatches(const CorpusCase& c, const MessageRun& r) {
  std::vector<std::string> out;
  const Decision& d = r.decision;
  const auto want = [&](bool ok, const std::string& what) {
    if (!ok) out.push_back(what);
  };
  want(d.action == c.action, "action: want " + std::string(to_string(c.action)) + ", got " +
                                 std::string(to_string(d.action)));
  if (c.reply_prefix) {
    const std::string got = d.reply ? d.reply->str() : "(none)";
    want(got.rfind(*c.reply_prefix, 0) == 0, "reply: want prefix '" + *c.reply_prefix + "', got '" + got + "'");
  }
  want(to_string(d.verdict) == c.verdict, "verdict: want " + c.verdict + ", got " + std::string(to_string(d.verdict)));
  std::vector<std::string> audit;
  for (const auto& a : r.audit) audit.emplace_back(to_string(a.verdict));
  std::string got_audit;
  for (const auto& v : audit) got_audit += (got_audit.empty() ? "" : ",") + v;
  std::string want_audit;
  for (const auto& v : c.audit) want_audit += (want_audit.empty() ? "" : ",") + v;
  want(audit == c.audit, "audit: want '" + (want_audit.empty() ? "none" : want_audit) + "', got '" +
                             (got_audit.empty() ? "none" : got_audit) + "'");
  std::string got_deleted;
  for (const auto& x : d.delete_recipients) got_deleted += "<" + x + ">";
  want(d.delete_recipients == c.deleted_recipients, "deleted recipients: got " + got_deleted);
  if (c.outbox) {
    bool same = c.outbox->size() == r.replies.size();
    std::string got;
    for (std::size_t i = 0; i < r.replies.size(); ++i) {
      const auto& x = r.replies[i];
      got += std::string(got.empty() ? "" : "; ") + (x.status == TaskStatus::completed ? "completed" : "rejected ") +
             x.error_msg;
      if (same) same = x.status == (*c.outbox)[i].status && x.error_msg == (*c.outbox)[i].error_msg;
    }
    want(same, "outbox: got '" + (got.empty() ? "none" : got) + "'");
  }
  if (c.in_reply_to) {
    for (const auto& x : r.replies)
      want(x.in_reply_to == *c.in_reply_to, "in-reply-to: got '" + x.in_reply_to + "'");
  }
  want(static_cast<int>(d.delete_headers.size()) == c.removed_headers,
       "removed headers: want " + std::to_string(c.removed_headers) + ", got " + std::to_string(d.delete_headers.size()));
  if (c.verdict_header) {
    std::string header;
    for (const auto& h : d.add_headers) header += h.value;
    if (*c.verdict_header == "none") {
      want(header.empty(), "verdict header: want none, got '" + header + "'");
    } else {
      want(header.find(*c.verdict_header) != std::string::npos,
           "verdict header: want '" + *c.verdict_header + "' in '" + header + "'");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------

class CorpusGroup : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusGroup, EachFileGetsItsExpectedOutcome) {
  const auto scene = test::make_corpus_scene();
  for (const auto& c : corpus()) {
    if (c.group != GetParam()) continue;
    SCOPED_TRACE(c.name + " — " + c.why);
    const MessageRun r = run_case(*scene, c);
    check_invariants(test::corpus_facts(c), r);
    const auto wrong = mismatches(c, r);
    if (c.known_bug.empty()) {
      for (const auto& w : wrong) ADD_FAILURE() << w;
    } else {
      // A known bug: the file states the right outcome, the code does not give it yet.
      // When it does, the marker must go (so the fix is noticed and kept).
      EXPECT_FALSE(wrong.empty()) << "fixed? remove X-Test-Known-Bug: " << c.known_bug;
      std::printf("[ KNOWN BUG ] %s: %s (%s)\n", c.name.c_str(), c.known_bug.c_str(),
                  wrong.empty() ? "" : wrong.front().c_str());
    }
  }
}

std::vector<std::string> group_names() {
  std::vector<std::string> out;
  try {
    for (const auto& g : test::corpus_groups(corpus())) out.push_back(g.front()->group);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corpus: %s\n", e.what());
    out.push_back("unreadable");  // the test of that name fails below with the reason
  }
  return out;
}

std::string group_label(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (const auto& c : corpus())
    if (c.group == info.param) {
      name = c.name.substr(0, c.name.find('.'));
      break;
    }
  if (name.empty()) name = info.param;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return "f" + name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusGroup, ::testing::ValuesIn(group_names()), group_label);

// ---------------------------------------------------------------------------------------
// The corpus as a whole.

TEST(CorpusShape, EnoughFilesInEveryCategory) {
  std::map<std::string, int> per_category;
  for (const auto& c : corpus()) ++per_category[c.category];
  static const std::vector<std::string> kCategories = {
      "control", "duplicate", "encoding", "injection", "size", "nul", "utf8", "bomb", "authres",
      "from", "auth", "expiry", "pairing", "recipients", "intent", "version", "report", "store"};
  for (const auto& cat : kCategories) EXPECT_GE(per_category[cat], 1) << cat;
  for (const auto& [cat, n] : per_category)
    EXPECT_TRUE(std::find(kCategories.begin(), kCategories.end(), cat) != kCategories.end()) << "unknown category " << cat;
  EXPECT_GE(corpus().size(), 150u);
  std::printf("corpus: %zu files\n", corpus().size());
  for (const auto& [cat, n] : per_category) std::printf("  %-11s %3d\n", cat.c_str(), n);
}

// The cost of each message, reported (not asserted: a loaded machine must not fail a test;
// bench/micro/corpus_bench.cpp measures it properly). The bound asserted is the work: store
// calls per message, above in check_invariants.
TEST(CorpusShape, PerFileTimingReport) {
  std::vector<std::pair<double, std::string>> times;
  double total = 0;
  for (const auto& group : test::corpus_groups(corpus())) {
    const auto scene = test::make_corpus_scene();
    for (const CorpusCase* c : group) {
      const MessageRun r = run_case(*scene, *c);
      times.emplace_back(r.micros, c->name + " (" + std::to_string(c->message.size()) + " bytes)");
      total += r.micros;
    }
  }
  std::sort(times.rbegin(), times.rend());
  std::printf("corpus: %zu messages through decide() in %.0f us (mean %.1f us); slowest:\n", times.size(), total,
              total / static_cast<double>(times.size()));
  for (std::size_t i = 0; i < times.size() && i < 10; ++i)
    std::printf("  %9.1f us  %s\n", times[i].first, times[i].second.c_str());
}

}  // namespace
}  // namespace aamp
