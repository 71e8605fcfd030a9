// main.cpp — aampctl: the operator's tool beside aamp-milter. Parses the global options,
// finds the command, runs it, and turns errors into a message and an exit status:
// 0 success, 1 a negative answer (invalid message, refused dispatch), 2 usage or I/O error.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "ctl/cli.hpp"
#include "ctl/commands.hpp"
#include "policy/store.hpp"

namespace {

using aamp::ctl::Cli;
using aamp::ctl::Globals;

struct Command {
  const char* name;
  int (*run)(Cli&, const Globals&);
  const char* synopsis;
};

// One line per command; the synopsis is what `aampctl help` prints.
const std::vector<Command> kCommands = {
    {"validate", aamp::ctl::cmd_validate, "validate [--mode strict|sdk] FILE.eml...  check the AAMP headers of mail files (- = stdin)"},
    {"init", aamp::ctl::cmd_init, "init                      create the database (or bring it up to date)"},
    {"migrate", aamp::ctl::cmd_migrate, "migrate                   apply pending schema migrations"},
    {"mailbox", aamp::ctl::cmd_mailbox, "mailbox add|set|list|remove ADDRESS_OR_@DOMAIN [--mode M] [--intents L] [--trust T] [--note N]"},
    {"sender", aamp::ctl::cmd_sender, "sender allow --mailbox M PATTERN [--context k=v1,v2]... | list [--mailbox M] | remove ID"},
    {"pair", aamp::ctl::cmd_pair, "pair issue --mailbox M [--ttl 5m] [--rules k=v1,v2]... [--qr] | list | revoke ID"},
    {"explain", aamp::ctl::cmd_explain, "explain --from SENDER --to MAILBOX [--intent I] [--context k=v]...  would the sender policy allow it?"},
    {"check", aamp::ctl::cmd_check, "check FILE.eml --rcpt MAILBOX... [--auth-user U] [--client-ip IP] [--mail-from S]  the milter's decision, changing nothing"},
    {"export", aamp::ctl::cmd_export, "export [-o FILE]          all policy as one JSON document (mailboxes, rules, live codes' hashes, lockouts)"},
    {"import", aamp::ctl::cmd_import, "import FILE|-             read an export into this database (idempotent, one transaction)"},
    {"audit", aamp::ctl::cmd_audit, "audit [export] [--since T] [--mailbox M] [--sender S] [--verdict V] [--limit N] | prune --before T"},
    {"outbox", aamp::ctl::cmd_outbox, "outbox list [--state pending|sent|abandoned] | retry ID | drop ID  the queued pair.respond replies"},
    {"backup", aamp::ctl::cmd_backup, "backup FILE [--force]     a consistent copy of the SQLite database, mode 0600"},
};

void usage(std::FILE* out) {
  fmt::print(out, "usage: aampctl [-c FILE] [--db PATH] [--json] COMMAND ...\n\ncommands:\n");
  for (const auto& c : kCommands) fmt::print(out, "  {}\n", c.synopsis);
  fmt::print(out, "\nexit status: 0 success, 1 negative answer, 2 usage or I/O error\n");
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli(std::vector<std::string>(argv + 1, argv + argc));
  try {
    Globals g;
    g.config_file = cli.option("-c");
    if (!g.config_file) g.config_file = cli.option("--config");
    g.db = cli.option("--db");
    g.json = cli.flag("--json");
    if (cli.flag("-V") || cli.flag("--version")) {
      fmt::print("aampctl {}\n", AAMP_VERSION);
      return 0;
    }
    if (cli.flag("-h") || cli.flag("--help")) {
      usage(stdout);
      return 0;
    }
    const auto name = cli.maybe_positional();
    if (!name || *name == "help") {
      usage(name ? stdout : stderr);
      return name ? 0 : 2;
    }
    for (const auto& c : kCommands)
      if (*name == c.name) return c.run(cli, g);
    throw aamp::ctl::UsageError("unknown command '" + *name + "' (see aampctl help)");
  } catch (const aamp::ctl::UsageError& e) {
    fmt::print(stderr, "aampctl: {}\n", e.what());
    return 2;
  } catch (const aamp::StoreError& e) {
    fmt::print(stderr, "aampctl: database error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "aampctl: {}\n", e.what());
    return 2;
  }
}
