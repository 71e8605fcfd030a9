// names.hpp — one {name, value} table per enum (Postfix's NAME_CODE tables): the table
// sits next to its enum, and config parsing, aampctl output and the stores' column codecs
// all read it, so a new value is one line. Pure, standard library only, constexpr; the
// tables are immutable and safe to share between threads.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace aamp {

template <class E>
struct Name {
  std::string_view name;  // as written in the database, config files, JSON and CLI output
  E value;
};

template <class E, std::size_t N>
using NameTable = std::array<Name<E>, N>;

// The name of `value`; "" when the table lacks it (a table test keeps every table complete).
template <class E, std::size_t N>
constexpr std::string_view name_of(const NameTable<E, N>& table, E value) noexcept {
  for (const auto& n : table)
    if (n.value == value) return n.name;
  return {};
}

// The value named exactly `text` (case-sensitive: callers lower-case config words first).
template <class E, std::size_t N>
constexpr std::optional<E> parse_name(const NameTable<E, N>& table, std::string_view text) noexcept {
  for (const auto& n : table)
    if (n.name == text) return n.value;
  return std::nullopt;
}

// The names in table order for messages: join_names(t, ", ", " or ") = "a, b or c".
template <class E, std::size_t N>
std::string join_names(const NameTable<E, N>& table, std::string_view separator, std::string_view last_separator) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? last_separator : separator;
    out += table[i].name;
  }
  return out;
}

}  // namespace aamp
