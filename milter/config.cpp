// config.cpp — see config.hpp: parse_config reads the lines (config_reader.hpp), hands each
// `Key value` to the key table (config_keys.hpp), then checks what only the whole file can
// tell. A key the table does not know is an error, as is a key given twice (except the list
// keys, which accumulate). Errors read "FILE:LINE: Key: what is wrong".
#include "milter/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>

#include "milter/config_keys.hpp"
#include "milter/config_lists.hpp"
#include "milter/config_reader.hpp"
#include "policy/text.hpp"

namespace aamp::milter {

using config_file::for_each_line;
using config_file::handlers;
using config_file::kListKeys;
using config_file::load_sender_logins;
using config_file::Parser;
using config_file::Problem;
using config_file::read_small_file;

Result<Config> parse_config(std::string_view text, std::string_view origin, const std::string& base_dir,
                            const std::string& host_name, const FileReader& read_file) {
  Parser p;
  p.base_dir = base_dir;
  p.read_file = read_file ? read_file : FileReader(read_small_file);
  p.cfg.source = std::string(origin);
  p.cfg.policy.authserv_id = host_name.empty() ? "localhost" : host_name;
  const std::string where = origin.empty() ? "config" : std::string(origin);

  auto problem = for_each_line(text, [&](std::size_t n, std::string_view line) -> Problem {
    const auto at = [&](std::string_view key, const std::string& what) {
      return where + ":" + std::to_string(n) + ": " + std::string(key) + ": " + what;
    };
    const auto sp = line.find_first_of(" \t");
    const std::string_view key = line.substr(0, sp);
    const std::string_view value = sp == std::string_view::npos ? std::string_view{} : trim(line.substr(sp));
    const std::string lkey = to_lower(key);
    const auto handler = handlers().find(lkey);
    if (handler == handlers().end())
      return where + ":" + std::to_string(n) + ": unknown key '" + std::string(key) + "'";
    const bool list = std::find(kListKeys.begin(), kListKeys.end(), lkey) != kListKeys.end();
    if (const auto seen = p.seen.find(lkey); seen != p.seen.end() && !list)
      return at(key, "given twice (first on line " + std::to_string(seen->second) + ")");
    p.seen.emplace(lkey, n);
    if (value.empty()) return at(key, "needs a value");
    if (auto prob = handler->second(p, value)) return at(key, *prob);
    return std::nullopt;
  });
  if (problem) {
    // for_each_line reports its own "N: line longer..." without the origin.
    if (problem->rfind(where, 0) != 0) return Error{where + ":" + *problem};
    return Error{*problem};
  }

  if (!p.sender_logins_path.empty()) {
    if (auto prob = load_sender_logins(p.sender_logins_path, p.read_file, p.cfg.policy.login_grants))
      return Error{where + ": SenderLogins: " + *prob};
  }
  if (p.cfg.database.empty()) return Error{where + ": Database is required (the SQLite file, e.g. /var/lib/aamp-milter/aamp.db, or a PostgreSQL "
                              "connection string)"};
  const bool unix_socket = p.cfg.socket.kind == SocketSpec::Kind::unix;
  if (!unix_socket && p.seen.count("socketmode"))
    return Error{where + ":" + std::to_string(p.seen["socketmode"]) + ": SocketMode: applies to unix: sockets only"};
  if (!unix_socket && p.seen.count("socketowner"))
    return Error{where + ":" + std::to_string(p.seen["socketowner"]) + ": SocketOwner: applies to unix: sockets only"};
  if (p.cfg.reply.retry_max_s < p.cfg.reply.retry_initial_s)
    return Error{where + ": ReplyRetryMax must not be shorter than ReplyRetryInitial"};
  return std::move(p.cfg);
}

std::string local_host_name() {
  std::array<char, 256> buf{};
  if (gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "localhost";
  return std::string(buf.data());
}

Result<Config> load_config(const std::string& path, const std::string& base_dir) {
  auto text = read_small_file(path);
  if (!text) return Error{text.error()};
  return parse_config(*text, path, base_dir, local_host_name());
}

}  // namespace aamp::milter
