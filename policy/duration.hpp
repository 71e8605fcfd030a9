// duration.hpp — the one duration grammar of the config file and aampctl: "500ms", "30s",
// "15m", "2h", "7d", combinations such as "1h30m", or a bare number of seconds ("90").
// Pure; bounded to ten years; never throws on bad input.
#pragma once

#include <cstdint>
#include <string_view>

#include "policy/result.hpp"

namespace aamp {

// Milliseconds. Units are case-insensitive; zero is allowed (callers bound it).
Result<std::int64_t> parse_duration_ms(std::string_view text);

}  // namespace aamp
