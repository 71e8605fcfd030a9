// cmd_backup.cpp — `aampctl backup FILE [--force]`: a consistent copy of the SQLite
// database while the milter runs (store/admin_lifecycle.cpp, VACUUM INTO), mode 0600.
// PostgreSQL has its own tools (pg_dump): the command says so and changes nothing.
#include <fmt/format.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "policy/text_safety.hpp"

namespace aamp::ctl {

namespace {

int run_backup(const Globals& g, const std::string& file, bool force) {
  auto admin = open_admin(g);
  admin.backup(file, force);
  if (g.json) print_json({{"database", admin.path()}, {"file", file}, {"schemaVersion", admin.migration().to}});
  else fmt::print("{}: copied to {} (schema version {})\n", for_terminal(admin.path()), for_terminal(file),
                  admin.migration().to);
  return 0;
}

}  // namespace

int cmd_backup(Cli& cli, const Globals& g) {
  const bool force = cli.flag("--force");
  const auto file = cli.positional("backup file (aampctl backup FILE)");
  cli.finish();
  return run_backup(g, file, force);
}

}  // namespace aamp::ctl
