// memory_store_test.cpp — what only the in-memory fake has: fault injection and call
// counting for the engine's failure-path tests. Its Store/Outbox behaviour is covered by
// store_contract_test.cpp, against the SQLite store as well.
#include <gtest/gtest.h>

#include "tests/support/memory_store.hpp"

namespace aamp::test {
namespace {

TEST(MemoryStore, FailNextThrowsTheKindOnceForTheNamedOperation) {
  MemoryStore s;
  ProtectedMailbox m;
  m.address = "agent@example.com";
  s.add_mailbox(m);
  s.fail_next(StoreErrorKind::busy, "record_audit");
  EXPECT_TRUE(s.find_mailbox("agent@example.com"));  // other operations unaffected
  try {
    s.record_audit({});
    FAIL() << "no StoreError";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::busy);
  }
  EXPECT_TRUE(s.audit().empty());
  s.record_audit({});
  EXPECT_EQ(s.audit().size(), 1u);
  EXPECT_EQ(s.calls("record_audit"), 2);
  EXPECT_EQ(s.calls("find_mailbox"), 1);
}

TEST(MemoryStore, FailNextWithoutOperationHitsTheNextCalls) {
  MemoryStore s;
  s.fail_next(StoreErrorKind::corrupt, "", 2);
  EXPECT_THROW(s.find_mailbox("a@b.c"), StoreError);
  EXPECT_THROW(s.due_replies(0, 1), StoreError);
  EXPECT_NO_THROW(s.find_mailbox("a@b.c"));
}

TEST(MemoryStore, FailAlwaysUntilCleared) {
  MemoryStore s;
  s.fail_always(StoreErrorKind::unavailable);
  int effects = 0;
  PairAttempt a;
  EXPECT_THROW(s.redeem_pair_code(a, [&](const PairCheck&) { ++effects; return PairEffects{}; }), StoreError);
  EXPECT_EQ(effects, 0);
  EXPECT_THROW(s.matching_rules(1, "x@y.z"), StoreError);
  s.fail_always(std::nullopt);
  EXPECT_NO_THROW(s.matching_rules(1, "x@y.z"));
}

TEST(MemoryStore, StoresOnlyTheHashOfACode) {
  MemoryStore s;
  ProtectedMailbox m;
  m.address = "agent@example.com";
  const auto id = s.add_mailbox(m);
  s.add_pair_code(id, "secret-code", 100);
  ASSERT_EQ(s.pair_codes().size(), 1u);
  EXPECT_EQ(s.pair_codes()[0].code_hash.find("secret"), std::string::npos);
  EXPECT_EQ(s.pair_codes()[0].code_hash.size(), 64u);
}

}  // namespace
}  // namespace aamp::test
