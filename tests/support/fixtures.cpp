// fixtures.cpp — see fixtures.hpp.
#include "tests/support/fixtures.hpp"

#include <atomic>

namespace aamp::test {

HeaderList aamp_headers(const std::string& intent, const std::string& from, const std::string& task_id) {
  // Each message its own Message-ID, as mail has: the engine delivers one Message-ID once
  // per recipient, so a test sending "another" message with the same id would send a copy.
  static std::atomic<int> sent{0};
  const std::string message_id = "<m" + std::to_string(++sent) + "@example.com>";
  return {
      {"Received", "from client.example.com by mx.example.net"},
      {"From", "Alice <" + from + ">"},
      {"To", "agent@example.net"},
      {"Subject", "[AAMP Task] something"},
      {"Message-ID", message_id},
      {"X-AAMP-Version", "1.1"},
      {"X-AAMP-Intent", intent},
      {"X-AAMP-TaskId", task_id},
  };
}

MessageFacts facts_for(HeaderList headers, std::vector<std::string> recipients, const std::string& envelope_from) {
  MessageFacts f;
  f.queue_id = "4ABCDEF";
  f.client_addr = "198.51.100.7";
  f.client_name = "client.example.com";
  f.helo = "client.example.com";
  f.envelope_from = envelope_from;
  f.recipients = std::move(recipients);
  f.headers = std::move(headers);
  return f;
}

}  // namespace aamp::test
