// admin.cpp — see admin.hpp. Each change: a write transaction, validate against what is in
// the database, write, COMMIT; a refusal throws before anything is written and the
// Transaction rolls back. The SQL runs unchanged on SQLite and PostgreSQL (store/sql.hpp).
#include "store/admin.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "policy/pair_code.hpp"
#include "store/codec.hpp"
#include "store/sql_store.hpp"

namespace aamp::store {

namespace {

const std::string kMailboxEntryColumns = fmt::format("{}, created_at, created_by, updated_at, note", kMailboxColumns);

MailboxEntry read_mailbox(const Statement& st) {
  MailboxEntry e;
  e.mailbox = mailbox_columns(st);
  e.created_at = st.int64(kMailboxColumnCount);
  e.created_by = st.text(kMailboxColumnCount + 1);
  e.updated_at = st.int64(kMailboxColumnCount + 2);
  e.note = st.text(kMailboxColumnCount + 3);
  return e;
}

constexpr std::string_view kRuleColumns =
    "r.id, r.mailbox_id, r.pattern, r.pattern_kind, r.context_rules, r.origin, r.created_at, r.created_by, "
    "r.updated_at, r.note, m.address";

RuleEntry read_rule(const Statement& st) {
  RuleEntry e;
  e.rule.id = st.int64(0);
  e.rule.mailbox_id = st.int64(1);
  e.rule.pattern = st.text(2);
  e.kind = kind_column(st.text(3));
  e.rule.context = rules_column(st.text(4));
  e.rule.origin = origin_column(st.text(5));
  e.rule.created_at = st.int64(6);
  e.rule.created_by = st.text(7);
  e.updated_at = st.int64(8);
  e.rule.note = st.text(9);
  e.mailbox = st.text(10);
  return e;
}

constexpr std::string_view kCodeColumns =
    "c.id, c.mailbox_id, m.address, c.rules, c.created_at, c.created_by, c.expires_at, c.consumed_at, "
    "c.consumed_by, c.revoked_at, c.note, c.address, c.code_hash";

PairCodeEntry read_code(const Statement& st) {
  PairCodeEntry e;
  e.id = st.int64(0);
  e.mailbox_id = st.int64(1);
  e.mailbox = st.text(2);
  e.rules = rules_column(st.text(3));
  e.created_at = st.int64(4);
  e.created_by = st.text(5);
  e.expires_at = st.int64(6);
  e.consumed_at = st.maybe_int64(7);
  e.consumed_by = st.maybe_text(8).value_or("");
  e.revoked_at = st.maybe_int64(9);
  e.note = st.text(10);
  e.address = st.maybe_text(11).value_or("");
  e.code_hash = st.text(12);
  return e;
}

bool is_key_char(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

// Dispatch-context rule keys follow the Dispatch-Context grammar (brief §1): [a-z0-9_-]+;
// a key needs at least one allowed value, and values are non-empty.
void check_rules(const ContextRules& rules) {
  for (const auto& [key, values] : rules) {
    if (key.empty() || !std::all_of(key.begin(), key.end(), is_key_char))
      throw AdminError(fmt::format("context key '{}' is not [a-z0-9_-]+", key));
    if (values.empty()) throw AdminError(fmt::format("context key '{}' needs at least one allowed value", key));
    for (const auto& v : values)
      if (v.empty()) throw AdminError(fmt::format("context key '{}' has an empty value", key));
  }
}

ConnectionOptions connection_options(const AdminOptions& o) {
  ConnectionOptions c;
  c.create = o.create;
  c.busy_timeout = o.busy_timeout;
  return c;
}

// The id an INSERT ... RETURNING id gave back.
std::int64_t returned_id(Statement& st) {
  if (!st.step()) throw StoreError(StoreErrorKind::io, "an insert returned no id");
  const std::int64_t id = st.int64(0);
  st.run();
  return id;
}

// Binds a mailbox's settings after mode and intents, in kMailboxColumns' order: the three
// trust columns, thread_binding and unknown_threads (NULL: the configuration's).
void bind_settings(Statement& st, int first, const ProtectedMailbox& m) {
  st.bind(first, (m.trust & trust_auth) != 0 ? 1 : 0);
  st.bind(first + 1, (m.trust & trust_internal) != 0 ? 1 : 0);
  st.bind(first + 2, (m.trust & trust_authres) != 0 ? 1 : 0);
  if (m.thread_binding) st.bind(first + 3, to_string(*m.thread_binding));
  else st.bind(first + 3, nullptr);
  if (m.unknown_threads) st.bind(first + 4, to_string(*m.unknown_threads));
  else st.bind(first + 4, nullptr);
}

}  // namespace

PairCodeState PairCodeEntry::state(UnixTime now) const noexcept {
  if (revoked_at) return PairCodeState::revoked;
  if (consumed_at) return PairCodeState::used;
  if (expires_at <= now) return PairCodeState::expired;
  return PairCodeState::live;
}

std::string parse_mailbox_address(const std::string& text) {
  const auto p = parse_sender_pattern(text);
  if (!p) throw AdminError(fmt::format("'{}' is not a mailbox address: {}", text, p.error()));
  if (p->kind == PatternKind::wildcard)
    throw AdminError(fmt::format("'{}' is not a mailbox address: give agent@example.com or @example.com, no '*'", text));
  return p->text;
}

PolicyAdmin::PolicyAdmin(const std::string& database, const AdminOptions& options)
    : database_(database), conn_(open_connection(database, connection_options(options))) {
  if (options.migrate) {
    migration_ = migrate(*conn_);
  } else {
    require_current(*conn_);
    migration_.from = migration_.to = latest_version(migrations_for(conn_->dialect()));
  }
}

// --- mailboxes ---------------------------------------------------------------------------

std::optional<MailboxEntry> PolicyAdmin::mailbox_locked(const std::string& address) {
  auto st = conn_->prepare(fmt::format("SELECT {} FROM mailboxes WHERE address = ?1", kMailboxEntryColumns));
  st.bind(1, address);
  if (!st.step()) return std::nullopt;
  return read_mailbox(st);
}

std::optional<MailboxEntry> PolicyAdmin::mailbox(const std::string& address) {
  return mailbox_locked(parse_mailbox_address(address));
}

std::int64_t PolicyAdmin::add_mailbox(const ProtectedMailbox& mailbox, UnixTime now, const std::string& by,
                                      const std::string& note) {
  const std::string address = parse_mailbox_address(mailbox.address);
  Transaction tx(*conn_, Transaction::Kind::write);
  if (const auto existing = mailbox_locked(address))
    throw AdminError(fmt::format("mailbox {} exists already (id {}); change it with `aampctl mailbox set`", address,
                                 existing->mailbox.id));
  auto st = conn_->prepare(
      "INSERT INTO mailboxes (address, mode, intents, trust_auth, trust_internal, trust_authres, thread_binding, "
      "unknown_threads, created_at, created_by, updated_at, note) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9, ?11) RETURNING id");
  st.bind(1, address).bind(2, to_string(mailbox.mode)).bind(3, intent_list(mailbox.guarded_intents));
  bind_settings(st, 4, mailbox);
  st.bind(9, now).bind(10, by).bind(11, note);
  const auto id = returned_id(st);
  tx.commit();
  return id;
}

void PolicyAdmin::update_mailbox(const std::string& address_text, const MailboxChange& change, UnixTime now) {
  const std::string address = parse_mailbox_address(address_text);
  Transaction tx(*conn_, Transaction::Kind::write);
  auto entry = mailbox_locked(address);
  if (!entry) throw AdminError(fmt::format("no mailbox {} (see `aampctl mailbox list`)", address));
  auto& m = entry->mailbox;
  if (change.mode) m.mode = *change.mode;
  if (change.intents) m.guarded_intents = *change.intents;
  if (change.trust) m.trust = *change.trust;
  if (change.thread_binding) m.thread_binding = *change.thread_binding;
  if (change.unknown_threads) m.unknown_threads = *change.unknown_threads;
  if (change.note) entry->note = *change.note;
  auto st = conn_->prepare(
      "UPDATE mailboxes SET mode = ?2, intents = ?3, trust_auth = ?4, trust_internal = ?5, trust_authres = ?6, "
      "thread_binding = ?7, unknown_threads = ?8, note = ?9, updated_at = ?10 WHERE id = ?1");
  st.bind(1, m.id).bind(2, to_string(m.mode)).bind(3, intent_list(m.guarded_intents));
  bind_settings(st, 4, m);
  st.bind(9, entry->note).bind(10, now);
  st.run();
  tx.commit();
}

RemovedMailbox PolicyAdmin::remove_mailbox(const std::string& address_text) {
  const std::string address = parse_mailbox_address(address_text);
  Transaction tx(*conn_, Transaction::Kind::write);
  const auto entry = mailbox_locked(address);
  if (!entry) throw AdminError(fmt::format("no mailbox {} (see `aampctl mailbox list`)", address));
  RemovedMailbox out;
  out.id = entry->mailbox.id;
  {
    auto st = conn_->prepare(
        "SELECT (SELECT count(*) FROM sender_rules WHERE mailbox_id = ?1), "
        "(SELECT count(*) FROM pair_codes WHERE mailbox_id = ?1)");
    st.bind(1, out.id);
    if (st.step()) {
      out.rules = st.int64(0);
      out.pair_codes = st.int64(1);
    }
  }
  conn_->prepare("DELETE FROM mailboxes WHERE id = ?1").bind(1, out.id).run();  // cascades
  tx.commit();
  return out;
}

std::vector<MailboxEntry> PolicyAdmin::list_mailboxes() {
  auto st = conn_->prepare(fmt::format("SELECT {} FROM mailboxes ORDER BY address", kMailboxEntryColumns));
  std::vector<MailboxEntry> out;
  while (st.step()) out.push_back(read_mailbox(st));
  return out;
}

// --- sender rules ------------------------------------------------------------------------

std::optional<RuleEntry> PolicyAdmin::rule(std::int64_t id) {
  auto st = conn_->prepare(fmt::format(
      "SELECT {} FROM sender_rules r JOIN mailboxes m ON m.id = r.mailbox_id WHERE r.id = ?1", kRuleColumns));
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_rule(st);
}

RuleEntry PolicyAdmin::allow_sender(const std::string& mailbox_text, const std::string& pattern_text,
                                    const ContextRules& context, UnixTime now, const std::string& by,
                                    const std::string& note) {
  const std::string address = parse_mailbox_address(mailbox_text);
  const auto pattern = parse_sender_pattern(pattern_text);
  if (!pattern) throw AdminError(fmt::format("'{}' is not a sender pattern: {}", pattern_text, pattern.error()));
  check_rules(context);
  Transaction tx(*conn_, Transaction::Kind::write);
  const auto mb = mailbox_locked(address);
  if (!mb) {
    std::string hint = " (see `aampctl mailbox list`)";
    if (address.front() != '@')
      // append, not "@" + std::string(...): GCC 12 at -O3 reports a false -Wrestrict.
      if (const auto domain = mailbox_locked(std::string("@").append(domain_of(address))))
        hint = fmt::format(" (it is covered by {}; give --mailbox {} to allow for the whole domain)",
                           domain->mailbox.address, domain->mailbox.address);
    throw AdminError(fmt::format("no mailbox {}{}", address, hint));
  }
  const std::string json = rules_text(context);
  {
    auto st = conn_->prepare(
        "SELECT id FROM sender_rules WHERE mailbox_id = ?1 AND pattern = ?2 AND origin = 'configured' "
        "AND context_rules = ?3");
    st.bind(1, mb->mailbox.id).bind(2, pattern->text).bind(3, json);
    if (st.step())
      throw AdminError(fmt::format("rule {} allows {} for {} with the same context already", st.int64(0),
                                   pattern->text, address));
  }
  auto st = conn_->prepare(
      "INSERT INTO sender_rules (mailbox_id, pattern, pattern_kind, context_rules, origin, created_at, created_by, "
      "updated_at, note) VALUES (?1, ?2, ?3, ?4, 'configured', ?5, ?6, ?5, ?7) RETURNING id");
  st.bind(1, mb->mailbox.id).bind(2, pattern->text).bind(3, to_string(pattern->kind)).bind(4, json);
  st.bind(5, now).bind(6, by).bind(7, note);
  const auto id = returned_id(st);
  auto entry = rule(id);
  tx.commit();
  return *entry;
}

namespace {
constexpr std::string_view kInsertRule =
    "INSERT INTO sender_rules (mailbox_id, pattern, pattern_kind, context_rules, origin, created_at, created_by, "
    "updated_at, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?8) RETURNING id";

// The pattern as the database stores it, and its kind. AdminError when it does not parse.
SenderPattern stored_pattern(const SenderRule& rule) {
  const auto pattern = parse_sender_pattern(rule.pattern);
  if (!pattern) throw AdminError(fmt::format("'{}' is not a sender pattern: {}", rule.pattern, pattern.error()));
  // A paired rule names exactly its requester, even one with '*' in its local part.
  if (rule.origin == RuleOrigin::paired) return SenderPattern{PatternKind::exact, normalize_address(rule.pattern)};
  return *pattern;
}

std::int64_t insert_rule_row(Connection& conn, const SenderRule& rule) {
  const auto pattern = stored_pattern(rule);
  auto st = conn.prepare(kInsertRule);
  st.bind(1, rule.mailbox_id).bind(2, pattern.text).bind(3, to_string(pattern.kind)).bind(4, rules_text(rule.context));
  st.bind(5, to_string(rule.origin)).bind(6, rule.created_at).bind(7, rule.created_by).bind(8, rule.note);
  return returned_id(st);
}
}  // namespace

std::int64_t PolicyAdmin::insert_rule(const SenderRule& r) {
  check_rules(r.context);
  Transaction tx(*conn_, Transaction::Kind::write);
  const auto id = insert_rule_row(*conn_, r);
  tx.commit();
  return id;
}

void PolicyAdmin::insert_rules(std::int64_t count, const std::function<SenderRule(std::int64_t)>& make) {
  Transaction tx(*conn_, Transaction::Kind::write);
  for (std::int64_t i = 0; i < count; ++i) insert_rule_row(*conn_, make(i));
  tx.commit();
}

std::vector<RuleEntry> PolicyAdmin::list_rules(const std::optional<std::string>& mailbox) {
  std::vector<RuleEntry> out;
  if (mailbox) {
    const std::string address = parse_mailbox_address(*mailbox);
    if (!mailbox_locked(address)) throw AdminError(fmt::format("no mailbox {} (see `aampctl mailbox list`)", address));
    auto st = conn_->prepare(fmt::format(
        "SELECT {} FROM sender_rules r JOIN mailboxes m ON m.id = r.mailbox_id WHERE m.address = ?1 ORDER BY r.id",
        kRuleColumns));
    st.bind(1, address);
    while (st.step()) out.push_back(read_rule(st));
  } else {
    auto st = conn_->prepare(fmt::format(
        "SELECT {} FROM sender_rules r JOIN mailboxes m ON m.id = r.mailbox_id ORDER BY r.id", kRuleColumns));
    while (st.step()) out.push_back(read_rule(st));
  }
  return out;
}

RuleEntry PolicyAdmin::remove_rule(std::int64_t id) {
  Transaction tx(*conn_, Transaction::Kind::write);
  auto entry = rule(id);
  if (!entry) throw AdminError(fmt::format("no sender rule {} (see `aampctl sender list`)", id));
  conn_->prepare("DELETE FROM sender_rules WHERE id = ?1").bind(1, id).run();
  tx.commit();
  return *entry;
}

// --- pair codes --------------------------------------------------------------------------

std::int64_t PolicyAdmin::add_pair_code(std::int64_t mailbox_id, std::string_view code, UnixTime now,
                                        UnixTime expires_at, const ContextRules& rules, const std::string& by,
                                        const std::string& note, const std::string& address) {
  check_rules(rules);
  Transaction tx(*conn_, Transaction::Kind::write);
  {
    auto st = conn_->prepare("SELECT 1 FROM mailboxes WHERE id = ?1");
    st.bind(1, mailbox_id);
    if (!st.step()) throw AdminError(fmt::format("no mailbox with id {}", mailbox_id));
  }
  auto st = conn_->prepare(
      "INSERT INTO pair_codes (mailbox_id, code_hash, rules, created_at, created_by, expires_at, note, address) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id");
  st.bind(1, mailbox_id).bind(2, hash_pair_code(code)).bind(3, rules_text(rules)).bind(4, now).bind(5, by);
  st.bind(6, expires_at).bind(7, note);
  if (address.empty()) st.bind(8, nullptr);
  else st.bind(8, normalize_address(address));
  const auto id = returned_id(st);
  tx.commit();
  return id;
}

std::optional<PairCodeEntry> PolicyAdmin::pair_code(std::int64_t id) {
  auto st = conn_->prepare(fmt::format(
      "SELECT {} FROM pair_codes c JOIN mailboxes m ON m.id = c.mailbox_id WHERE c.id = ?1", kCodeColumns));
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_code(st);
}

std::vector<PairCodeEntry> PolicyAdmin::list_pair_codes(const std::optional<std::string>& mailbox) {
  std::vector<PairCodeEntry> out;
  if (mailbox) {
    const std::string address = parse_mailbox_address(*mailbox);
    auto st = conn_->prepare(fmt::format(
        "SELECT {} FROM pair_codes c JOIN mailboxes m ON m.id = c.mailbox_id WHERE m.address = ?1 ORDER BY c.id",
        kCodeColumns));
    st.bind(1, address);
    while (st.step()) out.push_back(read_code(st));
  } else {
    auto st = conn_->prepare(fmt::format(
        "SELECT {} FROM pair_codes c JOIN mailboxes m ON m.id = c.mailbox_id ORDER BY c.id", kCodeColumns));
    while (st.step()) out.push_back(read_code(st));
  }
  return out;
}

PairCodeEntry PolicyAdmin::revoke_pair_code(std::int64_t id, UnixTime now) {
  Transaction tx(*conn_, Transaction::Kind::write);
  auto entry = pair_code(id);
  if (!entry) throw AdminError(fmt::format("no pair code {} (see `aampctl pair list`)", id));
  if (entry->revoked_at) throw AdminError(fmt::format("pair code {} is revoked already", id));
  if (entry->consumed_at)
    throw AdminError(fmt::format("pair code {} was used already (by {}); remove the sender rule it created instead",
                                 id, entry->consumed_by));
  conn_->prepare("UPDATE pair_codes SET revoked_at = ?2 WHERE id = ?1").bind(1, id).bind(2, now).run();
  entry->revoked_at = now;
  tx.commit();
  return *entry;
}

// --- audit and outbox --------------------------------------------------------------------

void PolicyAdmin::audit(const AuditFilter& filter, const std::function<void(const AuditEntry&)>& row) {
  // The WHERE clause depends only on which filters are present: a handful of statement
  // texts, each cached once.
  std::string where = "1 = 1";
  // The suffix match is the one spelling the engines do not share.
  const char* suffix = conn_->dialect() == Dialect::postgresql ? "right(lower({0}), length(CAST(?{1} AS TEXT))) = ?{1}"
                                                                : "substr(lower({0}), -length(?{1})) = ?{1}";
  auto match = [suffix](std::string_view column, int n, bool domain) {
    return domain ? fmt::format(fmt::runtime(suffix), column, n) : fmt::format("lower({0}) = ?{1}", column, n);
  };
  // Placeholders are numbered by the filters present, with no gaps: PostgreSQL cannot type
  // a parameter ($1) that the statement never mentions.
  int n = 0;
  const int since_n = filter.since ? ++n : 0;
  const int mailbox_n = filter.mailbox ? ++n : 0;
  const int sender_n = filter.sender ? ++n : 0;
  const int verdict_n = filter.verdict ? ++n : 0;
  const int task_n = filter.task_id ? ++n : 0;
  const int limit_n = filter.limit > 0 ? ++n : 0;
  if (filter.since) where += fmt::format(" AND at >= ?{}", since_n);
  if (filter.mailbox) where += " AND " + match("recipient", mailbox_n, filter.mailbox->starts_with('@'));
  if (filter.sender) {
    const bool domain = filter.sender->starts_with('@');
    where += fmt::format(" AND ({} OR {})", match("header_from", sender_n, domain),
                         match("envelope_from", sender_n, domain));
  }
  if (filter.verdict) where += fmt::format(" AND verdict = ?{}", verdict_n);
  if (filter.task_id) where += fmt::format(" AND task_id = ?{}", task_n);
  constexpr std::string_view kColumns =
      "id, at, message_id, client_addr, auth_user, envelope_from, header_from, recipient, intent, task_id, verdict, "
      "reason, rule_id, rule_pattern, rule_origin";
  const std::string sql =
      filter.limit > 0
          ? fmt::format("SELECT * FROM (SELECT {0} FROM audit WHERE {1} ORDER BY at DESC, id DESC LIMIT ?{2}) AS "
                        "recent ORDER BY at, id",
                        kColumns, where, limit_n)
          : fmt::format("SELECT {} FROM audit WHERE {} ORDER BY at, id", kColumns, where);
  Transaction tx(*conn_, Transaction::Kind::read);  // one snapshot for the whole export
  auto st = conn_->prepare(sql);
  if (filter.since) st.bind(since_n, *filter.since);
  if (filter.mailbox) st.bind(mailbox_n, normalize_address(*filter.mailbox));
  if (filter.sender) st.bind(sender_n, normalize_address(*filter.sender));
  if (filter.verdict) st.bind(verdict_n, *filter.verdict);
  if (filter.task_id) st.bind(task_n, *filter.task_id);
  if (filter.limit > 0) st.bind(limit_n, filter.limit);
  while (st.step()) {
    AuditEntry e;
    e.id = st.int64(0);
    auto& a = e.record;
    a.at = st.int64(1);
    a.message_id = st.text(2);
    a.client_addr = st.text(3);
    a.auth_user = st.text(4);
    a.envelope_from = st.text(5);
    a.header_from = st.text(6);
    a.recipient = st.text(7);
    a.intent = st.text(8);
    a.task_id = st.text(9);
    e.verdict = st.text(10);
    if (const auto v = parse_name(kAuditVerdictNames, e.verdict)) a.verdict = *v;
    a.reason = st.text(11);
    a.rule_id = st.maybe_int64(12);
    e.rule_pattern = st.maybe_text(13);
    e.rule_origin = st.maybe_text(14);
    row(e);
  }
}

std::vector<ThreadEntry> PolicyAdmin::threads(const std::string& task_id) {
  auto st = conn_->prepare(fmt::format("SELECT {} FROM threads WHERE task_id = ?1 ORDER BY kind, peer", kThreadColumns));
  st.bind(1, task_id);
  std::vector<ThreadEntry> out;
  while (st.step()) out.push_back(thread_columns(st));
  return out;
}

std::vector<AuditEntry> PolicyAdmin::audit(const AuditFilter& filter) {
  std::vector<AuditEntry> out;
  audit(filter, [&](const AuditEntry& e) { out.push_back(e); });
  return out;
}

std::int64_t PolicyAdmin::enqueue_reply(const OutboxReply& reply, UnixTime now) {
  Transaction tx(*conn_, Transaction::Kind::write);
  const auto id = insert_reply(*conn_, reply, now);
  tx.commit();
  return id;
}

// --- export and import ---------------------------------------------------------------------

namespace {

// Natural keys, compared bytewise (not by either engine's collation, which differ).
auto rule_key(const RuleEntry& r) {
  return std::make_tuple(r.mailbox, r.rule.pattern, std::string(to_string(r.rule.origin)), rules_text(r.rule.context));
}

bool same_mailbox(const MailboxEntry& a, const MailboxEntry& b) {
  return a.mailbox.mode == b.mailbox.mode && a.mailbox.guarded_intents == b.mailbox.guarded_intents &&
         a.mailbox.trust == b.mailbox.trust && a.mailbox.thread_binding == b.mailbox.thread_binding &&
         a.mailbox.unknown_threads == b.mailbox.unknown_threads && a.note == b.note && a.created_at == b.created_at &&
         a.created_by == b.created_by && a.updated_at == b.updated_at;
}

bool same_rule(const RuleEntry& a, const RuleEntry& b) {
  return a.rule.context == b.rule.context && a.rule.created_at == b.rule.created_at &&
         a.rule.created_by == b.rule.created_by && a.updated_at == b.updated_at && a.rule.note == b.rule.note;
}

bool same_code(const PairCodeEntry& a, const PairCodeEntry& b) {
  return a.mailbox == b.mailbox && a.rules == b.rules && a.created_at == b.created_at &&
         a.created_by == b.created_by && a.expires_at == b.expires_at && a.note == b.note &&
         a.address == b.address && !a.consumed_at && !a.revoked_at;
}

bool is_code_hash(std::string_view h) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return h.size() == 64 && std::all_of(h.begin(), h.end(), hex);
}

// AdminError when two rows of `rows` have one key; `what` names the list as the export
// document does ("mailboxes"), so the message points at the rows.
template <typename Row, typename Key>
void require_unique(const std::vector<Row>& rows, std::string_view what, Key key) {
  std::map<decltype(key(rows.front())), std::size_t> seen;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (const auto [it, fresh] = seen.emplace(key(rows[i]), i); !fresh)
      throw AdminError(fmt::format("{}[{}] has the same key as {}[{}]", what, i, what, it->second));
}

// fn(row) for each row; an AdminError it throws names the row ("senderRules[2]: ...").
template <typename Row, typename Fn>
void each_row(std::vector<Row>& rows, std::string_view what, Fn fn) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    try {
      fn(rows[i]);
    } catch (const AdminError& e) {
      throw AdminError(fmt::format("{}[{}]: {}", what, i, e.what()));
    }
  }
}

