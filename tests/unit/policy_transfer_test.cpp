// policy_transfer_test.cpp — PolicyAdmin::export_policy and import_policy (store/admin.*),
// one implementation for both engines: policy written to a SQLite file is exported and
// imported into a database of each engine (a SQLite file; a schema of a PostgreSQL 15
// cluster the test starts, tests/support/pg_cluster.hpp), which then exports the same
// snapshot; a second import changes nothing; the conflict rules hold; a refused import
// writes nothing.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "store/admin.hpp"
#include "store/sql.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::store {
namespace {

constexpr UnixTime kNow = 1'800'000'000;

struct SqliteTarget {
  static constexpr const char* kName = "sqlite";
  test::TempDir dir;
  std::string database() const { return dir.file("target.db"); }
  AdminOptions options() const { return {.create = true, .migrate = true}; }
};

struct PostgresqlTarget {
  static constexpr const char* kName = "postgresql";
  PostgresqlTarget() {
    test::PgCluster::shared().superuser_sql("DROP SCHEMA IF EXISTS t CASCADE; CREATE SCHEMA t AUTHORIZATION aamp;");
  }
  std::string database() const { return test::PgCluster::shared().url() + "?options=-csearch_path%3Dt"; }
  AdminOptions options() const { return {.migrate = true}; }
};

// Everything a snapshot holds, as text: two snapshots are the same when these are.
std::string text(const PolicySnapshot& s) {
  std::string out;
  for (const auto& m : s.mailboxes)
    out += fmt::format("mailbox {} {} {} {} {} {} {} {}\n", m.mailbox.address, to_string(m.mailbox.mode),
                       intent_list(m.mailbox.guarded_intents), m.mailbox.trust, m.note, m.created_at, m.created_by,
                       m.updated_at);
  for (const auto& r : s.rules)
    out += fmt::format("rule {} {} {} {} {} {} {} {}\n", r.mailbox, r.rule.pattern, to_string(r.rule.origin),
                       r.rule.context, r.rule.note, r.rule.created_at, r.rule.created_by, r.updated_at);
  for (const auto& c : s.pair_codes)
    out += fmt::format("code {} {} {} {} {} {} {} {}\n", c.code_hash, c.mailbox, c.address, c.rules, c.expires_at,
                       c.note, c.created_at, c.created_by);
  for (const auto& l : s.lockouts)
    out += fmt::format("lockout {} {} {} {} {}\n", l.mailbox, l.requester, l.locked_at, l.until, l.failures);
  return out;
}

template <class Target>
class PolicyTransfer : public ::testing::Test {
 protected:
  PolicyTransfer() : source_(dir_.file("source.db"), {.create = true, .migrate = true}) {}

  // Two mailboxes, configured and paired rules, a live, a used, a revoked and an expired
  // code, an active and an ended lockout.
  void SetUp() override {
    ProtectedMailbox agent;
    agent.address = "agent@example.com";
    const auto a = source_.add_mailbox(agent, kNow - 100, "alice", "the agent");
    ProtectedMailbox org;
    org.address = "@example.org";
    org.mode = MailboxMode::report;
    org.trust = trust_auth;
    org.guarded_intents = {Intent::task_dispatch};
    const auto o = source_.add_mailbox(org, kNow - 90, "alice");
    source_.allow_sender("agent@example.com", "*@partner.com", {{"env", {"prod"}}}, kNow - 80, "alice", "CI");
    source_.allow_sender("agent@example.com", "*@partner.com", {{"env", {"dev"}}}, kNow - 80, "alice");
    source_.allow_sender("@example.org", "ci-*@partner.com", {}, kNow - 70, "alice");
    SenderRule paired;
    paired.mailbox_id = a;
    paired.pattern = "bob@remote.net";
    paired.origin = RuleOrigin::paired;
    paired.context = {{"src", {"github"}}};
    paired.created_at = kNow - 60;
    paired.created_by = "pair-code:7";
    source_.insert_rule(paired);
    source_.add_pair_code(a, "live-code", kNow - 50, kNow + 3600, {{"src", {"github"}}}, "alice", "for bob",
                          "agent@example.com");
    source_.add_pair_code(o, "bound-code", kNow - 50, kNow + 3600, {}, "alice", "", "bot@example.org");
    const auto used = source_.add_pair_code(a, "used-code", kNow - 50, kNow + 3600, {}, "alice");
    source_.revoke_pair_code(source_.add_pair_code(a, "revoked-code", kNow - 50, kNow + 3600, {}, "alice"), kNow);
    source_.add_pair_code(a, "expired-code", kNow - 50, kNow - 1, {}, "alice");
    auto conn = open_connection(source_.database(), {});
    conn->prepare("UPDATE pair_codes SET consumed_at = ?2, consumed_by = 'x@y.z' WHERE id = ?1")
        .bind(1, used)
        .bind(2, kNow - 10)
        .run();
    conn->prepare("INSERT INTO pair_lockouts (mailbox_id, locked_at, until, failures) VALUES (?1, ?2, ?3, 10)")
        .bind(1, a)
        .bind(2, kNow - 5)
        .bind(3, kNow + 600)
        .run();
    conn->prepare("INSERT INTO pair_lockouts (requester, locked_at, until, failures) VALUES "
                  "('eve@evil.net', ?1, ?2, 5), ('old@evil.net', ?1, ?1, 5)")
        .bind(1, kNow - 5)
        .bind(2, kNow + 600)
        .run();
    target_ = std::make_unique<PolicyAdmin>(where_.database(), where_.options());
  }

