// sql_policy_source.cpp — see sql_policy_source.hpp.
#include "store/sql_policy_source.hpp"

#include <unordered_map>

#include "store/codec.hpp"
#include "store/sql.hpp"

namespace aamp::store {

namespace {

CachedRule rule_row(const Statement& st) {
  CachedRule c;
  SenderRule& r = c.rule;
  r.id = st.int64(0);
  r.mailbox_id = st.int64(1);
  r.pattern = st.text(2);
  c.kind = kind_column(st.text(3));
  r.context = rules_column(st.text(4));
  r.origin = origin_column(st.text(5));
  r.created_at = st.int64(6);
  r.created_by = st.text(7);
  r.note = st.text(8);
  return c;
}

class SqlPolicySource final : public PolicySource {
 public:
  explicit SqlPolicySource(ConnectionPool& pool) : pool_(pool) {}

  std::int64_t last_seq() override {
    auto conn = pool_.acquire();
    auto st = conn->prepare(policy_sql::kLastSeq);
    return st.step() ? st.int64(0) : 0;
  }

  PolicyLoad load_all() override {
    auto conn = pool_.acquire();
    Transaction tx(*conn, Transaction::Kind::read);
    PolicyLoad load;
    {
      auto st = conn->prepare(policy_sql::kLastSeq);
      if (st.step()) load.seq = st.int64(0);
    }
    std::unordered_map<std::int64_t, std::size_t> at;  // mailbox id -> index in load.mailboxes
    {
      auto st = conn->prepare(policy_sql::kAllMailboxes);
      while (st.step()) {
        at.emplace(st.int64(0), load.mailboxes.size());
        load.mailboxes.push_back({mailbox_columns(st), {}});
      }
    }
    auto st = conn->prepare(policy_sql::kAllRules);
    while (st.step()) {
      // A rule whose mailbox was added after the mailbox query (no read snapshot on
      // PostgreSQL's READ COMMITTED) is left out: its change log row brings both.
      const auto it = at.find(st.int64(1));
      if (it != at.end()) load.mailboxes[it->second].rules.push_back(rule_row(st));
    }
    tx.commit();
    return load;
  }

  std::vector<PolicyChange> changes_since(std::int64_t seq) override {
    auto conn = pool_.acquire();
    auto st = conn->prepare(policy_sql::kChangesSince);
    st.bind(1, seq);
    std::vector<PolicyChange> out;
    while (st.step()) out.push_back({st.int64(0), st.int64(1)});
    return out;
  }

  std::vector<MailboxRows> load_mailboxes(std::span<const std::int64_t> ids) override {
    auto conn = pool_.acquire();
    Transaction tx(*conn, Transaction::Kind::read);
    std::vector<MailboxRows> out;
    for (const auto id : ids) {
      auto mb = conn->prepare(policy_sql::kMailbox);
      mb.bind(1, id);
      if (!mb.step()) continue;  // deleted
      MailboxRows rows{mailbox_columns(mb), {}};
      auto st = conn->prepare(policy_sql::kMailboxRules);
      st.bind(1, id);
      while (st.step()) rows.rules.push_back(rule_row(st));
      out.push_back(std::move(rows));
    }
    tx.commit();
    return out;
  }

  const std::string& name() const noexcept override { return pool_.path(); }

 private:
  ConnectionPool& pool_;
};

}  // namespace

std::unique_ptr<PolicySource> make_sql_policy_source(ConnectionPool& pool) {
  return std::make_unique<SqlPolicySource>(pool);
}

}  // namespace aamp::store
