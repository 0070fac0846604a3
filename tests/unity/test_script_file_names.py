"""Unity's file-name rule for the package's scripts: a class that derives from MonoBehaviour or ScriptableObject
(ScriptableRendererFeature, EditorWindow and Editor are ScriptableObjects) must be declared in a file named after
it. Unity resolves such a class's MonoScript by file name (Unity 2022.3 / 6 Manual, "Naming scripts": with several
classes in a file it picks the one named like the file; a partial MonoBehaviour is a component only through the
file named after it), so a renderer feature declared in a file of another name can come back as a missing script
when the Universal Renderer asset that holds it is reloaded. No Unity editor runs here: this reads the sources.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "unity_package"
# Unity's own bases whose subclasses need a MonoScript (a file named after the class).
UNITY_OBJECT_BASES = {
    "MonoBehaviour",
    "ScriptableObject",
    "ScriptableRendererFeature",
    "EditorWindow",
    "Editor",
    "UnityEditor.Editor",
    "StateMachineBehaviour",
}
# "class Name : Base" or "class Name" (a partial part without its base list): (name, base or "").
CLASS_DECLARATION = re.compile(r"\bclass\s+(\w+)\s*(?:<[^>{]*>)?\s*(?::\s*([\w.]+))?")
# Folders whose scripts Unity imports: the package's, and Samples~ (copied into a project by the Package Manager,
# where the same rule holds).
SCRIPT_FOLDERS = ("Runtime", "Editor", "Tests", "Samples~")


def misplaced_unity_classes(sources: dict[str, str]) -> list[str]:
    """The Unity-object classes in ``sources`` (file name -> C# text) that no file named after them declares."""
    bases: dict[str, set[str]] = {}
    files_of: dict[str, set[str]] = {}
    for file_name, text in sources.items():
        for name, base in CLASS_DECLARATION.findall(text):
            bases.setdefault(name, set())
            if base:
                bases[name].add(base)
            files_of.setdefault(name, set()).add(file_name)
    unity_classes: set[str] = set()
    changed = True
    while changed:  # a class deriving from one of the package's Unity-object classes is one too
        changed = False
        for name, its_bases in bases.items():
            if name not in unity_classes and its_bases & (UNITY_OBJECT_BASES | unity_classes):
                unity_classes.add(name)
                changed = True
    return sorted(
        f"{name} (declared in {', '.join(sorted(files_of[name]))})"
        for name in unity_classes
        if f"{name}.cs" not in files_of[name]
    )


def _package_sources() -> dict[str, str]:
    sources: dict[str, str] = {}
    for folder in SCRIPT_FOLDERS:
        for path in sorted((PACKAGE / folder).rglob("*.cs")):
            sources[path.relative_to(PACKAGE).as_posix()] = path.read_text(encoding="utf-8")
    return sources


def _by_file_name(sources: dict[str, str]) -> dict[str, str]:
    return {Path(rel).name: text for rel, text in sources.items()}


def test_the_package_declares_unity_object_classes() -> None:
    sources = _by_file_name(_package_sources())
    found = {name for text in sources.values() for name, _ in CLASS_DECLARATION.findall(text)}
    # The check below is about these: prove it sees them (a broken regex would pass vacuously).
    for expected in (
        "StreamDiffusionCamera",
        "StreamDiffusionSettings",
        "StreamDiffusionRendererFeature",
        "StreamDiffusionPreviewWindow",
        "StreamDiffusionCameraEditor",
    ):
        assert expected in found, f"{expected} not found in unity_package/{{Runtime,Editor,Tests}}"


def test_every_monobehaviour_and_scriptableobject_lives_in_a_file_named_after_it() -> None:
    misplaced = misplaced_unity_classes(_by_file_name(_package_sources()))
    assert not misplaced, (
        f"Unity resolves these classes' scripts by file name, and no file is named after them: {misplaced}; "
        "move each into <ClassName>.cs (keep the old .meta's GUID on the file that keeps the class)"
    )


def test_the_rule_catches_a_renderer_feature_in_a_file_of_another_name() -> None:
    # The layout this package had: the renderer feature and the pass in UrpRendererFeature.cs.
    sources = {
        "UrpRendererFeature.cs": (
            "public sealed class StreamDiffusionRendererFeature : ScriptableRendererFeature { }\n"
            "internal sealed class StreamDiffusionRenderPass : ScriptableRenderPass { }\n"
        ),
        "StreamDiffusionCamera.cs": "public sealed partial class StreamDiffusionCamera : MonoBehaviour { }\n",
        "StreamDiffusionCamera.Frames.cs": "public sealed partial class StreamDiffusionCamera { }\n",
        "Settings.Part.cs": "public sealed partial class Settings : ScriptableObject { }\n",
        "Settings.cs": "public sealed partial class Settings { }\n",
        "Derived.cs": (
            "class Other : StreamDiffusionCameraBase { }\nclass StreamDiffusionCameraBase : MonoBehaviour { }\n"
        ),
    }
    assert misplaced_unity_classes(sources) == [
        "Other (declared in Derived.cs)",
        "StreamDiffusionCameraBase (declared in Derived.cs)",
        "StreamDiffusionRendererFeature (declared in UrpRendererFeature.cs)",
    ]
