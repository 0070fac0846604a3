"""`sdbridge demo`: the server plus a synthetic game client, live frames/s and latency, PNG pairs.

The server (the tiny random-weight model unless --model says otherwise) runs in this process or, with
--subprocess, as a separate `sdbridge serve`. A "game" renders a moving procedural scene at --fps,
submits every frame through BridgeClient (credits + latest-wins, like an engine plugin), and shows
the results' rate and round-trip latency live. Input|output pairs (each output next to the input it
was made from, `source_frame_id`) are written as PNGs (replacing an earlier run's); with --controlnet depth
the scene also sends its exact depth plane (SceneRenderer.render_depth) and the PNGs are input | control |
output triples. It stops by itself after --frames results or --seconds seconds, whichever comes first (60
results when neither is given; no result limit when only --seconds is). The browser preview page
(sdbridge.preview) is on by default at http://127.0.0.1:8765/ (--preview-port, --no-preview); its address is
printed at the start.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sdbridge import params
from sdbridge.commands.arg_types import device_name, float_above, frame_size, int_at_least, port_number
from sdbridge.commands.output_paths import output_folder
from sdbridge.quantiles import percentile

if TYPE_CHECKING:
    from sdbridge.transport.client import BridgeClient, BridgeResult

NAME = "demo"
HELP = "run the server and a synthetic game client; live frames/s and latency; write input/output PNGs"
log = logging.getLogger(__name__)
#: results the demo stops after when neither --frames nor --seconds is given
DEFAULT_RESULTS = 60


def result_limit(args: argparse.Namespace) -> int | None:
    """The results the demo stops after: --frames; else DEFAULT_RESULTS unless --seconds bounds the run (then
    None: `--seconds 600` keeps the demo running for ten minutes, as its preview line says)."""
    frames, seconds = getattr(args, "frames", None), getattr(args, "seconds", None)
    if frames is not None:
        return int(frames)
    return DEFAULT_RESULTS if seconds is None else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `sdbridge demo`."""
    parser.add_argument("--model", default="tiny", help="tiny | small | identity | Hub id | folder (default tiny)")
    parser.add_argument("--device", type=device_name, default="cpu", help="cpu | cuda | mps (default cpu)")
    parser.add_argument("--size", type=frame_size, default=256,
                        help="frame width and height, a multiple of 8 (default 256)")
    parser.add_argument("--frames", type=int_at_least(1, 60), default=None,
                        help=f"stop after this many results (default {DEFAULT_RESULTS}, or no limit when --seconds "
                             "is given)")
    parser.add_argument("--seconds", type=float_above(0, 30), default=None,
                        help="stop after this many seconds (default: no time limit)")
    parser.add_argument("--prompt", default="a watercolor painting of a castle on green hills",
                        help="the session's prompt (default: %(default)r)")
    parser.add_argument("--negative-prompt", default="blurry, low quality",
                        help="the session's negative prompt (default: %(default)r)")
    parser.add_argument("--t-index", type=int, nargs="+", default=None,
                        help="t_index_list (strength; default: the model's own, one step for turbo models, else "
                             f"the registry's {list(params.BY_NAME['t_index_list'].default)})")
    parser.add_argument("--cfg", default="self", choices=["none", "full", "self", "initialize"],
                        help="RCFG mode (default self)")
    parser.add_argument("--guidance", type=float, default=1.4, help="guidance scale (default 1.4)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for PNG pairs (default out/demo)")
    parser.add_argument("--save-every", type=int_at_least(1, 10), default=10,
                        help="write a PNG pair every N results (default 10)")
    parser.add_argument("--fps", type=float_above(0, 30, inclusive=True), default=30.0,
                        help="frame rate the synthetic game renders at (0 = as fast as it can; default 30)")
    parser.add_argument("--credits", type=int_at_least(1, 2), default=2,
                        help="frames in flight (server credits; default 2)")
    parser.add_argument("--subprocess", action="store_true",
                        help="run the server as a separate `sdbridge serve` process instead of a thread")
    parser.add_argument("--preview-port", type=port_number(8765), default=8765,
                        help="port of the browser preview page on 127.0.0.1 (0 = any free port; default 8765)")
    parser.add_argument("--no-preview", action="store_true", help="do not serve the browser preview page")
    parser.add_argument("--controlnet", default=None, metavar="KIND[=SOURCE][@SCALE]",
                        help="serve a depth ControlNet (depth or depth@0.5: a random-weight 'tiny' one for the random "
                             "presets, or depth=lllyasviel/control_v11f1p_sd15_depth); the scene sends its exact depth "
                             "plane and the PNGs become input | control | output triples (KIND depth only: the scene "
                             "sends no other plane)")


