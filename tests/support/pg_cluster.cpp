// pg_cluster.cpp — see pg_cluster.hpp.
#include "tests/support/pg_cluster.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "tests/support/files.hpp"
#include "tests/support/paths.hpp"

extern char** environ;

namespace aamp::test {

std::string run_capture(const std::vector<std::string>& argv) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw std::runtime_error("cannot run " + argv[0]);
  }
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    output.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(argv[0] + " failed (status " + std::to_string(status) + "): " + output);
  if (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

namespace {
std::string script() { return source_dir() + "/tests/support/pg-cluster"; }
}  // namespace

PgCluster::PgCluster() {
  // Run as root the server runs as postgres: it must traverse the temp dir to its own.
  std::filesystem::permissions(tmp_.path(),
                               std::filesystem::perms::group_exec | std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  dir_ = tmp_.file("pg");
  url_ = run_capture({script(), "start", dir_});
  port_ = read_file(dir_ + "/port");
  while (!port_.empty() && port_.back() == '\n') port_.pop_back();
}

PgCluster::~PgCluster() {
  try {
    run_capture({script(), "stop", dir_});
  } catch (...) {  // never throw from a destructor; TempDir removes what is left
  }
}

std::string PgCluster::superuser_sql(const std::string& sql) const {
  return run_capture({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", dir_, "-p", port_, "-U", "postgres",
                      "-d", "aamp", "-c", "SET client_min_messages = warning; " + sql});
}

PgCluster& PgCluster::shared() {
  static PgCluster cluster;  // destroyed at exit: the server stops with the test process
  return cluster;
}

}  // namespace aamp::test
