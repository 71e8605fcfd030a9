// hook_fuzz.cpp — libFuzzer target (and, under GCC, a corpus replay test) for the Stalwart MTA
// hook's request parser (milter/hook.hpp): any body either parses or throws HookError, and a
// parsed request keeps its header names and values trimmed. The answer for a Decision made from parsed recipients and header names is always
// JSON with an action other than quarantine.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "milter/hook.hpp"
#include "policy/text.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);  // NOLINT: libFuzzer's bytes
  aamp::milter::HookRequest request;
  try {
    request = aamp::milter::parse_hook_request(body);
  } catch (const aamp::milter::HookError&) {
    return 0;
  }
  for (const auto& field : request.headers) {
    require(aamp::trim(field.name) == field.name);
    require(aamp::trim(field.value) == field.value);
  }
  aamp::Decision d;
  d.action = request.recipients.size() % 2 == 0 ? aamp::Action::accept : aamp::Action::quarantine;
  for (const auto& r : request.recipients) d.delete_recipients.push_back(r);
  int index = 1;
  for (const auto& field : request.headers) {
    if (field.name.empty()) continue;
    d.delete_headers.push_back({field.name, index++});
    d.add_headers.push_back({field.name, field.value});
  }
  std::string answer;
  try {
    answer = aamp::milter::hook_response(d);
  } catch (const std::runtime_error&) {
    return 0;  // plan_application refuses an index below 1: not reached here
  }
  const auto json = nlohmann::json::parse(answer, nullptr, false);
  require(!json.is_discarded());
  require(json.at("action") == "accept");
  return 0;
}
