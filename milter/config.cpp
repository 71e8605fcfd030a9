// config.cpp — see config.hpp. One table maps each key to the code that checks and stores
// its value; a key the table does not know is an error, as is a key given twice (except
// the list keys, which accumulate). Errors read "FILE:LINE: Key: what is wrong".
#include "milter/config.hpp"

#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <climits>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "policy/duration.hpp"
#include "policy/text.hpp"
#include "policy/trust.hpp"

namespace aamp::milter {

namespace {

using Problem = std::optional<std::string>;  // nullopt: the value was fine

constexpr std::size_t kMaxLine = 64 * 1024;      // a config line longer than this is a mistake
constexpr std::size_t kMaxListFile = 16 << 20;   // file: lists and SenderLogins

bool parse_uint(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

std::optional<int> parse_int_in(std::string_view s, int lo, int hi) {
  std::uint64_t v = 0;
  if (!parse_uint(s, v) || v < static_cast<std::uint64_t>(lo) || v > static_cast<std::uint64_t>(hi))
    return std::nullopt;
  return static_cast<int>(v);
}

std::optional<bool> parse_bool(std::string_view s) {
  const std::string v = to_lower(s);
  if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
  if (v == "no" || v == "false" || v == "off" || v == "0") return false;
  return std::nullopt;
}

// Splits a list on commas and white space; empty items vanish.
std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Drops a comment: '#' at the start of the line or after white space.
std::string_view strip_comment(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i)
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return line.substr(0, i);
  return line;
}

bool printable_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string resolve(const std::string& base_dir, std::string_view path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return std::string(path);
  return (std::filesystem::path(base_dir) / std::filesystem::path(path)).lexically_normal().string();
}

Result<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path};
  std::string text;
  text.resize(kMaxListFile + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Error{"cannot read " + path};
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxListFile) return Error{path + " is larger than 16 MiB"};
  return text;
}

// Calls `each(line_number, content)` for every non-empty line of `text` after comments.
template <class F>
Problem for_each_line(std::string_view text, F&& each) {
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.size() > kMaxLine) return std::to_string(number) + ": line longer than 64 KiB";
    line = trim(strip_comment(line));
    if (line.empty()) continue;
    if (auto p = each(number, line)) return p;
  }
  return std::nullopt;
}

Problem add_cidrs(std::string_view value, const std::string& base_dir, const FileReader& read_file,
                  std::vector<Cidr>& out) {
  for (const auto& item : split_list(value)) {
    if (istarts_with(item, "file:")) {
      const std::string path = resolve(base_dir, std::string_view(item).substr(5));
      auto text = read_file(path);
      if (!text) return text.error();
      auto p = for_each_line(*text, [&](std::size_t n, std::string_view line) -> Problem {
        for (const auto& entry : split_list(line)) {
          auto net = parse_cidr(entry);
          if (!net) return fmt::format("{}:{}: {}: {}", path, n, entry, net.error());
          out.push_back(*net);
        }
        return std::nullopt;
      });
      if (p) return p->find(path) == 0 ? *p : path + ":" + *p;
      continue;
    }
    auto net = parse_cidr(item);
    if (!net) return item + ": " + net.error();
    out.push_back(*net);
  }
  return std::nullopt;
}

// SenderLogins file: "LOGIN PATTERN[, PATTERN...]" per line; a login may appear on
// several lines (its patterns add up).
Problem load_sender_logins(const std::string& path, const FileReader& read_file, std::vector<LoginGrant>& out) {
  auto text = read_file(path);
  if (!text) return text.error();
  return for_each_line(*text, [&](std::size_t n, std::string_view line) -> Problem {
    const auto where = path + ":" + std::to_string(n) + ": ";
    const auto sp = line.find_first_of(" \t");
    if (sp == std::string_view::npos) return where + "expected a login and at least one sender pattern";
    const std::string login = to_lower(line.substr(0, sp));
    if (!printable_token(login)) return where + "the login must be printable ASCII";
    const auto patterns = split_list(line.substr(sp));
    if (patterns.empty()) return where + "expected a login and at least one sender pattern";
    auto it = std::find_if(out.begin(), out.end(), [&](const LoginGrant& g) { return g.login == login; });
    if (it == out.end()) {
      out.push_back(LoginGrant{login, {}});
      it = std::prev(out.end());
    }
    for (const auto& text_pattern : patterns) {
      auto pattern = parse_sender_pattern(text_pattern);
      if (!pattern) return where + text_pattern + ": " + pattern.error();
      it->may_send_as.push_back(*pattern);
    }
    return std::nullopt;
  });
}

