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
  # Each stanza with the line "Types: deb" gets a twin "Types: deb-src" with the same URIs, Suites,
  # Components and Signed-By (awk paragraph mode: stanzas are separated by blank lines).
  twins="$(awk 'BEGIN { RS = ""; ORS = "\n\n" }
    { n = split($0, lines, "\n"); found = 0; out = ""
      for (i = 1; i <= n; i++) {
        line = lines[i]
        if (line == "Types: deb") { line = "Types: deb-src"; found = 1 }
        out = out line "\n"
      }
      if (found) print out }' "$SOURCES")"
  printf '\n%s\n' "$twins" >> "$SOURCES"
fi
if ! apt-cache showsrc flatbuffers 2>/dev/null | grep -q '^Package: flatbuffers'; then
  apt-get update "${APT_OPTS[@]}" >/dev/null
fi
SRC="$OUT/src"
mkdir -p "$SRC"
cd "$SRC"
if ! ls -d flatbuffers-*/net/FlatBuffers >/dev/null 2>&1; then
  # Downloads the .dsc + tarballs and unpacks them with dpkg-source (no build dependencies needed).
  apt-get source "${APT_OPTS[@]}" flatbuffers >/dev/null 2>&1 || apt-get source flatbuffers
fi
NET_DIR="$(ls -d "$SRC"/flatbuffers-*/net/FlatBuffers | head -n1)"
VERSION="$(basename "$(dirname "$(dirname "$NET_DIR")")")"
echo "FlatBuffers C# runtime sources: $VERSION ($NET_DIR)"
mcs -langversion:7.2 -unsafe -target:library -nowarn:1591 -out:"$OUT/FlatBuffers.dll" "$NET_DIR"/*.cs
echo "built $OUT/FlatBuffers.dll"
