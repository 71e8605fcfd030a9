// files.hpp — small file helpers the mail tests share: write a file (with a mode, for
// scripts), read one whole, test for one, list a directory. Throw std::runtime_error when
// the file system refuses. Reentrant.
#pragma once

#include <string>
#include <vector>

namespace aamp::test {

void write_file(const std::string& path, const std::string& content, unsigned mode = 0644);
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
// Regular files directly in `dir` whose names start with `prefix`, sorted by name.
std::vector<std::string> list_files(const std::string& dir, const std::string& prefix = "");

}  // namespace aamp::test
