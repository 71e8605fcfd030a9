// hook_server.hpp — the Stalwart MTA hook served over HTTP (http::Server): POST /aamp with
// the hook's JSON, authenticated by HookAuth. Each request takes the configuration snapshot
// current when it arrives (a reload applies to the next request, HookAuth included), runs
// milter/hook.hpp's run_hook, logs the summary line as the milter does, and answers.
// Started and stopped by the daemon with the milter.
#pragma once

#include <memory>

#include "http/server.hpp"
#include "milter/daemon.hpp"

namespace aamp::milter {

// The one path the hook serves (the MtaHook's url: http://127.0.0.1:8892/aamp).
inline constexpr const char* kHookPath = "/aamp";

// The request handler, apart from the server (unit-testable without a socket).
http::Response handle_hook(Runtime& runtime, const http::Request& request);

class HookServer {
 public:
  // Listens on `config.hook.listen` (which must be set). Throws std::runtime_error.
  HookServer(Runtime& runtime, const Config& config);
  std::uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<http::Server> server_;
};

}  // namespace aamp::milter
