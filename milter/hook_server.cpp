// hook_server.cpp — see hook_server.hpp.
#include "milter/hook_server.hpp"

#include <chrono>

#include "milter/hook.hpp"
#include "milter/log.hpp"
#include "policy/text_safety.hpp"

namespace aamp::milter {

http::Response handle_hook(Runtime& runtime, const http::Request& request) {
  const std::shared_ptr<const Config> config = runtime.config();
  if (!config->hook.credential.allows(request)) {
    logf(Severity::warning, "hook: refused a request from {}: wrong or missing credentials",
         for_log_line(request.peer, 64));
    return config->hook.credential.challenge("aamp-milter");
  }
  HookRequest hook;
  try {
    hook = parse_hook_request(request.body);
  } catch (const HookError& e) {
    logf(Severity::warning, "hook: bad request from {}: {}", for_log_line(request.peer, 64), e.what());
    return http::Response::text(400, std::string(e.what()) + "\n");
  }
  try {
    MessageEnd end = run_hook(hook, config, runtime.services());
    if (!end.summary.empty()) log_line(end.severity, "hook " + end.summary);
    if (!end.removals.empty()) log_line(Severity::notice, "hook " + end.removals);
    if (end.decision && end.decision->reply_enqueued) runtime.reply_enqueued();
    return http::Response::json(200, hook_response(end.decision));
  } catch (const std::exception& e) {
    // Never lose mail: the configured On-InternalError (tempfail: a 4xx reject).
    logf(Severity::error, "hook: {}: deciding failed: {}", for_log_line(hook.queue_id.empty() ? "-" : hook.queue_id, 64),
         e.what());
    return http::Response::json(200, hook_failure_response(*config, e.what()));
  }
}

HookServer::HookServer(Runtime& runtime, const Config& config) {
  http::Limits limits;
  limits.max_body = config.hook.max_request;
  limits.timeout = std::chrono::seconds(config.hook.timeout_s);
  http::Router router;
  router.add("POST", kHookPath, [&runtime](const http::Request& r) { return handle_hook(runtime, r); });
  server_ = std::make_unique<http::Server>(config.hook.listen.value(), limits, std::move(router));
}

}  // namespace aamp::milter
