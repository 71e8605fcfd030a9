// cli.hpp — the argument handling every aampctl command shares, on CLI11 (docs/decisions.md).
// Each cmd_*.cpp declares its command's options and positionals on a Commands tree and
// names the function that runs it; main.cpp parses the line and runs the one named.
// Global options (-c, --db, --json) may stand anywhere; `--` ends the options, so a
// positional beginning with '-' can be given; unknown options, stray arguments and missing
// values are usage errors (exit 2, nothing changed); every command has its own --help.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "milter/config.hpp"

namespace CLI {
class App;
}

namespace aamp::ctl {

// A usage or input error: printed as "aampctl: <what>", exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Global options, valid before or after the command.
struct Globals {
  std::optional<std::string> config_file;  // -c FILE / --config FILE
  std::optional<std::string> db;           // --db PATH
  bool json = false;                       // --json
};

// The command tree. A command is a CLI::App below the root; a group (`pair`) holds
// subcommands; a command with a run function is runnable (a group may be too: `audit`).
class Commands {
 public:
  using Run = std::function<int()>;

  explicit Commands(CLI::App& root) : root_(root) {}
  CLI::App& root() { return root_; }
  const Globals& globals() const { return globals_; }
  Globals& globals() { return globals_; }

  // A command (or group) under `parent`. `synopsis` is its usage line without "aampctl ",
  // `about` one sentence. `unknown_hint` (groups) follows "unknown X command 'Y'".
  CLI::App& add(CLI::App& parent, const std::string& name, const std::string& synopsis, const std::string& about,
                const std::string& unknown_hint = "");
  void runs(CLI::App& command, Run run) { runs_[&command] = std::move(run); }

  // Declarations; values land in storage the caller keeps alive (a shared_ptr the Run holds).
  static void option(CLI::App& c, const std::string& name, std::optional<std::string>& out, const std::string& value,
                     const std::string& help);
  static void options(CLI::App& c, const std::string& name, std::vector<std::string>& out, const std::string& value,
                      const std::string& help);  // repeatable
  static void flag(CLI::App& c, const std::string& name, bool& out, const std::string& help);
  static void positional(CLI::App& c, const std::string& name, std::optional<std::string>& out,
                         const std::string& help);
  static void positionals(CLI::App& c, const std::string& name, std::vector<std::string>& out,
                          const std::string& help);

  // After parsing: the deepest command named on the line (nullptr: none).
  CLI::App* selected() const;
  // Its run function; UsageError when it is a group that needs a subcommand.
  Run runner(CLI::App& command) const;
  // The words after "aampctl" that name `command` ("pair issue").
  static std::string path(const CLI::App& command);
  const std::string& synopsis(const CLI::App* command) const;
  const std::string& unknown_hint(const CLI::App* command) const;

 private:
  CLI::App& root_;
  Globals globals_;
  std::map<const CLI::App*, Run> runs_;
  std::map<const CLI::App*, std::string> synopses_;
  std::map<const CLI::App*, std::string> hints_;
};

// A positional the command needs: its value, else UsageError "missing <what>".
std::string required(const std::optional<std::string>& value, const std::string& what);

inline constexpr const char* kDefaultConfig = "/etc/aamp-milter/aamp-milter.conf";

// The milter's configuration, read with the daemon's own parser: -c FILE, else
// kDefaultConfig when it exists, else nullopt. A file that does not parse is a UsageError.
std::optional<milter::Config> milter_config(const Globals& g);

// The database path: --db, else `Database` from milter_config(), else UsageError.
std::string database_path(const Globals& g);

}  // namespace aamp::ctl
