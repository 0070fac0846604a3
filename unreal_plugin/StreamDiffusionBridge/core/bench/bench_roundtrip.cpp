// bench_roundtrip: 512x512 RGBA round trips through `sdbridge serve --model identity`, the C++ client
// against the Python reference client (BridgeClient), both measured in the same run against the same
// server, alternating (Python, C++, C++ with moved buffers, Python, ...). The C++ client runs twice per round:
// SubmitFrame(view), which copies the caller's pixels, and SubmitFrame(view, buffer) with buffers from
// TakeFrameBuffer, which sends the buffer itself (as an engine that reads its frame back into that buffer
// would). Prints every round and the C++/Python ratios. Speed is reported, never asserted. For the C++ runs it also
// prints where the client's CPU goes per frame (proc_usage.h: CPU time, page faults and context switches, which hold
// on a loaded machine, unlike frames/s): the caller thread (and the part of it inside SubmitFrame), the worker,
// ZeroMQ's I/O thread.
//
// Usage: bench_roundtrip [--python PY] [--size 512] [--frames 400] [--latency-frames 300] [--rounds 2]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "proc_usage.h"
#include "python_server.h"
#include "sdbridge/client.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Figures {
  double fps = 0;
  double cpu_us_per_frame = 0;  // client process user+sys CPU during the throughput run, per result
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t dropped = 0;
  bool ok = false;
  sdbridge::bench::Usage per_frame;  // C++ runs: the throughput run's usage per result (proc_usage.h)
  double submit_us_per_frame = 0;    // C++ runs: the caller thread's CPU inside SubmitFrame (and TakeFrameBuffer)
  double submit_faults_per_frame = 0;  // C++ runs: the caller thread's minor page faults inside them
};

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

// Same pattern as python_reference.py: R = x*4+t, G = y*4, B = (x+y)*2, A = 255 (mod 256).
std::vector<std::vector<uint8_t>> MakeFrames(uint32_t size, int count = 8) {
  std::vector<std::vector<uint8_t>> frames;
  for (int t = 0; t < count; ++t) {
    std::vector<uint8_t> px(static_cast<size_t>(size) * size * 4);  // (H, W, 4) RGBA top-down
    for (uint32_t y = 0; y < size; ++y) {
      for (uint32_t x = 0; x < size; ++x) {
        uint8_t* p = &px[(static_cast<size_t>(y) * size + x) * 4];
        p[0] = static_cast<uint8_t>((x * 4 + static_cast<uint32_t>(t)) % 256);
        p[1] = static_cast<uint8_t>((y * 4) % 256);
        p[2] = static_cast<uint8_t>(((x + y) * 2) % 256);
        p[3] = 255;
      }
    }
    frames.push_back(std::move(px));
  }
  return frames;
}

// The caller thread's CPU for one memcpy of a frame (the i-th of `frames`, cycling, as the runs submit them) into
// one of `targets` buffers, taken in turn: with 1 the target stays in the cache, the least the copying
// SubmitFrame(view) can add to the moved-buffer path; with a few, each copy writes a cold buffer, as SubmitFrame's
// copy into a pooled buffer that the socket send read last does.
double MemcpyUsPerFrame(const std::vector<std::vector<uint8_t>>& frames, int count, size_t targets) {
  std::vector<std::vector<uint8_t>> to(targets, std::vector<uint8_t>(frames[0].size()));
  double start = 0, end = 0, faults = 0;
  sdbridge::bench::ThreadUsage(&start, &faults);
  for (int i = 0; i < count; ++i) {
    const std::vector<uint8_t>& source = frames[static_cast<size_t>(i) % frames.size()];
    std::vector<uint8_t>& target = to[static_cast<size_t>(i) % targets];
    std::memcpy(target.data(), source.data(), source.size());
    asm volatile("" : : "r"(target.data()) : "memory");  // the copy is used: the compiler keeps it (GCC, Clang)
  }
  sdbridge::bench::ThreadUsage(&end, &faults);
  return (end - start) * 1e6 / count;
}

