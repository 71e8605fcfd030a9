// config.hpp — the daemon's configuration: an opendkim.conf-style file (`Key value` lines,
// `#` comments, case-insensitive keys) parsed into one immutable Config. Every key is
// documented in docs/configuration.md. No libmilter, no SQLite: aampctl reads the same file.
// Threading: a Config is built once and never changed; a reload builds a new one and the
// daemon swaps a std::shared_ptr<const Config>, so any number of threads may read one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/auth.hpp"
#include "http/listen_spec.hpp"
#include "policy/policy.hpp"
#include "policy/result.hpp"

namespace aamp::milter {

// Where the milter listens, as libmilter's smfi_setconn spells it.
struct SocketSpec {
  enum class Kind {
    inet,   // "inet:PORT@HOST" (IPv4 address or host name)
    inet6,  // "inet6:PORT@[ADDR]" or "inet6:PORT@ADDR" (IPv6)
    unix,   // "unix:/path" (also "local:/path")
  };
  Kind kind = Kind::inet;
  std::string host;  // inet/inet6: address or name, without brackets; "" = any address
  int port = 0;      // inet/inet6: 1..65535
  std::string path;  // unix: absolute path

  std::string libmilter_spec() const;  // "inet:8891@127.0.0.1", "inet6:8891@::1", "unix:/run/x.sock"
  std::string str() const;             // as an operator writes it (brackets around IPv6)
};
Result<SocketSpec> parse_socket_spec(std::string_view text);

// A user and an optional group by name ("aamp" or "aamp:mail"), resolved at startup.
struct Account {
  std::string user;
  std::string group;  // "" = the user's primary group
  std::string str() const { return group.empty() ? user : user + ":" + group; }
};
Result<Account> parse_account(std::string_view text);

// The reply worker's settings (docs/configuration.md, section ReplyTransport, is the
// contract with mail/). The transport spec is kept as written: mail/ parses it
// (aamp::mail::parse_reply_transport), and the daemon refuses a config it cannot parse.
struct ReplySettings {
  enum class EnvelopeSender {
    null_sender,  // "null": MAIL FROM:<> (RFC 3834 §3.3)
    mailbox,      // "mailbox": the agent mailbox, as in From:
  };
  std::string transport = "sendmail:/usr/sbin/sendmail";  // ReplyTransport, spec and options
  EnvelopeSender envelope_sender = EnvelopeSender::null_sender;
  std::int64_t timeout_s = 60;         // ReplyTimeout: one delivery attempt
  std::int64_t retry_initial_s = 30;   // ReplyRetryInitial: doubles after each failure
  std::int64_t retry_max_s = 3600;     // ReplyRetryMax
  int max_attempts = 12;               // ReplyMaxAttempts
  std::int64_t max_age_s = 86400;      // ReplyMaxAge
  std::int64_t poll_interval_s = 15;   // ReplyPollInterval

  // Every field: a reload restarts the reply worker when any of them changed.
  bool operator==(const ReplySettings&) const = default;
};

// The Stalwart MTA hook endpoint (docs/configuration.md, HookListen and the keys after it).
struct HookSettings {
  std::optional<http::ListenSpec> listen;  // HookListen; nullopt = no hook endpoint
  http::Credential credential;             // HookAuth; never logged (masked() for -n and logs)
  std::size_t max_request = std::size_t{64} << 20;  // HookMaxRequestSize, bytes
  std::int64_t timeout_s = 30;             // HookTimeout
};

struct Config {
  Policy policy;  // everything the engine decides with

  SocketSpec socket{SocketSpec::Kind::inet, "127.0.0.1", 8891, ""};
  unsigned socket_mode = 0660;           // unix sockets only
  std::optional<Account> socket_owner;   // unix sockets only
  std::string database;                  // SQLite file or PostgreSQL connection string; required
  std::optional<Account> user;           // UserID: drop to this account after opening resources
  std::string pid_file;                  // "" = none
  std::optional<http::ListenSpec> metrics_listen;  // MetricsListen: /metrics and /healthz; none = off
  bool syslog = true;
  std::string syslog_facility = "mail";  // as written; syslog_facility_code() maps it
  int busy_timeout_ms = 5000;            // SQLite busy timeout: below the MTA's milter timeouts
  int milter_timeout_s = 300;            // smfi_settimeout: I/O with the MTA
  ReplySettings reply;
  HookSettings hook;
  std::int64_t audit_retention_s = 0;   // AuditRetention: prune older audit/outbox rows; 0 = keep forever

  std::string source;  // the file this came from ("" when parsed from text)
};

// The syslog(3) facility code for a name ("mail", "daemon", "local0".."local7", "user").
std::optional<int> syslog_facility_code(std::string_view name) noexcept;

// "90", "90s", "15m", "2h", "1d" -> seconds. Bounded to ten years.
Result<std::int64_t> parse_duration(std::string_view text);

// Parses a whole configuration. `origin` names it in errors ("FILE:LINE: ..."). Relative
// paths (Database, PidFile, SenderLogins, `file:` lists, ReplyAuthPasswordFile) are resolved
// against `base_dir` ("" = kept as given): the daemon passes the directory it was started
// in, so `Database ./state/aamp.db` means what it says even after it detaches and reloads.
// `host_name` is the default AuthservID.
// `read_file` reads the files named by `file:` lists and SenderLogins (empty: the real
// file system, at most 16 MiB each); the fuzz target passes one that never touches disk.
using FileReader = std::function<Result<std::string>(const std::string& path)>;
Result<Config> parse_config(std::string_view text, std::string_view origin, const std::string& base_dir,
                            const std::string& host_name, const FileReader& read_file = {});

// Reads and parses FILE (at most 16 MiB); the default AuthservID is this machine's host name.
Result<Config> load_config(const std::string& path, const std::string& base_dir);

// This machine's host name (gethostname), "localhost" when it has none.
std::string local_host_name();

}  // namespace aamp::milter
