// PythonServer: fork/exec of `python -m sdbridge.cli serve`, endpoint parsed from its stdout.
#include "python_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sdbridge::testing {

std::string PythonFromEnvironment() {
  const char* p = std::getenv("SDBRIDGE_PYTHON");
  return p ? std::string(p) : std::string();
}

std::unique_ptr<PythonServer> PythonServer::Start(const std::string& python, const std::string& model,
                                                  const std::string& bind, const std::vector<std::string>& extra,
                                                  std::chrono::milliseconds timeout, std::string* error) {
  if (python.empty()) {
    *error = "SDBRIDGE_PYTHON is empty: configure with -DSDB_PYTHON=/path/to/python (sdbridge installed)";
    return nullptr;
  }
  int fds[2];
  if (pipe(fds) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  std::vector<std::string> args = {python, "-m", "sdbridge.cli", "serve", "--model", model, "--bind", bind};
  args.insert(args.end(), extra.begin(), extra.end());
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return nullptr;
  }
  if (pid == 0) {  // child: stdout -> pipe, stderr inherited (ctest shows it on failure)
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::unique_ptr<PythonServer> server(new PythonServer());
  server->pid_ = pid;
  server->stdout_fd_ = fds[0];

  // Read stdout until the "serving ... on <endpoint>" line.
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string marker = " on ";
  while (true) {
    const size_t nl = out.find('\n');
    if (nl != std::string::npos && out.compare(0, 17, "sdbridge serving ") == 0) {
      const std::string line = out.substr(0, nl);
      server->endpoint_ = line.substr(line.rfind(marker) + marker.size());
      break;
    }
    if (nl != std::string::npos) out.erase(0, nl + 1);  // some other line
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      *error = "server did not print its endpoint within " + std::to_string(timeout.count()) + " ms";
      return nullptr;  // destructor kills it
    }
    pollfd p{server->stdout_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready <= 0) continue;
    char buf[512];
    const ssize_t n = read(server->stdout_fd_, buf, sizeof(buf));
    if (n <= 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      server->pid_ = -1;
      *error = "server exited before serving (status " + std::to_string(status) + "); see its stderr above";
      return nullptr;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  // Keep draining stdout so the server never blocks on a full pipe.
  const int fd = server->stdout_fd_;
  server->drain_ = std::thread([fd] {
    char buf[512];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
  });
  return server;
}

int PythonServer::Stop(std::chrono::milliseconds timeout) {
  int result = -1;
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (true) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        result = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();  // EOF once the server is gone
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
  return result;
}

PythonServer::~PythonServer() { Stop(); }

}  // namespace sdbridge::testing
