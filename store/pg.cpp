// pg.cpp — see pg.hpp. Every message names the database by display_database(); the
// password itself is also scrubbed from libpq's own messages (a malformed URL can make
// libpq quote a piece of it). Threading: one thread at a time per PgConnection.
#include "store/pg.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <optional>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace aamp::store {

StoreErrorKind pg_error_kind(std::string_view sqlstate, bool connection_lost) noexcept {
  if (connection_lost) return StoreErrorKind::unavailable;
  const auto is = [&](std::string_view code) { return sqlstate == code; };
  if (sqlstate.starts_with("08") || sqlstate.starts_with("28") || is("57P01") || is("57P02") || is("57P03") ||
      is("57P04") || is("3D000") || is("53300"))
    return StoreErrorKind::unavailable;  // no connection, or none to be had now
  if (is("55P03") || is("40001") || is("40P01") || is("57014")) return StoreErrorKind::busy;
  if (is("53100")) return StoreErrorKind::full;
  return StoreErrorKind::io;
}

PgSql pg_placeholders(std::string_view sql) {
  PgSql out;
  out.text.reserve(sql.size());
  char quote = 0;  // ' or " while inside a literal or quoted identifier
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;  // '' and "" escapes close and reopen: same outcome
      out.text += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out.text += c;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const std::size_t end = std::min(sql.find('\n', i), sql.size());
      out.text.append(sql.substr(i, end - i));
      i = end - 1;
    } else if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      int n = 0;
      std::size_t j = i + 1;
      for (; j < sql.size() && sql[j] >= '0' && sql[j] <= '9' && n < 100000; ++j) n = n * 10 + (sql[j] - '0');
      out.params = std::max(out.params, n);
      out.text += '$';
      out.text.append(sql.substr(i + 1, j - i - 1));
      i = j - 1;
    } else {
      out.text += c;
    }
  }
  return out;
}

namespace {

struct FinishConn {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ClearResult {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
struct FreeOptions {
  void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};
using ConnHandle = std::unique_ptr<PGconn, FinishConn>;
using ResultHandle = std::unique_ptr<PGresult, ClearResult>;

constexpr Oid kBoolOid = 16;  // pg_type.oid of boolean (catalog/pg_type_d.h, stable)

std::string_view shortened(std::string_view sql) { return sql.substr(0, 60); }

// libpq's messages end in a newline, may span lines and hold tabs ("Connection refused\n\tIs
// the server running..."): one line of plain spaces for ours.
std::string one_line(std::string_view msg) {
  std::string out(msg);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '\n' || c == '\t' || c == '\r'; }, ' ');
  return out;
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
    s.replace(at, what.size(), with);
}

// What libpq parses out of `conninfo` as the password; nullopt when it cannot parse it.
std::optional<std::string> parsed_password(const std::string& conninfo, bool& parsed) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, FreeOptions> opts(PQconninfoParse(conninfo.c_str(), &err));
  PQfreemem(err);  // its text may quote the password: never used
  parsed = opts != nullptr;
  if (!opts) return std::nullopt;
  for (const auto* o = opts.get(); o->keyword != nullptr; ++o)
    if (std::string_view(o->keyword) == "password" && o->val != nullptr && *o->val != '\0') return o->val;
  return std::nullopt;
}

// Removes quoted pieces from a libpq message about a connection string it could not parse:
// the piece it quotes may be part of a password.
std::string without_quoted(std::string_view msg) {
  std::string out;
  bool inside = false;
  for (const char c : msg) {
    if (c == '"') {
      if (!inside) out += "\"...\"";
      inside = !inside;
    } else if (!inside) {
      out += c;
    }
  }
  return out;
}

class PgConnection;

class PgStatement final : public StatementImpl {
 public:
  PgStatement(PgConnection& conn, std::string name, std::string sql, int params)
      : conn_(conn), name_(std::move(name)), sql_(std::move(sql)), params_(static_cast<std::size_t>(params)) {}

  void bind_int64(int index, std::int64_t value) override { slot(index) = std::to_string(value); }
  void bind_text(int index, std::string_view value) override;
  void bind_null(int index) override { slot(index).reset(); }
  bool step() override;
  // In pipeline mode: queues this statement with its bindings (then clears them); false
  // when libpq could not.
  bool send();
  std::int64_t int64(int column) const override;
  std::string text(int column) const override;
  bool is_null(int column) const override { return PQgetisnull(row_result(column), row_, column) != 0; }
  void reset() noexcept override {
    result_.reset();
    row_ = -1;
    for (auto& p : params_) p.reset();
  }

