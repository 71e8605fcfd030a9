// main.cpp — aampctl: the operator's tool beside aamp-milter. Builds the command tree
// (each cmd_*.cpp declares its own arguments), parses the line with CLI11, runs the
// command named, and turns errors into a message and an exit status:
// 0 success, 1 a negative answer (invalid message, refused dispatch), 2 usage or I/O error.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "ctl/cli11.hpp"
#include "ctl/cli.hpp"
#include "ctl/commands.hpp"
#include "policy/store.hpp"

namespace {

using aamp::ctl::Commands;

struct Command {
  void (*add)(Commands&);
  const char* synopsis;  // what `aampctl help` prints (commands.hpp says which add_* declares which)
};

// In the order `aampctl help` lists them; one add_* may declare several commands.
const std::vector<Command> kCommands = {
    {aamp::ctl::add_validate, "validate [--mode strict|sdk] FILE.eml...  check the AAMP headers of mail files (- = stdin)"},
    {aamp::ctl::add_db, "init                      create the database (or bring it up to date)\n"
                        "  migrate                   apply pending schema migrations"},
    {aamp::ctl::add_mailbox, "mailbox add|set|list|remove ADDRESS_OR_@DOMAIN [--mode M] [--intents L] [--trust T] [--note N]"},
    {aamp::ctl::add_sender, "sender allow --mailbox M PATTERN [--context k=v1,v2]... | list [--mailbox M] | remove ID"},
    {aamp::ctl::add_pair, "pair issue --mailbox M [--ttl 5m] [--rules k=v1,v2]... [--qr] | list | revoke ID"},
    {aamp::ctl::add_explain, "explain --from SENDER --to MAILBOX [--intent I] [--context k=v]...  would the sender policy allow it?"},
    {aamp::ctl::add_check, "check FILE.eml --rcpt MAILBOX... [--auth-user U] [--client-ip IP] [--mail-from S]  the milter's decision, changing nothing"},
    {aamp::ctl::add_transfer, "export [-o FILE]          all policy as one JSON document (mailboxes, rules, live codes' hashes, lockouts)\n"
                              "  import FILE|-             read an export into this database (idempotent, one transaction)"},
    {aamp::ctl::add_audit, "audit [export] [--since T] [--mailbox M] [--sender S] [--verdict V] [--limit N] | prune --before T"},
    {aamp::ctl::add_outbox, "outbox list [--state pending|sent|abandoned] | retry ID | drop ID  the queued pair.respond replies"},
    {aamp::ctl::add_thread, "thread show TASKID         the thread registry's entries for a TaskId and its audit rows"},
    {aamp::ctl::add_backup, "backup FILE [--force]     a consistent copy of the SQLite database, mode 0600"},
};

void usage(std::FILE* out) {
  fmt::print(out, "usage: aampctl [-c FILE] [--db PATH] [--json] COMMAND ...\n\ncommands:\n");
  for (const auto& c : kCommands) fmt::print(out, "  {}\n", c.synopsis);
  fmt::print(out,
             "\nglobal options may stand before or after the command; -- ends the options (a value beginning with\n"
             "'-' goes after it); aampctl COMMAND --help (or aampctl help COMMAND) shows a command's options;\n"
             "aampctl -V (--version) prints the version\n"
             "\nexit status: 0 success, 1 negative answer, 2 usage or I/O error\n");
}

// A command's --help: its synopsis, what it does, its arguments, the global options.
class Help : public CLI::Formatter {
 public:
  explicit Help(const Commands& commands) : commands_(commands) {}
  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
    std::string out = "usage: aampctl " + commands_.synopsis(app) + "\n\n" + app->get_description() + "\n";
    out += make_positionals(app) + make_groups(app, mode) + make_subcommands(app, mode);
    out += "\nglobal options (before or after the command): -c FILE / --config FILE, --db DATABASE, --json\n"
           "-- ends the options: a value beginning with '-' goes after it\n"
           "exit status: 0 success, 1 negative answer, 2 usage or I/O error\n";
    (void)name;
    return out;
  }

 private:
  const Commands& commands_;
};

