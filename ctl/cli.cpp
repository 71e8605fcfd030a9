// cli.cpp — see cli.hpp.
#include "ctl/cli.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "policy/text.hpp"

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

std::string database_path(const Globals& g) {
  if (g.db) return *g.db;
  static const std::string kDefaultConfig = "/etc/aamp-milter/aamp-milter.conf";
  const std::string file = g.config_file.value_or(kDefaultConfig);
  std::ifstream in(file);
  if (!in) {
    if (g.config_file) throw UsageError("cannot read config file " + file);
    throw UsageError("no --db given and no " + kDefaultConfig + " to read Database from");
  }
  // The same key-value syntax as the milter's config (milter/config.cpp): we only need one key.
  std::string line;
  while (std::getline(in, line)) {
    const std::string_view l = trim(line);
    if (l.empty() || l.front() == '#') continue;
    const auto sp = l.find_first_of(" \t");
    if (sp == std::string_view::npos) continue;
    if (iequals(l.substr(0, sp), "Database")) return std::string(trim(l.substr(sp)));
  }
  throw UsageError("config file " + file + " has no Database; give --db");
}

}  // namespace aamp::ctl