 private:
  std::optional<std::string>& slot(int index);
  std::vector<const char*> values() const;  // the bound parameters as libpq takes them (NULL: SQL NULL)
  const PGresult* row_result(int column) const;

  PgConnection& conn_;
  const std::string name_;  // the server-side prepared statement
  const std::string sql_;   // as the store wrote it, for messages
  std::vector<std::optional<std::string>> params_;
  ResultHandle result_;  // fetched whole at the first step()
  int row_ = -1;
};

class PgConnection final : public Connection {
 public:
  PgConnection(ConnHandle conn, std::string display, std::optional<std::string> password)
      : conn_(std::move(conn)), display_(std::move(display)), password_(std::move(password)) {}

  void exec(const std::string& sql, std::string_view doing) override {
    ResultHandle res(PQexec(conn_.get(), sql.c_str()));
    check(res.get(), doing);
  }
  std::int64_t changes() const noexcept override { return changes_; }
  const std::string& path() const noexcept override { return display_; }
  Dialect dialect() const noexcept override { return Dialect::postgresql; }

  void begin(TransactionKind kind) override {
    exec(kind == TransactionKind::read ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" : "BEGIN",
         "starting a transaction");
  }
  void commit() override {
    ResultHandle res(PQexec(conn_.get(), "COMMIT"));
    check(res.get(), "committing");
    // COMMIT of a transaction an error aborted succeeds as ROLLBACK: nothing was written.
    if (std::string_view(PQcmdStatus(res.get())) == "ROLLBACK")
      throw StoreError(StoreErrorKind::io,
                       fmt::format("{}: committing: the transaction was rolled back (a statement in it failed)",
                                   display_));
  }
  void rollback() noexcept override {
    // Never throws: on a broken connection the server has rolled back already.
    if (PQstatus(conn_.get()) == CONNECTION_OK) ResultHandle(PQexec(conn_.get(), "ROLLBACK"));
  }

  int schema_version() override {
    {
      auto st = prepare("SELECT to_regclass('aamp_schema_version') IS NOT NULL");
      if (!st.step() || st.text(0) != "t") return 0;
    }
    auto st = prepare("SELECT coalesce(max(version), 0) FROM aamp_schema_version");
    if (!st.step()) fail(StoreErrorKind::io, "reading the schema version", "no row");
    return static_cast<int>(st.int64(0));
  }
  void set_schema_version(int version) override {
    exec("CREATE TABLE IF NOT EXISTS aamp_schema_version (version integer NOT NULL); "
         "DELETE FROM aamp_schema_version;",
         "recording the schema version");
    prepare("INSERT INTO aamp_schema_version (version) VALUES (?1)").bind(1, version).run();
  }
  void lock_key(std::string_view key) override {
    prepare("SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))").bind(1, key).run();
  }
  bool usable() const noexcept override { return !broken_ && PQstatus(conn_.get()) == CONNECTION_OK; }

