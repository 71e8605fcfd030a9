// daemon_privileges.hpp — the accounts of UserID and SocketOwner looked up by name, and the
// one-way change from root to UserID after every resource is open (Postfix's order: open,
// then drop). No libmilter. Threading: getpwnam/getgrnam are not thread-safe, and a
// process-wide setuid must not race other threads: start-up only, before any thread starts.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "milter/config.hpp"

namespace aamp::milter {

// A resolved account: the user's id and the group's (the user's primary group by default).
struct Identity {
  uid_t uid;
  gid_t gid;
};

// "KEY: no user USER" or "KEY: no group GROUP" when the account does not exist (aamp-milter -n).
std::optional<std::string> unknown_account(const Account& account, std::string_view key);

// The ids of UserID. Throws StartupError (kExitConfig) when the user or group does not exist.
Identity resolve_account(const Account& a);

// initgroups, setgid, setuid — in that order (a process without root cannot change groups).
// Throws StartupError (kExitFailure) when it fails, or when root could be regained after it.
void drop_privileges(const Account& account, const Identity& id);

}  // namespace aamp::milter
