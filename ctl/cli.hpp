// cli.hpp — the argument handling every aampctl command shares: options may come in any
// order; unknown options and missing values are usage errors (exit 2, nothing changed).
// Commands pull what they understand, then call finish() so leftovers are refused.
#pragma once

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "milter/config.hpp"

namespace aamp::ctl {

// A usage or input error: printed as "aampctl: <what>", exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Cli {
 public:
  explicit Cli(std::vector<std::string> args) : args_(std::move(args)) {}

  // "--json": true when present (and removed).
  bool flag(const std::string& name);
  // "--db PATH" or "--db=PATH"; nullopt when absent; UsageError when the value is missing.
  std::optional<std::string> option(const std::string& name);
  // Every occurrence of a repeatable option, in order.
  std::vector<std::string> options(const std::string& name);
  // The next positional argument; UsageError naming `what` when there is none.
  std::string positional(const std::string& what);
  std::optional<std::string> maybe_positional();
  // All remaining positional arguments.
  std::vector<std::string> rest();
  // Refuses anything not consumed.
  void finish() const;

 private:
  std::vector<std::string> args_;
};

// Global options, taken before the command runs.
struct Globals {
  std::optional<std::string> config_file;  // -c FILE / --config FILE
  std::optional<std::string> db;           // --db PATH
  bool json = false;                       // --json
};

inline constexpr const char* kDefaultConfig = "/etc/aamp-milter/aamp-milter.conf";

// The milter's configuration, read with the daemon's own parser: -c FILE, else
// kDefaultConfig when it exists, else nullopt. A file that does not parse is a UsageError.
std::optional<milter::Config> milter_config(const Globals& g);

// The database path: --db, else `Database` from milter_config(), else UsageError.
std::string database_path(const Globals& g);

// A command group's subcommands (`aampctl pair issue|list|revoke`): runs the one named by
// the next positional argument; UsageError listing the names when it is missing or unknown.
struct Subcommand {
  const char* name;
  int (*run)(Cli&, const Globals&);
};
int run_subcommand(Cli& cli, const Globals& g, const char* group, std::initializer_list<Subcommand> subs);

}  // namespace aamp::ctl
