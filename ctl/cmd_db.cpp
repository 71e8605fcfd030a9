// cmd_db.cpp — `aampctl init` (create the database, or bring it up to date) and
// `aampctl migrate` (bring an existing database up to date). Both apply the migrations
// compiled into this program (schema/), one transaction each; a database newer than the
// program is refused and left alone.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "store/admin.hpp"

namespace aamp::ctl {

namespace {

// A new database file is made 0640 before SQLite opens it: audit rows name people and
// addresses. SQLite gives the -wal and -shm files the main file's mode.
void create_private(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd >= 0) {
    ::close(fd);
    return;
  }
  if (errno == EEXIST) return;
  throw UsageError(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
}

int run(const Globals& g, bool create) {
  const std::string database = database_path(g);
  const bool file = store::dialect_of(database) == store::Dialect::sqlite;
  if (create && file) create_private(database);
  store::AdminOptions options;
  options.create = create && file;
  options.migrate = true;
  store::PolicyAdmin admin(database, options);
  const std::string path = store::display_database(database);  // never a password
  const auto& m = admin.migration();
  if (g.json) {
    print_json({{"path", path}, {"from", m.from}, {"to", m.to}});
  } else if (m.from == m.to) {
    fmt::print("{}: schema version {}, up to date\n", path, m.to);
  } else if (m.from == 0) {
    fmt::print("{}: initialised at schema version {}\n", path, m.to);
  } else {
    fmt::print("{}: migrated from schema version {} to {}\n", path, m.from, m.to);
  }
  return 0;
}

}  // namespace

void add_db(Commands& c) {
  auto& init = c.add(c.root(), "init", "init", "create the database (or bring it up to date)");
  c.runs(init, [&c] { return run(c.globals(), true); });
  auto& migrate = c.add(c.root(), "migrate", "migrate", "apply pending schema migrations");
  c.runs(migrate, [&c] { return run(c.globals(), false); });
}

}  // namespace aamp::ctl