Problem parse_trust(std::string_view value, TrustSet& out) {
  auto t = aamp::parse_trust(value);
  if (!t) return t.error();
  out = *t;
  return std::nullopt;
}

// The state while parsing: which keys were seen where, and the list values to post-process.
struct Parser {
  Config cfg;
  std::string base_dir;
  FileReader read_file;
  std::map<std::string, std::size_t> seen;  // lower-case key -> line
  std::string sender_logins_path;
  bool syslog_facility_set = false;
};

using Handler = std::function<Problem(Parser&, std::string_view)>;

Handler action_key(Action FailureActions::*member) {
  return [member](Parser& p, std::string_view v) -> Problem {
    auto a = parse_name(kActionNames, to_lower(v));
    if (!a) return "expected " + join_names(kActionNames, ", ", " or ");
    p.cfg.policy.on.*member = *a;
    return std::nullopt;
  };
}

Handler seconds_key(std::int64_t ReplySettings::*member, std::int64_t minimum) {
  return [member, minimum](Parser& p, std::string_view v) -> Problem {
    auto d = parse_duration(v);
    if (!d) return d.error();
    if (*d < minimum) return "must be at least " + std::to_string(minimum) + "s";
    p.cfg.reply.*member = *d;
    return std::nullopt;
  };
}

// Keys that may be given several times; their values add up.
constexpr std::array<std::string_view, 2> kListKeys = {"internalhosts", "trustedauthservids"};

