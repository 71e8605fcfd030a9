// validator_fuzz.cpp — libFuzzer target (and, under GCC, a corpus replay test) for the
// validator: the input is a raw RFC 5322 header section, split into fields the way an MTA
// would hand them over, validated in both modes. Beyond "no crash, no sanitizer report" it
// checks the invariants callers rely on (and that the From fast path agrees with GMime)
// and aborts when one breaks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/address.hpp"
#include "policy/header_block.hpp"
#include "policy/text.hpp"
#include "policy/validator.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool smtp_safe(std::string_view s) {
  for (const char c : s)
    if (c < ' ' || c >= 0x7f || c == '%') return false;
  return !s.empty();
}

void check(const aamp::HeaderList& headers, aamp::ValidationMode mode) {
  const aamp::Validation v = aamp::validate(headers, {mode, 1024});
  const bool marked = aamp::is_aamp(headers);
  require(marked == (v.verdict != aamp::Verdict::not_aamp));
  require(v.violations.empty() == (v.verdict != aamp::Verdict::invalid));
  require(v.violations.size() <= 64);
  for (const auto& violation : v.violations) {
    require(smtp_safe(violation.message));
    require(smtp_safe(violation.field));
    require(!aamp::to_string(violation.code).empty());
  }
  if (v.verdict == aamp::Verdict::valid) {
    require(v.message.intent.has_value());
    require(!v.message.task_id.empty() && v.message.task_id.size() <= 256);
    require(!v.message.version.empty());
    require(v.message.from.find('@') != std::string::npos);
    if (v.message.intent == aamp::Intent::pair_request) require(v.message.pair_code.has_value());
    if (v.message.intent == aamp::Intent::task_result || v.message.intent == aamp::Intent::pair_respond)
      require(v.message.status.has_value());
  }
}

// The From fast path must agree with GMime on every value it accepts or refuses.
void check_from(const aamp::HeaderList& headers) {
  for (const auto& h : headers) {
    if (!aamp::iequals(h.name, "From")) continue;
    const std::string value = aamp::unfold(h.value);
    const auto fast = aamp::parse_from_mailbox(value);
    const auto slow = aamp::parse_from_mailbox_gmime(value);
    require(fast.ok() == slow.ok());
    if (fast.ok()) require(*fast == *slow);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const aamp::HeaderBlock block = aamp::split_header_block(text);
  require(block.size <= size);
  check(block.fields, aamp::ValidationMode::strict);
  check(block.fields, aamp::ValidationMode::sdk);
  check_from(block.fields);
  return 0;
}
