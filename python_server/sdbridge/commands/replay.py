"""`sdbridge replay FILE`: re-run a recorded session and check its outputs are reproduced bit for bit."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sdbridge.commands.arg_types import device_name

NAME = "replay"
HELP = "re-run a session recorded with `sdbridge serve --record DIR` and compare with the recorded outputs"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `sdbridge replay`."""
    parser.add_argument("recording", metavar="FILE", nargs="+",
                        help="a .sdrec recording (zip file or folder), one per run")
    parser.add_argument("--model", default=None, help="model to load (default: the recorded one)")
    parser.add_argument("--device", type=device_name, default=None, help="torch device (default: the recorded one)")
    parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                        help="default: the recorded one")
    parser.add_argument("--out", default=None, metavar="DIR", help="write every output frame as DIR/NNNNNN.png")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="the recording server's TOML config: its [limits] bound the lines and frames read "
                             "(default: the default limits)")
    parser.add_argument("--ip-adapter", default=None, metavar="SOURCE[@SCALE]",
                        help="IP-Adapter to replay with (default: the recorded one, loaded from disk only; \"\": "
                             "none): a local weight file with its image_encoder folder, a Hub file, tiny or tiny-plus")


def run(args: argparse.Namespace) -> int:
    """Replay; exit 0 when every output matches, 1 when any differs (a bad recording: InputError, exit 2)."""
    import torch

    from sdbridge.commands.output_paths import writable_folder
    from sdbridge.config import LimitsConfig, load_config
    from sdbridge.errors import InputError
    from sdbridge.pipeline import load_components
    from sdbridge.record.format import Recording, RecordLimits
    from sdbridge.record.ip_adapter import load_replay_adapter
    from sdbridge.record.replay import replay

    args.recording = one_recording(args.recording)
    refuse_record_folder(args.recording)
    if args.out:  # before the model loads; replay makes it only once the recording and its setup were accepted
        writable_folder(args.out, "--out")
    server_limits = load_config(args.config).limits if args.config else LimitsConfig()
    limits = RecordLimits.from_config(server_limits)
    with Recording(args.recording, limits) as recording:
        model = recording.meta.get("model", {})
        if not isinstance(model, dict) or not all(isinstance(v, str | int | float) for v in model.values()):
            raise InputError(f"{args.recording}: meta.json's model is {str(model)[:200]!r}; it is an object of "
                             f"names and numbers: the recording is damaged")
        name = args.model or model.get("name")
        if not name or not isinstance(name, str):
            raise InputError(f"{args.recording} does not name its model; pass --model")
        dtype_name = str(args.dtype or model.get("dtype", "float32"))
        dtype = getattr(torch, dtype_name, None)
        if not isinstance(dtype, torch.dtype):
            raise InputError(f"--dtype {dtype_name!r} is not a torch dtype; use float32, float16 or bfloat16")
        device = str(args.device or model.get("device", "cpu"))
        if args.model:
            components = load_components(name, device=device, dtype=dtype)
        else:  # a name read from the (untrusted) file is loaded from disk only: a recording never downloads
            components = load_components(name, device=device, dtype=dtype, local_files_only=True)
        nets, segmentation = _controls(model, components, str(args.recording))
        adapter = load_replay_adapter(recording, model, components, args.ip_adapter, server_limits.max_style_images)
        report = replay(recording, components, args.out, controlnets=nets, segmentation=segmentation,
                        ip_adapter=adapter)
    print(f"replayed {report.calls} pipeline calls ({report.builds} pipeline builds, {report.updates} updates) "
          f"with {name}", flush=True)
    if args.out:
        print(f"wrote {len(report.outputs)} frames to {args.out}", flush=True)
    if report.identical:
        print(f"all {report.compared} outputs identical to the recording", flush=True)
        return 0
    print(f"{len(report.mismatches)} of {report.compared} outputs differ from the recording (largest pixel "
          f"difference {report.max_abs_diff}; first differing calls {report.mismatches[:10]})", flush=True)
    changed = overrides(model, args)
    if changed:
        print(f"expected: this replay ran with {', '.join(changed)}; replay without them to check the recording "
              "bit for bit", flush=True)
    return 1


def overrides(recorded: dict, args: argparse.Namespace) -> list[str]:
    """The flags that replaced what the recording names (--model, --dtype, --device), each as
    "--dtype float32 (recorded: bfloat16)": outputs then differ by design, not because the recording is off."""
    changed = []
    for flag, key in (("model", "name"), ("dtype", "dtype"), ("device", "device")):
        given = getattr(args, flag, None)
        if given is not None and str(given) != str(recorded.get(key)):
            changed.append(f"--{flag} {given} (recorded: {recorded.get(key, 'not noted')})")
    return changed


def one_recording(paths: str | list[str]) -> str:
    """The one FILE given: `sdbridge replay DIR/session-*.sdrec` expands to every session of DIR, and argparse
    refused the second one as an "unrecognized argument"; now the InputError says to replay each on its own."""
    from sdbridge.errors import InputError

    if isinstance(paths, str) or len(paths) == 1:
        return paths if isinstance(paths, str) else paths[0]
    shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    raise InputError(f"sdbridge replay takes one recording and got {len(paths)} ({shown}); replay each on its own, "
                     f"e.g. sdbridge replay {paths[0]}, or for f in {Path(paths[0]).parent}/session-*.sdrec; do "
                     f'sdbridge replay "$f"; done')


def refuse_record_folder(path: str) -> None:
    """A folder given to `serve --record DIR` holds one session-*.sdrec per session, and is no recording itself:
    refused naming the recordings in it (it used to read as an incomplete recording, "meta.json is missing")."""
    from sdbridge.errors import InputError

    folder = Path(path)
    if not folder.is_dir() or (folder / "meta.json").exists():
        return
    sessions = sorted(p.name for p in folder.glob("*.sdrec"))
    if sessions:
        shown = ", ".join(sessions[:5]) + (f" and {len(sessions) - 5} more" if len(sessions) > 5 else "")
        raise InputError(f"{path} is the folder `serve --record` wrote, holding {len(sessions)} recording(s) "
                         f"({shown}); replay one of them, e.g. sdbridge replay {folder / sessions[-1]}")


def _controls(model: dict, components: object, where: str) -> tuple[object, dict[int, str | int] | None]:
    """The ControlNets and segmentation map the recorded server served (meta.json's model "controlnet" and
    "segmentation", one entry a line), loaded from disk only (a recording never downloads)."""
    from sdbridge.config import check_controlnets, parse_segmentation
    from sdbridge.errors import ConfigError, InputError

    lines = {key: tuple(line for line in str(model.get(key, "")).split("\n") if line)
             for key in ("controlnet", "segmentation")}
    try:
        specs = check_controlnets(lines["controlnet"], f"{where}: meta.json model.controlnet")
        segmentation = parse_segmentation(lines["segmentation"], f"{where}: meta.json model.segmentation")
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    if not specs:
        return None, segmentation or None
    from sdbridge.pipeline.controlnet_loading import load_controlnets

    nets, _ = load_controlnets(specs, components, local_files_only=True)
    return nets, segmentation or None
