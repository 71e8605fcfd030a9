// cli.cpp — see cli.hpp.
#include "ctl/cli.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

namespace aamp::ctl {

bool Cli::flag(const std::string& name) {
  const auto it = std::find(args_.begin(), args_.end(), name);
  if (it == args_.end()) return false;
  args_.erase(it);
  return true;
}

std::optional<std::string> Cli::option(const std::string& name) {
  for (auto it = args_.begin(); it != args_.end(); ++it) {
    if (*it == name) {
      if (it + 1 == args_.end()) throw UsageError(name + " needs a value");
      std::string value = *(it + 1);
      args_.erase(it, it + 2);
      return value;
    }
    if (it->rfind(name + "=", 0) == 0) {
      std::string value = it->substr(name.size() + 1);
      args_.erase(it);
      return value;
    }
  }
  return std::nullopt;
}

std::vector<std::string> Cli::options(const std::string& name) {
  std::vector<std::string> out;
  while (auto v = option(name)) out.push_back(*v);
  return out;
}

std::optional<std::string> Cli::maybe_positional() {
  for (auto it = args_.begin(); it != args_.end(); ++it) {
    if (*it == "-" || it->empty() || (*it)[0] != '-') {
      std::string v = *it;
      args_.erase(it);
      return v;
    }
  }
  return std::nullopt;
}

std::string Cli::positional(const std::string& what) {
  if (auto v = maybe_positional()) return *v;
  throw UsageError("missing " + what);
}

std::vector<std::string> Cli::rest() {
  std::vector<std::string> out;
  while (auto v = maybe_positional()) out.push_back(*v);
  return out;
}

void Cli::finish() const {
  if (!args_.empty()) throw UsageError("unexpected argument '" + args_.front() + "'");
}

std::optional<milter::Config> milter_config(const Globals& g) {
  std::string path;
  if (g.config_file) path = *g.config_file;
  else if (std::filesystem::exists(kDefaultConfig)) path = kDefaultConfig;
  if (path.empty()) return std::nullopt;
  if (std::error_code ec; !std::filesystem::is_regular_file(path, ec))
    throw UsageError("cannot read config file " + path + (ec ? ": " + ec.message() : ": no such file"));
  // The daemon's own parser: the same keys, comments, relative paths and errors.
  auto c = milter::load_config(path, std::filesystem::current_path().string());
  if (!c) throw UsageError(c.error());
  return std::move(c).value();
}

std::string database_path(const Globals& g) {
  if (g.db) return *g.db;
  const auto config = milter_config(g);
  if (!config) throw UsageError(std::string("no --db given and no ") + kDefaultConfig + " to read Database from");
  if (config->database.empty()) throw UsageError("config file " + config->source + " has no Database; give --db");
  return config->database;
}

int run_subcommand(Cli& cli, const Globals& g, const char* group, std::initializer_list<Subcommand> subs) {
  const auto sub = cli.maybe_positional();
  std::string names;  // "add, set, list" (unknown) and "add, set or list" (missing)
  std::string spoken;
  std::size_t i = 0;
  for (const Subcommand& s : subs) {
    if (sub == s.name) return s.run(cli, g);
    names += (i == 0 ? "" : ", ") + std::string(s.name);
    spoken += (i == 0 ? "" : i + 1 == subs.size() ? " or " : ", ") + std::string(s.name);
    ++i;
  }
  throw UsageError(sub ? fmt::format("unknown {} command '{}' ({})", group, *sub, names)
                       : fmt::format("{}: give {}", group, spoken));
}

}  // namespace aamp::ctl
