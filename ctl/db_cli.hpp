// db_cli.hpp — what the database commands of aampctl (db, mailbox, sender, pair, audit)
// share: opening the policy database, parsing durations, times, trust sets, intent lists
// and context rules from the command line (bad input -> UsageError, before anything is
// opened), and printing tables and JSON. Single-threaded, like aampctl.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/cli.hpp"
#include "policy/store.hpp"
#include "store/admin.hpp"

namespace aamp::ctl {

// The database of --db / the config file, at the current schema (no create, no migrate).
store::PolicyAdmin open_admin(const Globals& g);

// Who is making a change: $SUDO_USER when run through sudo, else the real user's name.
std::string operator_name();

UnixTime now();

// "30s", "5m", "2h", "7d", combinations like "1h30m", or bare seconds ("90").
// UsageError naming `what` when malformed, zero, or above `max` seconds.
UnixTime parse_duration(std::string_view text, std::string_view what, UnixTime max);

// RFC 3339 ("2026-08-01T12:00:00Z"), a date ("2026-08-01" = its midnight UTC), or a
// duration meaning that long ago ("1h" = one hour before `now`).
UnixTime parse_time(std::string_view text, UnixTime now, std::string_view what);

// --trust: the trust grammar of policy/trust.hpp ("auth,internal", "any", "none").
TrustSet parse_trust(std::string_view text);
std::string trust_text(TrustSet trust);  // "any", "none" or the list

// --mode: a name of kMailboxModeNames.
MailboxMode parse_mode_option(std::string_view text);

// Comma-separated intent names ("task.dispatch,card.query") or "none".
std::vector<Intent> parse_intents(std::string_view text);


// Repeated `key=v1,v2` options and an optional JSON object (--*-json) into one rule set.
// Keys [a-z0-9_-]+, at least one non-empty value each, no key twice.
ContextRules parse_context_rules(const std::vector<std::string>& pairs, const std::optional<std::string>& json,
                                 std::string_view option);
std::string rules_display(const ContextRules& rules);  // "source=github,feishu; env=prod" or "-"

// A positive integer id; UsageError naming `what` otherwise.
std::int64_t parse_id(std::string_view text, std::string_view what);

// Prints rows as left-aligned columns under a header, two spaces apart.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
void print_json(const nlohmann::json& value);  // one line

std::string time_text(UnixTime t);                       // RFC 3339, UTC
std::string optional_time_text(const std::optional<UnixTime>& t);  // "-" when absent
nlohmann::json optional_time_json(const std::optional<UnixTime>& t);

}  // namespace aamp::ctl
