// Starts and stops the real Python server (`<python> -m sdbridge.cli serve ...`) for end-to-end
// tests and the benchmark. POSIX only (fork/exec); the child dies with the test (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
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
