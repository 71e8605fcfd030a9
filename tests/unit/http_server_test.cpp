// http_server_test.cpp — http::Server over loopback driven by a raw socket client: routing
// (404, 405), bodies, the size limit (413, declared and chunked), malformed requests (400),
// handler exceptions (500), the peer address, IPv6, and Bearer/Basic authentication.
#include "http/auth.hpp"
#include "http/listen_spec.hpp"
#include "http/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace aamp::http {
namespace {

// Sends `raw` to the server and reads until the server closes (generous timeout).
std::string exchange(std::uint16_t port, const std::string& raw, bool ipv6 = false) {
  const int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  timeval tv{60, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int rc = -1;
  if (ipv6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(port);
    inet_pton(AF_INET6, "::1", &addr.sin6_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // NOLINT
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // NOLINT
  }
  EXPECT_EQ(rc, 0);
  std::size_t sent = 0;
  while (sent < raw.size()) {
    const auto n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (413)
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

int status_of(const std::string& response) {
  if (response.size() < 12 || !response.starts_with("HTTP/1.")) return -1;
  return std::stoi(response.substr(9, 3));
}

std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

Handler echo_router() {
  Router router;
  router.add("POST", "/echo", [](const Request& r) {
    return Response::text(200, r.method + " " + r.path + " " + r.body + " peer=" + r.peer +
                                   " x=" + std::string(r.header("x-test")));
  });
  router.add("GET", "/echo", [](const Request&) { return Response::text(200, "got"); });
  router.add("POST", "/throw", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  return router;
}

TEST(HttpListenSpec, Parses) {
  EXPECT_EQ(parse_listen_spec("8892"), (ListenSpec{"127.0.0.1", 8892, false}));
  EXPECT_EQ(parse_listen_spec("127.0.0.1:8892"), (ListenSpec{"127.0.0.1", 8892, false}));
  EXPECT_EQ(parse_listen_spec("0.0.0.0:1"), (ListenSpec{"0.0.0.0", 1, false}));
  EXPECT_EQ(parse_listen_spec("[::1]:9802"), (ListenSpec{"::1", 9802, true}));
  EXPECT_EQ(to_string(parse_listen_spec("[::1]:9802")), "[::1]:9802");
  for (const char* bad : {"", "x", "65536", "127.0.0.1:", "127.0.0.1:x", "localhost:80", "::1:80",
                          "[::1]80", "[::1]", "[127.0.0.1]:80", "1.2.3:80", ":80", "127.0.0.1:-1"}) {
    EXPECT_THROW(parse_listen_spec(bad), std::invalid_argument) << bad;
  }
}

TEST(HttpServer, RoutesAndBodies) {
  Server server("127.0.0.1:0", Limits{}, echo_router());
  ASSERT_NE(server.port(), 0);
  const auto ok = exchange(server.port(), post("/echo", "hello", "X-Test: yes\r\n"));
  EXPECT_EQ(status_of(ok), 200) << ok;
  EXPECT_EQ(body_of(ok), "POST /echo hello peer=127.0.0.1 x=yes");
  EXPECT_EQ(status_of(exchange(server.port(), "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
  EXPECT_EQ(status_of(exchange(server.port(), post("/nowhere", "x"))), 404);
  const auto wrong = exchange(server.port(), "DELETE /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(wrong), 405) << wrong;
  EXPECT_NE(wrong.find("Allow: POST, GET"), std::string::npos) << wrong;
  EXPECT_EQ(status_of(exchange(server.port(), post("/throw", "x"))), 500);
}

TEST(HttpServer, BodyLimit) {
  Limits limits;
  limits.max_body = 100;
  Server server("127.0.0.1:0", limits, echo_router());
  EXPECT_EQ(status_of(exchange(server.port(), post("/echo", std::string(100, 'a')))), 200);
  // Declared too large: refused before the body is read.
  const auto declared = exchange(server.port(),
      "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000000000\r\n\r\nabc");
  EXPECT_EQ(status_of(declared), 413) << declared;
  EXPECT_EQ(status_of(exchange(server.port(), post("/echo", std::string(101, 'a')))), 413);
  EXPECT_EQ(status_of(exchange(server.port(),
      "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 99999999999999999999999\r\n\r\n")), 413);
  // Chunked, no length declared: read on, keep nothing, 413 at the end.
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "28\r\n" + std::string(40, 'b') + "\r\n";
  chunked += "0\r\n\r\n";
  const auto big = exchange(server.port(), chunked);
  EXPECT_EQ(status_of(big), 413) << big;
}

TEST(HttpServer, MalformedRequests) {
  Server server("127.0.0.1:0", Limits{}, echo_router());
  // Not HTTP at all: libmicrohttpd closes the connection without an answer.
  EXPECT_EQ(status_of(exchange(server.port(), "GARBAGE\r\n\r\n")), -1);
  EXPECT_EQ(status_of(exchange(server.port(),
      "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: abc\r\n\r\n")), 400);
}

TEST(HttpServer, Ipv6) {
  Server server("[::1]:0", Limits{}, echo_router());
  const auto ok = exchange(server.port(), post("/echo", "v6"), true);
  EXPECT_EQ(status_of(ok), 200) << ok;
  EXPECT_EQ(body_of(ok), "POST /echo v6 peer=::1 x=");
}

TEST(HttpServer, PortInUse) {
  Server first("127.0.0.1:0", Limits{}, echo_router());
  EXPECT_THROW(Server("127.0.0.1:" + std::to_string(first.port()), Limits{}, echo_router()),
               std::runtime_error);
}

TEST(HttpAuth, Parse) {
  EXPECT_EQ(Credential::parse("bearer:s3cret").kind(), Credential::Kind::bearer);
  EXPECT_EQ(Credential::parse("bearer:s3cret").masked(), "bearer:****");
  EXPECT_EQ(Credential::parse("basic:stalwart:pa:ss").masked(), "basic:stalwart:****");
  for (const char* bad : {"", "bearer:", "bearer:a b", "basic:user", "basic::pw", "basic:user:",
                          "token:x", "Bearer:x"}) {
    try {
      Credential::parse(bad);
      ADD_FAILURE() << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).find("pw"), std::string::npos);
    }
  }
  EXPECT_EQ(Credential{}.masked(), "none");
}

TEST(HttpAuth, Bearer) {
  const auto credential = Credential::parse("bearer:s3cret");
  auto with = [](std::string value) {
    Request request;
    if (!value.empty()) request.headers.emplace_back("Authorization", std::move(value));
    return request;
  };
  EXPECT_TRUE(credential.allows(with("Bearer s3cret")));
  EXPECT_TRUE(credential.allows(with("bearer s3cret")));
  EXPECT_FALSE(credential.allows(with("Bearer s3cre")));
  EXPECT_FALSE(credential.allows(with("Bearer s3crett")));
  EXPECT_FALSE(credential.allows(with("Bearer ")));
  EXPECT_FALSE(credential.allows(with("Basic s3cret")));
  EXPECT_FALSE(credential.allows(with("")));
  const auto challenge = credential.challenge("aamp");
  EXPECT_EQ(challenge.status, 401);
  ASSERT_EQ(challenge.headers.size(), 1U);
  EXPECT_EQ(challenge.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(challenge.headers[0].second, "Bearer realm=\"aamp\"");
  EXPECT_TRUE(Credential{}.allows(with("")));
}

TEST(HttpAuth, Basic) {
  const auto credential = Credential::parse("basic:stalwart:pa:ss");
  auto with = [](std::string value) {
    Request request;
    request.headers.emplace_back("authorization", std::move(value));
    return request;
  };
  EXPECT_TRUE(credential.allows(with("Basic c3RhbHdhcnQ6cGE6c3M=")));  // stalwart:pa:ss
  EXPECT_FALSE(credential.allows(with("Basic c3RhbHdhcnQ6cGE6c3Q=")));  // stalwart:pa:st
  EXPECT_FALSE(credential.allows(with("Basic c3RhbHdhcnQ6cGE6c3M")));   // unpadded
  EXPECT_FALSE(credential.allows(with("Basic !!!!")));
  EXPECT_FALSE(credential.allows(with("Bearer stalwart:pa:ss")));
  EXPECT_EQ(credential.challenge("aamp").headers[0].second, "Basic realm=\"aamp\"");
}

TEST(HttpAuth, OverTheWire) {
  const auto credential = Credential::parse("bearer:tok");
  Server server("127.0.0.1:0", Limits{}, [&](const Request& r) {
    if (!credential.allows(r)) return credential.challenge("aamp");
    return Response::text(200, "in");
  });
  const auto refused = exchange(server.port(), post("/", "x"));
  EXPECT_EQ(status_of(refused), 401);
  EXPECT_NE(refused.find("WWW-Authenticate: Bearer realm=\"aamp\""), std::string::npos) << refused;
  EXPECT_EQ(status_of(exchange(server.port(), post("/", "x", "Authorization: Bearer tok\r\n"))), 200);
}

}  // namespace
}  // namespace aamp::http
