// reply_send_helper.cpp — sends one pair.respond through a ReplyTransport spec, the way
// the reply worker does (build_pair_respond, then transport.send), for end-to-end tests
// against a real Postfix (tests/e2e/test_reply_transports.py). Prints "sent", "temporary"
// or "permanent" and the detail on stdout; exits 0 only when sent.
//   usage: reply_send_helper SPEC ENVELOPE_FROM|"" FROM TO TASK_ID MESSAGE_ID
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "mail/reply.hpp"
#include "mail/transport.hpp"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s SPEC ENVELOPE_FROM FROM TO TASK_ID MESSAGE_ID\n", argv[0]);
    return 2;
  }
  try {
    auto spec = aamp::mail::parse_reply_transport(argv[1]);
    if (!spec) {
      std::fprintf(stderr, "bad spec: %s\n", spec.error().c_str());
      return 2;
    }
    spec.value().timeout = std::chrono::seconds(30);
    const auto transport = aamp::mail::make_reply_transport(*spec);
    aamp::OutboxReply reply;
    reply.message_id = argv[6];
    reply.from = argv[3];
    reply.to = argv[4];
    reply.task_id = argv[5];
    reply.status = aamp::TaskStatus::completed;
    reply.in_reply_to = "<request-" + reply.task_id + "@example.test>";
    reply.created_at = 1790000000;
    const auto message = aamp::mail::build_pair_respond(reply);
    if (!message) {
      std::fprintf(stderr, "cannot build: %s\n", message.error().c_str());
      return 2;
    }
    const auto result = transport->send(*message, argv[2], reply.to);
    std::printf("%s %s\n", std::string(aamp::mail::to_string(result.status)).c_str(), result.detail.c_str());
    return result.status == aamp::mail::SendStatus::sent ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
