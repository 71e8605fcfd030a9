// daemon_privileges.cpp — see daemon_privileges.hpp.
#include "milter/daemon_privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "milter/daemon.hpp"
#include "milter/daemon_startup.hpp"

namespace aamp::milter {

// getpwnam/getgrnam are not thread-safe: these run before any thread starts.
// NOLINTBEGIN(concurrency-mt-unsafe)
std::optional<std::string> unknown_account(const Account& account, std::string_view key) {
  if (getpwnam(account.user.c_str()) == nullptr) return std::string(key) + ": no user " + account.user;
  if (!account.group.empty() && getgrnam(account.group.c_str()) == nullptr)
    return std::string(key) + ": no group " + account.group;
  return std::nullopt;
}

Identity resolve_account(const Account& a) {
  const passwd* pw = getpwnam(a.user.c_str());
  if (pw == nullptr) throw StartupError(kExitConfig, "UserID: no user " + a.user);
  Identity id{pw->pw_uid, pw->pw_gid};
  if (!a.group.empty()) {
    const group* gr = getgrnam(a.group.c_str());
    if (gr == nullptr) throw StartupError(kExitConfig, "UserID: no group " + a.group);
    id.gid = gr->gr_gid;
  }
  return id;
}
// NOLINTEND(concurrency-mt-unsafe)

void drop_privileges(const Account& account, const Identity& id) {
  if (geteuid() != 0) {
    if (geteuid() == id.uid) return;  // started as that user already
    throw StartupError(kExitFailure, "UserID " + account.str() + ": only root can change user");
  }
  if (initgroups(account.user.c_str(), id.gid) != 0)
    throw StartupError(kExitFailure, std::string("initgroups: ") + std::generic_category().message(errno));
  if (setgid(id.gid) != 0) throw StartupError(kExitFailure, std::string("setgid: ") + std::generic_category().message(errno));
  if (setuid(id.uid) != 0) throw StartupError(kExitFailure, std::string("setuid: ") + std::generic_category().message(errno));
  if (id.uid != 0 && (setuid(0) == 0 || geteuid() == 0))
    throw StartupError(kExitFailure, "still able to become root after dropping privileges");
}

}  // namespace aamp::milter
