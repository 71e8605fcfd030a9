// temp_dir.hpp — a fresh directory under $TMPDIR (or /tmp) for one test, removed with
// everything in it when the object goes. Tests put their database files here.
#pragma once

#include <filesystem>
#include <string>

namespace aamp::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace aamp::test
