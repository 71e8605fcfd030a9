// milter_replay — sends .eml files to a milter one by one, each on its own connection, the
// way Postfix would (mta_session.hpp), and prints what the milter decided for each as one
// JSON line. For replaying the adversarial corpus (tests/corpus) through the real daemon:
// the envelope comes from the file's X-Test-* pseudo-headers (X-Test-Mail-From, X-Test-Rcpt,
// X-Test-Auth-User, X-Test-Client-Addr; every other X-Test-* line is skipped), the header
// fields from the project's own splitter (policy/header_block.hpp), as corpus_test sees them.
// Single-threaded; every wait bounded by --io-timeout. Loopback use only.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/loadgen/mta_session.hpp"
#include "bench/loadgen/transport.hpp"
#include "policy/header_block.hpp"
#include "policy/text.hpp"

namespace lg = aamp::loadgen;
using nlohmann::json;

namespace {

struct Replay {
  lg::MessageSpec message;
  lg::ClientInfo client;
};

std::string strip_brackets(std::string_view s) {
  s = aamp::trim(s);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// The pseudo-headers at the top of a corpus file give the envelope; the rest is the mail.
Replay parse(const std::string& bytes) {
  Replay r;
  r.client = {"client.example.org", "198.51.100.7", 40000, SMFIA_INET, "client.example.org"};
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t eol = bytes.find('\n', pos);
    const std::string_view line(bytes.data() + pos, (eol == std::string::npos ? bytes.size() : eol) - pos);
    if (!aamp::istarts_with(line, "X-Test-")) break;
    pos = eol == std::string::npos ? bytes.size() : eol + 1;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = aamp::to_lower(line.substr(0, colon));
    const std::string value(aamp::trim(line.substr(colon + 1)));
    if (name == "x-test-mail-from") r.message.sender = strip_brackets(value);
    if (name == "x-test-rcpt") r.message.recipients.push_back(strip_brackets(value));
    if (name == "x-test-auth-user") r.message.auth_login = value;
    if (name == "x-test-client-addr") {
      r.client.addr = value;
      r.client.family = value.find(':') != std::string::npos ? SMFIA_INET6 : SMFIA_INET;
    }
  }
  const std::string_view mail(bytes.data() + pos, bytes.size() - pos);
  const aamp::HeaderBlock block = aamp::split_header_block(mail);
  for (const auto& h : block.fields) r.message.headers.emplace_back(h.name, h.value);
  for (const char c : mail.substr(block.size)) {  // the body, with CRLF line ends
    if (c == '\n' && (r.message.body.empty() || r.message.body.back() != '\r')) r.message.body.push_back('\r');
    r.message.body.push_back(c);
  }
  return r;
}

json replay_one(const lg::Endpoint& ep, const lg::SessionOptions& options, const std::string& path,
                const std::string& queue_id, double timeout_s) {
  json out = {{"file", path.substr(path.rfind('/') + 1)}, {"queue_id", queue_id}};
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    out["error"] = "cannot read " + path;
    return out;
  }
  const Replay r = parse(text.str());
  const auto deadline = lg::Clock::now() + std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
  try {
    lg::MtaSession session(ep, options, deadline);
    session.negotiate();
    if (!session.open(r.client)) {
      out["error"] = "the filter ended the connection at CONNECT/HELO";
      return out;
    }
    const lg::MessageOutcome o = session.send_message(r.message, queue_id);
    session.quit();
    out["verdict"] = o.mods.quarantine ? "quarantine" : std::string(lg::to_string(o.verdict));
    out["stage"] = std::string(lg::to_string(o.stage));
    out["reply"] = o.reply;
    out["rcpts_refused"] = o.rcpts_refused;
    out["add_header"] = o.mods.add_header;
    out["ins_header"] = o.mods.ins_header;
    out["chg_header"] = o.mods.chg_header;
    out["del_rcpt"] = o.mods.del_rcpt;
    out["latency_ms"] = std::chrono::duration<double, std::milli>(o.latency).count();
  } catch (const std::exception& e) {
    out["error"] = e.what();
  }
  return out;
}

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: milter_replay -s SOCKET [--io-timeout S] [--queue-prefix HEX] FILE.eml...\n"
               "  Sends each file on a connection of its own, as Postfix would, and prints one JSON\n"
               "  line per file: file, queue_id, verdict (accept|reject|tempfail|discard|shutdown|\n"
               "  quarantine), stage, reply, rcpts_refused, add_header, ins_header, chg_header,\n"
               "  del_rcpt, latency_ms, or error. Envelope: the X-Test-Mail-From, X-Test-Rcpt,\n"
               "  X-Test-Auth-User and X-Test-Client-Addr lines at the top of the file\n"
               "  (tests/corpus/README.md). Exit status 1 when a file got no decision.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket;
  double io_timeout_s = 30;
  std::string prefix = "C";
  const option longopts[] = {{"socket", required_argument, nullptr, 's'},
                             {"io-timeout", required_argument, nullptr, 't'},
                             {"queue-prefix", required_argument, nullptr, 'p'},
                             {"help", no_argument, nullptr, 'h'},
                             {nullptr, 0, nullptr, 0}};
  try {
    for (int c; (c = getopt_long(argc, argv, "s:h", longopts, nullptr)) != -1;) {
      switch (c) {
        case 's': socket = optarg; break;
        case 't': io_timeout_s = std::stod(optarg); break;
        case 'p': prefix = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
      }
    }
  } catch (const std::exception&) {
    usage(stderr);
    return 2;
  }
  const auto ep = lg::parse_endpoint(socket);
  if (!ep || optind >= argc || io_timeout_s <= 0 || io_timeout_s > 300) {
    usage(stderr);
    return 2;
  }
  lg::SessionOptions options;
  options.connection.io_timeout = std::chrono::milliseconds(static_cast<long long>(io_timeout_s * 1000));
  options.mta_hostname = "mx.example.net";
  int failed = 0;
  for (int i = optind; i < argc; ++i) {
    char qid[32];
    std::snprintf(qid, sizeof qid, "%s%05X", prefix.c_str(), static_cast<unsigned>(i - optind + 1));
    const json line = replay_one(*ep, options, argv[i], qid, io_timeout_s * 4);
    if (line.contains("error")) ++failed;
    std::cout << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n" << std::flush;
  }
  return failed == 0 ? 0 : 1;
}
