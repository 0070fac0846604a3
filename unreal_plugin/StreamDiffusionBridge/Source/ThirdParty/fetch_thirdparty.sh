#!/usr/bin/env bash
# Fill the plugin's ThirdParty folders from Debian/Ubuntu packages (Linux editor builds):
#   libzmq3-dev libzmq5 (libzmq 4.3.x), cppzmq-dev (zmq.hpp), libflatbuffers-dev (2.0.8 on Debian 12).
# Usage: bash Source/ThirdParty/fetch_thirdparty.sh [--install]   (--install runs apt-get first, as root)
# Windows and macOS: see README.md next to this script (vcpkg / Homebrew + the v2.0.8 tag of flatbuffers).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN="$(cd "$HERE/../.." && pwd)"
if [[ "${1:-}" == "--install" ]]; then
  apt-get install -y -o DPkg::Lock::Timeout=600 libzmq3-dev libzmq5 cppzmq-dev libflatbuffers-dev
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
so="$(ls /usr/lib/*-linux-gnu/libzmq.so.5 2>/dev/null | head -1 || true)"
need "${so:-/usr/lib/x86_64-linux-gnu/libzmq.so.5}" libzmq5

mkdir -p "$HERE/libzmq/include" "$HERE/cppzmq/include" "$HERE/flatbuffers/include" \
         "$PLUGIN/Binaries/ThirdParty/libzmq/Linux"
cp /usr/include/zmq.h "$HERE/libzmq/include/"
cp /usr/include/zmq.hpp /usr/include/zmq_addon.hpp "$HERE/cppzmq/include/"
rm -rf "$HERE/flatbuffers/include/flatbuffers"
cp -r /usr/include/flatbuffers "$HERE/flatbuffers/include/"
cp -L "$so" "$PLUGIN/Binaries/ThirdParty/libzmq/Linux/libzmq.so.5"
echo "ThirdParty ready: libzmq $(basename "$(readlink -f "$so")"), cppzmq $(awk '/define CPPZMQ_VERSION_(MAJOR|MINOR|PATCH)/ {printf "%s%s", sep, $3; sep="."}' /usr/include/zmq.hpp), flatbuffers $version"
