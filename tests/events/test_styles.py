"""Rules files switch IP-Adapter styles on game events: `[styles]` image files (relative to the rules file, read at
load, errors naming the file), a rule's `style` blend reached over its `transition` one frame at a time
(sdbridge.events.style_fade), temporary style effects that revert, and the values a pipeline accepts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdbridge.events.engine import RuleEngine
from sdbridge.events.rules import RulesError, load_rules
from sdbridge.events.style_files import StyleImages

FOREST = np.zeros((8, 12, 3), dtype=np.uint8)
FOREST[..., 1] = 180
DESERT = np.full((10, 6, 3), 200, dtype=np.uint8)

RULES = """
[styles]
forest = "styles/forest.png"
desert = "desert.png"

[prompt]
template = "a landscape"

[[rules]]
event = "biome"
when = { name = "forest" }
style = { forest = 1.0 }
transition = { seconds = 2 }

[[rules]]
event = "biome"
when = { name = "desert" }
style = { desert = 2.0 }
transition = { frames = 4, easing = "ease_in" }

[[rules]]
event = "storm"
style = { desert = 1.0, forest = 1.0 }
duration = { seconds = 5 }
"""


def _write(folder: Path, text: str = RULES) -> Path:
    from PIL import Image

    (folder / "styles").mkdir(exist_ok=True)
    Image.fromarray(FOREST).save(folder / "styles" / "forest.png")
    Image.fromarray(DESERT).save(folder / "desert.png")
    path = folder / "rules.toml"
    path.write_text(text)
    return path


def test_style_files_are_read_relative_to_the_rules_file(tmp_path):
    rules = load_rules(_write(tmp_path))
    assert rules.styles == StyleImages.of({"forest": FOREST, "desert": DESERT})
    assert rules.rules[0].style == (("forest", 1.0),) and rules.rules[1].style == (("desert", 2.0),)
    assert str(rules.styles) == "style images ['forest', 'desert']"


@pytest.mark.parametrize(("edit", "message"), [
    (('"desert.png"', '"missing.png"'), r"styles\.desert: style image file '.*missing\.png' does not exist"),
    (('"desert.png"', '"rules.toml"'), r"styles\.desert: style image file '.*rules\.toml' is not an image"),
    (('"desert.png"', "3"), r"styles\.desert: must name an image file"),
    (("style = { forest = 1.0 }", "style = { snow = 1.0 }"),
     r"rules\[0\]\.style\.snow: style 'snow' is not declared under \[styles\] \(declared: forest, desert\)"),
    (("style = { desert = 2.0 }", "style = { desert = 2.5 }"), r"rules\[1\]\.style: .*2\.5"),
    (("style = { forest = 1.0 }", "params = { guidance_scale = 1.2 }"),
     r"rules\[0\]\.transition: transition blends to a new prompt or style; this rule sets neither"),
])
def test_bad_styles_are_refused_naming_the_file_and_line(tmp_path, edit, message):
    path = _write(tmp_path, RULES.replace(*edit))
    with pytest.raises(RulesError, match=message) as info:
        load_rules(path)
    assert str(info.value).startswith(f"{path}:")


def test_too_many_and_too_large_style_images_are_refused(tmp_path):
    from PIL import Image

    from sdbridge.config import LimitsConfig

    limit = LimitsConfig().max_style_images
    lines = "\n".join(f's{i} = "desert.png"' for i in range(limit + 1))
    path = _write(tmp_path, f"[styles]\n{lines}\n[prompt]\ntemplate = 'x'\n")
    with pytest.raises(RulesError, match=rf"{limit + 1} style images, above limits.max_style_images={limit}"):
        load_rules(path)
    Image.new("RGB", (LimitsConfig().max_width + 1, 2)).save(tmp_path / "wide.png")
    path.write_text("[styles]\nwide = 'wide.png'\n[prompt]\ntemplate = 'x'\n")
    with pytest.raises(RulesError, match=r"is 2049x2 pixels, above limits.max_width x max_height = 2048x2048"):
        load_rules(path)


def test_style_images_replace_by_name_and_compare_by_content():
    images = StyleImages.of({"forest": FOREST}).with_image("desert", DESERT).with_image("forest", DESERT)
    assert images.names == ("forest", "desert") and images == StyleImages.of({"forest": DESERT, "desert": DESERT})
    assert images != StyleImages.of({"forest": FOREST, "desert": DESERT})  # able to fail: other pixels differ
    assert hash(images) == hash(StyleImages.of([("forest", DESERT.copy()), ("desert", DESERT)]))


def test_start_sends_the_images_and_no_style(tmp_path):
    engine = RuleEngine(load_rules(_write(tmp_path)))
    (change,) = engine.start().changes
    assert change.values["style_images"] == StyleImages.of({"forest": FOREST, "desert": DESERT})
    assert change.values["style_blend"] == (("forest", 0.0), ("desert", 0.0))  # declared styles, none shown yet
    based = RULES.replace('template = "a landscape"', 'template = "a landscape"\nstyle = { desert = 1 }')
    with_base = RuleEngine(load_rules(_write(tmp_path, based)))
    assert with_base.start().changes[0].values["style_blend"] == (("desert", 1.0),)


def _blends(engine: RuleEngine, times: list[float], frames: list[int]) -> list[dict]:
    out = []
    for now, frame in zip(times, frames, strict=True):
        out += [dict(c.values) for c in engine.tick(now, frame).changes]
    return out


def test_a_style_is_reached_over_its_transition_one_frame_at_a_time(tmp_path):
    engine = RuleEngine(load_rules(_write(tmp_path)), state=None)
    engine.start()
    first = engine.on_event("biome", {"name": "desert"}, now=0.0, frame=0)
    assert first.matched == ["rule 2"] and first.changes == []  # no jump: the blend moves with the frames
    assert engine.tick(0.5, None).changes == []  # a fade in frames waits for frames
    steps = _blends(engine, [0.1, 0.2, 0.3, 0.4, 0.5], [0, 1, 2, 3, 4])
    # from no style to desert without an ip_adapter_scale in the rules: desert from the first frame on
    assert [s["style_blend"] for s in steps] == [(("desert", 2.0),)] * 4  # frames 0..3 of 4; then done
    assert "ip_adapter_scale" not in steps[0]
    engine.on_event("biome", {"name": "forest"}, now=10.0, frame=10)  # 2 seconds, linear
    steps = _blends(engine, [10.5, 11.0, 11.5, 12.0], [11, 12, 13, 14])
    mixed = [dict(s["style_blend"]) for s in steps]
    for got, p in zip(mixed[:3], (0.25, 0.5, 0.75), strict=True):
        assert got == pytest.approx({"forest": p, "desert": 1.0 - p})  # each side scaled to sum 1
    assert steps[-1]["style_blend"] == (("forest", 1.0),)  # the target exactly
    assert engine.tick(13.0, 15).changes == []  # done: nothing more


def test_an_interrupted_fade_starts_where_it_is_and_effects_revert(tmp_path):
    engine = RuleEngine(load_rules(_write(tmp_path, RULES.replace('[prompt]', '[params]\nip_adapter_scale = 0.8\n'
                                                                              '[prompt]'))))
    engine.start()
    engine.on_event("biome", {"name": "forest"}, now=0.0, frame=0)
    (step,) = _blends(engine, [1.0], [1])
    assert step == {"style_blend": (("forest", 1.0),), "ip_adapter_scale": pytest.approx(0.4)}  # the scale rises
    engine.on_event("biome", {"name": "desert"}, now=1.0, frame=1)  # halfway: from forest (at half scale) on
    (step,) = _blends(engine, [1.0], [2])  # the 2nd of 4 frames (1 and 2), ease_in: 0.25 of the way
    assert dict(step["style_blend"]) == pytest.approx({"desert": 0.25, "forest": 0.75})
    assert step["ip_adapter_scale"] == pytest.approx(0.4 + 0.25 * 0.4)  # and the scale back up to the rules' 0.8
    _blends(engine, [2.0], [5])
    storm = engine.on_event("storm", {}, now=3.0, frame=6)  # a temporary effect without transition: at once
    assert storm.changes[0].values["style_blend"] == (("desert", 1.0), ("forest", 1.0))
    ended = engine.tick(8.5, 9)
    assert ended.changes[0].values["style_blend"] == (("desert", 2.0),)  # back to the rules' blend


def test_the_changes_drive_a_pipeline(tmp_path, tiny):
    """The engine's values go through StreamPipeline.update as the server's worker applies them."""
    import torch

    from sdbridge.pipeline import StreamConfig, StreamPipeline
    from sdbridge.pipeline.components import load_components
    from sdbridge.pipeline.ip_adapter_tiny import tiny_ip_adapter

    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[16, 45]),
                          ip_adapter=tiny_ip_adapter(comps, seed=1))
    engine = RuleEngine(load_rules(_write(tmp_path)))
    values = dict(engine.start().changes[0].values)
    pipe.prepare(prompt=values.pop("prompt"), negative_prompt=values.pop("negative_prompt"))
    pipe.update(**values)
    assert pipe.style.names == ("forest", "desert") and not pipe.style.active
    engine.on_event("biome", {"name": "forest"}, now=0.0, frame=0)
    for change in engine.tick(1.0, 1).changes + engine.tick(2.0, 2).changes:
        pipe.update(**change.values)
    assert pipe.style.active and pipe.style.weights() == {"forest": 1.0, "desert": 0.0}


def test_a_server_without_an_ip_adapter_refuses_a_file_with_styles(tmp_path):
    from sdbridge.events.host import RulesHost

    path = _write(tmp_path)
    with pytest.raises(RulesError, match=r"\[styles\] declares style images \['forest', 'desert'\], but this server "
                                         r"has no IP-Adapter to use them; start it with --ip-adapter SOURCE"):
        RulesHost(path, styles=False)
    host = RulesHost(path)  # able to fail: with an adapter the file loads
    assert host.rules.styles is not None
    (tmp_path / "plain").mkdir()
    plain = RulesHost(_write(tmp_path / "plain", "[prompt]\ntemplate = 'x'\n"), styles=False)
    plain.path.write_text(RULES)  # a reload that adds [styles] is refused; the previous rules stay
    assert plain.check() == {} and "has no IP-Adapter" in plain.last_error and plain.rules.styles is None