def controlnet_spec(value: str, model: str) -> str:
    """The `KIND=SOURCE[@SCALE]` spec of --controlnet: a bare KIND (or KIND@SCALE) is the tiny ControlNet of the
    random presets. A KIND other than depth is refused: the demo's scene sends a depth plane only and shows it as
    the control image (a misspelt 'dpth' ran with its ControlNet silently off, the PNGs still showing depth)."""
    from sdbridge.config import parse_controlnet
    from sdbridge.errors import ConfigError
    from sdbridge.pipeline.components import IDENTITY, PRESET_NAMES

    given = value
    kind = value.partition("=")[0] if "=" in value else value.partition("@")[0]
    if not kind.strip():
        raise ConfigError(f"--controlnet {value!r} names no KIND; give it first, e.g. --controlnet depth@0.5")
    if "=" not in value:
        if model == IDENTITY:
            from sdbridge.commands.serve import identity_refusal

            raise identity_refusal(f"--controlnet {value!r}", "--controlnet")
        if model not in PRESET_NAMES:
            raise ConfigError(f"--controlnet {value!r}: with --model {model} give KIND=SOURCE (a Hub id or folder of "
                              f"a ControlNet for it), e.g. --controlnet depth=lllyasviel/control_v11f1p_sd15_depth")
        kind, at, scale = value.partition("@")  # KIND@SCALE: the tiny ControlNet at that scale
        value = f"{kind}=tiny{at}{scale}"
    spec = parse_controlnet(value, "--controlnet")
    _refuse_unfed_kind(given, spec.kind)
    return value


def _refuse_unfed_kind(value: str, kind: str) -> None:
    """ConfigError when `kind` is not depth (see controlnet_spec)."""
    if kind == "depth":
        return
    import difflib

    from sdbridge.errors import ConfigError

    hint = "did you mean depth? " if difflib.get_close_matches(kind, ["depth"], n=1) else ""
    raise ConfigError(f"--controlnet {value!r}: the demo's scene sends only a depth plane and its PNGs show that depth "
                      f"as the control image, so the demo serves a depth ControlNet only ({kind!r} is not one); "
                      f"{hint}use --controlnet depth[@SCALE], or `sdbridge serve --controlnet {kind}=SOURCE` with an "
                      f"engine client that sends what a {kind} ControlNet needs")


