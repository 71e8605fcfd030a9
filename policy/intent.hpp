// intent.hpp — the ten AAMP 1.1 intents (AAMP_CORE_SPECIFICATION §"Intents").
// Pure. Names are matched exactly: the wire form is lower case.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aamp {

enum class Intent {
  task_dispatch,       // "task.dispatch": hand work to an agent
  task_cancel,         // "task.cancel": withdraw a dispatched task
  task_ack,            // "task.ack": the executor took the task
  task_help_needed,    // "task.help_needed": the executor is blocked and asks
  task_result,         // "task.result": final outcome, with Status
  task_stream_opened,  // "task.stream.opened": live progress stream, with Stream-Id
  pair_request,        // "pair.request": first contact, carries a one-time Pair-Code
  pair_respond,        // "pair.respond": the answer to pair.request, with Status
  card_query,          // "card.query": ask an agent for its capability card
  card_response,       // "card.response": the card
};

inline constexpr std::array<std::string_view, 10> kIntentNames = {
    "task.dispatch", "task.cancel",  "task.ack",     "task.help_needed", "task.result",
    "task.stream.opened", "pair.request", "pair.respond", "card.query", "card.response"};

constexpr std::string_view to_string(Intent i) noexcept { return kIntentNames[static_cast<std::size_t>(i)]; }

constexpr std::optional<Intent> parse_intent(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kIntentNames.size(); ++i)
    if (kIntentNames[i] == s) return static_cast<Intent>(i);
  return std::nullopt;
}

// "task.dispatch,card.query": a mailbox's guarded intents, in its column and aampctl's output.
inline std::string intent_list(const std::vector<Intent>& intents) {
  std::string out;
  for (const auto i : intents) {
    if (!out.empty()) out += ',';
    out += to_string(i);
  }
  return out;
}

}  // namespace aamp