// One frame of `frames` (the i-th, cycling): copied by SubmitFrame(view), or (moved) in a pooled buffer.
bool SubmitOne(sdbridge::Client& client, const std::vector<std::vector<uint8_t>>& frames, sdbridge::FrameView* view,
               int i, bool moved) {
  const size_t k = static_cast<size_t>(i) % frames.size();
  if (!moved) {
    view->pixels = frames[k].data();
    return client.SubmitFrame(*view).ok();
  }
  // a buffer a sent frame went back to (its pixels are an earlier frame's): the renderer's frame would be read
  // back into it; here one byte is written
  std::vector<uint8_t> buffer = client.TakeFrameBuffer(view->size);
  buffer[0] = frames[k][0];
  return client.SubmitFrame(*view, std::move(buffer)).ok();
}

// Throughput with the server's credits in flight; replaced frames come back as Credit (dropped). Fills fps, CPU,
// usage per frame and dropped; false when the run fails.
template <typename Submit>
bool Throughput(sdbridge::Client& client, int n_tp, Submit&& submit, const double& submit_s,
                const double& submit_faults, Figures* f) {
  const uint64_t dropped_before = client.GetCounters().frames_answered_by_credit;
  int sent = 0;
  int received = 0;
  sdbridge::FrameResult result;
  const sdbridge::bench::Usage usage_start = sdbridge::bench::ReadUsage();
  const double submit_start = submit_s;
  const double submit_faults_start = submit_faults;
  const auto start = Clock::now();
  auto answered = [&] {
    return static_cast<uint64_t>(received) + client.GetCounters().frames_answered_by_credit - dropped_before;
  };
  while (answered() < static_cast<uint64_t>(n_tp)) {
    while (sent < n_tp && client.WaitUntilReadyToSend(milliseconds(0))) {
      if (!submit(sent)) return false;
      ++sent;
    }
    if (client.WaitForResult(&result, milliseconds(1))) {
      ++received;
    } else if (sent == n_tp && Clock::now() - start > std::chrono::seconds(600)) {
      std::fprintf(stderr, "C++ throughput run stalled at %d results\n", received);
      return false;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const sdbridge::bench::Usage used = sdbridge::bench::ReadUsage() - usage_start;
  const double n = received;
  f->per_frame = used / n;
  f->cpu_us_per_frame = used.cpu_s * 1e6 / n;
  f->submit_us_per_frame = (submit_s - submit_start) * 1e6 / sent;
  f->submit_faults_per_frame = (submit_faults - submit_faults_start) / sent;
  f->fps = received / elapsed;
  f->dropped = client.GetCounters().frames_answered_by_credit - dropped_before;
  return true;
}

Figures RunCpp(const std::string& endpoint, uint32_t size, int n_tp, int n_lat, bool moved) {
  Figures f;
  sdbridge::ClientConfig cfg;
  cfg.endpoint = endpoint;
  cfg.client_name = "bench-cpp";
  cfg.engine_name = "bench";
  cfg.max_pending_results = 8;
  sdbridge::Client client(cfg);
  if (!client.Start().ok() || !client.WaitForState(sdbridge::ConnectionState::kConnected, milliseconds(30000))) {
    std::fprintf(stderr, "C++ client could not connect to %s\n", endpoint.c_str());
    return f;
  }
  const auto frames = MakeFrames(size);
  sdbridge::FrameView view;
  view.layout = sdbridge::PixelLayout{size, size, size * 4, sdbridge::PixelFormat::kRGBA8, sdbridge::RowOrder::kTopDown,
                                      sdbridge::ColorSpace::kSRGB, sdbridge::AlphaMode::kIgnore};
  view.size = frames[0].size();
  double submit_s = 0;       // the caller thread's CPU inside SubmitOne
  double submit_faults = 0;  // and its minor page faults there
  auto submit = [&](int i) {
    double cpu_before = 0, cpu_after = 0, faults_before = 0, faults_after = 0;
    sdbridge::bench::ThreadUsage(&cpu_before, &faults_before);
    const bool ok = SubmitOne(client, frames, &view, i, moved);
    sdbridge::bench::ThreadUsage(&cpu_after, &faults_after);
    submit_s += cpu_after - cpu_before;
    submit_faults += faults_after - faults_before;
    return ok;
  };
  // 1) sequential round trips (one frame in flight): p50 / p99
  std::vector<double> rtts;
  sdbridge::FrameResult result;
  for (int i = 0; i < n_lat + 20; ++i) {
    const auto start = Clock::now();
    if (!submit(i) || !client.WaitForResult(&result, milliseconds(10000))) {
      std::fprintf(stderr, "C++ sequential round trip %d failed\n", i);
      return f;
    }
    if (i >= 20) rtts.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  // 2) throughput
  if (!Throughput(client, n_tp, submit, submit_s, submit_faults, &f)) return f;
  f.p50_ms = Percentile(rtts, 0.5);
  f.p99_ms = Percentile(rtts, 0.99);
  f.ok = true;
  return f;
}

double JsonNumber(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\": ";
  const size_t at = json.find(k);
  return at == std::string::npos ? -1.0 : std::atof(json.c_str() + at + k.size());
}

Figures RunPython(const std::string& python, const std::string& endpoint, uint32_t size, int n_tp, int n_lat) {
  Figures f;
  const std::string cmd = "'" + python + "' '" SDB_PYTHON_REFERENCE "' --endpoint '" + endpoint +
                          "' --size " + std::to_string(size) + " --frames " + std::to_string(n_tp) +
                          " --latency-frames " + std::to_string(n_lat);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return f;
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe)) out += buf;
  const int rc = pclose(pipe);
  if (rc != 0 || out.find("\"fps\"") == std::string::npos) {
    std::fprintf(stderr, "python reference failed (exit %d): %s\n", rc, out.c_str());
    return f;
  }
  f.fps = JsonNumber(out, "fps");
  f.p50_ms = JsonNumber(out, "p50_ms");
  f.p99_ms = JsonNumber(out, "p99_ms");
  f.dropped = static_cast<uint64_t>(JsonNumber(out, "dropped"));
  f.cpu_us_per_frame = JsonNumber(out, "cpu_us_per_frame");
  f.ok = true;
  return f;
}

void Print(const char* who, int round, const Figures& f, bool cpp) {
  std::printf("round %d  %-22s %8.1f frames/s   p50 %6.2f ms   p99 %6.2f ms   client CPU %6.0f us/frame   "
              "dropped by server %llu\n",
              round, who, f.fps, f.p50_ms, f.p99_ms, f.cpu_us_per_frame, static_cast<unsigned long long>(f.dropped));
  if (!cpp) return;
  const sdbridge::bench::Usage& u = f.per_frame;
  std::printf("round %d  %-22s per frame: caller %4.0f us (SubmitFrame %4.0f us), worker %4.0f us, ZeroMQ I/O "
              "%4.0f us; %5.1f page faults (caller %5.1f, SubmitFrame %5.1f, ZeroMQ I/O %5.1f), %4.1f context "
              "switches\n",
              round, who, u.caller_s * 1e6, f.submit_us_per_frame, u.other_s * 1e6, u.zmq_io_s * 1e6, u.minflt,
              u.caller_minflt, f.submit_faults_per_frame, u.zmq_io_minflt, u.csw);
}

}  // namespace

