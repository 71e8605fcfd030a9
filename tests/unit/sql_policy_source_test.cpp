// sql_policy_source_test.cpp — the policy cache over store/sql_policy_source.cpp and the SQL
// layer (store/sql.hpp) on a real SQLite file migrated with the compiled-in schema: the rows
// come back whole (mode, intents, trust, kinds, context rules), and the schema 0005
// triggers bring added, changed and deleted rows to a refresh. The equivalence with the
// store's own lookups is policy_cache_test's.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "store/policy_cache.hpp"
#include "store/sql.hpp"
#include "store/sql_policy_source.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::test {
namespace {

class SqlPolicySourceTest : public ::testing::Test {
 protected:
  SqlPolicySourceTest() {
    // The schema files themselves (kMigrations lives in aamp_store, which this test
    // cannot link yet: see tests/CMakeLists.txt).
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(AAMP_SOURCE_DIR "/schema/sqlite")) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    auto conn = pool_.acquire();
    for (const auto& f : files) {
      std::ifstream in(f);
      std::stringstream sql;
      sql << in.rdbuf();
      conn->exec(sql.str(), f.filename().string());
    }
  }
  void run(std::string_view sql) { pool_.acquire()->exec(std::string(sql), "test"); }
  std::set<std::int64_t> rule_ids(store::PolicyCache& c, std::int64_t mb, std::string_view sender) {
    std::set<std::int64_t> ids;
    for (const auto& r : c.matching_rules(mb, sender)) ids.insert(r.id);
    return ids;
  }

  TempDir dir_;
  store::ConnectionPool pool_{dir_.file("policy.db"), {.create = true}, 2};
};

TEST_F(SqlPolicySourceTest, RowsComeBackWholeAndChangesArrive) {
  run("INSERT INTO mailboxes (id, address, mode, intents, trust_auth, trust_internal, trust_authres, created_at, "
      "created_by, updated_at) VALUES (1, 'agent@example.com', 'report', 'task.dispatch', 1, 0, 1, 1, 't', 1), "
      "(2, '@example.com', 'off', '', 0, 0, 0, 1, 't', 1);"
      "INSERT INTO sender_rules (id, mailbox_id, pattern, pattern_kind, context_rules, origin, created_at, "
      "created_by, updated_at, note) VALUES "
      "(10, 1, 'alice@partner.com', 'exact', '{\"source\":[\"github\"]}', 'paired', 5, 'pair-code:3', 5, 'n'), "
      "(11, 1, '@partner.com', 'domain', '{}', 'configured', 4, 't', 4, ''), "
      "(12, 1, 'ci-*@partner.com', 'wildcard', '{}', 'configured', 6, 't', 6, '');");
  store::PolicyCache cache(store::make_sql_policy_source(pool_), {.background = false});

  const auto a = cache.find_mailbox("Agent@Example.com");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, 1);
  EXPECT_EQ(a->mode, MailboxMode::report);
  EXPECT_EQ(a->guarded_intents, std::vector<Intent>{Intent::task_dispatch});
  EXPECT_EQ(a->trust, trust_auth | trust_authres);
  const auto d = cache.find_mailbox("bob@example.com");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->id, 2);
  EXPECT_TRUE(d->guarded_intents.empty());
  EXPECT_EQ(d->trust, 0u);

  const auto rules = cache.matching_rules(1, "alice@partner.com");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].id, 11);  // oldest first
  EXPECT_EQ(rules[1].id, 10);
  EXPECT_EQ(rules[1].origin, RuleOrigin::paired);
  EXPECT_EQ(rules[1].context, (ContextRules{{"source", {"github"}}}));
  EXPECT_EQ(rules[1].created_by, "pair-code:3");
  EXPECT_EQ(rules[1].note, "n");
  EXPECT_EQ(rule_ids(cache, 1, "ci-1@partner.com"), (std::set<std::int64_t>{11, 12}));

  run("INSERT INTO sender_rules (id, mailbox_id, pattern, pattern_kind, origin, created_at, created_by, updated_at) "
      "VALUES (13, 2, 'eve@evil.net', 'exact', 'configured', 7, 't', 7);"
      "UPDATE mailboxes SET mode = 'enforce' WHERE id = 1;"
      "DELETE FROM sender_rules WHERE id = 12;");
  cache.refresh();
  EXPECT_EQ(rule_ids(cache, 2, "eve@evil.net"), std::set<std::int64_t>{13});
  EXPECT_EQ(cache.find_mailbox("agent@example.com")->mode, MailboxMode::enforce);
  EXPECT_EQ(rule_ids(cache, 1, "ci-1@partner.com"), std::set<std::int64_t>{11});

  run("DELETE FROM mailboxes WHERE id = 1");
  cache.refresh();
  EXPECT_EQ(cache.find_mailbox("agent@example.com")->id, 2);  // the domain row now
  EXPECT_TRUE(cache.matching_rules(1, "alice@partner.com").empty());
  EXPECT_EQ(cache.rule_count(), 1u);
}

}  // namespace
}  // namespace aamp::test
