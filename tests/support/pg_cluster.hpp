// pg_cluster.hpp — a throwaway PostgreSQL 15 cluster for tests, started by
// tests/support/pg-cluster in a fresh temp directory (127.0.0.1, a free port, fsync off):
// role aamp with a password owns database aamp; the superuser reaches it over the unix
// socket. Stopped and removed when the object goes. PgCluster::shared() is one cluster
// per test process, started on first use (about 3 s) and stopped at exit.
// Threading: construct and destroy on one thread; url() from any; superuser_sql() is
// reentrant (one psql process per call).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace aamp::test {

class PgCluster {
 public:
  PgCluster();  // throws std::runtime_error when the cluster does not start
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // postgresql://aamp:s3cret-pw@127.0.0.1:PORT/aamp
  const std::string& url() const noexcept { return url_; }
  static constexpr const char* kPassword = "s3cret-pw";
  // The server's self-signed certificate (for 127.0.0.1): sslrootcert for verify-full.
  std::string ca_file() const { return dir_ + "/server.crt"; }
  // Runs `sql` as the superuser in database aamp (psql -At); returns its output without
  // the last newline. Throws std::runtime_error when psql fails.
  std::string superuser_sql(const std::string& sql) const;

  // One cluster for the whole test process.
  static PgCluster& shared();

 private:
  TempDir tmp_;
  std::string dir_;  // the cluster's directory, inside tmp_
  std::string url_;
  std::string port_;
};

// Runs argv (no shell), returns its stdout; throws std::runtime_error with its stderr's
// file when it exits non-zero.
std::string run_capture(const std::vector<std::string>& argv);

}  // namespace aamp::test
