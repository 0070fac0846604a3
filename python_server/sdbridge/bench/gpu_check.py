"""The measurements of the prepared GPU check (scripts/gpu_check.sh runs this module, one part per process).

    python -m sdbridge.bench.gpu_check --part accel   --out REPORT   # eager, CUDA graphs, torch.compile
    python -m sdbridge.bench.gpu_check --part engines --out REPORT   # TensorRT, ONNX Runtime CUDA (when installed)
    python -m sdbridge.bench.gpu_check --part e2e     --out REPORT   # the bridge end to end over loopback
    ... --cpu                                                       # tiny shapes on the CPU (CI keeps it alive)

On a GPU: sd-turbo-shaped (sdbridge.pipeline.shaped_presets) at 512x512 in float16, two configurations (1-step
img2img; Stream Batch 4 steps with RCFG self), frames/s and the p50 frame time of each, and the end-to-end run:
`sdbridge serve` in a child process and BridgeClient sending 200 frames over loopback (frames/s, p50 round trip).
Each part appends a Markdown section to REPORT and prints it. A frame's time here includes a
torch.cuda.synchronize() after the call: this is a measurement, the pipeline itself never waits for the GPU.
With --cpu the same code runs the `tiny` preset at 64x64 in float32 for a few frames, torch.compile with its
"eager" compiler (the compile path without code generation, as tests/accel does): it proves the script works,
its figures are not GPU figures. Not run on a GPU here (no GPU was lent): no GPU figure exists yet.
"""

from __future__ import annotations

import argparse
import logging
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from sdbridge.acceleration import AccelOptions, BackendChoice, ShapeRange, accelerate, check_available
from sdbridge.errors import BackendUnavailableError
from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline, load_components
from sdbridge.quantiles import percentile
from sdbridge.scene import SceneRenderer

log = logging.getLogger(__name__)
CONFIGS: dict[str, tuple[tuple[int, ...], CfgMode]] = {
    "1-step img2img": ((32,), CfgMode.NONE),
    "stream batch 4 steps, rcfg self": ((0, 16, 32, 45), CfgMode.SELF),
}


@dataclass(frozen=True)
class Plan:
    """What one run measures: model, device, dtype, frame size, timed frames per configuration, end-to-end frames."""

    model: str
    device: str
    dtype: torch.dtype
    size: int
    frames: int
    e2e_frames: int
    compiler: str  # torch.compile backend: inductor on a GPU; "eager" (no code generation) for the CPU run


GPU_PLAN = Plan("sd-turbo-shaped", "cuda", torch.float16, 512, 50, 200, "inductor")
CPU_PLAN = Plan("tiny", "cpu", torch.float32, 64, 4, 10, "eager")


@dataclass(frozen=True)
class Measured:
    """One configuration on one backend: warm-up time (compile and capture included), frames/s, p50 frame time."""

    warmup_s: float
    fps: float
    p50_ms: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(comps: Components, t_index_list: tuple[int, ...], mode: CfgMode, plan: Plan) -> Measured:
    """Run one configuration: len(t_index_list) + 2 warm-up frames, then `plan.frames` timed ones."""
    pipe = StreamPipeline(comps, StreamConfig(width=plan.size, height=plan.size, t_index_list=t_index_list,
                                              cfg_mode=mode, guidance_scale=1.2, seed=2))
    pipe.prepare(prompt="a watercolor castle at dusk", negative_prompt="blurry")
    scene = SceneRenderer(plan.size, plan.size)
    warmup = len(t_index_list) + 2
    frames = [scene.render(i) for i in range(warmup + plan.frames)]
    start = time.perf_counter()
    for frame in frames[:warmup]:
        pipe(frame)
    _sync(comps.device)
    warmup_s = time.perf_counter() - start
    times = []
    begin = time.perf_counter()
    for frame in frames[warmup:]:
        t0 = time.perf_counter()
        pipe(frame)
        _sync(comps.device)
        times.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - begin
    return Measured(warmup_s, plan.frames / elapsed, 1000 * percentile(times, 0.5))


def accel_options() -> dict[str, AccelOptions]:
    """The [accel] choices of the accel part: eager, torch.compile with CUDA graphs, torch.compile."""
    return {"eager": AccelOptions(BackendChoice.EAGER),
            "cuda graphs": AccelOptions(BackendChoice.COMPILE, cuda_graphs=True),
            "torch.compile": AccelOptions(BackendChoice.COMPILE)}


