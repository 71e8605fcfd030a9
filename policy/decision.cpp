// decision.cpp — names of actions and pairing outcomes, as written in config and logs.
#include "policy/decision.hpp"

#include <array>

#include "policy/store.hpp"

namespace aamp {

namespace {
constexpr std::array<std::string_view, 5> kActionNames = {"accept", "reject", "tempfail", "quarantine", "discard"};
}

std::string_view to_string(Action a) noexcept { return kActionNames[static_cast<std::size_t>(a)]; }

std::optional<Action> parse_action(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kActionNames.size(); ++i)
    if (kActionNames[i] == s) return static_cast<Action>(i);
  return std::nullopt;
}

std::string_view to_string(PairOutcome outcome) noexcept {
  switch (outcome) {
    case PairOutcome::completed: return "completed";
    case PairOutcome::unknown_code: return "unknown-code";
    case PairOutcome::expired: return "expired";
    case PairOutcome::already_used: return "already-used";
    case PairOutcome::revoked: return "revoked";
    case PairOutcome::locked_out: return "locked-out";
  }
  return "unknown";
}

}  // namespace aamp