const std::map<std::string, Handler, std::less<>>& handlers() {
  static const std::map<std::string, Handler, std::less<>> table = {
      {"socket",
       [](Parser& p, std::string_view v) -> Problem {
         auto s = parse_socket_spec(v);
         if (!s) return s.error();
         p.cfg.socket = *s;
         return std::nullopt;
       }},
      {"socketmode",
       [](Parser& p, std::string_view v) -> Problem {
         unsigned mode = 0;
         if (v.empty() || v.size() > 4) return "expected an octal mode such as 0660";
         for (char c : v) {
           if (c < '0' || c > '7') return "expected an octal mode such as 0660";
           mode = mode * 8 + static_cast<unsigned>(c - '0');
         }
         if (mode > 0777) return "expected an octal mode such as 0660";
         p.cfg.socket_mode = mode;
         return std::nullopt;
       }},
      {"socketowner",
       [](Parser& p, std::string_view v) -> Problem {
         auto a = parse_account(v);
         if (!a) return a.error();
         p.cfg.socket_owner = *a;
         return std::nullopt;
       }},
      {"database",
       [](Parser& p, std::string_view v) -> Problem {
         if (v.find('\0') != std::string_view::npos) return "not a path";
         p.cfg.database = resolve(p.base_dir, v);
         return std::nullopt;
       }},
      {"authservid",
       [](Parser& p, std::string_view v) -> Problem {
         // RFC 8601 §2.2: authserv-id is a value (token or quoted-string); we write it bare.
         if (!printable_token(v) || v.find_first_of(";()\"\\") != std::string_view::npos || v.size() > 255)
           return "expected one token of printable ASCII without ; ( ) \" or \\ (at most 255 bytes)";
         p.cfg.policy.authserv_id = std::string(v);
         return std::nullopt;
       }},
      {"mode",
       [](Parser& p, std::string_view v) -> Problem {
         const auto m = parse_name(kEnforcementModeNames, to_lower(v));
         if (!m) return "expected " + join_names(kEnforcementModeNames, ", ", " or ");
         p.cfg.policy.mode = *m;
         return std::nullopt;
       }},
      {"compatibility",
       [](Parser& p, std::string_view v) -> Problem {
         const std::string m = to_lower(v);
         if (m == "strict") p.cfg.policy.validation.mode = ValidationMode::strict;
         else if (m == "sdk") p.cfg.policy.validation.mode = ValidationMode::sdk;
         else return "expected strict or sdk";
         return std::nullopt;
       }},
      {"maxfieldlength",
       [](Parser& p, std::string_view v) -> Problem {
         auto n = parse_int_in(v, 256, 1 << 20);
         if (!n) return "expected a number of bytes from 256 to 1048576";
         p.cfg.policy.validation.max_field_length = static_cast<std::size_t>(*n);
         return std::nullopt;
       }},
      {"internalhosts",
       [](Parser& p, std::string_view v) -> Problem {
         return add_cidrs(v, p.base_dir, p.read_file, p.cfg.policy.internal_hosts);
       }},
      {"trustedauthservids",
       [](Parser& p, std::string_view v) -> Problem {
         for (const auto& id : split_list(v)) {
           if (!printable_token(id) || id.find_first_of(";()\"\\") != std::string::npos)
             return id + ": not an authserv-id";
           p.cfg.policy.trusted_authserv_ids.push_back(to_lower(id));
         }
         return std::nullopt;
       }},
      {"senderlogins",
       [](Parser& p, std::string_view v) -> Problem {
         p.sender_logins_path = resolve(p.base_dir, v);
         return std::nullopt;
       }},
      {"userid",
       [](Parser& p, std::string_view v) -> Problem {
         auto a = parse_account(v);
         if (!a) return a.error();
         p.cfg.user = *a;
         return std::nullopt;
       }},
      {"pidfile",
       [](Parser& p, std::string_view v) -> Problem {
         p.cfg.pid_file = resolve(p.base_dir, v);
         return std::nullopt;
       }},
      {"syslog",
       [](Parser& p, std::string_view v) -> Problem {
         auto b = parse_bool(v);
         if (!b) return "expected yes or no";
         p.cfg.syslog = *b;
         return std::nullopt;
       }},
      {"syslogfacility",
       [](Parser& p, std::string_view v) -> Problem {
         if (!syslog_facility_code(to_lower(v))) return "expected mail, daemon, user, or local0 to local7";
         p.cfg.syslog_facility = to_lower(v);
         return std::nullopt;
       }},
      {"on-badmessage", action_key(&FailureActions::bad_message)},
      {"on-policydeny", action_key(&FailureActions::policy_deny)},
      {"on-storeerror", action_key(&FailureActions::store_error)},
      {"on-internalerror", action_key(&FailureActions::internal_error)},
      {"recipientdelimiter",
       [](Parser& p, std::string_view v) -> Problem {
         // Postfix recipient_delimiter: one or more characters, none of them a letter, digit,
         // '@', quote or white space.
         for (const char c : v) {
           const auto u = static_cast<unsigned char>(c);
           if (u <= 0x20 || u >= 0x7f || std::isalnum(u) != 0 || c == '@' || c == '"' || c == '\\')
             return "expected the characters of Postfix's recipient_delimiter, e.g. + or +-";
         }
         p.cfg.policy.recipient_delimiters = std::string(v);
         return std::nullopt;
       }},
      {"staledispatch",
       [](Parser& p, std::string_view v) -> Problem {
         auto b = parse_bool(v);
         if (!b) return "expected yes or no";
         p.cfg.policy.reject_stale_dispatch = *b;
         return std::nullopt;
       }},
      {"pairrequests",
       [](Parser& p, std::string_view v) -> Problem {
         const std::string m = to_lower(v);
         if (m == "consume") p.cfg.policy.pair_requests = PairRequestHandling::consume;
         else if (m == "deliver") p.cfg.policy.pair_requests = PairRequestHandling::deliver;
         else return "expected consume or deliver";
         return std::nullopt;
       }},
      {"pairmaxfailures",
       [](Parser& p, std::string_view v) -> Problem {
         auto n = parse_int_in(v, 1, 1000);
         if (!n) return "expected a number from 1 to 1000";
         p.cfg.policy.pair_limits.max_failures = *n;
         return std::nullopt;
       }},
      {"pairfailurewindow",
       [](Parser& p, std::string_view v) -> Problem {
         auto d = parse_duration(v);
         if (!d) return d.error();
         if (*d < 1) return "must be at least 1s";
         p.cfg.policy.pair_limits.window = *d;
         return std::nullopt;
       }},
      {"pairlockout",
       [](Parser& p, std::string_view v) -> Problem {
         auto d = parse_duration(v);
         if (!d) return d.error();
         if (*d < 1) return "must be at least 1s";
         p.cfg.policy.pair_limits.lockout = *d;
         return std::nullopt;
       }},
      {"pairtrust",
       [](Parser& p, std::string_view v) -> Problem {
         TrustSet trust = 0;
         if (auto prob = parse_trust(v, trust)) return prob;
         p.cfg.policy.pair_trust = trust;
         return std::nullopt;
       }},
      {"busytimeout",
       [](Parser& p, std::string_view v) -> Problem {
         auto d = parse_duration_ms(v);
         if (!d) return d.error();
         // The MTA waits for our answer (Postfix milter_command_timeout 30s, Stalwart
         // timeout.command 30s): a database wait must end well before that.
         if (*d < 10 || *d > 20'000) return "expected 10ms to 20s (it must stay below the MTA's milter timeouts)";
         p.cfg.busy_timeout_ms = static_cast<int>(*d);
         return std::nullopt;
       }},
      {"timeout",
       [](Parser& p, std::string_view v) -> Problem {
         auto d = parse_duration(v);
         if (!d) return d.error();
         if (*d < 10 || *d > 7210) return "expected 10s to 7210s";
         p.cfg.milter_timeout_s = static_cast<int>(*d);
         return std::nullopt;
       }},
      {"replytransport",
       [](Parser& p, std::string_view v) -> Problem {
         // mail/ owns the grammar; here only what every spec shares.
         if (!istarts_with(v, "sendmail:") && !istarts_with(v, "smtp://") && !istarts_with(v, "smtps://"))
           return "expected sendmail:PATH [ARG ...], smtp://HOST[:PORT] [OPTION ...] or smtps://HOST[:PORT] [OPTION ...]";
         p.cfg.reply.transport = std::string(v);
         return std::nullopt;
       }},
      {"replyenvelopesender",
       [](Parser& p, std::string_view v) -> Problem {
         const std::string m = to_lower(v);
         if (m == "null") p.cfg.reply.envelope_sender = ReplySettings::EnvelopeSender::null_sender;
         else if (m == "mailbox") p.cfg.reply.envelope_sender = ReplySettings::EnvelopeSender::mailbox;
         else return "expected null or mailbox";
         return std::nullopt;
       }},
      {"replytimeout", seconds_key(&ReplySettings::timeout_s, 1)},
      {"replyretryinitial", seconds_key(&ReplySettings::retry_initial_s, 1)},
      {"replyretrymax", seconds_key(&ReplySettings::retry_max_s, 1)},
      {"replymaxage", seconds_key(&ReplySettings::max_age_s, 60)},
      {"replypollinterval", seconds_key(&ReplySettings::poll_interval_s, 1)},
      {"replymaxattempts",
       [](Parser& p, std::string_view v) -> Problem {
         auto n = parse_int_in(v, 1, 1000);
         if (!n) return "expected a number from 1 to 1000";
         p.cfg.reply.max_attempts = *n;
         return std::nullopt;
       }},
  };
  return table;
}

}  // namespace

