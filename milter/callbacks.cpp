// callbacks.cpp — the libmilter callbacks. Each is a trampoline: find the connection,
// call one Session method, map the answer to an sfsistat. One noexcept firewall, guarded(),
// turns any exception into a logged tempfail, so no C++ exception crosses into libmilter.
// The connection context hangs off smfi_setpriv from negotiation to close.
// Threading: libmilter runs one thread per MTA connection; everything shared is behind
// Runtime (thread-safe); a Connection is touched by its own thread only.
#include <libmilter/mfapi.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "milter/apply.hpp"
#include "milter/daemon.hpp"
#include "milter/log.hpp"
#include "milter/session.hpp"

namespace aamp::milter {

namespace {

Runtime* g_runtime = nullptr;  // set once by register_filter, before smfi_main

// The actions we use, and no others (the MTA may refuse a filter that asks for more).
constexpr unsigned long kActions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_QUARANTINE;

struct Connection {
  explicit Connection(Runtime& rt) : session(rt.config(), rt.services()) { g_runtime->connection_opened(); }
  ~Connection() { g_runtime->connection_closed(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Session session;
};

// The macros libmilter holds for this connection (every stage so far).
class SymvalMacros final : public Macros {
 public:
  explicit SymvalMacros(SMFICTX* ctx) : ctx_(ctx) {}
  std::optional<std::string_view> get(std::string_view name) const override {
    std::string n(name);
    const char* v = smfi_getsymval(ctx_, n.data());
    if (v == nullptr) return std::nullopt;
    return std::string_view(v);
  }

 private:
  SMFICTX* ctx_;
};

Connection* connection_of(SMFICTX* ctx) { return static_cast<Connection*>(smfi_getpriv(ctx)); }

// The exception firewall: every callback body runs inside it.
template <class Body>
sfsistat guarded(SMFICTX* ctx, const char* stage, Body&& body) noexcept {
  if (!g_runtime->callback_begins()) return SMFIS_TEMPFAIL;  // the daemon is past its drain
  struct Ends {
    Ends() = default;
    Ends(const Ends&) = delete;
    Ends& operator=(const Ends&) = delete;
    ~Ends() { g_runtime->callback_ends(); }
  } ends;
  Connection* c = nullptr;
  try {
    c = connection_of(ctx);
    if (c == nullptr) throw std::logic_error("no connection context");
    return body(*c);
  } catch (const std::exception& e) {
    logf(Severity::error, "{}: {} failed: {}", c ? c->session.log_id() : std::string("-"), stage, e.what());
  } catch (...) {
    logf(Severity::error, "{}: {} failed: unknown exception", c ? c->session.log_id() : std::string("-"), stage);
  }
  return SMFIS_TEMPFAIL;
}

// Negotiation comes first on every connection (milter protocol 6): make the context here.
sfsistat on_negotiate(SMFICTX* ctx, unsigned long actions, unsigned long steps, unsigned long, unsigned long,
                      unsigned long* want_actions, unsigned long* want_steps, unsigned long* reserved2,
                      unsigned long* reserved3) {
  try {
    if (connection_of(ctx) == nullptr) {
      auto conn = std::make_unique<Connection>(*g_runtime);
      if (smfi_setpriv(ctx, conn.get()) != MI_SUCCESS) throw std::runtime_error("smfi_setpriv failed");
      (void)conn.release();  // libmilter's private pointer owns it now (freed in on_close)
    }
  } catch (const std::exception& e) {
    logf(Severity::error, "-: negotiate failed: {}", e.what());
    return SMFIS_TEMPFAIL;
  }
  return guarded(ctx, "negotiate", [&](Connection& c) {
    if ((actions & kActions) != kActions)
      logf(Severity::warning, "{}: the MTA offers actions {:#x}, we need {:#x}: some decisions will tempfail",
           c.session.log_id(), actions, kActions);
    *want_actions = actions & kActions;
    // Only SMFIP_SKIP, when offered. No "no reply" (SMFIP_NR_*) and no "don't send" steps:
    // on a TCP socket each left Postfix waiting ~40 ms for a delayed ACK (postfix-on-loopback.md).
    c.session.negotiate((steps & SMFIP_SKIP) != 0);
    *want_steps = steps & SMFIP_SKIP;
    *reserved2 = 0;
    *reserved3 = 0;
    return SMFIS_CONTINUE;
  });
}

sfsistat on_connect(SMFICTX* ctx, char* host, _SOCK_ADDR* address) {
  if (connection_of(ctx) == nullptr) {  // an MTA that skipped negotiation (protocol 2)
    unsigned long a = 0, s = 0, r2 = 0, r3 = 0;
    if (on_negotiate(ctx, kActions, 0, 0, 0, &a, &s, &r2, &r3) != SMFIS_CONTINUE) return SMFIS_TEMPFAIL;
  }
  return guarded(ctx, "connect", [&](Connection& c) {
    c.session.connect(host ? host : "", address_text(address), SymvalMacros(ctx));
    return SMFIS_CONTINUE;
  });
}

sfsistat on_helo(SMFICTX* ctx, char* name) {
  return guarded(ctx, "helo", [&](Connection& c) {
    c.session.helo(name ? name : "");
    return SMFIS_CONTINUE;
  });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
  return guarded(ctx, "mail", [&](Connection& c) {
    c.session.mail_from(argv && argv[0] ? argv[0] : "", SymvalMacros(ctx));
    return SMFIS_CONTINUE;
  });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
  return guarded(ctx, "rcpt", [&](Connection& c) {
    c.session.rcpt_to(argv && argv[0] ? argv[0] : "", SymvalMacros(ctx));
    return SMFIS_CONTINUE;
  });
}

// Registered although it does nothing: without it libmilter negotiates "no DATA", Postfix
// still sends the DATA macros, and its next packet waits for a delayed ACK (~40 ms).
sfsistat on_data(SMFICTX* ctx) {
  return guarded(ctx, "data", [](Connection&) { return SMFIS_CONTINUE; });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
  return guarded(ctx, "header", [&](Connection& c) {
    c.session.header(name ? name : "", value ? value : "");
    return SMFIS_CONTINUE;
  });
}

sfsistat on_eoh(SMFICTX* ctx) {
  return guarded(ctx, "eoh", [&](Connection& c) {
    return c.session.end_of_headers() == AfterHeaders::accept_now ? SMFIS_ACCEPT : SMFIS_CONTINUE;
  });
}

sfsistat on_body(SMFICTX* ctx, unsigned char*, size_t) {
  return guarded(ctx, "body", [](Connection& c) { return c.session.mta_can_skip() ? SMFIS_SKIP : SMFIS_CONTINUE; });
}

sfsistat on_eom(SMFICTX* ctx) {
  return guarded(ctx, "eom", [&](Connection& c) {
    MessageEnd end = c.session.end_of_message(SymvalMacros(ctx));
    if (!end.summary.empty()) log_line(end.severity, end.summary);
    if (!end.removals.empty()) log_line(Severity::notice, end.removals);
    if (!end.decision) return SMFIS_CONTINUE;
    const sfsistat status = apply_decision(ctx, *end.decision);
    if (end.decision->reply_enqueued) g_runtime->reply_enqueued();
    return status;
  });
}

sfsistat on_abort(SMFICTX* ctx) {
  return guarded(ctx, "abort", [](Connection& c) {
    c.session.abort();
    return SMFIS_CONTINUE;
  });
}

sfsistat on_close(SMFICTX* ctx) {
  std::unique_ptr<Connection> conn(connection_of(ctx));
  if (conn) smfi_setpriv(ctx, nullptr);
  return SMFIS_CONTINUE;
}

sfsistat on_unknown(SMFICTX* ctx, const char*) {
  return guarded(ctx, "unknown", [](Connection&) { return SMFIS_CONTINUE; });
}

}  // namespace

void register_filter(Runtime& runtime) {
  g_runtime = &runtime;
  static char name[] = "aamp-milter";
  smfiDesc desc{};
  desc.xxfi_name = name;
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = kActions;
  desc.xxfi_connect = on_connect;
  desc.xxfi_helo = on_helo;
  desc.xxfi_envfrom = on_envfrom;
  desc.xxfi_envrcpt = on_envrcpt;
  desc.xxfi_header = on_header;
  desc.xxfi_eoh = on_eoh;
  desc.xxfi_body = on_body;
  desc.xxfi_eom = on_eom;
  desc.xxfi_abort = on_abort;
  desc.xxfi_close = on_close;
  desc.xxfi_unknown = on_unknown;
  desc.xxfi_data = on_data;
  desc.xxfi_negotiate = on_negotiate;
  if (smfi_register(desc) != MI_SUCCESS) throw std::runtime_error("smfi_register failed");
}

}  // namespace aamp::milter
