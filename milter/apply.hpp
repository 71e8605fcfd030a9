// apply.hpp — turning a Decision into smfi_* calls (apply.cpp). libmilter types: only the
// libmilter files of milter/ include this.
// Threading: call on the connection's libmilter thread, in the end-of-message callback.
#pragma once

#include <libmilter/mfapi.h>

#include "policy/decision.hpp"

namespace aamp::milter {

// Applies `d` (header removals, then additions, recipient removals, reply, quarantine) and
// returns the status for the end-of-message callback. Throws std::runtime_error when a
// smfi_* call fails.
sfsistat apply_decision(SMFICTX* ctx, const Decision& d);

}  // namespace aamp::milter