// CLI11's parse errors in aampctl's words (docs/cli.md), naming the argument at fault.
std::string parse_error(const CLI::ParseError& e, const CLI::App& root, const Commands& commands) {
  const std::string what = e.what();
  const CLI::App* at = commands.selected();
  const std::string where = at ? " (see aampctl " + Commands::path(*at) + " --help)" : " (see aampctl help)";
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    const auto extras = root.remaining(true);
    const std::string first = extras.empty() ? std::string() : extras.front();
    const bool word = !first.empty() && first[0] != '-';
    if (word && at == nullptr) return "unknown command '" + first + "' (see aampctl help)";
    if (word && !at->get_subcommands([](const CLI::App*) { return true; }).empty()) {
      std::string hint = commands.unknown_hint(at);
      if (hint.empty())
        for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; }))
          hint += (hint.empty() ? "" : ", ") + sub->get_name();
      return "unknown " + Commands::path(*at) + " command '" + first + "' (" + hint + ")";
    }
    if (first == "--") return "unexpected argument after --" + where;
    // `sender allow --mailbox M -weird@x`: a value that begins with a single '-' belongs after --.
    const bool dash_value = first.size() > 1 && first[0] == '-' && first[1] != '-' && at != nullptr &&
                            !at->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
    if (dash_value)
      return "unexpected argument '" + first + "' (an argument that begins with '-' goes after --, as in aampctl " +
             Commands::path(*at) + " ... -- " + first + ")";
    return "unexpected argument '" + first + "'" + where;
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    const std::string name = what.substr(0, what.find(':'));
    if (what.find(" required ") != std::string::npos && what.size() > 8 &&
        what.compare(what.size() - 8, 8, " missing") == 0)
      return name + " needs a value";
    if (what.find("At Most") != std::string::npos) return name + " may be given only once";
  }
  return what + where;
}

}  // namespace

static int run_aampctl(int argc, char** argv) {
  CLI::App root("aampctl: the operator's tool beside aamp-milter", "aampctl");
  Commands commands(root);
  aamp::ctl::Globals& g = commands.globals();
  root.formatter(std::make_shared<Help>(commands));
  root.set_help_flag("-h,--help", "print this command's usage and options");
  root.require_subcommand(0, 1);
  Commands::option(root, "-c,--config", g.config_file, "FILE", "the milter's config file");
  Commands::option(root, "--db", g.db, "DATABASE", "the policy database (SQLite path or PostgreSQL connection string)");
  Commands::flag(root, "--json", g.json, "machine-readable output");
  bool version = false;
  Commands::flag(root, "-V,--version", version, "print the version");
  for (const auto& c : kCommands) c.add(commands);
  std::vector<std::string> topics;
  auto& help = commands.add(root, "help", "help [COMMAND...]", "the usage of aampctl, or of one command");
  Commands::positionals(help, "COMMAND", topics, "a command, e.g. pair issue");

  try {
    try {
      root.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      if (commands.selected() == nullptr) {
        usage(stdout);
      } else {
        fmt::print("{}", root.help());
      }
      return 0;
    } catch (const CLI::ParseError& e) {
      throw aamp::ctl::UsageError(parse_error(e, root, commands));
    }
    if (version) {
      fmt::print("aampctl {}\n", AAMP_VERSION);
      return 0;
    }
    CLI::App* command = commands.selected();
    if (command == nullptr) {
      usage(stderr);
      return 2;
    }
    if (command == &help) {
      if (topics.empty()) {
        usage(stdout);
        return 0;
      }
      CLI::App* topic = &root;
      for (const auto& word : topics) {
        CLI::App* next = nullptr;
        for (CLI::App* sub : topic->get_subcommands([](const CLI::App*) { return true; }))
          if (sub->get_name() == word) next = sub;
        if (next == nullptr)
          throw aamp::ctl::UsageError("help: no command '" + word + "'" +
                                      (topic == &root ? std::string() : " under " + Commands::path(*topic)));
        topic = next;
      }
      fmt::print("{}", topic->help(Commands::path(*topic)));
      return 0;
    }
    return commands.runner(*command)();
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

// Nothing escapes main: an exception the commands did not turn into their own message
// (building the command tree, say) is reported on one line with the usage-error status.
int main(int argc, char** argv) {
  try {
    return run_aampctl(argc, argv);
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "aampctl: %s\n", e.what());
  } catch (...) {
    (void)std::fputs("aampctl: internal error\n", stderr);
  }
  return 2;
}
