"""The failover of test_failover.py for a person to watch (scripts/scale_demo.sh): 3 identity replicas on the
ports of deploy/haproxy/haproxy.cfg (5601..5603, metrics 9601..9603) with their preview pages, Debian's haproxy
with that very file on 127.0.0.1:5555, and streaming clients through it. After --kill-after seconds replica r1 is
killed (SIGKILL), after --drain-after seconds r2 is drained (SIGTERM); once a second it prints each replica's
sessions (from its /metrics) and every client's results in the last second.

    bash scripts/scale_demo.sh --clients 6 --seconds 60
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import time

from tests.reliability.load import ServerProcess
from tests.scaleout.failover import HAPROXY_CFG, Streamer, tear_down
from tests.scaleout.helpers import get

PORTS = [(5601, 9601), (5602, 9602), (5603, 9603)]


def start_replicas(preview: bool) -> list[ServerProcess]:
    """The three replicas, each with its metrics port (and preview page: printed)."""
    replicas = []
    for i, (port, metrics) in enumerate(PORTS, start=1):
        extra = ["--metrics-port", str(metrics), "--drain-grace", "10"]
        if preview:
            extra += ["--preview-port", str(8800 + i)]
        replicas.append(ServerProcess("identity", port, max_sessions=12, extra=extra))
        deadline = time.monotonic() + (5.0 if preview else 0.0)
        urls: list[str] = []
        while not urls and time.monotonic() < deadline:  # printed just after "sdbridge serving"
            urls = [line.split(": ", 1)[1].strip() for line in list(replicas[-1].log) if "preview page:" in line]
            time.sleep(0.05)
        print(f"r{i}: tcp://127.0.0.1:{port}, metrics http://127.0.0.1:{metrics}/metrics"
              + (f", preview {urls[0]}" if urls else ""), flush=True)
    return replicas


def sessions(metrics_port: int) -> str:
    """A replica's open sessions from its /metrics ("-" when it does not answer)."""
    status, text = get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=0.5)
    found = re.search(r"^sdbridge_sessions_open (\S+)$", text, re.MULTILINE) if status == 200 else None
    return str(int(float(found.group(1)))) if found else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kill-after", type=float, default=20.0)
    parser.add_argument("--drain-after", type=float, default=40.0)
    parser.add_argument("--no-preview", action="store_true")
    args = parser.parse_args()
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        raise SystemExit("haproxy is not installed: bash scripts/install_tools.sh scaleout")
    replicas = start_replicas(not args.no_preview)
    balancer = subprocess.Popen([haproxy, "-db", "-f", str(HAPROXY_CFG)])
    streamers = [Streamer("tcp://127.0.0.1:5555", i) for i in range(args.clients)]
    threads = []
    try:
        threads = [s.start() for s in streamers]
        start, events = time.monotonic(), {"kill": args.kill_after, "drain": args.drain_after}
        while (elapsed := time.monotonic() - start) < args.seconds:
            time.sleep(1.0)
            if "kill" in events and elapsed >= events["kill"]:
                del events["kill"]
                replicas[0].stop(kill=True)
                print(">>> r1 killed (SIGKILL)", flush=True)
            if "drain" in events and elapsed >= events["drain"]:
                del events["drain"]
                replicas[1].proc.send_signal(signal.SIGTERM)
                print(">>> r2 draining (SIGTERM)", flush=True)
            now = time.monotonic()
            rates = [sum(1 for t in s.results_at if t > now - 1.0) for s in streamers]
            print(f"{elapsed:5.1f} s  sessions r1/r2/r3: {'/'.join(sessions(m) for _, m in PORTS)}  "
                  f"results/s per client: {rates}", flush=True)
    finally:
        tear_down(streamers, threads, balancer, replicas)
    wrong = [w for s in streamers for w in s.wrong]
    print(f"done: {sum(len(s.results_at) for s in streamers)} results, {len(wrong)} not the client's own exact frame")


if __name__ == "__main__":
    main()
