// validator.hpp — decides whether a header block is an AAMP message and whether it is
// well-formed, and decodes it. The grammar enforced is written down in docs/headers.md.
// Pure and reentrant: no globals, no allocation beyond the result.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy/aamp_message.hpp"
#include "policy/header_field.hpp"

namespace aamp {

enum class ValidationMode {
  strict,  // the default: everything the spec requires, nothing the SDKs merely tolerate
  sdk,     // also accept what the reference SDK parsers accept (missing Version, ...)
};

struct ValidatorOptions {
  ValidationMode mode = ValidationMode::strict;
  std::size_t max_field_length = 8192;  // bound on every unfolded X-AAMP value, in bytes
};

enum class Verdict {
  not_aamp,  // no X-AAMP-Intent, X-AAMP-TaskId or X-AAMP-Version
  valid,     // an AAMP message that satisfies every rule
  invalid,   // an AAMP message that breaks at least one rule
};

// Stable codes: part of the interface (aampctl --json, audit rows, logs).
enum class ViolationCode {
  missing_field,        // "missing-field": a required field is absent
  duplicate_field,      // "duplicate-field": a known X-AAMP field appears twice
  unknown_intent,       // "unknown-intent": not one of the ten intents
  unsupported_version,  // "unsupported-version": a major version other than 1
  invalid_value,        // "invalid-value": a value outside its grammar
  field_too_long,       // "field-too-long": a value over the configured bound
  multiple_from,        // "multiple-from": more than one From header
  malformed_header,     // "malformed-header": a header that cannot be read at all
};

std::string_view to_string(ViolationCode code) noexcept;
std::string_view to_string(Verdict verdict) noexcept;

struct Violation {
  ViolationCode code;
  std::string field;    // canonical name, e.g. "X-AAMP-Intent" or "From"
  std::string message;  // a sentence for humans; safe for an SMTP reply (printable ASCII)
};

struct Validation {
  Verdict verdict = Verdict::not_aamp;
  AampMessage message;               // complete when valid; best effort otherwise
  std::vector<Violation> violations;  // empty unless invalid; in header order
};

Validation validate(const HeaderList& headers, const ValidatorOptions& options = {});

// True when the header block carries any of the three fields that make mail AAMP.
// Cheaper than validate(): the milter calls it on every message.
bool is_aamp(const HeaderList& headers) noexcept;

}  // namespace aamp
