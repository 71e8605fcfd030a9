// sql_policy_source.hpp — the PolicySource of the policy cache over the SQL layer
// (store/sql.hpp): the same queries on SQLite and PostgreSQL, each call on a connection
// borrowed from the store's pool. The change log it reads is schema 0005's policy_changes.
// Threading: as the pool; the cache calls it from its one refresh thread.
// This header does not include store/sql.hpp (a forward declaration is enough), so the
// queries below can be read by a test that talks to SQLite some other way.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "store/codec.hpp"
#include "store/policy_cache.hpp"

namespace aamp::store {

class ConnectionPool;

// Reads from `pool`, which must outlive it.
std::unique_ptr<PolicySource> make_sql_policy_source(ConnectionPool& pool);

// The queries, in the dialect both engines share (?N placeholders).
namespace policy_sql {
// Read first, before the data: the data is then at least as new as this seq.
inline constexpr std::string_view kLastSeq = "SELECT coalesce(max(seq), 0) FROM policy_changes";
inline constexpr std::string_view kChangesSince =
    "SELECT seq, mailbox_id FROM policy_changes WHERE seq > ?1 ORDER BY seq";
// kMailboxColumns, read by the source's mailbox decoder (mailbox_columns).
inline const std::string kAllMailboxes = std::string("SELECT ").append(kMailboxColumns).append(" FROM mailboxes");
inline const std::string kMailbox = kAllMailboxes + " WHERE id = ?1";
// Columns 0-8, read by the source's rule decoder.
inline constexpr std::string_view kAllRules =
    "SELECT id, mailbox_id, pattern, pattern_kind, context_rules, origin, created_at, created_by, note "
    "FROM sender_rules";
inline constexpr std::string_view kMailboxRules =
    "SELECT id, mailbox_id, pattern, pattern_kind, context_rules, origin, created_at, created_by, note "
    "FROM sender_rules WHERE mailbox_id = ?1";
}  // namespace policy_sql

}  // namespace aamp::store
