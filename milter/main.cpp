// main.cpp — aamp-milter's command line: -c FILE, -f, -n, -p SOCKET, -V. Everything else
// happens in run_daemon (daemon.cpp).
// Threading: runs before any thread exists.
#include <unistd.h>

#include <cstdio>

#include "milter/daemon.hpp"

namespace {

void usage(std::FILE* out) {
  (void)std::fputs(
      "usage: aamp-milter [-c FILE] [-f] [-n] [-p SOCKET] [-V]\n"
      "  -c FILE    configuration file (default /etc/aamp-milter/aamp-milter.conf)\n"
      "  -f         stay in the foreground and log to standard error too\n"
      "  -n         check the configuration and exit (0 when it is good)\n"
      "  -p SOCKET  listen here instead of the configured Socket (inet:PORT@HOST, inet6:PORT@[ADDR], unix:/PATH)\n"
      "  -V         print the version and exit\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  aamp::milter::Options options;
  int opt = 0;
  while ((opt = getopt(argc, argv, "c:fnp:Vh")) != -1) {  // NOLINT(concurrency-mt-unsafe): no threads yet
    switch (opt) {
      case 'c': options.config_path = optarg; break;
      case 'f': options.foreground = true; break;
      case 'n': options.check_only = true; break;
      case 'p': options.socket_override = optarg; break;
      case 'V': std::printf("%s\n", aamp::milter::version_line().c_str()); return aamp::milter::kExitOk;
      case 'h': usage(stdout); return aamp::milter::kExitOk;
      default: usage(stderr); return aamp::milter::kExitUsage;
    }
  }
  if (optind != argc) {
    (void)std::fprintf(stderr, "aamp-milter: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return aamp::milter::kExitUsage;
  }
  return aamp::milter::run_daemon(options);
}
