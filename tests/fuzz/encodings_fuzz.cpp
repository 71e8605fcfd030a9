// encodings_fuzz.cpp — libFuzzer target (and, under GCC, a corpus replay test) for the
// decoders in policy/encodings.hpp. The first byte picks the decoder, the rest is its
// input. Whatever a decoder accepts must survive a round trip through its encoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/encodings.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void base64url(std::string_view in) {
  const auto bytes = aamp::base64url_decode(in);
  if (!bytes) return;
  const auto again = aamp::base64url_decode(aamp::base64url_encode(*bytes));
  require(again.ok() && *again == *bytes);
  require(aamp::is_base64url(aamp::base64url_encode(*bytes)) == !bytes->empty());
}

void percent(std::string_view in) {
  const auto text = aamp::percent_decode_utf8(in);
  if (!text) return;
  require(aamp::is_valid_utf8(*text));
  const auto again = aamp::percent_decode_utf8(aamp::percent_encode(*text));
  require(again.ok() && *again == *text);
}

void dispatch_context(std::string_view in, bool lenient) {
  const auto ctx = aamp::parse_dispatch_context(in, lenient);
  if (!ctx) return;
  const auto again = aamp::parse_dispatch_context(aamp::format_dispatch_context(*ctx));
  require(again.ok() && *again == *ctx);
}

void rules(std::string_view in, bool encoded) {
  const auto r = encoded ? aamp::decode_context_rules(in) : aamp::parse_context_rules_json(in);
  if (!r) return;
  const auto again = aamp::decode_context_rules(aamp::encode_context_rules(*r));
  require(again.ok() && *again == *r);
}

void structured_result(std::string_view in) {
  const auto json = aamp::decode_structured_result(in);
  if (json) require(aamp::is_valid_utf8(*json));
}

void rfc3339(std::string_view in) {
  const auto t = aamp::parse_rfc3339(in);
  if (!t) return;
  // Offsets can move a time just outside years 0000-9999, which the format cannot write.
  constexpr aamp::UnixTime kYear0 = -62167219200;
  constexpr aamp::UnixTime kYear10000 = 253402300800;
  if (*t < kYear0 || *t >= kYear10000) return;
  const auto again = aamp::parse_rfc3339(aamp::format_rfc3339(*t));
  require(again.ok() && *again == *t);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: base64url(in); break;
    case 1: percent(in); break;
    case 2: dispatch_context(in, false); break;
    case 3: dispatch_context(in, true); break;
    case 4: rules(in, true); break;
    case 5: rules(in, false); break;
    case 6: structured_result(in); break;
    default: rfc3339(in); break;
  }
  (void)aamp::is_valid_utf8(in);
  return 0;
}
