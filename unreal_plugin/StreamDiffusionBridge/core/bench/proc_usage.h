// Where the benchmark process's CPU goes, read in ways that hold on a loaded machine (CPU time, not wall time):
// getrusage(RUSAGE_SELF) for the process's CPU, minor page faults and context switches, and each thread's CPU time
// in nanoseconds from /proc/self/task/<tid>/schedstat (its first field) and minor page faults from its stat (field 10),
// grouped as the caller (the main thread), ZeroMQ's I/O threads (named "ZMQbg/...") and the rest (the client's
// worker). Linux only, like the benchmark.
#pragma once

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace sdbridge::bench {

/// One sample of this process's usage; subtract two samples for an interval.
struct Usage {
  double cpu_s = 0;       // user + system CPU of the process
  double caller_s = 0;    // the main thread's CPU (schedstat)
  double zmq_io_s = 0;    // ZeroMQ background threads' CPU
  double other_s = 0;     // every other thread (the client's worker)
  double minflt = 0;      // minor page faults of the process (a fresh page touched)
  double csw = 0;         // voluntary + involuntary context switches
  double caller_minflt = 0;  // the main thread's minor page faults
  double zmq_io_minflt = 0;  // ZeroMQ background threads' minor page faults

  Usage operator-(const Usage& b) const {
    return Usage{cpu_s - b.cpu_s,   caller_s - b.caller_s, zmq_io_s - b.zmq_io_s,
                 other_s - b.other_s, minflt - b.minflt,   csw - b.csw,
                 caller_minflt - b.caller_minflt, zmq_io_minflt - b.zmq_io_minflt};
  }
  Usage operator/(double n) const {
    return Usage{cpu_s / n, caller_s / n, zmq_io_s / n, other_s / n, minflt / n, csw / n, caller_minflt / n,
                 zmq_io_minflt / n};
  }
};

namespace detail {
inline std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

/// Field 10 of /proc/<pid>/task/<tid>/stat (minflt); the fields after the ")" that ends the thread's name start at 3.
inline double MinorFaults(const std::string& stat) {
  size_t at = stat.rfind(')');  // then " <field 3> <field 4> ...": after the step for `field`, at = the space
                                // before field + 1
  if (at == std::string::npos) return 0;
  for (int field = 3; field < 10 && at != std::string::npos; ++field) at = stat.find(' ', at + 2);
  return at == std::string::npos ? 0 : std::atof(stat.c_str() + at + 1);
}

}  // namespace detail

/// This thread's CPU seconds (CLOCK_THREAD_CPUTIME_ID, nanoseconds: RUSAGE_THREAD's user/system split is rescaled
/// from ticks and can step backwards over a few microseconds) and minor page faults (RUSAGE_THREAD) so far.
inline void ThreadUsage(double* cpu_s, double* minflt) {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  *cpu_s = static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  rusage r{};
  getrusage(RUSAGE_THREAD, &r);
  *minflt = static_cast<double>(r.ru_minflt);
}

/// The process's usage now.
inline Usage ReadUsage() {
  Usage u;
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  u.cpu_s = static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
            static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
  u.minflt = static_cast<double>(r.ru_minflt);
  u.csw = static_cast<double>(r.ru_nvcsw + r.ru_nivcsw);
  const std::string self = std::to_string(getpid());
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return u;
  while (dirent* e = readdir(dir)) {
    const std::string tid = e->d_name;
    if (tid == "." || tid == "..") continue;
    const std::string base = "/proc/self/task/" + tid;
    const double cpu_s = std::atof(detail::ReadLine(base + "/schedstat").c_str()) * 1e-9;  // ns on CPU
    const double minflt = detail::MinorFaults(detail::ReadLine(base + "/stat"));
    if (tid == self) {
      u.caller_s += cpu_s;
      u.caller_minflt += minflt;
    } else if (detail::ReadLine(base + "/comm").rfind("ZMQbg", 0) == 0) {
      u.zmq_io_s += cpu_s;
      u.zmq_io_minflt += minflt;
    } else {
      u.other_s += cpu_s;
    }
  }
  closedir(dir);
  return u;
}

}  // namespace sdbridge::bench
