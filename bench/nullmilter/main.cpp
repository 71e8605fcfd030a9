// nullmilter — the reference filter every milter benchmark figure is divided by: libmilter,
// every callback continues, end of message accepts. It registers the same callbacks (all of
// them, DATA included) and action flags as aamp-milter and turns Nagle off the same way
// (milter/tcp_nodelay.hpp), and negotiates the same protocol steps, so a ratio measures our
// work, not libmilter's or the socket's.
// Benchmark tool only. libmilter calls one connection's callbacks one at a time (on any of
// its worker threads, as Debian builds it); they keep no state.
//
//   nullmilter -p inet:PORT@127.0.0.1 | -p unix:/path  [-T timeout] [--add-header] [--nagle] [--no-data]
//
// --add-header, --nagle and --no-data exist to reproduce the stalls in
// docs/performance.md ("what bounds each figure"); the reference runs use none of them.
#include <getopt.h>
#include <libmilter/mfapi.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "milter/tcp_nodelay.hpp"

namespace {

bool g_add_header = false;  // set once in main() before smfi_main(); read-only afterwards

sfsistat on_connect(SMFICTX*, char*, _SOCK_ADDR*) { return SMFIS_CONTINUE; }
sfsistat on_helo(SMFICTX*, char*) { return SMFIS_CONTINUE; }
sfsistat on_envfrom(SMFICTX*, char**) { return SMFIS_CONTINUE; }
sfsistat on_envrcpt(SMFICTX*, char**) { return SMFIS_CONTINUE; }
sfsistat on_header(SMFICTX*, char*, char*) { return SMFIS_CONTINUE; }
sfsistat on_eoh(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat on_body(SMFICTX*, unsigned char*, size_t) { return SMFIS_CONTINUE; }
sfsistat on_abort(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat on_close(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat on_unknown(SMFICTX*, const char*) { return SMFIS_CONTINUE; }
sfsistat on_data(SMFICTX*) { return SMFIS_CONTINUE; }

constexpr unsigned long kActions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_QUARANTINE;

// As aamp-milter negotiates (milter/callbacks.cpp): its actions, and of the protocol steps
// only SMFIP_SKIP, so that both get the same packets from the MTA.
sfsistat on_negotiate(SMFICTX*, unsigned long actions, unsigned long steps, unsigned long, unsigned long,
                      unsigned long* want_actions, unsigned long* want_steps, unsigned long* reserved2,
                      unsigned long* reserved3) {
  *want_actions = actions & kActions;
  *want_steps = steps & SMFIP_SKIP;
  *reserved2 = 0;
  *reserved3 = 0;
  return SMFIS_CONTINUE;
}

sfsistat on_eom(SMFICTX* ctx) {
  if (g_add_header) {
    char name[] = "X-Null-Milter";
    char value[] = "passed";
    if (smfi_addheader(ctx, name, value) != MI_SUCCESS) return SMFIS_TEMPFAIL;
  }
  return SMFIS_ACCEPT;
}

char g_name[] = "nullmilter";

void usage() {
  std::fprintf(stderr,
               "usage: nullmilter -p SOCKET [-T SECONDS] [--add-header] [--nagle] [--no-data]\n"
               "  SOCKET is inet:PORT@HOST, inet6:PORT@HOST or unix:/path\n");
}

// The path of a unix socket spec, or "" for inet ones.
std::string unix_path(const std::string& spec) {
  for (const char* prefix : {"unix:", "local:"})
    if (spec.rfind(prefix, 0) == 0) return spec.substr(std::strlen(prefix));
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_spec;
  int timeout = 30;
  bool nagle = false;
  bool no_data = false;
  const option longopts[] = {{"add-header", no_argument, nullptr, 'a'},
                             {"nagle", no_argument, nullptr, 'n'},
                             {"no-data", no_argument, nullptr, 'd'},
                             {"help", no_argument, nullptr, 'h'},
                             {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "p:T:h", longopts, nullptr)) != -1;) {
    switch (c) {
      case 'p': socket_spec = optarg; break;
      case 'T': timeout = std::atoi(optarg); break;
      case 'a': g_add_header = true; break;
      case 'n': nagle = true; break;
      case 'd': no_data = true; break;
      default: usage(); return c == 'h' ? 0 : 2;
    }
  }
  if (socket_spec.empty() || optind != argc || timeout <= 0) {
    usage();
    return 2;
  }

  smfiDesc desc{};
  desc.xxfi_name = g_name;
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
  // Without a DATA callback libmilter negotiates "no DATA"; Postfix still sends the DATA
  // macros and its next packet then waits for a delayed ACK (~40 ms over TCP).
  desc.xxfi_data = no_data ? nullptr : on_data;
  // --no-data reproduces the stall only without a negotiate callback (libmilter then
  // derives "no DATA" from the missing DATA callback).
  desc.xxfi_negotiate = no_data ? nullptr : on_negotiate;

  if (smfi_setconn(socket_spec.data()) != MI_SUCCESS || smfi_settimeout(timeout) != MI_SUCCESS ||
      smfi_register(desc) != MI_SUCCESS) {
    std::fprintf(stderr, "nullmilter: cannot register on %s\n", socket_spec.c_str());
    return 1;
  }
  if (smfi_opensocket(true) != MI_SUCCESS) {
    std::fprintf(stderr, "nullmilter: cannot open %s\n", socket_spec.c_str());
    return 1;
  }
  // Postfix connects as user postfix: a root-made unix socket must be writable by it.
  if (const std::string path = unix_path(socket_spec); !path.empty() && chmod(path.c_str(), 0666) != 0) {
    std::perror("nullmilter: chmod socket");
    return 1;
  }
  if (!nagle) {
    try {
      aamp::set_nodelay_on_listeners();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nullmilter: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "nullmilter: listening on %s%s%s%s\n", socket_spec.c_str(), g_add_header ? " add-header" : "",
               nagle ? " nagle" : "", no_data ? " no-data" : "");
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
