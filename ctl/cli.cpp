// cli.cpp — see cli.hpp.
#include "ctl/cli.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "ctl/cli11.hpp"

namespace aamp::ctl {

CLI::App& Commands::add(CLI::App& parent, const std::string& name, const std::string& synopsis,
                        const std::string& about, const std::string& unknown_hint) {
  CLI::App* c = parent.add_subcommand(name, about);
  // Options a command does not know go up to its group and to the root: the global
  // options work after the command too. One subcommand per level: a positional that
  // happens to be a command's name stays a positional.
  c->fallthrough();
  c->require_subcommand(0, 1);
  synopses_[c] = synopsis;
  if (!unknown_hint.empty()) hints_[c] = unknown_hint;
  return *c;
}

void Commands::option(CLI::App& c, const std::string& name, std::optional<std::string>& out,
                      const std::string& value, const std::string& help) {
  c.add_option_function<std::string>(
       name, [&out](const std::string& v) { out = v; }, help)
      ->type_name(value);
}

void Commands::options(CLI::App& c, const std::string& name, std::vector<std::string>& out, const std::string& value,
                       const std::string& help) {
  c.add_option(name, out, help + " (repeatable)")
      ->type_name(value)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void Commands::flag(CLI::App& c, const std::string& name, bool& out, const std::string& help) {
  c.add_flag(name, out, help);
}

void Commands::positional(CLI::App& c, const std::string& name, std::optional<std::string>& out,
                          const std::string& help) {
  c.add_option_function<std::string>(
      name, [&out](const std::string& v) { out = v; }, help);
}

void Commands::positionals(CLI::App& c, const std::string& name, std::vector<std::string>& out,
                           const std::string& help) {
  c.add_option(name, out, help);
}

CLI::App* Commands::selected() const {
  CLI::App* at = &root_;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  return at == &root_ ? nullptr : at;
}

Commands::Run Commands::runner(CLI::App& command) const {
  if (const auto it = runs_.find(&command); it != runs_.end()) return it->second;
  const auto subs = command.get_subcommands([](const CLI::App*) { return true; });
  std::string spoken;  // "add, set, list or remove"
  for (std::size_t i = 0; i < subs.size(); ++i)
    spoken += (i == 0 ? "" : i + 1 == subs.size() ? " or " : ", ") + subs[i]->get_name();
  throw UsageError(fmt::format("{}: give {}", path(command), spoken));
}

std::string Commands::path(const CLI::App& command) {
  std::string out;
  for (const CLI::App* at = &command; at != nullptr && at->get_parent() != nullptr; at = at->get_parent()) {
    std::string piece = at->get_name();
    if (!out.empty()) {
      piece += ' ';
      piece += out;
    }
    out = std::move(piece);
  }
  return out;
}

const std::string& Commands::synopsis(const CLI::App* command) const {
  static const std::string none;
  const auto it = synopses_.find(command);
  return it == synopses_.end() ? none : it->second;
}

const std::string& Commands::unknown_hint(const CLI::App* command) const {
  static const std::string none;
  const auto it = hints_.find(command);
  return it == hints_.end() ? none : it->second;
}

std::string required(const std::optional<std::string>& value, const std::string& what) {
  if (!value) throw UsageError("missing " + what);
  return *value;
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

}  // namespace aamp::ctl
