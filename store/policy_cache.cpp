// policy_cache.cpp — see policy_cache.hpp. A snapshot is immutable once published; a
// refresh copies the snapshot's two small indexes (pointers) and builds anew only the
// mailboxes the change log names, sharing every other mailbox with the previous snapshot.
#include "store/policy_cache.hpp"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "store/codec.hpp"

namespace aamp::store {

struct PolicyCache::Snapshot {
  // One mailbox's row and rules with their indexes; shared by every snapshot until that
  // mailbox changes. The string_views point into `rules` and `mailbox`, which never move.
  struct Mailbox {
    ProtectedMailbox mailbox;
    std::vector<CachedRule> rules;  // oldest first: (created_at, id), the order lookups answer in
    // Exact and domain rules by pattern (several rules may share one: a configured and a
    // paired rule for the same sender), as indexes into `rules`.
    std::unordered_multimap<std::string_view, std::uint32_t> by_pattern;
    std::vector<std::uint32_t> wildcards;  // indexes of the '*' rules, glob-matched per lookup
  };

  std::unordered_map<std::int64_t, std::shared_ptr<const Mailbox>> by_id;
  std::unordered_map<std::string_view, const Mailbox*> by_address;  // views into Mailbox::mailbox.address
  std::int64_t seq = 0;    // the change log position this snapshot includes
  std::size_t rules = 0;   // rules over all mailboxes
};

namespace {

using Snapshot = PolicyCache::Snapshot;
using Clock = std::chrono::steady_clock;

std::shared_ptr<const Snapshot::Mailbox> build_mailbox(MailboxRows rows) {
  auto m = std::make_shared<Snapshot::Mailbox>();
  m->mailbox = std::move(rows.mailbox);
  m->rules = std::move(rows.rules);
  std::sort(m->rules.begin(), m->rules.end(), [](const CachedRule& a, const CachedRule& b) {
    return a.rule.created_at != b.rule.created_at ? a.rule.created_at < b.rule.created_at : a.rule.id < b.rule.id;
  });
  m->rules.shrink_to_fit();  // before the index: its views point into these strings
  m->by_pattern.reserve(m->rules.size());
  for (std::uint32_t i = 0; i < m->rules.size(); ++i) {
    const CachedRule& r = m->rules[i];
    if (r.kind == PatternKind::wildcard) m->wildcards.push_back(i);
    else m->by_pattern.emplace(std::string_view(r.rule.pattern), i);
  }
  m->wildcards.shrink_to_fit();
  return m;
}

void insert(Snapshot& s, std::shared_ptr<const Snapshot::Mailbox> m) {
  s.rules += m->rules.size();
  s.by_address.insert_or_assign(std::string_view(m->mailbox.address), m.get());
  s.by_id.insert_or_assign(m->mailbox.id, std::move(m));
}

void erase(Snapshot& s, std::int64_t id) {
  const auto it = s.by_id.find(id);
  if (it == s.by_id.end()) return;
  const Snapshot::Mailbox* old = it->second.get();
  s.rules -= old->rules.size();
  const auto a = s.by_address.find(old->mailbox.address);
  if (a != s.by_address.end() && a->second == old) s.by_address.erase(a);
  s.by_id.erase(it);
}

std::shared_ptr<const Snapshot> build_all(PolicyLoad load) {
  auto s = std::make_shared<Snapshot>();
  s->seq = load.seq;
  s->by_id.reserve(load.mailboxes.size());
  s->by_address.reserve(load.mailboxes.size());
  for (auto& rows : load.mailboxes) insert(*s, build_mailbox(std::move(rows)));
  return s;
}

// `base` with the mailboxes `ids` replaced by what `loaded` holds for them (absent: deleted).
std::shared_ptr<const Snapshot> apply_changes(const Snapshot& base, std::int64_t seq,
                                              const std::vector<std::int64_t>& ids,
                                              std::vector<MailboxRows> loaded) {
  auto s = std::make_shared<Snapshot>(base);
  s->seq = std::max(base.seq, seq);
  for (const auto id : ids) erase(*s, id);  // all first: two mailboxes may have swapped addresses
  for (auto& rows : loaded)
    if (std::binary_search(ids.begin(), ids.end(), rows.mailbox.id)) insert(*s, build_mailbox(std::move(rows)));
  return s;
}

std::size_t string_bytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

template <class Map>
std::size_t hash_bytes(const Map& m, std::size_t node) {
  return m.bucket_count() * sizeof(void*) + m.size() * node;
}

std::size_t rule_bytes(const CachedRule& r) {
  std::size_t n = string_bytes(r.rule.pattern) + string_bytes(r.rule.created_by) + string_bytes(r.rule.note);
  for (const auto& [key, values] : r.rule.context) {
    n += 64 + string_bytes(key) + values.capacity() * sizeof(std::string);  // a map node
    for (const auto& v : values) n += string_bytes(v);
  }
  return n;
}

std::size_t mailbox_bytes(const Snapshot::Mailbox& m) {
  // make_shared: the object and its control block in one allocation.
  std::size_t n = sizeof(Snapshot::Mailbox) + 16 + string_bytes(m.mailbox.address) +
                  m.mailbox.guarded_intents.capacity() * sizeof(Intent) + m.rules.capacity() * sizeof(CachedRule) +
                  m.wildcards.capacity() * sizeof(std::uint32_t);
  // A node: next pointer, key, value, cached hash.
  n += hash_bytes(m.by_pattern, sizeof(void*) + sizeof(std::string_view) + 8 + sizeof(std::size_t));
  for (const auto& r : m.rules) n += rule_bytes(r);
  return n;
}

}  // namespace

PolicyCache::PolicyCache(std::unique_ptr<PolicySource> source, PolicyCacheOptions options)
    : source_(std::move(source)), options_(std::move(options)) {
  const auto now = options_.clock();
  publish(build_all(source_->load_all()));
  refreshed_at_.store(now.time_since_epoch().count());
  if (options_.background) thread_ = std::thread([this] { run(); });
}

PolicyCache::~PolicyCache() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const Snapshot> PolicyCache::current() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

void PolicyCache::publish(std::shared_ptr<const Snapshot> next) {
  std::lock_guard lock(snapshot_mu_);
  snapshot_.swap(next);
  // the previous snapshot (now in `next`) is freed after the lock, by its last reader
}

std::shared_ptr<const Snapshot> PolicyCache::fresh() const {
  const auto refreshed = Clock::time_point(Clock::duration(refreshed_at_.load()));
  const auto age = options_.clock() - refreshed;
  if (age > options_.max_staleness) {
    const std::string error = last_error();
    throw StoreError(StoreErrorKind::unavailable,
                     fmt::format("{}: the policy cache is stale: last refreshed {} ms ago, allowed {} ms{}{}",
                                 source_->name(), std::chrono::duration_cast<std::chrono::milliseconds>(age).count(),
                                 options_.max_staleness.count(), error.empty() ? "" : "; last error: ", error));
  }
  return current();
}

std::optional<ProtectedMailbox> PolicyCache::find_mailbox(std::string_view recipient) const {
  const auto snapshot = fresh();
  const std::string address = normalize_address(recipient);
  const auto exact = snapshot->by_address.find(address);
  if (exact != snapshot->by_address.end()) return exact->second->mailbox;  // the exact address wins
  if (address.find('@') == std::string::npos) return std::nullopt;     // "" names no mailbox
  const std::string domain = std::string("@").append(domain_of(address));
  const auto whole = snapshot->by_address.find(domain);
  if (whole != snapshot->by_address.end()) return whole->second->mailbox;
  return std::nullopt;
}

std::vector<SenderRule> PolicyCache::matching_rules(std::int64_t mailbox_id, std::string_view sender) const {
  const auto snapshot = fresh();
  const auto it = snapshot->by_id.find(mailbox_id);
  if (it == snapshot->by_id.end()) return {};
  const Snapshot::Mailbox& m = *it->second;
  const std::string address = normalize_address(sender);
  const auto at = address.rfind('@');
  const std::string_view domain = at == std::string::npos ? std::string_view() : std::string_view(address).substr(at);

  std::vector<std::uint32_t> hits;
  const auto covered = [&](std::uint32_t i) {
    const CachedRule& r = m.rules[i];
    if (rule_covers(r.kind, r.rule.pattern, address)) hits.push_back(i);
  };
  // As the SQL: exact and domain rules whose pattern is the address or its @domain, then
  // filtered by rule_covers; the two keys are one when the address is "@domain" itself.
  const auto by_pattern = [&](std::string_view key) {
    const auto [first, last] = m.by_pattern.equal_range(key);
    for (auto p = first; p != last; ++p) covered(p->second);
  };
  by_pattern(address);
  if (domain != address) by_pattern(domain);
  for (const auto i : m.wildcards) covered(i);
  std::sort(hits.begin(), hits.end());  // `rules` is oldest first

  std::vector<SenderRule> out;
  out.reserve(hits.size());
  for (const auto i : hits) {
    out.push_back(m.rules[i].rule);
    out.back().mailbox_id = mailbox_id;
  }
  return out;
}

void PolicyCache::refresh() {
  std::lock_guard turn(refresh_mu_);
  try {
    const auto started = options_.clock();  // the data read below is at least this new
    const auto last_ok = Clock::time_point(Clock::duration(refreshed_at_.load()));
    const auto base = current();
    std::shared_ptr<const Snapshot> next;
    if (started - last_ok > options_.full_reload_after) {
      next = build_all(source_->load_all());
    } else if (const auto changes = source_->changes_since(base->seq); !changes.empty()) {
      std::vector<std::int64_t> ids;
      ids.reserve(changes.size());
      for (const auto& c : changes) ids.push_back(c.mailbox_id);
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      if (ids.size() > options_.max_incremental) next = build_all(source_->load_all());
      else next = apply_changes(*base, changes.back().seq, ids, source_->load_mailboxes(ids));
    }
    if (next) publish(std::move(next));
    refreshed_at_.store(started.time_since_epoch().count());
    std::lock_guard lock(error_mu_);
    last_error_.clear();
  } catch (const std::exception& e) {
    std::lock_guard lock(error_mu_);
    last_error_ = e.what();
    throw;
  }
}

void PolicyCache::sync() {
  std::int64_t end = 0;
  try {
    end = source_->last_seq();
  } catch (const std::exception& e) {
    std::lock_guard lock(error_mu_);
    last_error_ = e.what();
    throw;
  }
  if (end != current()->seq) refresh();
}

void PolicyCache::run() noexcept {
  std::unique_lock lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, options_.refresh_interval, [&] { return stopping_; })) {
    lock.unlock();
    try {
      refresh();
    } catch (...) {
      // remembered in last_error_; lookups turn stale after max_staleness; tried again next tick
    }
    lock.lock();
  }
}

std::size_t PolicyCache::mailbox_count() const { return current()->by_id.size(); }

std::size_t PolicyCache::rule_count() const { return current()->rules; }

std::int64_t PolicyCache::seq() const { return current()->seq; }

std::size_t PolicyCache::memory_bytes() const {
  const auto s = current();
  std::size_t n = sizeof(Snapshot);
  n += hash_bytes(s->by_id, sizeof(void*) + sizeof(std::int64_t) + sizeof(std::shared_ptr<void>));
  n += hash_bytes(s->by_address, sizeof(void*) + sizeof(std::string_view) + sizeof(void*) + sizeof(std::size_t));
  for (const auto& [id, m] : s->by_id) n += mailbox_bytes(*m);
  return n;
}

std::string PolicyCache::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

}  // namespace aamp::store
