// config_account.cpp — parse_account of config.hpp: a user and an optional group by name
// (UserID, SocketOwner). Only the spelling is checked here; the daemon looks the names up
// (getpwnam, getgrnam) at startup. No libmilter, no SQLite. Threading: a plain function.
#include <algorithm>
#include <string>

#include "milter/config.hpp"
#include "policy/text.hpp"

namespace aamp::milter {

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

}  // namespace aamp::milter
