// paths.cpp — see paths.hpp. AAMP_SHARED_DIR can be overridden from the environment.
#include "tests/support/paths.hpp"

#include <cstdlib>

namespace aamp::test {

std::string source_dir() { return AAMP_SOURCE_DIR; }
std::string binary_dir() { return AAMP_BINARY_DIR; }
std::string shared_dir() {
  if (const char* env = std::getenv("AAMP_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return AAMP_SHARED_DIR;
}

}  // namespace aamp::test