// The snapshot with addresses and patterns canonical; AdminError naming the row otherwise.
PolicySnapshot canonical(PolicySnapshot s) {
  each_row(s.mailboxes, "mailboxes",
           [](MailboxEntry& m) { m.mailbox.address = parse_mailbox_address(m.mailbox.address); });
  each_row(s.rules, "senderRules", [](RuleEntry& r) {
    r.mailbox = parse_mailbox_address(r.mailbox);
    check_rules(r.rule.context);
    const auto p = stored_pattern(r.rule);
    r.rule.pattern = p.text;
    r.kind = p.kind;
  });
  each_row(s.pair_codes, "pairCodes", [](PairCodeEntry& c) {
    c.mailbox = parse_mailbox_address(c.mailbox);
    check_rules(c.rules);
    if (!is_code_hash(c.code_hash)) throw AdminError("the code hash is not 64 lower-case hex digits");
    if (!c.address.empty()) c.address = normalize_address(c.address);
  });
  each_row(s.lockouts, "lockouts", [](LockoutEntry& l) {
    if (l.mailbox.empty() == l.requester.empty()) throw AdminError("give either a mailbox or a requester");
    if (!l.mailbox.empty()) l.mailbox = parse_mailbox_address(l.mailbox);
    else l.requester = normalize_address(l.requester);
  });
  require_unique(s.mailboxes, "mailboxes", [](const MailboxEntry& m) { return m.mailbox.address; });
  require_unique(s.rules, "senderRules", [](const RuleEntry& r) {
    // One paired rule per (mailbox, requester), whatever its context.
    auto k = rule_key(r);
    if (r.rule.origin == RuleOrigin::paired) std::get<3>(k).clear();
    return k;
  });
  require_unique(s.pair_codes, "pairCodes", [](const PairCodeEntry& c) { return c.code_hash; });
  require_unique(s.lockouts, "lockouts", [](const LockoutEntry& l) { return std::make_pair(l.mailbox, l.requester); });
  return s;
}

}  // namespace

