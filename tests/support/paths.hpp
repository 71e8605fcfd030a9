// paths.hpp — where tests find the source tree, the build tree and ../shared/.
#pragma once

#include <string>

namespace aamp::test {

std::string source_dir();  // the project's root
std::string binary_dir();  // the build directory
std::string shared_dir();  // ../shared beside the project (conformance fixtures)

}  // namespace aamp::test
