// cmd_backup.cpp — `aampctl backup FILE [--force]`: a consistent copy of the SQLite
// database while the milter runs (store/admin_lifecycle.cpp, VACUUM INTO), mode 0600.
// PostgreSQL has its own tools (pg_dump): the command says so and changes nothing.
#include <memory>

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

void add_backup(Commands& c) {
  struct Args {
    std::optional<std::string> file;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  auto& cmd = c.add(c.root(), "backup", "backup FILE [--force]", "a consistent copy of the SQLite database, mode 0600");
  Commands::positional(cmd, "FILE", a->file, "the copy to write");
  Commands::flag(cmd, "--force", a->force, "replace FILE when it exists");
  c.runs(cmd, [a, &c] { return run_backup(c.globals(), required(a->file, "backup file (aampctl backup FILE)"), a->force); });
}

}  // namespace aamp::ctl