PolicySnapshot PolicyAdmin::export_policy(UnixTime now) {
  PolicySnapshot out;
  Transaction tx(*conn_, Transaction::Kind::read);  // one snapshot of every table
  out.mailboxes = list_mailboxes();
  out.rules = list_rules();
  {
    auto st = conn_->prepare(fmt::format(
        "SELECT {} FROM pair_codes c JOIN mailboxes m ON m.id = c.mailbox_id "
        "WHERE c.consumed_at IS NULL AND c.revoked_at IS NULL AND c.expires_at > ?1",
        kCodeColumns));
    st.bind(1, now);
    while (st.step()) out.pair_codes.push_back(read_code(st));
  }
  {
    auto st = conn_->prepare(
        "SELECT m.address, l.requester, l.locked_at, l.until, l.failures FROM pair_lockouts l "
        "LEFT JOIN mailboxes m ON m.id = l.mailbox_id WHERE l.until > ?1");
    st.bind(1, now);
    while (st.step())
      out.lockouts.push_back({st.maybe_text(0).value_or(""), st.maybe_text(1).value_or(""), st.int64(2), st.int64(3),
                              st.int64(4)});
  }
  tx.commit();
  auto by = [](auto key) { return [key](const auto& a, const auto& b) { return key(a) < key(b); }; };
  std::sort(out.mailboxes.begin(), out.mailboxes.end(), by([](const MailboxEntry& m) { return m.mailbox.address; }));
  std::sort(out.rules.begin(), out.rules.end(), by([](const RuleEntry& r) {
              return std::tuple_cat(rule_key(r), std::make_tuple(r.rule.created_at, r.rule.created_by, r.rule.note));
            }));
  std::sort(out.pair_codes.begin(), out.pair_codes.end(), by([](const PairCodeEntry& c) { return c.code_hash; }));
  // Mailbox lockouts (requester "") first, by address; then requester lockouts.
  std::sort(out.lockouts.begin(), out.lockouts.end(),
            by([](const LockoutEntry& l) { return std::make_pair(l.requester, l.mailbox); }));
  return out;
}