std::string SocketSpec::libmilter_spec() const {
  switch (kind) {
    case Kind::inet: return "inet:" + std::to_string(port) + (host.empty() ? "" : "@" + host);
    case Kind::inet6: return "inet6:" + std::to_string(port) + (host.empty() ? "" : "@" + host);
    case Kind::unix: return "unix:" + path;
  }
  return {};
}

std::string SocketSpec::str() const {
  if (kind == Kind::inet6 && !host.empty()) return "inet6:" + std::to_string(port) + "@[" + host + "]";
  return libmilter_spec();
}

Result<SocketSpec> parse_socket_spec(std::string_view text) {
  text = trim(text);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return Error{"expected inet:PORT@HOST, inet6:PORT@[ADDRESS] or unix:/PATH"};
  const std::string proto = to_lower(text.substr(0, colon));
  const std::string_view rest = text.substr(colon + 1);
  SocketSpec spec;
  if (proto == "unix" || proto == "local") {
    spec.kind = SocketSpec::Kind::unix;
    if (rest.empty() || rest.front() != '/') return Error{"a unix socket needs an absolute path: unix:/run/aamp-milter/milter.sock"};
    if (rest.size() > 107) return Error{"a unix socket path is at most 107 bytes"};  // sun_path
    if (!printable_token(rest)) return Error{"a unix socket path cannot contain spaces or control characters"};
    spec.path = std::string(rest);
    return spec;
  }
  if (proto != "inet" && proto != "inet6")
    return Error{"unknown socket type '" + proto + "' (use inet, inet6 or unix)"};
  spec.kind = proto == "inet" ? SocketSpec::Kind::inet : SocketSpec::Kind::inet6;
  const auto at = rest.find('@');
  auto port = parse_int_in(rest.substr(0, at), 1, 65535);
  if (!port) return Error{"expected a port from 1 to 65535 before '@'"};
  spec.port = *port;
  if (at != std::string_view::npos) {
    std::string_view host = rest.substr(at + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || !printable_token(host) || host.find_first_of("[]@/") != std::string_view::npos)
      return Error{"expected a host after '@'"};
    if (spec.kind == SocketSpec::Kind::inet6) {
      auto ip = parse_ip(host);
      if (!ip || !ip->v6) return Error{"inet6 needs an IPv6 address: inet6:8891@[::1]"};
    } else if (host.find(':') != std::string_view::npos) {
      return Error{"an IPv6 address needs inet6: inet6:PORT@[" + std::string(host) + "]"};
    }
    spec.host = std::string(host);
  }
  return spec;
}

