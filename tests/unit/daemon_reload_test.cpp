// daemon_reload_test.cpp — what a reload may not change while the daemon runs
// (milter/daemon_reload.hpp): one warning line per change that needs a restart.
#include "milter/daemon_reload.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace aamp::milter {
namespace {

TEST(DaemonReload, ChangesNeedingRestart) {
  struct Row {
    const char* label;
    std::function<void(Config&)> change;
    std::vector<std::string> want;
  };
  const std::string hook = "reload: HookListen/HookMaxRequestSize/HookTimeout changes need a restart";
  const std::string socket = "reload: Socket/SocketMode changes need a restart; still listening on inet:8891@127.0.0.1";
  const std::vector<Row> rows = {
      {"nothing changed", [](Config&) {}, {}},
      {"what a reload may change", [](Config& c) { c.database = "/srv/other.db"; c.reply.max_attempts = 3; }, {}},
      {"socket", [](Config& c) { c.socket.port = 8892; }, {socket}},
      {"socket mode", [](Config& c) { c.socket_mode = 0600; }, {socket}},
      {"UserID set", [](Config& c) { c.user = Account{"aamp", ""}; }, {"reload: a UserID change needs a restart"}},
      {"PidFile", [](Config& c) { c.pid_file = "/run/aamp.pid"; }, {"reload: a PidFile change needs a restart"}},
      {"HookListen", [](Config& c) { c.hook.listen = http::parse_listen_spec("8892"); }, {hook}},
      {"HookTimeout", [](Config& c) { c.hook.timeout_s = 5; }, {hook}},
      {"HookAuth applies to the next request", [](Config& c) { c.hook.credential = http::Credential::parse("bearer:x"); }, {}},
      {"all three, in order",
       [](Config& c) {
         c.pid_file = "/run/aamp.pid";
         c.user = Account{"aamp", "mail"};
         c.socket.host = "::1";
         c.socket.kind = SocketSpec::Kind::inet6;
       },
       {socket, "reload: a UserID change needs a restart", "reload: a PidFile change needs a restart"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const Config running;
    Config next;
    row.change(next);
    EXPECT_EQ(changes_needing_restart(running, next), row.want);
  }
}

TEST(DaemonReload, GroupChangeOfUserIdNeedsRestart) {
  Config running;
  running.user = Account{"aamp", ""};
  Config next = running;
  next.user->group = "mail";
  EXPECT_EQ(changes_needing_restart(running, next), std::vector<std::string>{"reload: a UserID change needs a restart"});
}

}  // namespace
}  // namespace aamp::milter
