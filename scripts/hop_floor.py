"""The floor under a balancer's cost on this host: what any user-space TCP hop adds to a 1 MiB round trip.

`sdbridge bench transport --via` measures what HAProxy adds to the bridge's round trip. This script asks how
much of that any forwarder would add on the same host, with no ZeroMQ and no bridge: a plain TCP echo of 1 MiB
messages (the size of a 512x512 RGBA frame), reached straight and through

- a minimal forwarder in C, `read`/`write` with a 1 MiB buffer (compiled here with `cc`, skipped without one),
- the same forwarder with `splice` through a 1 MiB pipe (no copy into user space),
- HAProxy with the deploy config's tuning (`deploy/haproxy/haproxy.cfg`: mode tcp, 1 MiB buffers, splice-auto),
  one server line (skipped when `haproxy` is not installed),

in alternating rounds of one run, so the machine's load falls on every path alike. It prints each path's median
of the rounds' p50s and the added p50 against straight.

    python scripts/hop_floor.py [--rounds 12] [--trips 200]

Standard library only; every process it starts listens on a free loopback port and is stopped at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LOG = logging.getLogger("hop_floor")
SIZE = 1 << 20  # bytes per message each way: a 512x512 RGBA frame
WARMUP = 20  # round trips left out of each round
ROOT = Path(__file__).resolve().parents[1]

FORWARDER_C = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#define N (1 << 20)
static int use_splice;
struct pair { int from, to; };
static void *pump(void *arg) {
  struct pair p = *(struct pair *)arg; free(arg);
  if (use_splice) {
    int fd[2]; if (pipe(fd)) return 0; fcntl(fd[1], F_SETPIPE_SZ, N);
    for (;;) { ssize_t k = splice(p.from, 0, fd[1], 0, N, SPLICE_F_MOVE); if (k <= 0) break;
      while (k > 0) { ssize_t w = splice(fd[0], 0, p.to, 0, k, SPLICE_F_MOVE); if (w <= 0) return 0; k -= w; } }
  } else {
    char *buf = malloc(N);
    for (;;) { ssize_t k = read(p.from, buf, N); if (k <= 0) break;
      for (ssize_t o = 0; o < k;) { ssize_t w = write(p.to, buf + o, k - o); if (w <= 0) return 0; o += w; } }
  }
  shutdown(p.to, SHUT_WR); return 0;
}
static void start(int from, int to) {
  struct pair *p = malloc(sizeof *p); p->from = from; p->to = to; pthread_t t;
  pthread_create(&t, 0, pump, p); pthread_detach(t);
}
int main(int argc, char **argv) {
  int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0); use_splice = argc > 3;
  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(0x7f000001);
  a.sin_port = htons(atoi(argv[1])); setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 8)) return 1;
  for (;;) {
    int c = accept(ls, 0, 0), u = socket(AF_INET, SOCK_STREAM, 0); a.sin_port = htons(atoi(argv[2]));
    if (c < 0 || connect(u, (void *)&a, sizeof a)) return 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    start(c, u); start(u, c);
  }
}
"""


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recv_exact(sock: socket.socket, buf: bytearray) -> None:
    """Fill `buf` from `sock`; EOFError when the peer closes first."""
    view, got = memoryview(buf), 0
    while got < len(buf):
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError("peer closed mid-message")
        got += k