Result<Account> parse_account(std::string_view text) {
  text = trim(text);
  const auto colon = text.find(':');
  Account a;
  a.user = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) a.group = std::string(text.substr(colon + 1));
  const auto ok = [](const std::string& name) {
    return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             c == '-' || c == '.' || c == '$';
    });
  };
  if (!ok(a.user)) return Error{"expected USER or USER:GROUP"};
  if (colon != std::string_view::npos && !ok(a.group)) return Error{"expected USER or USER:GROUP"};
  return a;
}

std::optional<int> syslog_facility_code(std::string_view name) noexcept {
  static constexpr std::array<std::pair<std::string_view, int>, 12> kFacilities = {{
      {"mail", LOG_MAIL},
      {"daemon", LOG_DAEMON},
      {"user", LOG_USER},
      {"local0", LOG_LOCAL0},
      {"local1", LOG_LOCAL1},
      {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3},
      {"local4", LOG_LOCAL4},
      {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6},
      {"local7", LOG_LOCAL7},
      {"auth", LOG_AUTH},
  }};
  for (const auto& [n, code] : kFacilities)
    if (iequals(n, name)) return code;
  return std::nullopt;
}

Result<std::int64_t> parse_duration(std::string_view text) {
  auto ms = parse_duration_ms(text);
  if (!ms) return Error{ms.error()};
  if (*ms % 1000 != 0) return Error{"this duration is counted in whole seconds"};
  return *ms / 1000;
}

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
  if (p.cfg.database.empty()) return Error{where + ": Database is required (the SQLite file, e.g. /var/lib/aamp-milter/aamp.db)"};
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
