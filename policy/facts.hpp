// facts.hpp — everything the engine may know about one message, as plain values collected
// by the milter from macros, envelope and headers. Pure data: no libmilter types.
#pragma once

#include <string>
#include <vector>

#include "policy/header_field.hpp"

namespace aamp {

struct MessageFacts {
  std::string queue_id;       // the MTA's `i` macro, or an id of our own when it sends none
  std::string client_addr;    // textual IPv4/IPv6 address; "" for local submission
  std::string client_name;    // reverse name or "unknown"
  std::string helo;
  std::string auth_user;      // {auth_authen}; "" when the client did not authenticate
  std::string envelope_from;  // MAIL FROM without angle brackets; "" is the null sender
  std::vector<std::string> recipients;  // RCPT TO as the MTA gave them (used for delrcpt)
  HeaderList headers;         // in arrival order
};

}  // namespace aamp
