"""What the metrics cost: results per second of the identity model (worker path) with and without the metrics
port, in one run, rounds interleaved (off, on, off, on, ...) so that the machine's other load hits both alike.
The metrics rounds are scraped every `--scrape-every` seconds, as Prometheus would.

    .venv/bin/python -m tests.scaleout.metrics_cost --rounds 6 --seconds 3 --size 512

Prints one JSON line: per-round figures, the medians and the cost in percent (negative: within noise).
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


def stream(endpoint: str, seconds: float, size: int) -> float:
    """Results per second of one client keeping its credits busy for `seconds`."""
    image = np.random.default_rng(0).integers(0, 256, (size, size, 4), dtype=np.uint8)
    with BridgeClient(endpoint, name="cost") as client:
        client.connect(timeout=10)
        for _ in range(20):  # warm-up
            client.submit(image)
            client.receive(timeout=10)
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            while client.credits > 0:
                client.submit(image)
            if client.receive(timeout=10) is not None:
                done += 1
        return done / (time.perf_counter() - start)


def one_round(metrics: bool, seconds: float, size: int, scrape_every: float) -> float:
    """Results per second of one round against a fresh server."""
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
    off_median, on_median = statistics.median(off), statistics.median(on)
    print(json.dumps({"size": args.size, "seconds_per_round": args.seconds, "scrape_every_s": args.scrape_every,
                      "results_per_s_off": [round(x, 1) for x in off], "results_per_s_on": [round(x, 1) for x in on],
                      "median_off": round(off_median, 1), "median_on": round(on_median, 1),
                      "cost_percent": round(100 * (off_median - on_median) / off_median, 2)}))


if __name__ == "__main__":
    main()
