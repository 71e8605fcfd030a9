// fixtures.cpp — see fixtures.hpp.
#include "tests/support/fixtures.hpp"

namespace aamp::test {

HeaderList aamp_headers(const std::string& intent, const std::string& from, const std::string& task_id) {
  return {
      {"Received", "from client.example.com by mx.example.net"},
      {"From", "Alice <" + from + ">"},
      {"To", "agent@example.net"},
      {"Subject", "[AAMP Task] something"},
      {"Message-ID", "<m1@example.com>"},
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
