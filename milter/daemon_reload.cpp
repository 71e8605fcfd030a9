// daemon_reload.cpp — see daemon_reload.hpp.
#include "milter/daemon_reload.hpp"

namespace aamp::milter {

std::vector<std::string> changes_needing_restart(const Config& running, const Config& next) {
  std::vector<std::string> lines;
  if (next.socket.str() != running.socket.str() || next.socket_mode != running.socket_mode)
    lines.push_back("reload: Socket/SocketMode changes need a restart; still listening on " + running.socket.str());
  if ((next.user ? next.user->str() : "") != (running.user ? running.user->str() : ""))
    lines.emplace_back("reload: a UserID change needs a restart");
  if (next.hook.listen != running.hook.listen || next.hook.max_request != running.hook.max_request ||
      next.hook.timeout_s != running.hook.timeout_s)
    lines.emplace_back("reload: HookListen/HookMaxRequestSize/HookTimeout changes need a restart");
  if (next.pid_file != running.pid_file) lines.emplace_back("reload: a PidFile change needs a restart");
  if (next.metrics_listen != running.metrics_listen)
    lines.push_back("reload: a MetricsListen change needs a restart; still serving metrics on " +
                    (running.metrics_listen ? http::to_string(*running.metrics_listen) : std::string("none")));
  return lines;
}

}  // namespace aamp::milter
