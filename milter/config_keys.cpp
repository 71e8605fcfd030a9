// config_keys.cpp — see config_keys.hpp. A key the table does not know is an error (in
// config.cpp), as is a key given twice except the kListKeys.
#include "milter/config_keys.hpp"

#include <cctype>
#include <cstdint>
#include <stdexcept>

#include "milter/config_lists.hpp"
#include "milter/config_values.hpp"
#include "policy/auth_results.hpp"
#include "policy/duration.hpp"
#include "policy/text.hpp"
#include "policy/trust.hpp"
#include "store/database_name.hpp"

namespace aamp::milter::config_file {

namespace {

Problem parse_trust(std::string_view value, TrustSet& out) {
  auto t = aamp::parse_trust(value);
  if (!t) return t.error();
  out = *t;
  return std::nullopt;
}

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

}  // namespace

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
         // A connection string is taken as written; a relative path is the config file's.
         p.cfg.database = store::dialect_of(v) == store::Dialect::postgresql ? std::string(v) : resolve(p.base_dir, v);
         return std::nullopt;
       }},
      {"authservid",
       [](Parser& p, std::string_view v) -> Problem {
         // RFC 8601 §2.2: authserv-id is a value (token or quoted-string); we write it bare.
         if (!is_plain_authserv_id(v) || v.size() > 255)
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
           if (!is_plain_authserv_id(id))
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
      {"metricslisten",
       [](Parser& p, std::string_view v) -> Problem {
         try {
           p.cfg.metrics_listen = http::parse_listen_spec(v);
         } catch (const std::invalid_argument& e) {
           return std::string(e.what());
         }
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
         if (!syslog_facility_code(to_lower(v))) return "expected mail, daemon, user, auth, or local0 to local7";
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
      {"threadbinding",
       [](Parser& p, std::string_view v) -> Problem {
         const auto m = parse_name(kMailboxModeNames, to_lower(v));
         if (!m) return "expected " + join_names(kMailboxModeNames, ", ", " or ");
         p.cfg.policy.thread_binding = *m;
         return std::nullopt;
       }},
      {"unknownthreads",
       [](Parser& p, std::string_view v) -> Problem {
         const auto u = parse_name(kUnknownThreadsNames, to_lower(v));
         if (!u) return "expected " + join_names(kUnknownThreadsNames, ", ", " or ");
         p.cfg.policy.unknown_threads = *u;
         return std::nullopt;
       }},
      {"threadretention",
       [](Parser& p, std::string_view v) -> Problem {
         auto d = parse_duration(v);
         if (!d) return d.error();
         if (*d < 60) return "must be at least 1m";
         p.cfg.policy.thread_retention = *d;
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
      {"hooklisten",
       [](Parser& p, std::string_view v) -> Problem {
         try {
           p.cfg.hook.listen = http::parse_listen_spec(v);
         } catch (const std::invalid_argument& e) {
           return std::string(e.what()) + " (expected HOST:PORT, [IPv6]:PORT or PORT)";
         }
         return std::nullopt;
       }},
      {"hookauth",
       // bearer:TOKEN, basic:USER:PASSWORD, or file:PATH holding one of them on its first
       // line (readable before privileges are dropped). No message repeats the secret.
       [](Parser& p, std::string_view v) -> Problem {
         std::string spec(v);
         if (istarts_with(v, "file:")) {
           const std::string path = resolve(p.base_dir, v.substr(5));
           auto text = p.read_file(path);
           if (!text) return text.error();
           const std::string_view content = *text;
           spec = std::string(trim(content.substr(0, content.find('\n'))));
         }
         try {
           p.cfg.hook.credential = http::Credential::parse(spec);
         } catch (const std::invalid_argument& e) {
           return e.what();
         }
         return std::nullopt;
       }},
      {"hookmaxrequestsize",
       [](Parser& p, std::string_view v) -> Problem {
         // A count of bytes with an optional k, m or g (powers of 1024).
         std::string_view digits = v;
         std::uint64_t unit = 1;
         if (!v.empty()) {
           switch (std::tolower(static_cast<unsigned char>(v.back()))) {
             case 'k': unit = 1ULL << 10; break;
             case 'm': unit = 1ULL << 20; break;
             case 'g': unit = 1ULL << 30; break;
             default: break;
           }
           if (unit != 1) digits.remove_suffix(1);
         }
         const auto n = parse_int_in(digits, 1, 1 << 30);
         const std::uint64_t bytes = n ? static_cast<std::uint64_t>(*n) * unit : 0;
         if (!n || bytes < 1024 || bytes > (1ULL << 30)) return "expected a size from 1k to 1g, such as 64m";
         p.cfg.hook.max_request = static_cast<std::size_t>(bytes);
         return std::nullopt;
       }},
      {"hooktimeout",
       [](Parser& p, std::string_view v) -> Problem {
         auto d = parse_duration(v);
         if (!d) return d.error();
         if (*d < 1 || *d > 3600) return "expected 1s to 3600s";
         p.cfg.hook.timeout_s = *d;
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
      {"auditretention",
       [](Parser& p, std::string_view v) -> Problem {
         // 0 or off: keep every row (the default; auditors decide how long the trail lives).
         if (to_lower(v) == "off") {
           p.cfg.audit_retention_s = 0;
           return std::nullopt;
         }
         auto d = parse_duration(v);
         if (!d) return d.error() + " (or off)";
         p.cfg.audit_retention_s = *d;
         return std::nullopt;
       }},
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

}  // namespace aamp::milter::config_file
