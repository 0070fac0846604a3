"""The Unreal plugin's Blueprint parameter struct (FSDBridgeParams) starts each parameter at the registry's default
and clamps its editor field to the registry's range (sdbridge.params: one default and one range per parameter).

UPROPERTY meta clamps are string literals and a USTRUCT's member initialisers sit in a public header that cannot see
the core's generated constants (sdbridge/generated/stream_params.h), so the values are written there; this test
keeps them equal to the registry. The struct's fields are found through ToWire (SDBridgeConversions.h), which says
which Params field each one fills. The style images' weight (FSDBridgeStyleTexture.Weight) clamps to the registry's
style_blend weight range the same way. Not compiled here: the test reads the sources.
"""

from __future__ import annotations

import re
from pathlib import Path

from sdbridge import params

SOURCE = Path(__file__).parents[1] / "unreal_plugin" / "StreamDiffusionBridge" / "Source" / "StreamDiffusionBridge"
TYPES = SOURCE / "Public" / "StreamDiffusionBridgeTypes.h"
CONVERSIONS = SOURCE / "Private" / "SDBridgeConversions.h"


def _struct_body() -> str:
    text = TYPES.read_text(encoding="utf-8")
    start = text.index("struct STREAMDIFFUSIONBRIDGE_API FSDBridgeParams")
    return text[start:text.index("};", start)]


def _wire_fields() -> dict[str, str]:
    """FSDBridgeParams member -> the Params wire field ToWire fills from it."""
    text = CONVERSIONS.read_text(encoding="utf-8")
    body = text[text.index("inline sdbridge::Params ToWire(const FSDBridgeParams& In)"):]
    body = body[:body.index("return P;")]
    return {member: wire for wire, member in re.findall(r"P\.(\w+) = [^;]*?In\.(\w+)", body)}


def _literal(text: str) -> float | bool | str:
    text = text.strip()
    if "::" in text:  # a UENUM member (ESDBridgeCfgMode::None): the registry's choice of that name
        return text.rsplit("::", 1)[1].lower()
    text = text.rstrip("f")
    return text == "true" if text in ("true", "false") else float(text)


def test_the_blueprint_params_start_at_the_registry_defaults_and_clamp_to_its_ranges() -> None:
    body = _struct_body()
    fields = _wire_fields()
    assert "GuidanceScale" in fields and len(fields) >= 6, fields
    checked = []
    for member, wire in fields.items():
        param = params.by_wire_field(wire)
        found = re.search(rf"UPROPERTY\(([^\n]*)\)\s*\n\s*[\w<>]+ {member}( = [^;]+)?;", body)
        assert found is not None, f"ToWire reads In.{member}, which FSDBridgeParams does not declare"
        meta, declaration = found.groups()
        if declaration is not None:  # a member with an initialiser (a TArray starts empty: sent only when toggled)
            assert _literal(declaration[3:]) == param.default, f"FSDBridgeParams.{member}{declaration}: registry " \
                                                               f"default of {param.name} is {param.default!r}"
            checked.append(member)
        for clamp, bound in (("ClampMin", param.minimum), ("ClampMax", param.maximum)):
            written = re.search(rf'{clamp} = "([^"]+)"', meta)
            if written is not None:
                assert bound is not None and float(written.group(1)) == bound, \
                    f"FSDBridgeParams.{member} {clamp} = {written.group(1)}: {param.name}'s range is {param.range_text}"
    assert "GuidanceScale" in checked and "SimilarityThreshold" in checked


def _style_weight_clamps() -> dict[str, float]:
    """FSDBridgeStyleTexture.Weight's UPROPERTY meta clamps, by name (ClampMin / ClampMax)."""
    text = TYPES.read_text(encoding="utf-8")
    start = text.index("struct STREAMDIFFUSIONBRIDGE_API FSDBridgeStyleTexture")
    body = text[start:text.index("};", start)]
    found = re.search(r"UPROPERTY\(([^\n]*)\)\s*\n\s*float Weight\b", body)
    assert found is not None, "FSDBridgeStyleTexture declares no `float Weight` UPROPERTY"
    return {clamp: float(value) for clamp, value in re.findall(r'(ClampMin|ClampMax) = "([^"]+)"', found.group(1))}


def test_the_style_texture_weight_clamps_to_the_registry_style_weight_range() -> None:
    style_blend = params.by_wire_field("style_blend")
    assert style_blend.minimum is not None and style_blend.maximum is not None, style_blend.range_text
    assert _style_weight_clamps() == {"ClampMin": style_blend.minimum, "ClampMax": style_blend.maximum}, \
        f"FSDBridgeStyleTexture.Weight's meta clamps must be {style_blend.name}'s range {style_blend.range_text}"
