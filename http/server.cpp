// server.cpp — libmicrohttpd behind aamp::http::Server. The listening socket is ours (so the
// address is exactly the one configured and the bound port is known); libmicrohttpd runs a
// thread per connection and calls access() several times per request: once with the
// headers, once per piece of body, once at the end.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace aamp::http {

std::string_view Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), key.size()) == 0) {
      return value;
    }
  }
  return {};
}

Response Response::text(int status, std::string body) {
  return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
}

Response Response::json(int status, std::string body) {
  return Response{status, "application/json", std::move(body), {}};
}

namespace {

// What one request has gathered between calls of access().
struct Pending {
  Request request;
  bool too_large = false;
};

std::string peer_of(MHD_Connection* connection) {
  const auto* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return {};
  char text[INET6_ADDRSTRLEN] = {};
  const auto* addr = info->client_addr;
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);  // NOLINT: sockaddr API
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);  // NOLINT: sockaddr API
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
  }
  return text;
}

MHD_Result collect_header(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* request = static_cast<Request*>(cls);
  request->headers.emplace_back(key != nullptr ? key : "", value != nullptr ? value : "");
  return MHD_YES;
}

MHD_Result send(MHD_Connection* connection, const Response& response) {
  MHD_Response* out = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
  if (out == nullptr) return MHD_NO;
  MHD_add_response_header(out, MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(out, name.c_str(), value.c_str());
  }
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(response.status), out);
  MHD_destroy_response(out);
  return queued;
}

}  // namespace

struct Server::Impl {
  ListenSpec listen;
  Limits limits;
  Handler handler;
  int fd = -1;
  std::uint16_t port = 0;
  MHD_Daemon* daemon = nullptr;

  static MHD_Result access(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char* /*version*/, const char* upload_data,
                           std::size_t* upload_data_size, void** state) {
    auto* self = static_cast<Impl*>(cls);
    if (*state == nullptr) {  // first call: the headers
      auto pending = std::make_unique<Pending>();
      pending->request.method = method != nullptr ? method : "";
      pending->request.path = url != nullptr ? url : "";
      pending->request.peer = peer_of(connection);
      MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_header, &pending->request);
      *state = pending.release();
      // A declared body over the limit is refused before it is read.
      const auto declared = static_cast<Pending*>(*state)->request.header("Content-Length");
      std::size_t length = 0;
      const auto [ptr, ec] =
          std::from_chars(declared.data(), declared.data() + declared.size(), length);
      if (!declared.empty() &&
          (ec == std::errc::result_out_of_range ||
           (ec == std::errc{} && ptr == declared.data() + declared.size() &&
            length > self->limits.max_body))) {
        static_cast<Pending*>(*state)->too_large = true;
        return send(connection, Response::text(413, "request body too large\n"));
      }
      return MHD_YES;
    }
    auto* pending = static_cast<Pending*>(*state);
    if (*upload_data_size != 0) {  // a piece of the body
      if (!pending->too_large) {
        if (pending->request.body.size() + *upload_data_size > self->limits.max_body) {
          pending->too_large = true;  // read on, keep nothing
          pending->request.body.clear();
          pending->request.body.shrink_to_fit();
        } else {
          pending->request.body.append(upload_data, *upload_data_size);
        }
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (pending->too_large) return send(connection, Response::text(413, "request body too large\n"));
    Response response;
    try {
      response = self->handler(pending->request);
    } catch (...) {
      response = Response::text(500, "internal error\n");
    }
    return send(connection, response);
  }

  static void completed(void* /*cls*/, MHD_Connection* /*connection*/, void** state,
                        MHD_RequestTerminationCode /*code*/) {
    delete static_cast<Pending*>(*state);
    *state = nullptr;
  }
};

Server::Server(const ListenSpec& listen, const Limits& limits, Handler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->listen = listen;
  impl_->limits = limits;
  impl_->handler = std::move(handler);
  const int family = listen.ipv6 ? AF_INET6 : AF_INET;
  impl_->fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (impl_->fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(impl_->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage addr{};
  socklen_t length = 0;
  if (listen.ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);  // NOLINT: sockaddr API
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(listen.port);
    inet_pton(AF_INET6, listen.host.c_str(), &in6->sin6_addr);
    ::setsockopt(impl_->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    length = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);  // NOLINT: sockaddr API
    in->sin_family = AF_INET;
    in->sin_port = htons(listen.port);
    inet_pton(AF_INET, listen.host.c_str(), &in->sin_addr);
    length = sizeof(sockaddr_in);
  }
  auto fail = [&](const char* what) {
    const std::string message =
        std::string(what) + " " + to_string(listen) + ": " + std::strerror(errno);
    ::close(impl_->fd);
    throw std::runtime_error(message);
  };
  if (::bind(impl_->fd, reinterpret_cast<sockaddr*>(&addr), length) != 0) fail("bind");  // NOLINT
  if (::listen(impl_->fd, 64) != 0) fail("listen");
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (::getsockname(impl_->fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {  // NOLINT
    fail("getsockname");
  }
  impl_->port = ntohs(listen.ipv6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port  // NOLINT
                                  : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);  // NOLINT
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
  if (listen.ipv6) flags |= MHD_USE_IPv6;
  impl_->daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Impl::access, impl_.get(),                    //
      MHD_OPTION_LISTEN_SOCKET, impl_->fd,                                         //
      MHD_OPTION_CONNECTION_LIMIT, limits.max_connections,                         //
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(limits.timeout.count()),  //
      MHD_OPTION_NOTIFY_COMPLETED, &Impl::completed, nullptr,                      //
      MHD_OPTION_END);
  if (impl_->daemon == nullptr) {
    ::close(impl_->fd);
    throw std::runtime_error("cannot start the HTTP server on " + to_string(listen));
  }
}

Server::Server(std::string_view listen, const Limits& limits, Handler handler)
    : Server(parse_listen_spec(listen), limits, std::move(handler)) {}

Server::~Server() {
  if (impl_ && impl_->daemon != nullptr) {
    MHD_stop_daemon(impl_->daemon);  // joins every connection thread, closes the socket
  }
}

std::uint16_t Server::port() const { return impl_->port; }
const ListenSpec& Server::listen() const { return impl_->listen; }

Router& Router::add(std::string method, std::string path, Handler handler) {
  routes_.push_back({std::move(method), std::move(path), std::move(handler)});
  return *this;
}

Response Router::operator()(const Request& request) const {
  std::string allow;
  for (const auto& route : routes_) {
    if (route.path != request.path) continue;
    if (route.method == request.method) return route.handler(request);
    if (!allow.empty()) allow += ", ";
    allow += route.method;
  }
  if (allow.empty()) return Response::text(404, "not found\n");
  auto response = Response::text(405, "method not allowed\n");
  response.headers.emplace_back("Allow", allow);
  return response;
}

}  // namespace aamp::http
