// cli11.hpp — CLI11 (Debian's libcli11-dev, header-only) for aampctl. GCC 12 at -O2 reports a
// -Wnull-dereference false positive in std::string code that CLI::detail::split() inlines
// (a moved-from string in vector growth); it is silenced for this header's code only.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
