// fixtures.hpp — deterministic Clock and Rng, and builders for the header blocks and facts
// that engine, session and fuzz tests share. Test-only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/clock.hpp"
#include "policy/facts.hpp"
#include "policy/header_field.hpp"

namespace aamp::test {

class FixedClock final : public Clock {
 public:
  explicit FixedClock(UnixTime t = 1'790'000'000) : t_(t) {}  // 2026-09-21
  UnixTime now() const override { return t_; }
  void advance(UnixTime seconds) { t_ += seconds; }

 private:
  UnixTime t_;
};

// Counts upwards: distinct, repeatable bytes.
class CountingRng final : public Rng {
 public:
  void fill(std::span<std::byte> out) override {
    for (auto& b : out) b = static_cast<std::byte>(next_++);
  }

 private:
  std::uint8_t next_ = 1;
};

// X-AAMP headers of an intent, with From, Message-ID and Subject.
HeaderList aamp_headers(const std::string& intent, const std::string& from = "alice@example.com",
                        const std::string& task_id = "task-1");

// Facts for one message from `from` (also the envelope sender) to `recipients`.
MessageFacts facts_for(HeaderList headers, std::vector<std::string> recipients,
                       const std::string& envelope_from = "alice@example.com");

}  // namespace aamp::test
