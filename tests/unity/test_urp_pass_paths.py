"""Which recording path of the URP pass each Unity version compiles (Capture/StreamDiffusionRenderPass.cs).

URP 14 (Unity 2022.3) has only ScriptableRenderPass.Execute; URP 17.0-17.2 (Unity 6.0-6.2) calls RecordRenderGraph
with RenderGraph on and Execute in Compatibility Mode; URP 17.3 (Unity 6.3) strips Compatibility Mode unless the
URP_COMPATIBILITY_MODE scripting define is set, and that define is announced not to work from Unity 6.4. This reads
the file's ``#if`` lines as C#'s preprocessor would (Unity defines every ``UNITY_X_Y_OR_NEWER`` up to its own
version; the asmdef's versionDefines give SDBRIDGE_URP with URP >= 14) and checks the overrides each version gets.
No Unity editor runs here: this reads the source (the stub compile of each variant is by hand, README).
"""

from __future__ import annotations

import re
from pathlib import Path

PASS = Path(__file__).resolve().parents[2] / "unity_package/Runtime/Unity/Capture/StreamDiffusionRenderPass.cs"
TOKEN = re.compile(r"\s*(\|\||&&|!|\(|\)|[A-Za-z_]\w*)")
OVERRIDE = re.compile(r"\boverride\s+void\s+(Execute|RecordRenderGraph)\s*\(")


def _evaluate(expression: str, defines: set[str]) -> bool:
    """A C# preprocessor condition (identifiers, !, &&, ||, parentheses) under ``defines``."""
    words = []
    position = 0
    expression = expression.split("//", 1)[0].strip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        assert match, f"cannot read #if expression {expression!r} at {position}"
        token = match.group(1)
        words.append({"||": "or", "&&": "and", "!": "not", "(": "(", ")": ")"}.get(token, str(token in defines)))
        position = match.end()
    return bool(eval(" ".join(words), {"__builtins__": {}}))  # only True/False/and/or/not/parentheses


def compiled_overrides(source: str, defines: set[str]) -> list[str]:
    """The ``override void Execute / RecordRenderGraph`` declarations active under ``defines``."""
    stack: list[tuple[bool, bool]] = []  # (this branch active, some branch of this #if taken)
    found = []
    for line in source.splitlines():
        stripped = line.strip()
        parent = all(active for active, _ in stack)
        if stripped.startswith("#if "):
            value = _evaluate(stripped[4:], defines)
            stack.append((value, value))
        elif stripped.startswith("#elif "):
            _active, taken = stack.pop()
            value = not taken and _evaluate(stripped[6:], defines)
            stack.append((value, taken or value))
        elif stripped.startswith("#else"):
            _active, taken = stack.pop()
            stack.append((not taken, True))
        elif stripped.startswith("#endif"):
            stack.pop()
        elif parent and OVERRIDE.search(line):
            found.append(OVERRIDE.search(line).group(1))
    assert not stack, "unbalanced #if / #endif"
    return sorted(found)


def unity(version: tuple[int, int], *extra: str) -> set[str]:
    """The defines of a project on Unity ``version`` with URP (``(2022, 3)`` or ``(6000, minor)``)."""
    defines = {"SDBRIDGE_URP", *extra}
    if version[0] == 6000:
        defines |= {f"UNITY_6000_{minor}_OR_NEWER" for minor in range(version[1] + 1)}
    return defines


def test_each_unity_version_compiles_the_path_it_can_run() -> None:
    source = PASS.read_text(encoding="utf-8")
    assert compiled_overrides(source, unity((2022, 3))) == ["Execute"]
    for minor in (0, 1, 2):
        assert compiled_overrides(source, unity((6000, minor))) == ["Execute", "RecordRenderGraph"]
    assert compiled_overrides(source, unity((6000, 3))) == ["RecordRenderGraph"]
    assert compiled_overrides(source, unity((6000, 3), "URP_COMPATIBILITY_MODE")) == ["Execute", "RecordRenderGraph"]
    assert compiled_overrides(source, unity((6000, 4), "URP_COMPATIBILITY_MODE")) == ["RecordRenderGraph"]
    assert compiled_overrides(source, {"UNITY_6000_0_OR_NEWER"}) == []  # no URP package: nothing of the pass


def test_the_reader_sees_a_wrong_guard() -> None:
    # Negative control: the previous guard kept Execute on Unity 6.4 with URP_COMPATIBILITY_MODE.
    old = PASS.read_text(encoding="utf-8").replace(
        "#if !UNITY_6000_3_OR_NEWER || (URP_COMPATIBILITY_MODE && !UNITY_6000_4_OR_NEWER)",
        "#if !UNITY_6000_3_OR_NEWER || URP_COMPATIBILITY_MODE",
    )
    assert old != PASS.read_text(encoding="utf-8")
    assert compiled_overrides(old, unity((6000, 4), "URP_COMPATIBILITY_MODE")) == ["Execute", "RecordRenderGraph"]
    assert compiled_overrides("#if A\n#else\noverride void Execute(\n#endif\n", {"A"}) == []
    assert compiled_overrides("#if A\n#elif B\noverride void Execute(\n#endif\n", {"B"}) == ["Execute"]
