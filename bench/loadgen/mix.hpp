// mix.hpp — the messages the load generator sends: six kinds (plain mail, allowed and denied
// dispatches, invalid AAMP, pair.requests with a live or a wrong code), drawn by weight,
// addressed per corpus.hpp so the populated database decides them as their names say.
// A MessageFactory is used by one thread; the CodePool is shared (lock-free take()).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/mta_session.hpp"

namespace aamp::loadgen {

enum class Kind {
  plain,       // non-AAMP mail, half of it to protected mailboxes: passes untouched
  allowed,     // task.dispatch from an authenticated sender a rule allows
  denied,      // task.dispatch from an authenticated sender no rule allows
  invalid,     // AAMP headers that break the grammar (unknown intent, bad priority, ...)
  pair_valid,  // pair.request with a live code for that mailbox (each code used once)
  pair_wrong,  // pair.request with a code nobody issued, to mailboxes without codes
};
inline constexpr std::size_t kKinds = 6;
inline constexpr std::array<std::string_view, kKinds> kKindNames = {"plain",   "allowed",    "denied",
                                                                    "invalid", "pair_valid", "pair_wrong"};

struct Mix {
  std::array<unsigned, kKinds> weights{};
};
// "plain=60,allowed=20,denied=10,invalid=5,pair_valid=2,pair_wrong=3"; kinds left out weigh 0.
// nullopt on unknown kinds, bad numbers or an all-zero mix.
std::optional<Mix> parse_mix(std::string_view text);
std::string format_mix(const Mix& mix);

struct PairCode {
  int mailbox = 0;
  std::string code;
};

// Live codes, each handed out once across all threads.
class CodePool {
 public:
  explicit CodePool(std::vector<PairCode> codes) : codes_(std::move(codes)) {}
  const PairCode* take() noexcept;
  std::size_t size() const noexcept { return codes_.size(); }
  std::size_t taken() const noexcept;

 private:
  std::vector<PairCode> codes_;
  std::atomic<std::size_t> next_{0};
};
// Reads "MAILBOX_INDEX CODE" lines. nullopt (with `error` set) on a malformed file.
std::optional<std::vector<PairCode>> read_codes(const std::string& path, std::string* error);

struct Generated {
  Kind kind = Kind::plain;
  ClientInfo client;
  MessageSpec message;
  std::string queue_id;
};

class MessageFactory {
 public:
  MessageFactory(const Mix& mix, CodePool* codes, std::size_t body_size, std::uint64_t seed);
  // The next message. `serial` makes names unique across the run.
  Generated next(std::uint64_t serial);
  // pair_valid draws that found the pool empty (sent as pair_wrong instead).
  std::uint64_t codes_exhausted() const noexcept { return codes_exhausted_; }

 private:
  Kind draw_kind();
  int uniform(int n);
  std::string body(std::string_view first_line);

  std::discrete_distribution<int> kinds_;
  CodePool* codes_;
  std::size_t body_size_;
  std::mt19937_64 rng_;
  std::uint64_t codes_exhausted_ = 0;
};

}  // namespace aamp::loadgen