namespace {

// ?1: the lockout's mailbox id, or its requester.
void bind_scope(Statement& st, const LockoutEntry& l, std::optional<std::int64_t> mailbox_id) {
  if (mailbox_id) st.bind(1, *mailbox_id);
  else st.bind(1, l.requester);
}

void import_mailbox(Connection& conn, const MailboxEntry& m, const std::optional<MailboxEntry>& existing,
                    ImportCounts& n) {
  if (existing && same_mailbox(*existing, m)) {
    ++n.unchanged;
    return;
  }
  auto st = conn.prepare(
      existing ? std::string_view("UPDATE mailboxes SET mode = ?2, intents = ?3, trust_auth = ?4, trust_internal = ?5, "
                                  "trust_authres = ?6, thread_binding = ?7, unknown_threads = ?8, created_at = ?9, "
                                  "created_by = ?10, updated_at = ?11, note = ?12 WHERE address = ?1")
               : std::string_view("INSERT INTO mailboxes (address, mode, intents, trust_auth, trust_internal, "
                                  "trust_authres, thread_binding, unknown_threads, created_at, created_by, updated_at, "
                                  "note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
  st.bind(1, m.mailbox.address).bind(2, to_string(m.mailbox.mode)).bind(3, intent_list(m.mailbox.guarded_intents));
  bind_settings(st, 4, m.mailbox);
  st.bind(9, m.created_at).bind(10, m.created_by).bind(11, m.updated_at).bind(12, m.note);
  st.run();
  ++(existing ? n.updated : n.added);
}

}  // namespace

ImportSummary PolicyAdmin::import_policy(const PolicySnapshot& given) {
  const PolicySnapshot s = canonical(given);
  ImportSummary sum;
  Transaction tx(*conn_, Transaction::Kind::write);
  for (const auto& m : s.mailboxes) import_mailbox(*conn_, m, mailbox_locked(m.mailbox.address), sum.mailboxes);
  // The id of a mailbox the snapshot names, now that the snapshot's mailboxes are in.
  // `list`[`i`] names the row in a refusal, as the export document does.
  auto mailbox_id = [this](const std::string& address, std::string_view list, std::size_t i) {
    const auto m = mailbox_locked(address);
    if (!m) throw AdminError(fmt::format("{}[{}]: no mailbox {} in the file or the database", list, i, address));
    return m->mailbox.id;
  };
  for (std::size_t i = 0; i < s.rules.size(); ++i)
    import_rule(s.rules[i], mailbox_id(s.rules[i].mailbox, "senderRules", i), sum.rules);
  for (std::size_t i = 0; i < s.pair_codes.size(); ++i)
    import_code(s.pair_codes[i], mailbox_id(s.pair_codes[i].mailbox, "pairCodes", i), sum.pair_codes);
  for (std::size_t i = 0; i < s.lockouts.size(); ++i) {
    const auto& l = s.lockouts[i];
    std::optional<std::int64_t> id;
    if (!l.mailbox.empty()) id = mailbox_id(l.mailbox, "lockouts", i);
    import_lockout(l, id, sum.lockouts);
  }
  tx.commit();
  return sum;
}

void PolicyAdmin::import_rule(const RuleEntry& r, std::int64_t mailbox_id, ImportCounts& n) {
  std::optional<RuleEntry> existing;
  {
    auto st = conn_->prepare(fmt::format(
        "SELECT {} FROM sender_rules r JOIN mailboxes m ON m.id = r.mailbox_id "
        "WHERE r.mailbox_id = ?1 AND r.pattern = ?2 AND r.origin = ?3 ORDER BY r.id",
        kRuleColumns));
    st.bind(1, mailbox_id).bind(2, r.rule.pattern).bind(3, to_string(r.rule.origin));
    while (!existing && st.step()) {
      auto e = read_rule(st);
      // A paired rule is one per requester: its context is a value, not part of its key.
      if (r.rule.origin == RuleOrigin::paired || e.rule.context == r.rule.context) existing = std::move(e);
    }
  }
  if (existing && same_rule(*existing, r)) {
    ++n.unchanged;
    return;
  }
  if (existing) {
    auto st = conn_->prepare(
        "UPDATE sender_rules SET context_rules = ?2, created_at = ?3, created_by = ?4, updated_at = ?5, note = ?6 "
        "WHERE id = ?1");
    st.bind(1, existing->rule.id).bind(2, rules_text(r.rule.context)).bind(3, r.rule.created_at);
    st.bind(4, r.rule.created_by).bind(5, r.updated_at).bind(6, r.rule.note);
    st.run();
    ++n.updated;
    return;
  }
  auto st = conn_->prepare(
      "INSERT INTO sender_rules (mailbox_id, pattern, pattern_kind, context_rules, origin, created_at, created_by, "
      "updated_at, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  st.bind(1, mailbox_id).bind(2, r.rule.pattern).bind(3, to_string(r.kind)).bind(4, rules_text(r.rule.context));
  st.bind(5, to_string(r.rule.origin)).bind(6, r.rule.created_at).bind(7, r.rule.created_by).bind(8, r.updated_at);
  st.bind(9, r.rule.note);
  st.run();
  ++n.added;
}

void PolicyAdmin::import_code(const PairCodeEntry& c, std::int64_t mailbox_id, ImportCounts& n) {
  {
    auto st = conn_->prepare(fmt::format(
        "SELECT {} FROM pair_codes c JOIN mailboxes m ON m.id = c.mailbox_id WHERE c.code_hash = ?1", kCodeColumns));
    st.bind(1, c.code_hash);
    if (st.step()) {
      // The database's row stays: a code used or revoked here must not come back to life.
      ++(same_code(read_code(st), c) ? n.unchanged : n.kept);
      return;
    }
  }
  auto st = conn_->prepare(
      "INSERT INTO pair_codes (mailbox_id, code_hash, rules, created_at, created_by, expires_at, note, address) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  st.bind(1, mailbox_id).bind(2, c.code_hash).bind(3, rules_text(c.rules)).bind(4, c.created_at);
  st.bind(5, c.created_by).bind(6, c.expires_at).bind(7, c.note);
  if (c.address.empty()) st.bind(8, nullptr);
  else st.bind(8, c.address);
  st.run();
  ++n.added;
}

void PolicyAdmin::import_lockout(const LockoutEntry& l, std::optional<std::int64_t> mailbox_id, ImportCounts& n) {
  std::optional<LockoutEntry> existing;
  {
    auto st = conn_->prepare(mailbox_id ? "SELECT locked_at, until, failures FROM pair_lockouts WHERE mailbox_id = ?1"
                                        : "SELECT locked_at, until, failures FROM pair_lockouts WHERE requester = ?1");
    bind_scope(st, l, mailbox_id);
    if (st.step()) existing = LockoutEntry{l.mailbox, l.requester, st.int64(0), st.int64(1), st.int64(2)};
  }
  if (existing && existing->locked_at == l.locked_at && existing->until == l.until &&
      existing->failures == l.failures) {
    ++n.unchanged;
    return;
  }
  if (existing && existing->until >= l.until) {  // the later lockout wins
    ++n.kept;
    return;
  }
  if (existing) {
    auto st = conn_->prepare(
        mailbox_id ? "UPDATE pair_lockouts SET locked_at = ?2, until = ?3, failures = ?4 WHERE mailbox_id = ?1"
                   : "UPDATE pair_lockouts SET locked_at = ?2, until = ?3, failures = ?4 WHERE requester = ?1");
    bind_scope(st, l, mailbox_id);
    st.bind(2, l.locked_at).bind(3, l.until).bind(4, l.failures);
    st.run();
    ++n.updated;
    return;
  }
  auto st = conn_->prepare(
      "INSERT INTO pair_lockouts (mailbox_id, requester, locked_at, until, failures) VALUES (?1, ?2, ?3, ?4, ?5)");
  st.bind(1, mailbox_id);
  if (mailbox_id) st.bind(2, nullptr);
  else st.bind(2, l.requester);
  st.bind(3, l.locked_at).bind(4, l.until).bind(5, l.failures);
  st.run();
  ++n.added;
}

}  // namespace aamp::store
