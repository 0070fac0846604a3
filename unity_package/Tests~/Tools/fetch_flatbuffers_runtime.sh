#!/usr/bin/env bash
# Fetch the FlatBuffers C# runtime matching flatc 2.0.8 from Debian's `flatbuffers` source package and build
# FlatBuffers.dll with mono's mcs. Nothing fetched here is committed: output goes to $1 (default build/csharp).
# Needs root for apt (adds a deb-src twin of each entry in /etc/apt/sources.list.d/debian.sources, once).
set -euo pipefail
OUT="${1:-build/csharp}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
if [[ -f "$OUT/FlatBuffers.dll" ]]; then
  echo "FlatBuffers.dll already built in $OUT"
  exit 0
fi
APT_OPTS=(-o DPkg::Lock::Timeout=600)
SOURCES=/etc/apt/sources.list.d/debian.sources
if ! command -v dpkg-source >/dev/null 2>&1; then
  apt-get install -y "${APT_OPTS[@]}" dpkg-dev >/dev/null
fi
if [[ -f "$SOURCES" ]] && ! grep -q '^Types:.*deb-src' "$SOURCES"; then
  # Each stanza "Types: deb" gets a twin "Types: deb-src" with the same URIs, Suites, Components, Signed-By.
  python3 - "$SOURCES" <<'PY'
import sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
stanzas = [s for s in text.split("\n\n") if s.strip()]
twins = []
for s in stanzas:
    lines = s.strip().splitlines()
    if any(line.strip() == "Types: deb" for line in lines):
        twins.append("\n".join("Types: deb-src" if line.strip() == "Types: deb" else line for line in lines))
with open(path, "a", encoding="utf-8") as f:
    for t in twins:
        f.write("\n\n" + t + "\n")
PY
fi
if ! apt-cache showsrc flatbuffers 2>/dev/null | grep -q '^Package: flatbuffers'; then
  apt-get update "${APT_OPTS[@]}" >/dev/null
fi
SRC="$OUT/src"
mkdir -p "$SRC"
cd "$SRC"
if ! ls -d flatbuffers-*/net/FlatBuffers >/dev/null 2>&1; then
  # -d: do not need build-deps; apt-get source unpacks with dpkg-source.
  apt-get source "${APT_OPTS[@]}" flatbuffers >/dev/null 2>&1 || apt-get source flatbuffers
fi
NET_DIR="$(ls -d "$SRC"/flatbuffers-*/net/FlatBuffers | head -n1)"
VERSION="$(basename "$(dirname "$(dirname "$NET_DIR")")")"
echo "FlatBuffers C# runtime sources: $VERSION ($NET_DIR)"
mcs -langversion:7.2 -unsafe -target:library -nowarn:1591 -out:"$OUT/FlatBuffers.dll" "$NET_DIR"/*.cs
echo "built $OUT/FlatBuffers.dll"
