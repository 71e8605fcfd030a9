// exposition.hpp — the Prometheus text exposition format, version 0.0.4: families of
// samples in, the text a scraper reads out. Pure, standard library only.
// https://prometheus.io/docs/instrumenting/exposition_formats/ — a family is "# HELP",
// "# TYPE", then its samples; label values escape backslash, double quote and newline;
// HELP text escapes backslash and newline; values are Go-style floats (+Inf, NaN).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aamp::metrics {

enum class Type { counter, gauge, histogram };

struct Label {
  std::string name;
  std::string value;
};

struct Sample {
  std::string suffix;  // "" or, for a histogram, "_bucket", "_sum", "_count"
  std::vector<Label> labels;
  double value = 0;
};

struct Family {
  std::string name;
  std::string help;
  Type type = Type::counter;
  std::vector<Sample> samples;
};

// The MIME type a /metrics response carries.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// 3, 0.25, +Inf, -Inf, NaN; integers without a decimal point or exponent up to 2^53.
std::string format_value(double value);
// The whole exposition: every family in order, each ending in a newline.
std::string format(const std::vector<Family>& families);
// True when `name` is a valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*; no ':' in labels).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace aamp::metrics
