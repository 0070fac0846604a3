#!/usr/bin/env bash
# Fetch the sources of the Google.FlatBuffers release that unity_package/package.json pins (the NuGet runtime Unity
# users get through UnityNuGet) and build Google.FlatBuffers.dll from them with mono's mcs, the way that release's
# NuGet package was built: FlatBuffers' release workflow runs `dotnet build Google.FlatBuffers.csproj -c Release`
# with no properties, so neither ENABLE_SPAN_T nor UNSAFE_BYTEBUFFER is defined and the DLL has the ArraySegment
# members the generated code and BridgeCodec call (every `#if` in net/FlatBuffers/*.cs of 23.5.26 needs one of the
# two before NETSTANDARD2_1 changes any member, so the netstandard2.0/2.1/net46 builds share this API).
# Where from: Debian's `flatbuffers` source package of the same upstream release (trixie has 23.5.26), fetched by apt
# with its own state folder under $1 (the system's apt sources and lists are not touched), signature-checked by
# apt against debian-archive-keyring. Only the upstream tarball (.orig) is used: Debian's +dfsg repack drops two
# gradle jars and its patches do not touch net/. Nothing fetched here is committed.
# Usage: fetch_flatbuffers_nuget_runtime.sh [OUT_DIR]   -> OUT_DIR/Google.FlatBuffers.dll, prints the version.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKG="$(cd "$HERE/../.." && pwd)"
OUT="${1:-build/flatbuffers_nuget}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SUITE="${SDBRIDGE_NUGET_RUNTIME_SUITE:-trixie}"   # the Debian suite whose flatbuffers is the pinned release

PINNED="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["org.nuget.google.flatbuffers"])' \
  "$PKG/package.json")"
if [[ -f "$OUT/Google.FlatBuffers.dll" && "$(cat "$OUT/VERSION" 2>/dev/null)" == "$PINNED" ]]; then
  echo "Google.FlatBuffers $PINNED already built in $OUT"
  exit 0
fi
APT="$OUT/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$OUT/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" \
  >"$APT/sources.list"
OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/nonexistent
      -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o APT::Sandbox::User=root)
apt-get "${OPTS[@]}" update >/dev/null
cd "$OUT/src"
rm -f flatbuffers_*
apt-get "${OPTS[@]}" source --download-only flatbuffers >/dev/null
ORIG="$(ls flatbuffers_*.orig.tar.* | head -n1)"
UPSTREAM="$(echo "$ORIG" | sed -E 's/^flatbuffers_([0-9.]+).*/\1/')"
if [[ "$UPSTREAM" != "$PINNED" ]]; then
  echo "Debian $SUITE has flatbuffers $UPSTREAM, but unity_package/package.json pins Google.FlatBuffers $PINNED;" \
    "set SDBRIDGE_NUGET_RUNTIME_SUITE to a suite that has $PINNED, or move the pin (schemas/codegen.py reads it)" >&2
  exit 1
fi
rm -rf "flatbuffers-$UPSTREAM"* && tar xf "$ORIG"
NET_DIR="$(ls -d "$OUT"/src/flatbuffers-"$UPSTREAM"*/net/FlatBuffers | head -n1)"
grep -q "FLATBUFFERS_${PINNED//./_}()" "$NET_DIR/FlatBufferConstants.cs" ||
  { echo "$NET_DIR/FlatBufferConstants.cs has no FLATBUFFERS_${PINNED//./_}() guard" >&2; exit 1; }
mcs -langversion:7.2 -unsafe -target:library -nowarn:1591 -out:"$OUT/Google.FlatBuffers.dll" "$NET_DIR"/*.cs
echo "$PINNED" >"$OUT/VERSION"
echo "built $OUT/Google.FlatBuffers.dll from Google.FlatBuffers $PINNED ($NET_DIR)"