  // Several writes in one pipeline: every statement, then one Sync, sent together; one
  // round trip. Up to the Sync they run in one transaction (the extended query protocol's
  // implicit one): a failing statement makes the server skip the rest and roll back all.
  void write_all(const std::vector<Write>& writes) override {
    if (writes.size() < 2) return Connection::write_all(writes);
    std::vector<PgStatement*> statements;  // prepared before the pipeline (cached: once per connection)
    statements.reserve(writes.size());
    for (const auto& w : writes) statements.push_back(&static_cast<PgStatement&>(prepare_cached(w.sql())));
    const std::string doing = fmt::format("writing {} statements in one pipeline", writes.size());
    if (PQenterPipelineMode(conn_.get()) != 1) broke(doing);
    for (std::size_t i = 0; i < writes.size(); ++i) {
      Statement st(*statements[i]);
      bind_all(st, writes[i]);
      if (!statements[i]->send()) broke(doing);
    }
    if (PQpipelineSync(conn_.get()) != 1) broke(doing);
    std::exception_ptr failed;  // the first statement that failed; the rest were skipped
    for (std::size_t i = 0; i < writes.size(); ++i) {
      ResultHandle res(PQgetResult(conn_.get()));
      if (!res) broke(doing);
      if (PQresultStatus(res.get()) != PGRES_PIPELINE_ABORTED && !failed) {
        try {
          check(res.get(), fmt::format("executing \"{}\" in a pipeline", shortened(writes[i].sql())));
        } catch (const StoreError&) {
          failed = std::current_exception();
        }
      }
      while (ResultHandle(PQgetResult(conn_.get()))) {  // the end of this statement's results
      }
    }
    const ResultHandle sync(PQgetResult(conn_.get()));
    if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC || PQexitPipelineMode(conn_.get()) != 1) broke(doing);
    if (failed) std::rethrow_exception(failed);
  }

  PGconn* handle() const noexcept { return conn_.get(); }
  void set_changes(const PGresult* res) noexcept {
    const char* n = PQcmdTuples(const_cast<PGresult*>(res));
    std::int64_t v = 0;
    if (n != nullptr) std::from_chars(n, n + std::char_traits<char>::length(n), v);
    changes_ = v;
  }
  // Throws StoreError unless `res` is a success; records its row count when it is.
  void check(const PGresult* res, std::string_view doing) {
    const auto status = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      set_changes(res);
      return;
    }
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = res != nullptr ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const bool lost = PQstatus(conn_.get()) != CONNECTION_OK;
    const std::string detail = one_line(primary != nullptr ? primary : PQerrorMessage(conn_.get()));
    fail(pg_error_kind(state != nullptr ? state : "", lost), doing, detail);
  }
  // A pipeline left in an unknown state: the connection is not used again (the pool drops it).
  [[noreturn]] void broke(std::string_view doing) {
    broken_ = true;
    fail(StoreErrorKind::unavailable, doing, one_line(PQerrorMessage(conn_.get())));
  }
  [[noreturn]] void fail(StoreErrorKind kind, std::string_view doing, std::string detail) const {
    if (password_) replace_all(detail, *password_, "***");
    std::string_view hint;
    switch (kind) {
      case StoreErrorKind::unavailable: hint = " (the connection to the server is lost; is the server up?)"; break;
      case StoreErrorKind::busy: hint = " (another transaction held a lock longer than the lock timeout)"; break;
      case StoreErrorKind::full: hint = " (the server's disk is full)"; break;
      default: break;
    }
    throw StoreError(kind, fmt::format("{}: {}: {}{}", display_, doing, detail, hint));
  }

 protected:
  StatementImpl& prepare_cached(std::string_view sql) override {
    if (auto it = cache_.find(sql); it != cache_.end()) return *it->second;
    const PgSql pg = pg_placeholders(sql);
    std::string name = fmt::format("aamp_{}", ++prepared_);
    ResultHandle res(PQprepare(conn_.get(), name.c_str(), pg.text.c_str(), pg.params, nullptr));
    check(res.get(), fmt::format("preparing \"{}\"", shortened(sql)));
    auto st = std::make_unique<PgStatement>(*this, std::move(name), std::string(sql), pg.params);
    return *cache_.emplace(std::string(sql), std::move(st)).first->second;
  }

 private:
  ConnHandle conn_;
  const std::string display_;
  const std::optional<std::string> password_;  // scrubbed from every message
  std::int64_t changes_ = 0;
  bool broken_ = false;  // a pipeline failed midway
  std::uint64_t prepared_ = 0;  // names the next prepared statement
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<PgStatement>, TextHash, std::equal_to<>> cache_;
};

std::optional<std::string>& PgStatement::slot(int index) {
  if (index < 1 || static_cast<std::size_t>(index) > params_.size())
    conn_.fail(StoreErrorKind::io, fmt::format("binding \"{}\"", shortened(sql_)),
               fmt::format("no parameter ?{} (it has {})", index, params_.size()));
  return params_[static_cast<std::size_t>(index) - 1];
}

void PgStatement::bind_text(int index, std::string_view value) {
  // Text parameters travel as C strings: a NUL would cut the value short unseen.
  if (value.find('\0') != std::string_view::npos)
    conn_.fail(StoreErrorKind::io, fmt::format("binding \"{}\"", shortened(sql_)),
               fmt::format("parameter ?{} holds a NUL byte, which PostgreSQL text cannot", index));
  slot(index) = std::string(value);
}

