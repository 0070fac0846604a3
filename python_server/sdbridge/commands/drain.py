"""`sdbridge drain`: make a running replica drain, as SIGTERM does, through its metrics port (POST /drain).

    sdbridge drain --metrics-port 9464                # start draining (the replica's own grace period)
    sdbridge drain --metrics-port 9464 --grace 20 --wait

The replica must run with `--metrics-port` (`[metrics] enabled`); the request goes to that port on this host
(loopback: /drain answers no other host). `--wait` returns once the replica has exited (its port stops
answering), which is what a Kubernetes preStop hook needs (deploy/kubernetes/deployment.yaml). Exit status 0:
draining started (and, with --wait, the replica exited); 2: the replica did not take the request (the message
says why and what to do).
"""

from __future__ import annotations

import argparse
import logging
import re
import time
import urllib.error
import urllib.request

NAME = "drain"
HELP = ("make a running replica drain as SIGTERM does (refuse new sessions, move the open ones, exit): POST /drain "
        "to its metrics port on this host")

log = logging.getLogger(__name__)

_GRACE = re.compile(r"draining for at most ([0-9.e+-]+) s")

#: How often --wait asks whether the replica still answers.
POLL_S = 0.2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags: where the replica's metrics port is, the grace period, whether to wait for the exit."""
    from sdbridge.commands.arg_types import float_above
    from sdbridge.config import MetricsConfig

    parser.add_argument("--metrics-port", type=int, default=MetricsConfig.port,
                        help=f"the replica's --metrics-port (default {MetricsConfig.port})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="this host's address of that port (default 127.0.0.1; /drain answers loopback only)")
    parser.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                        help="drain for at most this long (default: the replica's --drain-grace)")
    parser.add_argument("--wait", action="store_true", help="return once the replica has exited (preStop)")
    parser.add_argument("--timeout", type=float_above(0, 30), default=None, metavar="SECONDS",
                        help="with --wait: give up after this long (default: the grace period + 10 s)")


def run(args: argparse.Namespace) -> int:
    """POST /drain; with --wait, then wait until the port stops answering."""
    from sdbridge.config_endpoint import MAX_PORT
    from sdbridge.errors import ConfigError, TransportError

    if not 0 < args.metrics_port <= MAX_PORT:
        raise ConfigError(f"--metrics-port={args.metrics_port} must be in [1, {MAX_PORT}]: the replica's "
                          "--metrics-port")
    if args.timeout is not None and not args.wait:  # refused before the replica is told to drain
        raise ConfigError(f"--timeout {args.timeout:g} bounds only the wait for the replica's exit, and --wait is not "
                          "given; add --wait or drop --timeout")
    base = f"http://{args.host}:{args.metrics_port}"
    grace = request_drain(base, args.grace)
    print(f"{base}: draining for at most {grace:g} s", flush=True)
    if not args.wait:
        return 0
    timeout = args.timeout if args.timeout is not None else grace + 10.0
    if not wait_until_gone(base, timeout):
        raise TransportError(f"{base} still answers {timeout:g} s after the drain request (--timeout); the replica "
                             f"may be stuck: send it SIGTERM again or SIGKILL")
    print(f"{base}: the replica has exited", flush=True)
    return 0


def request_drain(base: str, grace: float | None, timeout: float = 5.0) -> float:
    """POST {base}/drain[?grace=...]; returns the grace period the replica took. TransportError when the replica
    does not answer, ConfigError when it refuses (the reply says why)."""
    from sdbridge.errors import ConfigError, TransportError

    url = f"{base}/drain" + (f"?grace={grace:g}" if grace is not None else "")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=timeout) as reply:
            text = reply.read().decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace").strip()
        if exc.code == 404:
            body = "this sdbridge has no /drain (an older version?): send the replica SIGTERM instead"
        raise ConfigError(f"{url} refused the drain ({exc.code}): {body}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise TransportError(f"no replica answers at {base} ({exc}); is `sdbridge serve --metrics-port` running "
                             f"on this host with that port (--metrics-port, --host)?") from None
    log.debug("%s answered: %s", url, text)
    found = _GRACE.search(text)  # the reply of sdbridge.serving.metrics_http: "draining for at most G s"
    return float(found.group(1)) if found else (grace if grace is not None else 0.0)


def wait_until_gone(base: str, timeout: float) -> bool:
    """True once {base}/healthz stops answering (the replica exited) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1.0) as reply:
                reply.read()
        except urllib.error.HTTPError:
            pass  # an answer, although not 200: still there
        except (urllib.error.URLError, OSError):
            return True
        time.sleep(POLL_S)  # polling another process's port: no condition to wait on
    return False
