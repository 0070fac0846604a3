"""Real-shaped random-weight presets: the published layouts of SD-Turbo and SDXL-Turbo, no weights, no network.

"sd-turbo-shaped"    stabilityai/sd-turbo's configuration (SD 2.1 UNet, 865.9M parameters; OpenCLIP-H text
                     encoder; TAESD), for benchmarks and GPU checks at the real cost of the real model.
"sdxl-turbo-shaped"  stabilityai/sdxl-turbo's configuration (SDXL UNet, 2.567B; CLIP-L + OpenCLIP-bigG; TAESDXL).

The configurations live as JSON data files in `shaped/` beside this module (`<model>.json`: the published
unet/, text_encoder*/, tokenizer and scheduler settings, and the parameter counts they must give). The
tokenizer is the real CLIP BPE tokenizer: `shaped/bpe_simple_vocab_16e6.txt.gz` is the merges file shipped in
the open-clip-torch wheel (MIT, `shaped/LICENSE-bpe.txt`), turned into the vocab.json / merges.txt a
transformers CLIPTokenizer reads (49,408 tokens, `model_max_length=77`), so prompts tokenize as on the real model.

Loading builds every module on the "meta" device (no memory, no init), casts it to the target dtype there,
allocates it once on the target device (`Module.to_empty`) and fills it: weights are windows, at seeded random
offsets, of one pool of 2**20 - 3 standard normal values (a prime length, so no two rows of a matrix repeat each
other) scaled by 1/sqrt(fan_in); norm scales 1, biases 0. Copying windows is memory-bound: on this 2-core CPU,
drawing 100M normal values took 1.8 s and copying 100M bfloat16 values 0.36 s, at the same moment (sd-turbo-shaped
has 1.2 billion parameters). The pool is drawn on the CPU, so a seed gives the same weights on every device.
No float32 copy of a float16 model ever exists, and nothing is initialised twice. Outputs are noise by design:
the weights are random.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import tempfile
import time
from functools import cache
from pathlib import Path
from typing import Any

import torch

from sdbridge.errors import ConfigError

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).with_name("shaped")
SHAPED_PRESETS: dict[str, str] = {"sd-turbo-shaped": "sd-turbo.json", "sdxl-turbo-shaped": "sdxl-turbo.json"}
BPE_FILE = DATA_DIR / "bpe_simple_vocab_16e6.txt.gz"
CLIP_VOCAB_SIZE = 49408  # 256 bytes + 256 end-of-word bytes + 48,894 merges + 2 specials
_MERGES = CLIP_VOCAB_SIZE - 2 * 256 - 2
POOL_SIZE = 2**20 - 3  # a prime: windows of it never line up with a row length


@cache
def shaped_spec(name: str) -> dict[str, Any]:
    """The published configuration of preset `name` (parsed once from its JSON data file)."""
    if name not in SHAPED_PRESETS:
        raise ConfigError(f"model={name!r} is not a shaped preset; expected one of {sorted(SHAPED_PRESETS)}")
    spec: dict[str, Any] = json.loads((DATA_DIR / SHAPED_PRESETS[name]).read_text(encoding="utf-8"))
    return spec


def clip_tokenizer(pad_token: str = "!", model_max_length: int = 77) -> Any:
    """The real CLIP BPE tokenizer (transformers CLIPTokenizer) from the BPE merges file kept in the package."""
    from transformers import CLIPTokenizer

    from sdbridge.pipeline.presets import _byte_unicode_alphabet

    lines = gzip.decompress(BPE_FILE.read_bytes()).decode("utf-8").split("\n")
    merges = lines[1:1 + _MERGES]  # line 0 is the format's version header
    alphabet = _byte_unicode_alphabet()
    tokens = [*alphabet, *(ch + "</w>" for ch in alphabet), *(m.replace(" ", "") for m in merges),
              "<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    if len(vocab) != CLIP_VOCAB_SIZE:
        raise ConfigError(f"{BPE_FILE} gave {len(vocab)} distinct tokens, expected {CLIP_VOCAB_SIZE}: the file is "
                          "not CLIP's bpe_simple_vocab_16e6; copy it again from the open-clip-torch wheel")
    with tempfile.TemporaryDirectory(prefix="sdbridge-clip-bpe-") as folder:
        Path(folder, "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        Path(folder, "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        return CLIPTokenizer.from_pretrained(folder, model_max_length=model_max_length, pad_token=pad_token)


def build_meta(name: str) -> dict[str, torch.nn.Module]:
    """Every module of preset `name` on the "meta" device (shapes only, no memory): unet, text encoder(s), taesd
    and vae (the full AutoencoderKL), keyed as in a diffusers pipeline folder."""
    from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    spec = shaped_spec(name)
    classes = {"CLIPTextModel": CLIPTextModel, "CLIPTextModelWithProjection": CLIPTextModelWithProjection}
    with torch.device("meta"):
        modules: dict[str, torch.nn.Module] = {"unet": UNet2DConditionModel(**spec["unet"])}
        for encoder in spec["text_encoders"]:
            modules[encoder["key"]] = classes[encoder["class"]](CLIPTextConfig(**encoder["config"]))
        modules["taesd"] = AutoencoderTiny(**spec["taesd"])
        modules["vae"] = AutoencoderKL(**spec["vae"])
    return modules


def build_shaped(name: str, device: torch.device, dtype: torch.dtype, seed: int = 0
                 ) -> tuple[dict[str, object], dict[str, Any]]:
    """Random-weight modules of preset `name` built directly on `device` in `dtype`, and its scheduler config.

    Returns (parts keyed as in a diffusers folder, with "taesd" and "vae" both present; scheduler config)."""
    started = time.perf_counter()
    spec = shaped_spec(name)
    modules = build_meta(name)
    generator = torch.Generator().manual_seed(seed)
    pool = torch.randn(POOL_SIZE, generator=generator).to(device)
    for key, module in modules.items():
        _materialize(module, key, device, dtype, _WeightPool(pool, generator))
    from sdbridge.pipeline.presets import _center_decoder_output

    _center_decoder_output(modules["taesd"].decoder.layers[-1])  # type: ignore[union-attr,index]
    parts: dict[str, object] = dict(modules)
    for encoder in spec["text_encoders"]:
        tok = encoder["tokenizer"]
        parts[tok["key"]] = clip_tokenizer(tok["pad_token"], tok["model_max_length"])
    log.info("%s: random weights, published shapes, built on %s in %s in %.1f s", name, device, dtype,
             time.perf_counter() - started)
    return parts, dict(spec["scheduler"])


class _WeightPool:
    """Standard normal values for any number of weights: windows of one pool at random offsets (wrapping)."""

    def __init__(self, pool: torch.Tensor, generator: torch.Generator) -> None:
        self.pool, self.generator = pool, generator
        self._scaled: dict[tuple[float, torch.dtype], torch.Tensor] = {}  # a few fan-ins per model: plain copies

    def fill(self, param: torch.Tensor, std: float) -> None:
        """Fill `param` with pool values times `std`."""
        scaled = self._scaled.get((std, param.dtype))
        if scaled is None:
            scaled = self._scaled[(std, param.dtype)] = self.pool.mul(std).to(param.dtype)
        size, count = scaled.numel(), param.numel()
        start = int(torch.randint(size, (1,), generator=self.generator))
        flat = param.view(-1)
        done = 0
        while done < count:
            take = min(count - done, size - start)
            flat[done:done + take].copy_(scaled[start:start + take])
            done, start = done + take, 0


def _materialize(module: torch.nn.Module, key: str, device: torch.device, dtype: torch.dtype,
                 pool: _WeightPool) -> None:
    """Allocate a meta-device module on `device` in `dtype` (once) and fill it from `pool`."""
    # on "meta" only the recorded dtype changes (integer buffers keep theirs); torch's own cast, as in _assemble
    torch.nn.Module.to(module, dtype=dtype)
    module.to_empty(device=device)
    with torch.no_grad():
        for param_name, param in module.named_parameters():
            _init_parameter(param, param_name, pool)
        for buffer_name, buffer in module.named_buffers():
            if buffer_name.endswith("position_ids"):  # CLIP's (1, 77) position index
                buffer.copy_(torch.arange(buffer.shape[-1], device=device).expand_as(buffer))
            else:
                raise ConfigError(f"{key}.{buffer_name}: a buffer the shaped presets do not know how to fill "
                                  f"(shape {tuple(buffer.shape)}); add its initial value in {__name__}._materialize")
    module.eval().requires_grad_(False)


def _init_parameter(param: torch.Tensor, name: str, pool: _WeightPool) -> None:
    """normal(0, 1/sqrt(fan_in)) for matrices and kernels (unit-variance activations), 1 for norm scales, 0 for
    biases: finite in float16 through every layer, and different prompts and frames give different outputs."""
    if param.dim() >= 2:
        pool.fill(param, 1.0 / math.sqrt(param[0].numel()))
    elif name.endswith("bias"):
        param.zero_()
    else:
        param.fill_(1.0)


def parameter_counts(modules: dict[str, torch.nn.Module]) -> dict[str, int]:
    """Parameters per module (works on the meta device)."""
    return {key: sum(p.numel() for p in module.parameters()) for key, module in modules.items()}