bool PgStatement::step() {
  if (!result_) {
    const auto values = this->values();
    result_.reset(PQexecPrepared(conn_.handle(), name_.c_str(), static_cast<int>(values.size()), values.data(),
                                 nullptr, nullptr, 0));
    try {
      conn_.check(result_.get(), fmt::format("executing \"{}\"", shortened(sql_)));
    } catch (...) {
      result_.reset();
      throw;
    }
    row_ = -1;
  }
  ++row_;
  return row_ < PQntuples(result_.get());
}

std::vector<const char*> PgStatement::values() const {
  std::vector<const char*> out(params_.size());
  std::transform(params_.begin(), params_.end(), out.begin(),
                 [](const std::optional<std::string>& p) { return p ? p->c_str() : nullptr; });
  return out;
}

bool PgStatement::send() {
  const auto values = this->values();
  const int sent = PQsendQueryPrepared(conn_.handle(), name_.c_str(), static_cast<int>(values.size()), values.data(),
                                       nullptr, nullptr, 0);
  reset();
  return sent == 1;
}

const PGresult* PgStatement::row_result(int column) const {
  if (!result_ || row_ < 0 || row_ >= PQntuples(result_.get()) || column < 0 || column >= PQnfields(result_.get()))
    conn_.fail(StoreErrorKind::io, fmt::format("reading \"{}\"", shortened(sql_)),
               fmt::format("no column {} in the current row", column));
  return result_.get();
}

std::int64_t PgStatement::int64(int column) const {
  const PGresult* res = row_result(column);
  if (PQgetisnull(res, row_, column) != 0) return 0;  // as SQLite reads NULL
  const char* v = PQgetvalue(res, row_, column);
  // A boolean expression (x IS NULL, EXISTS (...)) is 0/1 in SQLite: read it so here too.
  if (PQftype(res, column) == kBoolOid) return *v == 't' ? 1 : 0;
  const std::size_t n = static_cast<std::size_t>(PQgetlength(res, row_, column));
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(v, v + n, out);
  if (ec != std::errc() || end != v + n)
    conn_.fail(StoreErrorKind::io, fmt::format("reading \"{}\"", shortened(sql_)),
               fmt::format("column {} is not an integer", column));
  return out;
}

std::string PgStatement::text(int column) const {
  const PGresult* res = row_result(column);
  return std::string(PQgetvalue(res, row_, column), static_cast<std::size_t>(PQgetlength(res, row_, column)));
}

}  // namespace

std::unique_ptr<Connection> open_pg_connection(const std::string& conninfo, const ConnectionOptions& options) {
  const std::string display = display_database(conninfo);
  bool parsed = false;
  std::optional<std::string> password = parsed_password(conninfo, parsed);
  if (!parsed) {
    char* err = nullptr;
    PQconninfoOption* ignored = PQconninfoParse(conninfo.c_str(), &err);
    PQconninfoFree(ignored);
    const std::string why = err != nullptr ? without_quoted(one_line(err)) : "cannot parse it";
    PQfreemem(err);
    throw StoreError(StoreErrorKind::unavailable, fmt::format("{}: the connection string is malformed: {}", display, why));
  }
  // Entries before "dbname" are defaults the connection string may override (libpq
  // processes them in order; dbname=conninfo is expanded in place).
  const auto seconds = std::max<long long>(1, (options.busy_timeout.count() + 999) / 1000);
  const std::string timeout = std::to_string(seconds);
  const char* keys[] = {"application_name", "connect_timeout", "dbname", nullptr};
  const char* values[] = {"aamp-milter", timeout.c_str(), conninfo.c_str(), nullptr};
  ConnHandle conn(PQconnectdbParams(keys, values, 1));
  if (!conn) throw StoreError(StoreErrorKind::unavailable, fmt::format("{}: connecting: out of memory", display));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = one_line(PQerrorMessage(conn.get()));
    if (password) replace_all(why, *password, "***");
    throw StoreError(StoreErrorKind::unavailable,
                     fmt::format("{}: connecting: {} (is the server up and the connection string right?)", display, why));
  }
  // Server notices ("relation ... already exists, skipping") would go to stderr: dropped.
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  auto pg = std::make_unique<PgConnection>(std::move(conn), display, std::move(password));
  pg->exec(fmt::format("SET lock_timeout = {}", options.busy_timeout.count()), "configuring the connection");
  return pg;
}

}  // namespace aamp::store
