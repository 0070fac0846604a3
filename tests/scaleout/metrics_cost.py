"""What the metrics cost: results per second of the identity model (worker path) with and without the metrics
port, in one run, rounds interleaved (off, on, off, on, ...) so that the machine's other load hits both alike.
The metrics rounds are scraped every `--scrape-every` seconds, as Prometheus would.

    .venv/bin/python -m tests.scaleout.metrics_cost --rounds 6 --seconds 3 --size 512

Prints one JSON line: per-round results/s and CPU us per result (this process: client and server), their medians
and the cost in percent of each (negative: within noise). On a loaded machine results/s swing with the other
processes' turns on the cores; CPU time per result is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import numpy as np

from sdbridge.transport.client import BridgeClient
from tests.scaleout.helpers import get, identity_server


def stream(endpoint: str, seconds: float, size: int) -> tuple[float, float]:
    """(results per second, CPU microseconds of this process per result) of one client keeping its credits busy
    for `seconds` (the server runs in this process too: its CPU time is counted, the machine's other load not)."""
    image = np.random.default_rng(0).integers(0, 256, (size, size, 4), dtype=np.uint8)
    with BridgeClient(endpoint, name="cost") as client:
        client.connect(timeout=10)
        for _ in range(20):  # warm-up
            client.submit(image)
            client.receive(timeout=10)
        done = 0
        start, cpu = time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            while client.credits > 0:
                client.submit(image)
            if client.receive(timeout=10) is not None:
                done += 1
        return done / (time.perf_counter() - start), 1e6 * (time.process_time() - cpu) / max(1, done)


def one_round(metrics: bool, seconds: float, size: int, scrape_every: float) -> tuple[float, float]:
    """(results per second, CPU us per result) of one round against a fresh server."""
    server = identity_server(metrics={"enabled": metrics})
    stop = threading.Event()
    scrapes: list[int] = []

    def scraper() -> None:
        while not stop.wait(scrape_every):
            scrapes.append(get(server.metrics_url + "/metrics")[0])

    thread = threading.Thread(target=scraper, daemon=True)
    try:
        if metrics:
            thread.start()
        return stream(server.endpoint, seconds, size)
    finally:
        stop.set()
        if metrics:
            thread.join(5)
            assert scrapes and all(s == 200 for s in scrapes), scrapes
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--scrape-every", type=float, default=0.5)
    args = parser.parse_args()
    off, on = [], []
    for _ in range(args.rounds):
        off.append(one_round(False, args.seconds, args.size, args.scrape_every))
        on.append(one_round(True, args.seconds, args.size, args.scrape_every))
    report: dict[str, object] = {"size": args.size, "seconds_per_round": args.seconds,
                                 "scrape_every_s": args.scrape_every}
    for i, name in enumerate(("results_per_s", "cpu_us_per_result")):
        a, b = [x[i] for x in off], [x[i] for x in on]
        report[f"{name}_off"], report[f"{name}_on"] = [round(x, 1) for x in a], [round(x, 1) for x in b]
        report[f"{name}_median_off"], report[f"{name}_median_on"] = statistics.median(a), statistics.median(b)
    rate_off, rate_on = report["results_per_s_median_off"], report["results_per_s_median_on"]
    cpu_off, cpu_on = report["cpu_us_per_result_median_off"], report["cpu_us_per_result_median_on"]
    assert isinstance(rate_off, float) and isinstance(rate_on, float)
    assert isinstance(cpu_off, float) and isinstance(cpu_on, float)
    report["throughput_cost_percent"] = round(100 * (rate_off - rate_on) / rate_off, 2)
    report["cpu_cost_percent"] = round(100 * (cpu_on - cpu_off) / cpu_off, 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