def echo_server(listener: socket.socket) -> None:
    """Echo every 1 MiB message back, one thread per connection, until the listener closes."""
    def serve(conn: socket.socket) -> None:
        buf = bytearray(SIZE)
        with conn:
            try:
                while True:
                    recv_exact(conn, buf)
                    conn.sendall(buf)
            except (EOFError, OSError):
                return

    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def round_trip_p50(port: int, trips: int) -> float:
    """p50 (ms) of `trips` sequential 1 MiB round trips on a new connection, after WARMUP left out."""
    message, buf, times = os.urandom(SIZE), bytearray(SIZE), []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(trips + WARMUP):
            start = time.perf_counter()
            sock.sendall(message)
            recv_exact(sock, buf)
            if i >= WARMUP:
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def wait_listening(port: int, deadline_s: float = 10.0) -> None:
    """Return once something accepts on `port`; RuntimeError naming the port after the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline_s} s")


def haproxy_config(front: int, back: int) -> str:
    """The deploy config's global and defaults tuning, one frontend on `front`, one server on `back`."""
    text = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    head = text.split("\nfrontend", 1)[0]
    return (f"{head}\nfrontend hop\n    bind 127.0.0.1:{front}\n    default_backend echo\n"
            f"backend echo\n    server echo 127.0.0.1:{back}\n")


def start_forwarders(work: Path, echo: int) -> tuple[dict[str, int], list[subprocess.Popen]]:
    """Start every forwarder this host can run in front of the echo port: {path name: port}, processes."""
    paths, procs = {}, []
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc:
        (work / "fwd.c").write_text(FORWARDER_C)
        subprocess.run([cc, "-O2", "-pthread", str(work / "fwd.c"), "-o", str(work / "fwd")], check=True)
        for name, extra in (("C read/write", []), ("C splice", ["splice"])):
            paths[name] = free_port()
            procs.append(subprocess.Popen([str(work / "fwd"), str(paths[name]), str(echo), *extra]))
    else:
        LOG.warning("no C compiler (cc/gcc): the C forwarders are left out")
    if shutil.which("haproxy"):
        paths["HAProxy (deploy tuning)"] = port = free_port()
        (work / "haproxy.cfg").write_text(haproxy_config(port, echo))
        procs.append(subprocess.Popen(["haproxy", "-f", str(work / "haproxy.cfg")]))
    else:
        LOG.warning("haproxy is not installed: its path is left out")
    return paths, procs


def measure(rounds: int, trips: int) -> dict[str, list[float]]:
    """{path: [p50 ms per round]} for straight and every forwarder, in alternating rounds."""
    listener = socket.create_server(("127.0.0.1", 0))
    echo = listener.getsockname()[1]
    threading.Thread(target=echo_server, args=(listener,), daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="hop_floor.") as tmp:
        forwarders, procs = start_forwarders(Path(tmp), echo)
        try:
            ports = {"straight": echo, **forwarders}
            for port in ports.values():
                wait_listening(port)
            results: dict[str, list[float]] = {name: [] for name in ports}
            order = list(ports)
            for r in range(rounds):
                for name in order if r % 2 == 0 else order[::-1]:
                    results[name].append(round_trip_p50(ports[name], trips))
            return results
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
            listener.close()


def report(results: dict[str, list[float]], trips: int) -> list[str]:
    """One line per path: median of the rounds' p50s, their range, and the added p50 against straight."""
    base = statistics.median(results["straight"])
    rounds = len(results["straight"])
    lines = [f"1 MiB TCP echo round trips on loopback, {rounds} alternating rounds of {trips} per path",
             f"{'path':<26}{'p50 ms':>9}{'rounds min-max':>18}{'added':>10}"]
    for name, p50s in results.items():
        mid = statistics.median(p50s)
        added = "" if name == "straight" else f"{mid - base:+.3f}"
        lines.append(f"{name:<26}{mid:>9.3f}{min(p50s):>9.3f}-{max(p50s):<8.3f}{added:>10}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12, help="alternating rounds per path (default 12)")
    parser.add_argument("--trips", type=int, default=200, help="measured round trips per round (default 200)")
    args = parser.parse_args(argv)
    for flag, value in (("--rounds", args.rounds), ("--trips", args.trips)):
        if value < 1:
            parser.error(f"{flag}={value} must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    LOG.info("load average before: %s", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    lines = report(measure(args.rounds, args.trips), args.trips)
    LOG.info("\n".join(lines))
    LOG.info("load average after: %s", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