def control_preview(depth: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 of what a depth ControlNet gets from linear depth: normalised inverse depth, near bright
    (sdbridge.pipeline.control_planes.depth_control's per-frame convention, in numpy)."""
    inverse = 1.0 / np.maximum(depth, 1e-6)
    span = max(float(inverse.max() - inverse.min()), 1e-6)
    grey = ((inverse - inverse.min()) / span * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


REAL_MODEL_COMMAND = "sdbridge demo --model stabilityai/sd-turbo --device cuda --size 512 --cfg none"


def model_notice(model: str) -> list[str]:
    """The demo's first lines: what the chosen model's output means, and how to run a real one."""
    from sdbridge.pipeline.components import IDENTITY, PRESET_NAMES

    if model in PRESET_NAMES:
        what = (f"model {model!r} has random weights (built here, nothing downloaded): its output is noise by "
                "design. This demo shows the plumbing (frames, credits, latency, preview), not pictures.")
    elif model == IDENTITY:
        what = f"model {model!r} is no model: frames come back unchanged (plumbing only)."
    else:
        return []
    return [what, "A real model, on a machine with an NVIDIA GPU and the weights (SD-Turbo, about 2.5 GB in "
                  f"float16, fetched from the Hugging Face Hub on first use): {REAL_MODEL_COMMAND}"]


def server_toml(args: argparse.Namespace) -> str:
    """The demo server's config file (TOML) for the parsed demo flags."""
    # no t_index_list unless asked: the server then applies the model's own default (serve.resolve_model_defaults)
    t_index = "" if args.t_index is None else f"t_index_list = [{', '.join(str(t) for t in args.t_index)}]\n"
    control = getattr(args, "controlnet", None)
    control = "" if control is None else f'controlnet = ["{controlnet_spec(control, args.model)}"]\n'
    return (
        'bind = "tcp://127.0.0.1:*"\n'
        f'[model]\nname = "{args.model}"\ndevice = "{args.device}"\nwidth = {args.size}\nheight = {args.size}\n'
        f"{control}"
        f'[pipeline]\n{t_index}cfg_mode = "{args.cfg}"\nguidance_scale = {args.guidance}\n'
        f"[session]\ncredits = {args.credits}\n"
        f"[preview]\nenabled = {'false' if args.no_preview else 'true'}\nport = {args.preview_port}\n"
    )


class _ServerHandle:
    """The demo's server: a thread in this process, or a `sdbridge serve` subprocess."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._server = None
        self._proc: subprocess.Popen[str] | None = None
        self.preview_url = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="sdbridge-demo-")
        self.config_path = Path(self._tmp.name) / "server.toml"
        self.config_path.write_text(server_toml(args), encoding="utf-8")

    def start(self) -> str:
        if not self._args.subprocess:
            from sdbridge.commands.port_probe import check_ports_free
            from sdbridge.commands.serve import (
                check_model_name,
                refuse_identity_additions,
                resolve_auto_dtype,
                resolve_model_defaults,
            )
            from sdbridge.config import load_config
            from sdbridge.server import BridgeServer

            # the same resolution `sdbridge serve` applies (the subprocess path runs exactly that)
            config = resolve_model_defaults(resolve_auto_dtype(load_config(self.config_path)))
            refuse_identity_additions(config)
            check_model_name(config.model.name)
            check_ports_free(config)
            self._server = BridgeServer(config)
            endpoint = self._server.start_in_thread()
            self.preview_url = self._server.preview_url
            return endpoint
        cmd = [sys.executable, "-m", "sdbridge.cli", "serve", "--config", str(self.config_path)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self._proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self._proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 600  # a real model may take long to load
        while time.monotonic() < deadline and self._proc.poll() is None:
            if selector.select(timeout=1.0):
                line = self._proc.stdout.readline()
                if line.startswith("sdbridge serving"):
                    endpoint = line.rsplit(" ", 1)[-1].strip()
                    if not self._args.no_preview:  # `sdbridge serve` prints the page address next
                        page = self._proc.stdout.readline()
                        if page.startswith("sdbridge preview page:"):
                            self.preview_url = page.split(":", 1)[1].strip()
                    return endpoint
        code = self._proc.poll()
        self.close()
        from sdbridge.errors import TransportError

        if code is not None:  # its own error line is above (its stderr is ours)
            raise TransportError(f"the `sdbridge serve` subprocess exited (code {code}) before serving: its error is "
                                 f"printed above; fix that option and run again")
        raise TransportError("the `sdbridge serve` subprocess printed no 'sdbridge serving' line within 600 s; run "
                             "`sdbridge serve` alone with the same options to see why")

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(15)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(5)
            self._proc = None
        self._tmp.cleanup()


def run(args: argparse.Namespace) -> int:
    """Run the demo until --frames results or --seconds (result_limit); returns 0."""
    from sdbridge.transport.client import BridgeClient

    for line in model_notice(args.model):
        print(line, flush=True)
    output_folder(args.out, "--out")
    clear_earlier_pairs(args.out)
    handle = _ServerHandle(args)
    start_load = time.perf_counter()
    endpoint = handle.start()
    try:
        with BridgeClient(endpoint, name="sdbridge-demo", engine="synthetic scene") as client:
            welcome = client.connect(timeout=60)
            client.set_prompt(args.prompt, negative_prompt=args.negative_prompt)
            model = welcome.model
            print(f"server {endpoint} ({'subprocess' if args.subprocess else 'thread'}), model "
                  f"{model.name if model else '?'} at {args.size}x{args.size}, latency {welcome.latency_frames} "
                  f"frame(s), ready in {time.perf_counter() - start_load:.1f} s; PNG pairs -> {args.out}")
            if handle.preview_url:
                sep = "&" if "?" in handle.preview_url else "?"
                print(f"preview page: {handle.preview_url}{sep}session={welcome.session_id} (open it in a browser; "
                      f"--seconds 600 keeps the demo running)", flush=True)
            _DemoLoop(args, client).run()
    finally:
        handle.close()
    return 0


#: the PNGs the demo writes (`_DemoLoop._on_result`): pair_<frame id, 5 digits>.png
PAIR_NAME = re.compile(r"pair_\d{5,}\.png")


def clear_earlier_pairs(folder: Path) -> int:
    """Remove the pair_NNNNN.png an earlier demo run left in `folder` (frame ids restart at 1, so a second run
    overwrote some and left others: the folder mixed two runs' pictures); other files stay. Returns how many."""
    earlier = [p for p in Path(folder).iterdir() if PAIR_NAME.fullmatch(p.name) and p.is_file()]
    for path in earlier:
        path.unlink()
    if earlier:
        log.info("removed %d PNGs of an earlier demo run from %s", len(earlier), folder)
    return len(earlier)


class _DemoLoop:
    """The game side of the demo: renders the scene at its own pace, submits, keeps the frames sent (to pair each
    result with the frame it depicts), writes PNG pairs and prints progress."""

    def __init__(self, args: argparse.Namespace, client: BridgeClient) -> None:
        from sdbridge.scene import SceneRenderer

        self.args, self.client = args, client
        self.scene = SceneRenderer(args.size, args.size)
        self.inputs: OrderedDict[int, np.ndarray] = OrderedDict()  # frame_id -> rendered frame that was sent
        self.pending: tuple[int, np.ndarray] | None = None  # the frame waiting for credit
        self.round_trips: list[float] = []
        self.results = self.warmups = self.skipped = self.written = self.index = 0
        self.start = time.perf_counter()
        self.last_print = 0.0
        self.limit = result_limit(args)

    def run(self) -> None:
        """Render, submit and receive until --frames results or --seconds; then print the summary."""
        args = self.args
        tick = 1.0 / args.fps if args.fps > 0 else 0.0
        next_render = self.start
        while ((self.limit is None or self.results < self.limit)
               and (args.seconds is None or time.perf_counter() - self.start < args.seconds)):
            now = time.perf_counter()
            if now >= next_render:  # the game renders at its own pace, whatever the server does
                self._render_and_submit()
                next_render = max(next_render + tick, now)
            result = self.client.receive(timeout=max(0.0, next_render - time.perf_counter()))
            if result is not None:
                self._on_result(result)
                self._progress()
        self._summary()

    def _render_and_submit(self) -> None:
        frame, planes, shown = self.scene.render(self.index), {}, None
        if getattr(self.args, "controlnet", None):  # the scene's exact depth; input | control shown side by side
            depth = self.scene.render_depth(self.index)
            planes, shown = {"depth": depth}, np.concatenate([frame, control_preview(depth)], axis=1)
        self.index += 1
        if self.pending is not None and not self.client.pending:  # the pending frame went out
            self.inputs[self.pending[0]] = self.pending[1]
        self.pending = None
        frame_id = self.client.submit(frame, planes=planes)
        shown = frame if shown is None else shown
        if frame_id is not None:
            self.inputs[frame_id] = shown
        else:  # waits for credit; it goes out under the id it was given now
            self.pending = (self.client.next_frame_id - 1, shown)
        while len(self.inputs) > 64:
            self.inputs.popitem(last=False)

    def _on_result(self, result: BridgeResult) -> None:
        from PIL import Image

        self.results += 1
        self.warmups += int(result.is_warmup)
        self.skipped += int(result.skipped)
        if "round_trip" in result.timings:
            self.round_trips.append(result.timings["round_trip"])
        source = self.inputs.get(result.source_frame_id)
        if (not result.is_warmup and source is not None
                and (self.results % self.args.save_every == 0 or self.results == self.limit)):
            pair = np.concatenate([source, result.image], axis=1)  # input | output (--controlnet: | control |)
            Image.fromarray(pair).save(self.args.out / f"pair_{result.frame_id:05d}.png")
            self.written += 1

    def _progress(self) -> None:
        elapsed = time.perf_counter() - self.start
        if elapsed - self.last_print < 0.5 and self.results != self.limit:
            return
        self.last_print = elapsed
        p50 = percentile(self.round_trips[-50:], 0.5) * 1e3
        counters = self.client.counters
        sys.stdout.write(
            f"\rrendered {self.index} | results {self.results} ({self.results / elapsed:5.2f}/s) | round trip p50 "
            f"{p50:7.1f} ms | warm-up {self.warmups} | skipped {self.skipped} | not sent (replaced) "
            f"{counters.replaced_pending} | dropped by server {counters.credits_returned}")
        sys.stdout.flush()

    def _summary(self) -> None:
        elapsed = time.perf_counter() - self.start
        sys.stdout.write("\n")
        p50, p99 = percentile(self.round_trips, 0.5) * 1e3, percentile(self.round_trips, 0.99) * 1e3
        triples = getattr(self.args, "controlnet", None)
        what = "input|control|output PNG triples" if triples else "input|output PNG pairs"
        print(f"{self.results} results from {self.index} rendered frames in {elapsed:.1f} s: "
              f"{self.results / elapsed:.2f} results/s, round trip p50 {p50:.1f} ms p99 {p99:.1f} ms; "
              f"{self.written} {what} in {self.args.out}")
