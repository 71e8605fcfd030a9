// server.hpp — a small HTTP/1.1 server over libmicrohttpd. One handler answers every request
// (a Router dispatches by method and path). Request bodies are bounded (413 beyond the limit,
// nothing buffered past it), idle connections time out, connections are limited; malformed
// HTTP gets 400 from libmicrohttpd itself; a handler that throws gives 500. Each connection
// has its own thread, so a handler may block (a store call) without stalling the others.
#pragma once

#include "http/listen_spec.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aamp::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the URL path as sent, without the query string
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  std::string body;
  std::string peer;  // client address, "127.0.0.1" or "::1"

  // The first header of that name (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static Response text(int status, std::string body);
  static Response json(int status, std::string body);
};

using Handler = std::function<Response(const Request&)>;

struct Limits {
  std::size_t max_body = std::size_t{64} << 20;  // bytes; 413 beyond
  std::chrono::seconds timeout{30};              // a connection idle this long is closed
  unsigned max_connections = 64;                 // further clients are refused
};

class Server {
 public:
  // Binds and starts serving at once; throws std::runtime_error when it cannot (address in
  // use, bad address: the message says which).
  Server(const ListenSpec& listen, const Limits& limits, Handler handler);
  Server(std::string_view listen, const Limits& limits, Handler handler);
  ~Server();  // stops: no handler runs after the destructor returns
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually bound (useful when the spec asked for port 0).
  std::uint16_t port() const;
  const ListenSpec& listen() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Dispatch by path, then method: an unknown path is 404, a known path with another method is
// 405 with an Allow header.
class Router {
 public:
  Router& add(std::string method, std::string path, Handler handler);
  Response operator()(const Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace aamp::http