int main(int argc, char** argv) {
  std::string python = SDB_DEFAULT_PYTHON;
  if (const char* env = std::getenv("SDBRIDGE_PYTHON")) python = env;
  uint32_t size = 512;
  int n_tp = 400;
  int n_lat = 300;
  int rounds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--python") python = argv[i + 1];
    else if (a == "--size") size = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    else if (a == "--frames") n_tp = std::atoi(argv[i + 1]);
    else if (a == "--latency-frames") n_lat = std::atoi(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (python.empty() || size == 0 || n_tp <= 0 || n_lat <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: bench_roundtrip --python PY [--size 512] [--frames 400] [--latency-frames 300] "
                         "[--rounds 2]\n");
    return 2;
  }
  std::string error;
  auto server = sdbridge::testing::PythonServer::Start(python, "identity", "tcp://127.0.0.1:*", {},
                                                       milliseconds(120000), &error);
  if (!server) {
    std::fprintf(stderr, "cannot start the server: %s\n", error.c_str());
    return 1;
  }
  std::printf("bench_roundtrip: %ux%u RGBA8, identity model, %s, server credits (default 2) in flight for "
              "frames/s, %d sequential round trips for p50/p99, %d frames per throughput run\n",
              size, size, server->endpoint().c_str(), n_lat, n_tp);
  const auto frames = MakeFrames(size);
  std::printf("one memcpy of a frame (caller thread CPU): %.0f us into one reused buffer, %.0f us into 4 in turn\n",
              MemcpyUsPerFrame(frames, n_tp, 1), MemcpyUsPerFrame(frames, n_tp, 4));
  std::vector<Figures> py, cpp, moved;
  for (int r = 1; r <= rounds; ++r) {
    py.push_back(RunPython(python, server->endpoint(), size, n_tp, n_lat));
    if (py.back().ok) Print("python BridgeClient", r, py.back(), false);
    cpp.push_back(RunCpp(server->endpoint(), size, n_tp, n_lat, false));
    if (cpp.back().ok) Print("C++ sdbridge::Client", r, cpp.back(), true);
    moved.push_back(RunCpp(server->endpoint(), size, n_tp, n_lat, true));
    if (moved.back().ok) Print("C++ moved buffers", r, moved.back(), true);
    if (!py.back().ok || !cpp.back().ok || !moved.back().ok) return 1;
    std::printf("round %d  ratio C++/Python: frames/s %.2fx, p50 %.2fx; moved buffers: frames/s %.2fx, p50 %.2fx\n",
                r, cpp.back().fps / py.back().fps, cpp.back().p50_ms / py.back().p50_ms,
                moved.back().fps / py.back().fps, moved.back().p50_ms / py.back().p50_ms);
  }
  double py_fps = 0, cpp_fps = 0, py_p50 = 0, cpp_p50 = 0;
  double py_cpu = 0, cpp_cpu = 0, moved_fps = 0, moved_cpu = 0;
  double worst = 1e9;
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    const double ratio = cpp[static_cast<size_t>(r)].fps / py[static_cast<size_t>(r)].fps;
    worst = std::min(worst, ratio);
    best = std::max(best, ratio);
    py_fps += py[static_cast<size_t>(r)].fps / rounds;
    cpp_fps += cpp[static_cast<size_t>(r)].fps / rounds;
    py_p50 += py[static_cast<size_t>(r)].p50_ms / rounds;
    py_cpu += py[static_cast<size_t>(r)].cpu_us_per_frame / rounds;
    cpp_cpu += cpp[static_cast<size_t>(r)].cpu_us_per_frame / rounds;
    cpp_p50 += cpp[static_cast<size_t>(r)].p50_ms / rounds;
    moved_fps += moved[static_cast<size_t>(r)].fps / rounds;
    moved_cpu += moved[static_cast<size_t>(r)].cpu_us_per_frame / rounds;
  }
  std::printf("mean over %d rounds: C++ %.1f frames/s vs Python %.1f frames/s = %.2fx (goal >= 1.00x); "
              "p50 C++ %.2f ms vs Python %.2f ms = %.2fx\n",
              rounds, cpp_fps, py_fps, cpp_fps / py_fps, cpp_p50, py_p50, cpp_p50 / py_p50);
  std::printf("per-round frames/s ratio C++/Python: min %.2fx, max %.2fx; client CPU per frame: C++ %.0f us vs "
              "Python %.0f us\n",
              worst, best, cpp_cpu, py_cpu);
  std::printf("moved buffers (SubmitFrame(view, TakeFrameBuffer buffer), no copy): %.1f frames/s = %.2fx Python; "
              "client CPU per frame %.0f us\n",
              moved_fps, moved_fps / py_fps, moved_cpu);
  server->Stop();
  return 0;
}