def engine_options(plan: Plan, engines_dir: Path) -> dict[str, AccelOptions]:
    """The engine backends: TensorRT and ONNX Runtime's CUDA provider, one static shape range."""
    shapes = ShapeRange(batch=(1, 4, 4), height=(plan.size,) * 3, width=(plan.size,) * 3, vae_batch=(1, 1, 1))
    common = {"engines_dir": engines_dir, "shapes": shapes, "progress": False}
    return {"tensorrt": AccelOptions(BackendChoice.TENSORRT, **common),  # type: ignore[arg-type]
            "onnxruntime cuda": AccelOptions(BackendChoice.ONNXRUNTIME, ort_providers=("CUDAExecutionProvider",),
                                             **common)}  # type: ignore[arg-type]


def _unavailable(comps: Components, name: str, options: AccelOptions) -> str | None:
    """Why backend `name` cannot run here, or None."""
    try:
        check_available(comps, options.backend)
    except BackendUnavailableError as exc:
        return str(exc)
    if options.ort_providers:
        import onnxruntime

        missing = [p for p in options.ort_providers if p not in onnxruntime.get_available_providers()]
        if missing:
            return f"{name}: onnxruntime {onnxruntime.__version__} lacks {missing} (install onnxruntime-gpu)"
    return None


def run_backends(plan: Plan, options: dict[str, AccelOptions]) -> list[str]:
    """Load the model once, then every configuration on every backend: Markdown table rows (or skip lines)."""
    import sdbridge.acceleration.compiled as compiled

    compiled.COMPILER = plan.compiler
    started = time.perf_counter()
    comps = load_components(plan.model, device=plan.device, dtype=plan.dtype)
    no_graphs = plan.device == "cpu" and "cuda graphs" in options
    lines = [f"{comps.describe()}, {plan.size}x{plan.size}, loaded in {time.perf_counter() - started:.1f} s; "
             f"{plan.frames} timed frames per row"
             + ("; on a CPU 'cuda graphs' is torch.compile without graphs (logged)" if no_graphs else ""),
             "",
             "| backend | configuration | frames/s | p50 frame ms | warm-up s (compile, capture) |",
             "|---|---|---|---|---|"]
    for name, option in options.items():
        why = _unavailable(comps, name, option)
        if why is not None:
            lines.append(f"| {name} | skipped | - | - | {why} |")
            continue
        try:
            fast = accelerate(comps, option)
            for label, (t_index, mode) in CONFIGS.items():
                m = measure(fast, t_index, mode, plan)
                log.info("%s, %s: %.2f frames/s, p50 %.2f ms", name, label, m.fps, m.p50_ms)
                lines.append(f"| {name} | {label} | {m.fps:.2f} | {m.p50_ms:.2f} | {m.warmup_s:.1f} |")
        except Exception as exc:  # a failing backend is a result of the check: report it and go on
            log.exception("%s failed", name)
            lines.append(f"| {name} | FAILED | - | - | {type(exc).__name__}: {str(exc)[:300]} |")
        torch._dynamo.reset()
        if comps.device.type == "cuda":
            torch.cuda.empty_cache()
    return lines


def _serve(plan: Plan, folder: Path) -> tuple[subprocess.Popen[str], str]:
    """`sdbridge serve` with the plan's model in a child process; returns it and its endpoint once it serves."""
    config = folder / "server.toml"
    config.write_text(f'[model]\nwidth = {plan.size}\nheight = {plan.size}\n\n[pipeline]\nt_index_list = [32]\n'
                      'cfg_mode = "none"\n', encoding="utf-8")
    dtype = str(plan.dtype).removeprefix("torch.")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdbridge", "serve", "--model", plan.model, "--bind", "tcp://127.0.0.1:0",
         "--config", str(config), "--device", plan.device, "--dtype", dtype],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(proc, lines), daemon=True).start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        if line.startswith("sdbridge serving "):
            return proc, line.rsplit(" on ", 1)[1].strip()
    proc.kill()
    raise RuntimeError(f"sdbridge serve --model {plan.model} did not start serving within 300 s "
                       f"(exit code {proc.poll()})")


