// sql_common.cpp — the engine-independent part of store/sql.hpp: which engine a Database
// string names, that string without its password for messages, open_connection, and the
// ConnectionPool. Threading: the free functions are pure; the pool is thread-safe.
#include <algorithm>
#include <array>
#include <vector>

#include <fmt/format.h>

#include "store/pg.hpp"
#include "store/sql.hpp"
#include "store/sqlite.hpp"

namespace aamp::store {

namespace {

constexpr std::string_view kMask = "***";

// libpq's connection keywords (PostgreSQL 15/16 libpq, "Parameter Key Words"). A string
// opening with one of them and '=' is a keyword/value connection string.
constexpr std::array<std::string_view, 44> kLibpqKeywords{
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding",
    "connect_timeout", "client_encoding", "options", "application_name", "fallback_application_name",
    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
    "replication", "gssencmode", "sslmode", "requiressl", "sslcompression", "sslcert", "sslkey",
    "sslpassword", "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
    "require_auth", "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib",
    "gssdelegation", "service", "target_session_attrs", "load_balance_hosts", "sslnegotiation",
    "scram_client_key", "scram_server_key"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view url_rest(std::string_view s) {
  for (std::string_view scheme : {"postgresql://", "postgres://"})
    if (s.starts_with(scheme)) return s.substr(scheme.size());
  return {};
}

bool is_url(std::string_view s) { return s.starts_with("postgresql://") || s.starts_with("postgres://"); }

bool is_keyword(std::string_view key) {
  return std::find(kLibpqKeywords.begin(), kLibpqKeywords.end(), key) != kLibpqKeywords.end();
}

bool is_keyword_form(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  std::size_t j = i;
  while (j < s.size() && ((s[j] >= 'a' && s[j] <= 'z') || s[j] == '_')) ++j;
  const std::string_view key = s.substr(i, j - i);
  while (j < s.size() && is_space(s[j])) ++j;
  if (j >= s.size() || s[j] != '=') return false;
  return is_keyword(key);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded (a malformed escape kept as it is): how libpq reads a query key.
std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// URL form: postgresql://[user[:password]@][host[:port][,...]][/dbname][?key=value&...].
// A password holding a raw '@', '/', '?' or '&' is malformed (libpq wants them %-encoded)
// but must not show either, so two readings are masked, both on the original text: the
// user part up to the LAST '@' (its password after the first ':'), and every password=
// query parameter after the first '?' (up to the next "&keyword=", or the end). An '@'
// in another query value may mask more than needed; never less.
std::string display_url(std::string_view s) {
  struct Span {
    std::size_t begin, end;
  };
  std::vector<Span> masked;
  const std::size_t start = s.size() - url_rest(s).size();
  if (const std::size_t at = s.rfind('@'); at != std::string_view::npos && at >= start) {
    if (const std::size_t colon = s.find(':', start); colon < at) masked.push_back({colon + 1, at});
  }
  if (const std::size_t q = s.find('?', start); q != std::string_view::npos) {
    std::size_t p = q + 1;
    while (p < s.size()) {
      std::size_t amp = s.find('&', p);
      const std::string_view param = s.substr(p, amp == std::string_view::npos ? std::string_view::npos : amp - p);
      const std::size_t eq = param.find('=');
      if (eq != std::string_view::npos && percent_decoded(param.substr(0, eq)) == "password") {
        // The value runs to the next "&keyword=": a raw '&' inside it does not end it.
        std::size_t end = amp;
        while (end != std::string_view::npos) {
          const std::size_t next_eq = s.find('=', end + 1);
          const std::size_t next_amp = s.find('&', end + 1);
          if (next_eq != std::string_view::npos && next_eq < next_amp &&
              is_keyword(percent_decoded(s.substr(end + 1, next_eq - end - 1))))
            break;
          end = next_amp;
        }
        masked.push_back({p + eq + 1, end == std::string_view::npos ? s.size() : end});
        amp = end;
      }
      if (amp == std::string_view::npos) break;
      p = amp + 1;
    }
  }
  std::sort(masked.begin(), masked.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::string out;
  std::size_t pos = 0;
  for (const Span& m : masked) {
    if (m.end <= pos) continue;
    out.append(s.substr(pos, std::max(m.begin, pos) - pos)).append(kMask);
    pos = m.end;
  }
  out.append(s.substr(pos));
  return out;
}

// Keyword form: key = value pairs separated by spaces; a value is bare or '...'-quoted,
// with \' and \\ escapes either way (libpq's conninfo_parse). password's value is masked;
// an unterminated quote masks the rest of the string.
std::string display_keywords(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t key_start = i;
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t k = i;
    while (i < s.size() && s[i] != '=' && !is_space(s[i])) ++i;
    const std::string_view key = s.substr(k, i - k);
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') {  // malformed: libpq refuses it; show it as it is
      out.append(s.substr(key_start));
      return out;
    }
    ++i;
    while (i < s.size() && is_space(s[i])) ++i;
    out.append(s.substr(key_start, i - key_start));
    const std::size_t v = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      i = std::min(i + 1, s.size());  // past the closing quote, or the end when unterminated
    } else {
      while (i < s.size() && !is_space(s[i])) i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      i = std::min(i, s.size());
    }
    const std::string_view value = s.substr(v, i - v);
    const bool quoted = value.size() >= 2 && value.front() == '\'' && value.back() == '\'';
    const std::string_view bare = quoted ? value.substr(1, value.size() - 2) : value;
    if (key == "password")
      out.append(kMask);
    else if (key == "dbname" && is_url(bare)) {  // a URL given as dbname may hold a password too
      // Appended piece by piece: "'" + std::string(...) draws a false -Wrestrict from GCC 12
      // at -O3 (a Release build; docs/decisions.md, "-Werror in our own builds only").
      if (quoted) out.push_back('\'');
      out.append(display_url(bare));
      if (quoted) out.push_back('\'');
    } else
      out.append(value);
  }
  return out;
}

}  // namespace

Dialect dialect_of(std::string_view database) noexcept {
  return is_url(database) || is_keyword_form(database) ? Dialect::postgresql : Dialect::sqlite;
}

std::string display_database(std::string_view database) {
  if (is_url(database)) return display_url(database);
  if (is_keyword_form(database)) return display_keywords(database);
  return std::string(database);
}

void bind_all(Statement& st, const Write& write) {
  int index = 0;
  for (const auto& v : write.values()) {
    ++index;
    std::visit([&](const auto& x) { st.bind(index, x); }, v);
  }
}

void Connection::run(const Write& write) {
  auto st = prepare(write.sql());
  bind_all(st, write);
  st.run();
}

void Connection::write_all(const std::vector<Write>& writes) {
  if (writes.size() == 1) return run(writes.front());
  if (writes.empty()) return;
  Transaction tx(*this, TransactionKind::write);
  for (const auto& w : writes) run(w);
  tx.commit();
}

std::unique_ptr<Connection> open_connection(const std::string& database, const ConnectionOptions& options) {
  switch (dialect_of(database)) {
    case Dialect::postgresql: return open_pg_connection(database, options);
    case Dialect::sqlite: break;
  }
  return open_sqlite_connection(database, options);
}

// --- ConnectionPool ----------------------------------------------------------------------

ConnectionPool::ConnectionPool(std::string database, ConnectionOptions options, int max)
    : database_(std::move(database)),
      display_(display_database(database_)),
      options_(options),
      max_(std::max(1, max)) {}

ConnectionPool::Lease::~Lease() {
  if (conn_) pool_->give_back(std::move(conn_));
}

ConnectionPool::Lease ConnectionPool::acquire() {
  {
    std::unique_lock lock(mu_);
    const bool ready = freed_.wait_for(lock, options_.busy_timeout, [&] { return !idle_.empty() || open_ < max_; });
    if (!ready)
      throw StoreError(StoreErrorKind::busy,
                       fmt::format("{}: no free database connection within {} ms ({} in use)", display_,
                                   options_.busy_timeout.count(), max_));
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
    ++open_;  // reserve the slot; open outside the lock
  }
  try {
    return Lease(*this, open_connection(database_, options_));
  } catch (...) {
    std::lock_guard lock(mu_);
    --open_;
    freed_.notify_one();
    throw;
  }
}

void ConnectionPool::give_back(std::unique_ptr<Connection> conn) noexcept {
  {
    std::lock_guard lock(mu_);
    if (conn->usable())
      idle_.push_back(std::move(conn));
    else
      --open_;  // broken (the server went away): closed below, outside the lock; the slot reopens
  }
  freed_.notify_one();
}

}  // namespace aamp::store
