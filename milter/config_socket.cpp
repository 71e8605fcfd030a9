// config_socket.cpp — SocketSpec and parse_socket_spec of config.hpp: where the milter
// listens, in the spelling of libmilter's smfi_setconn (inet:PORT@HOST, inet6:PORT@[ADDR],
// unix:/PATH). Parsing only: listener.cpp opens the socket. No libmilter, no SQLite.
// Threading: plain functions.
#include <string>

#include "milter/config.hpp"
#include "milter/config_values.hpp"
#include "policy/cidr.hpp"
#include "policy/text.hpp"

namespace aamp::milter {

using config_file::parse_int_in;
using config_file::printable_token;

std::string SocketSpec::libmilter_spec() const {
  switch (kind) {
    case Kind::inet: return "inet:" + std::to_string(port) + (host.empty() ? "" : "@" + host);
    case Kind::inet6: return "inet6:" + std::to_string(port) + (host.empty() ? "" : "@" + host);
    case Kind::unix: return "unix:" + path;
  }
  return {};
}

std::string SocketSpec::str() const {
  if (kind == Kind::inet6 && !host.empty()) return "inet6:" + std::to_string(port) + "@[" + host + "]";
  return libmilter_spec();
}

Result<SocketSpec> parse_socket_spec(std::string_view text) {
  text = trim(text);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return Error{"expected inet:PORT@HOST, inet6:PORT@[ADDRESS] or unix:/PATH"};
  const std::string proto = to_lower(text.substr(0, colon));
  const std::string_view rest = text.substr(colon + 1);
  SocketSpec spec;
  if (proto == "unix" || proto == "local") {
    spec.kind = SocketSpec::Kind::unix;
    if (rest.empty() || rest.front() != '/') return Error{"a unix socket needs an absolute path: unix:/run/aamp-milter/milter.sock"};
    if (rest.size() > 107) return Error{"a unix socket path is at most 107 bytes"};  // sun_path
    if (!printable_token(rest)) return Error{"a unix socket path cannot contain spaces or control characters"};
    spec.path = std::string(rest);
    return spec;
  }
  if (proto != "inet" && proto != "inet6")
    return Error{"unknown socket type '" + proto + "' (use inet, inet6 or unix)"};
  spec.kind = proto == "inet" ? SocketSpec::Kind::inet : SocketSpec::Kind::inet6;
  const auto at = rest.find('@');
  auto port = parse_int_in(rest.substr(0, at), 1, 65535);
  if (!port) return Error{"expected a port from 1 to 65535 before '@'"};
  spec.port = *port;
  if (at != std::string_view::npos) {
    std::string_view host = rest.substr(at + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || !printable_token(host) || host.find_first_of("[]@/") != std::string_view::npos)
      return Error{"expected a host after '@'"};
    if (spec.kind == SocketSpec::Kind::inet6) {
      auto ip = parse_ip(host);
      if (!ip || !ip->v6) return Error{"inet6 needs an IPv6 address: inet6:8891@[::1]"};
    } else if (host.find(':') != std::string_view::npos) {
      return Error{"an IPv6 address needs inet6: inet6:PORT@[" + std::string(host) + "]"};
    }
    spec.host = std::string(host);
  }
  return spec;
}

}  // namespace aamp::milter
