"""The game's camera is never taken over: no script of the package (Runtime, Editor, Samples~) assigns a camera's
``targetTexture``, ``aspect``, projection or view matrix, except on a camera the package created itself (the
preview window's hidden capture camera, ``_captureCamera``). The capture is a pipeline hook (Built-in command
buffer, URP pass, HDRP custom pass) and the result is drawn over the camera's own target or exposed as
``OutputTexture``. No Unity editor runs here: this reads the sources.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "unity_package"
SCRIPT_FOLDERS = ("Runtime", "Editor", "Samples~")
# "<receiver>.<member> =" (not "==") for the Camera members that would take a camera over.
ASSIGNMENT = re.compile(
    r"([\w.\[\]()]+)\.(targetTexture|aspect|projectionMatrix|worldToCameraMatrix|rect|pixelRect)\s*=(?!=)"
)
# Receivers that are cameras the package creates and owns.
OWN_CAMERAS = {"_captureCamera"}


def takeovers(sources: dict[str, str]) -> list[str]:
    """``file:line: receiver.member`` for each take-over assignment on a camera the package does not own."""
    found = []
    for file_name, text in sources.items():
        for number, line in enumerate(text.splitlines(), start=1):
            code = line.split("//", 1)[0]
            for receiver, member in ASSIGNMENT.findall(code):
                if receiver not in OWN_CAMERAS:
                    found.append(f"{file_name}:{number}: {receiver}.{member}")
    return found


def _package_sources() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE)): path.read_text(encoding="utf-8")
        for folder in SCRIPT_FOLDERS
        for path in sorted((PACKAGE / folder).rglob("*.cs"))
    }


def test_no_script_takes_a_camera_over() -> None:
    sources = _package_sources()
    assert any("targetTexture" in text for text in sources.values())  # the scan sees the member where it is used
    assert takeovers(sources) == []


def test_borrowing_the_main_cameras_target_is_flagged() -> None:
    # Negative control: the preview window's former code, which lent the main camera's targetTexture to the capture.
    old = (
        "RenderTexture previous = cam.targetTexture;\n"
        "cam.targetTexture = _capture; // borrowed for one Camera.Render\n"
        "cam.Render();\n"
        "cam.targetTexture = previous;\n"
    )
    assert takeovers({"Editor/Old.cs": old}) == [
        "Editor/Old.cs:2: cam.targetTexture",
        "Editor/Old.cs:4: cam.targetTexture",
    ]
    assert takeovers({"x.cs": "if (cam.targetTexture == null) return;\n_captureCamera.targetTexture = rt;\n"}) == []
