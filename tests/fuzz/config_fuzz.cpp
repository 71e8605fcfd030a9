// config_fuzz.cpp — the configuration parser on arbitrary bytes: it must return a Config or
// an error sentence, never crash, hang or read outside its input. `file:` lists and
// SenderLogins are served from a fixed in-memory text, so no input can make it open a
// file. Under GCC this replays tests/fuzz/corpus/config/ (replay_main.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "milter/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const aamp::milter::FileReader files = [](const std::string& path) -> aamp::Result<std::string> {
    if (path.find("logins") != std::string::npos) return std::string("alice@example.test alice@example.test, @x.test\n");
    if (path.find("hosts") != std::string::npos) return std::string("192.0.2.0/24\n# c\n2001:db8::/32\n");
    return aamp::Error{"no such file in the fuzz target: " + path};
  };
  auto config = aamp::milter::parse_config(text, "fuzz.conf", "/etc/aamp-milter", "mx.example.test", files);
  if (!config.ok() && config.error().empty()) __builtin_trap();  // every refusal says why
  return 0;
}