def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    """Forward the server's output lines to `lines` (and to the log) until it closes its stdout."""
    assert proc.stdout is not None
    for line in proc.stdout:
        log.info("serve: %s", line.rstrip())
        lines.put(line)


def _stream(endpoint: str, plan: Plan) -> tuple[float, float, int]:
    """Send plan.e2e_frames frames with every credit in use: (results/s, p50 round trip ms, results)."""
    from sdbridge.transport.client import BridgeClient

    frames = [SceneRenderer(plan.size, plan.size).render(i) for i in range(8)]
    round_trips: list[float] = []
    with BridgeClient(endpoint, name="gpu-check") as client:
        client.connect(timeout=60.0)
        sent = results = 0
        start = time.perf_counter()
        while results < plan.e2e_frames:
            while client.credits > 0 and sent < plan.e2e_frames + 8:
                client.submit(frames[sent % len(frames)])
                sent += 1
            result = client.receive(timeout=60.0)
            if result is None:
                raise RuntimeError(f"no result within 60 s after {results} of {plan.e2e_frames}")
            results += 1
            if "round_trip" in result.timings:
                round_trips.append(result.timings["round_trip"])
        elapsed = time.perf_counter() - start
    return results / elapsed, 1000 * percentile(round_trips, 0.5), results


def run_e2e(plan: Plan) -> list[str]:
    """The bridge end to end: the server in a child process, BridgeClient over loopback."""
    with tempfile.TemporaryDirectory(prefix="sdbridge-gpu-check-") as folder:
        started = time.perf_counter()
        proc, endpoint = _serve(plan, Path(folder))
        ready_s = time.perf_counter() - started
        try:
            fps, p50, results = _stream(endpoint, plan)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return [f"`sdbridge serve --model {plan.model}` ({plan.device}, {plan.dtype}, {plan.size}x{plan.size}, 1 step) "
            f"serving after {ready_s:.1f} s; BridgeClient over loopback, every credit in use:", "",
            "| results | frames/s | p50 round trip ms |", "|---|---|---|", f"| {results} | {fps:.2f} | {p50:.2f} |"]


def _pick(options: dict[str, AccelOptions], names: list[str] | None) -> dict[str, AccelOptions]:
    """The options named by --backend (all when none is named); an unknown name is an error listing the choices."""
    unknown = [n for n in names or [] if n not in options]
    if unknown:
        raise SystemExit(f"--backend {unknown}: not a backend of this part; choose among {list(options)}")
    return {n: o for n, o in options.items() if not names or n in names}


def main(argv: list[str] | None = None) -> int:
    """Run one part and append its section to --out."""
    parser = argparse.ArgumentParser(prog="python -m sdbridge.bench.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--part", required=True, choices=["accel", "engines", "e2e"])
    parser.add_argument("--out", type=Path, required=True, help="the report file; the section is appended")
    parser.add_argument("--cpu", action="store_true", help="tiny shapes on the CPU: the script's own check")
    parser.add_argument("--backend", action="append", default=None,
                        help="only this backend of the part (repeatable): eager, 'cuda graphs', torch.compile, "
                             "tensorrt, 'onnxruntime cuda'")
    parser.add_argument("--engines-dir", type=Path, default=None, help="engine cache (default: a temporary folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    plan = CPU_PLAN if args.cpu else GPU_PLAN
    if not args.cpu and not torch.cuda.is_available():
        print(f"gpu_check: torch {torch.__version__} sees no CUDA GPU; use --cpu for the CPU check", file=sys.stderr)
        return 2
    if args.part == "accel":
        options = _pick(accel_options(), args.backend)
        title, lines = ", ".join(options), run_backends(plan, options)
    elif args.part == "engines":
        with tempfile.TemporaryDirectory(prefix="sdbridge-engines-") as tmp:
            options = _pick(engine_options(plan, args.engines_dir or Path(tmp)), args.backend)
            title, lines = ", ".join(options), run_backends(plan, options)
    else:
        title, lines = "the bridge end to end", run_e2e(plan)
    section = "\n".join([f"## {title}", "", *lines, ""])
    print(section)
    with args.out.open("a", encoding="utf-8") as report:
        report.write(section + "\n")
    failed = any("| FAILED |" in line for line in lines)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