  PolicyAdmin& target() { return *target_; }

  test::TempDir dir_;
  PolicyAdmin source_;
  Target where_;
  std::unique_ptr<PolicyAdmin> target_;
};

class TargetNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return T::kName;
  }
};
using Targets = ::testing::Types<SqliteTarget, PostgresqlTarget>;
TYPED_TEST_SUITE(PolicyTransfer, Targets, TargetNames);

TYPED_TEST(PolicyTransfer, ExportHoldsLivePolicyInBytewiseOrder) {
  const auto s = this->source_.export_policy(kNow);
  ASSERT_EQ(s.mailboxes.size(), 2u);
  EXPECT_EQ(s.mailboxes[0].mailbox.address, "@example.org");  // '@' < 'a'
  ASSERT_EQ(s.rules.size(), 4u);
  EXPECT_EQ(s.rules[0].rule.pattern, "ci-*@partner.com");
  EXPECT_EQ(s.rules[1].rule.context, (ContextRules{{"env", {"dev"}}}));
  EXPECT_EQ(s.rules[3].rule.origin, RuleOrigin::paired);
  ASSERT_EQ(s.pair_codes.size(), 2u);  // not the used, revoked or expired ones
  EXPECT_LT(s.pair_codes[0].code_hash, s.pair_codes[1].code_hash);
  ASSERT_EQ(s.lockouts.size(), 2u);  // not the ended one
  EXPECT_EQ(s.lockouts[0].mailbox, "agent@example.com");
  EXPECT_EQ(s.lockouts[1].requester, "eve@evil.net");
}

TYPED_TEST(PolicyTransfer, ImportGivesTheSameSnapshotAndAgainChangesNothing) {
  const auto s = this->source_.export_policy(kNow);
  const auto first = this->target().import_policy(s);
  EXPECT_EQ(first.mailboxes.added, 2);
  EXPECT_EQ(first.rules.added, 4);
  EXPECT_EQ(first.pair_codes.added, 2);
  EXPECT_EQ(first.lockouts.added, 2);
  EXPECT_EQ(text(this->target().export_policy(kNow)), text(s));
  const auto again = this->target().import_policy(s);
  for (const auto* c : {&again.mailboxes, &again.rules, &again.pair_codes, &again.lockouts}) {
    EXPECT_EQ(c->added + c->updated + c->kept, 0);
  }
  EXPECT_EQ(again.rules.unchanged, 4);
  EXPECT_EQ(text(this->target().export_policy(kNow)), text(s));
}

TYPED_TEST(PolicyTransfer, ConflictsFollowTheRule) {
  const auto s = this->source_.export_policy(kNow);
  this->target().import_policy(s);
  // The target moves on: a mailbox changed, a rule of its own, the live code revoked.
  MailboxChange off;
  off.mode = MailboxMode::off;
  this->target().update_mailbox("agent@example.com", off, kNow + 1);
  this->target().allow_sender("agent@example.com", "carol@partner.com", {}, kNow + 1, "root");
  for (const auto& c : this->target().list_pair_codes())
    if (c.address == "agent@example.com") this->target().revoke_pair_code(c.id, kNow + 1);
  const auto sum = this->target().import_policy(s);
  EXPECT_EQ(sum.mailboxes.updated, 1);
  EXPECT_EQ(sum.pair_codes.kept, 1);
  EXPECT_EQ(this->target().mailbox("agent@example.com")->mailbox.mode, MailboxMode::enforce);  // the file wins
  EXPECT_EQ(this->target().list_rules().size(), 5u);                                         // never deleted
  const auto codes = this->target().export_policy(kNow).pair_codes;
  ASSERT_EQ(codes.size(), 1u);  // the revoked code stays revoked
  EXPECT_EQ(codes[0].address, "bot@example.org");
}

TYPED_TEST(PolicyTransfer, ARefusedImportWritesNothing) {
  auto s = this->source_.export_policy(kNow);
  s.rules.back().mailbox = "nobody@example.com";  // found after everything before it was written
  EXPECT_THROW(this->target().import_policy(s), AdminError);
  EXPECT_TRUE(this->target().list_mailboxes().empty());
  EXPECT_TRUE(this->target().list_rules().empty());
  s = this->source_.export_policy(kNow);
  s.rules.push_back(s.rules.front());
  try {
    this->target().import_policy(s);
    ADD_FAILURE() << "a duplicate rule was imported";
  } catch (const AdminError& e) {
    EXPECT_STREQ(e.what(), "senderRules[4] has the same key as senderRules[0]");
  }
  EXPECT_TRUE(this->target().list_mailboxes().empty());
}

}  // namespace
}  // namespace aamp::store
