// cmd_transfer.cpp — `aampctl export [-o FILE]` and `aampctl import FILE|-`: all policy
// (mailboxes, sender rules, live pair codes' hashes, active lockouts) as one JSON document
// (ctl/policy_json.*), to move it between databases of either engine — SQLite to
// PostgreSQL without reissuing codes. Never audit rows or the outbox. Import validates the
// whole document, then writes it in one transaction (PolicyAdmin::import_policy).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <memory>

#include <fmt/format.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "ctl/policy_json.hpp"

namespace aamp::ctl {

namespace {

constexpr std::size_t kMaxDocument = std::size_t{1} << 30;  // 1 GiB: far above a million rules

// Writes `text` to `path`, made 0600 when new (it names people's addresses and live codes' hashes).
void write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw UsageError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw UsageError(fmt::format("cannot write {}: {}", path, std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) throw UsageError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
}

// The whole of `path` ("-": standard input), up to kMaxDocument bytes.
std::string read_input(const std::string& path) {
  const bool stdin_ = path == "-";
  const int fd = stdin_ ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || text.size() + static_cast<std::size_t>(n) > kMaxDocument) {
      const int err = errno;
      if (!stdin_) ::close(fd);
      if (n < 0) throw UsageError(fmt::format("cannot read {}: {}", path, std::strerror(err)));
      if (n == 0) return text;
      throw UsageError(fmt::format("{} is larger than {} bytes", path, kMaxDocument));
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
}

int run_export(const Globals& g, const std::optional<std::string>& out) {
  auto admin = open_admin(g);
  const std::string doc = policy_document(admin.export_policy(now()));
  if (out && *out != "-") write_file(*out, doc);
  else fmt::print("{}", doc);
  return 0;
}

nlohmann::json counts_json(const store::ImportCounts& c) {
  return {{"added", c.added}, {"updated", c.updated}, {"unchanged", c.unchanged}, {"kept", c.kept}};
}

int run_import(const Globals& g, const std::optional<std::string>& file) {
  const std::string path = required(file, "FILE (or - for standard input)");
  store::PolicySnapshot snapshot;
  try {
    snapshot = parse_policy_document(read_input(path));  // all of it, before the database is opened
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("{}: {}", path == "-" ? "standard input" : path, e.what()));
  }
  auto admin = open_admin(g);
  const auto sum = admin.import_policy(snapshot);
  const std::string database = admin.path();  // never a password
  if (g.json) {
    print_json({{"database", database},
                {"mailboxes", counts_json(sum.mailboxes)},
                {"senderRules", counts_json(sum.rules)},
                {"pairCodes", counts_json(sum.pair_codes)},
                {"lockouts", counts_json(sum.lockouts)}});
    return 0;
  }
  fmt::print("imported into {}\n", database);
  const std::pair<const char*, const store::ImportCounts*> kinds[] = {
      {"mailboxes", &sum.mailboxes}, {"sender rules", &sum.rules}, {"pair codes", &sum.pair_codes},
      {"lockouts", &sum.lockouts}};
  for (const auto& [name, c] : kinds)
    fmt::print("  {:<13} {} added, {} updated, {} unchanged, {} kept\n", name, c->added,
               c->updated, c->unchanged, c->kept);
  return 0;
}

}  // namespace

void add_transfer(Commands& c) {
  {
    auto out = std::make_shared<std::optional<std::string>>();
    auto& cmd = c.add(c.root(), "export", "export [-o FILE]",
                      "all policy as one JSON document (mailboxes, rules, live codes' hashes, lockouts)");
    Commands::option(cmd, "-o", *out, "FILE", "write to FILE (made mode 0600) instead of stdout");
    c.runs(cmd, [out, &c] { return run_export(c.globals(), *out); });
  }
  {
    auto file = std::make_shared<std::optional<std::string>>();
    auto& cmd = c.add(c.root(), "import", "import FILE|-",
                      "read an export into this database (idempotent, one transaction)");
    Commands::positional(cmd, "FILE", *file, "the document; - reads standard input");
    c.runs(cmd, [file, &c] { return run_import(c.globals(), *file); });
  }
}

}  // namespace aamp::ctl
