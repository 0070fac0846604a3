// Starts and stops the real Python server (`<python> -m sdbridge.cli serve ...`) for end-to-end
// tests and the benchmark. POSIX only (fork/exec); the child dies with the test (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sdbridge::testing {

class PythonServer {
 public:
  /// Start `python -m sdbridge.cli serve --model <model> --bind <bind> <extra...>` and wait until it
  /// prints "sdbridge serving <model> on <endpoint>". `bind` may end in ":*" (a free port). Returns
  /// nullptr and sets *error if python is empty, the process fails, or `timeout` passes.
  static std::unique_ptr<PythonServer> Start(const std::string& python, const std::string& model,
                                             const std::string& bind, const std::vector<std::string>& extra,
                                             std::chrono::milliseconds timeout, std::string* error);
  ~PythonServer();
  PythonServer(const PythonServer&) = delete;
  PythonServer& operator=(const PythonServer&) = delete;

  /// The endpoint the server printed (the real port when bound to ":*").
  const std::string& endpoint() const { return endpoint_; }
  /// SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit status (-1 if killed/unknown).
  int Stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

 private:
  PythonServer() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string endpoint_;
  std::thread drain_;
};

/// SDBRIDGE_PYTHON from the environment (set by ctest from -DSDB_PYTHON), or "".
std::string PythonFromEnvironment();

}  // namespace sdbridge::testing

/// First line of a GoogleTest body that needs the real server: without SDBRIDGE_PYTHON the test is skipped, or fails
/// when SDBRIDGE_REQUIRE_E2E=1 (CI), where a missing server must not pass as a skip.
#define SDB_SKIP_WITHOUT_PYTHON()                                                                               \
  do {                                                                                                          \
    if (::sdbridge::testing::PythonFromEnvironment().empty()) {                                                 \
      const char* required = std::getenv("SDBRIDGE_REQUIRE_E2E");                                               \
      if (required && std::string(required) == "1") FAIL() << "SDBRIDGE_PYTHON is not set but E2E is required"; \
      GTEST_SKIP() << "SDBRIDGE_PYTHON not set (configure with -DSDB_PYTHON=...)";                              \
    }                                                                                                           \
  } while (0)
