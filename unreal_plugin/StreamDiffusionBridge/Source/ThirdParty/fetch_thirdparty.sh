#!/usr/bin/env bash
# Fill the plugin's ThirdParty module folders on Linux (Debian 12 / Ubuntu):
#   headers   SDBridgeLibZmq/include/zmq.h, SDBridgeCppZmq/include/zmq.hpp + zmq_addon.hpp,
#             SDBridgeFlatBuffers/include/flatbuffers/ (must be 2.0.8)       from libzmq3-dev, cppzmq-dev, libflatbuffers-dev
#   library   SDBridgeLibZmq/Linux/libzmq.so.5, one of:
#     --libzmq-src DIR   build libzmq (4.3.x source tree, e.g. the v4.3.5 tag) with CMake and no optional
#                        dependencies (no libsodium/pgm/norm/gssapi; CurveZMQ through libzmq's bundled tweetnacl),
#                        so the shipped library needs only libc and libstdc++: this is what to ship.
#     --system-lib       copy the distribution's libzmq.so.5 (needs libsodium, libpgm, libnorm, libgssapi, libbsd on
#                        the machine that runs the game): for editor work on this machine only, never for shipping.
# Usage: bash Source/ThirdParty/fetch_thirdparty.sh [--install] (--libzmq-src DIR | --system-lib)
#   --install runs apt-get for the header packages first (as root).
# Windows and macOS: see README.md next to this script.
# What ran on our build machines: the header copy and --system-lib (Debian 12). --libzmq-src was not run here
# (no network to fetch the libzmq sources); the dependency check below refuses a library that needs more.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
install=0
src=""
system_lib=0
while (( $# )); do
  case "$1" in
    --install) install=1 ;;
    --libzmq-src) src="${2:?--libzmq-src needs a directory}"; shift ;;
    --system-lib) system_lib=1 ;;
    *) echo "unknown argument $1 (expected --install, --libzmq-src DIR or --system-lib)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$src" && "$system_lib" == 0 ]]; then
  echo "choose the library: --libzmq-src DIR (to ship) or --system-lib (this machine only); see README.md" >&2
  exit 2
fi
if (( install )); then
  apt-get install -y -o DPkg::Lock::Timeout=600 libzmq3-dev cppzmq-dev libflatbuffers-dev
fi

need() { [[ -e "$1" ]] || { echo "missing $1: install $2 (or run with --install as root)" >&2; exit 1; }; }
need /usr/include/zmq.h libzmq3-dev
need /usr/include/zmq.hpp cppzmq-dev
need /usr/include/flatbuffers/base.h libflatbuffers-dev
version="$(awk '/#define FLATBUFFERS_VERSION_(MAJOR|MINOR|REVISION)/ {printf "%s%s", sep, $3; sep="."}' \
  /usr/include/flatbuffers/base.h)"
if [[ "$version" != "2.0.8" ]]; then
  echo "/usr/include/flatbuffers is $version; the generated code needs 2.0.8 (Debian 12's libflatbuffers-dev," \
       "or the v2.0.8 tag of github.com/google/flatbuffers: copy its include/flatbuffers)" >&2
  exit 1
fi

mkdir -p "$HERE/SDBridgeLibZmq/include" "$HERE/SDBridgeLibZmq/Linux" "$HERE/SDBridgeCppZmq/include" \
         "$HERE/SDBridgeFlatBuffers/include"
cp /usr/include/zmq.h "$HERE/SDBridgeLibZmq/include/"
cp /usr/include/zmq.hpp /usr/include/zmq_addon.hpp "$HERE/SDBridgeCppZmq/include/"
rm -rf "$HERE/SDBridgeFlatBuffers/include/flatbuffers"
cp -r /usr/include/flatbuffers "$HERE/SDBridgeFlatBuffers/include/"

out="$HERE/SDBridgeLibZmq/Linux/libzmq.so.5"
if [[ -n "$src" ]]; then
  build="$(mktemp -d)"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED=ON -DBUILD_STATIC=OFF -DBUILD_TESTS=OFF \
    -DWITH_DOCS=OFF -DWITH_PERF_TOOL=OFF -DENABLE_CURVE=ON -DWITH_LIBSODIUM=OFF -DWITH_LIBBSD=OFF \
    -DWITH_OPENPGM=OFF -DWITH_NORM=OFF -DWITH_VMCI=OFF -DWITH_TLS=OFF -DENABLE_DRAFTS=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" >/dev/null
  cp -L "$(ls "$build"/lib/libzmq.so.5* | head -1)" "$out"
  cp "$src/include/zmq.h" "$HERE/SDBridgeLibZmq/include/"   # the header of the library that ships
  rm -rf "$build"
  # Only the C and C++ runtimes may remain: anything else would be missing on the players' machines.
  extra="$(readelf -d "$out" | awk '/NEEDED/ {gsub(/[\[\]]/, "", $5); print $5}' \
    | grep -Ev '^(libc|libm|libstdc\+\+|libgcc_s|libpthread|librt|libdl|ld-linux.*)\.so' || true)"
  if [[ -n "$extra" ]]; then
    echo "$out needs $(echo "$extra" | tr '\n' ' '): rebuild without those options" >&2
    exit 1
  fi
else
  so="$(ls /usr/lib/*-linux-gnu/libzmq.so.5 2>/dev/null | head -1 || true)"
  need "${so:-/usr/lib/x86_64-linux-gnu/libzmq.so.5}" libzmq5
  cp -L "$so" "$out"
  echo "NOTE: $out is the distribution's build; it needs $(readelf -d "$out" | awk '/NEEDED/ {gsub(/[\[\]]/, "", $5); printf "%s ", $5}')" \
       "- fine on this machine, not for shipping (use --libzmq-src)" >&2
fi
echo "ThirdParty ready: libzmq $(basename "$out"), cppzmq" \
     "$(awk '/define CPPZMQ_VERSION_(MAJOR|MINOR|PATCH)/ {printf "%s%s", sep, $3; sep="."}' /usr/include/zmq.hpp)," \
     "flatbuffers $version"
