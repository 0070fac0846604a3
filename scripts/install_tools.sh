#!/usr/bin/env bash
# Install the Debian tools the tests need, before any test runs (scripts/test_all.sh calls it before pytest,
# so a fresh machine skips only the GPU-marked tests). One place lists every apt package; each .ci/steps
# script calls it for its own group when run alone (a no-op when everything is present).
# Usage: bash scripts/install_tools.sh [GROUP...]   groups: protocol cpp csharp shaders browser scaleout (default: all)
#   protocol  flatc 2.0.8 (flatbuffers-compiler): schemas/codegen.py --check, the codegen tests
#   cpp       g++, cmake, pkg-config, libzmq, cppzmq, flatbuffers 2.0.8 headers, GoogleTest sources
#   csharp    mono's mcs, NUnit 2.6 console and framework, libzmq5, dpkg-dev (to fetch the C# runtime source)
#   shaders   glslang-tools (the Unity shader compile step)
#   browser   chromium + chromium-driver (tests/preview/test_browser.py)
#   scaleout  haproxy + prometheus (tests/scaleout: failover behind HAProxy, a real Prometheus scrape)
# Uses sudo when not root. Exits non-zero naming the packages when apt fails.
set -euo pipefail

groups=("$@")
(( ${#groups[@]} )) || groups=(protocol cpp csharp shaders browser scaleout)

need=()
add_if_missing() {   # add_if_missing PACKAGE TEST-COMMAND...
  local package="$1"; shift
  "$@" >/dev/null 2>&1 || need+=("$package")
}
have() { command -v "$1"; }
flatc_208() { flatc --version | grep -q "flatc version 2.0.8"; }

for group in "${groups[@]}"; do
  case "$group" in
    protocol)
      add_if_missing flatbuffers-compiler flatc_208 ;;
    cpp)
      add_if_missing g++ have g++
      add_if_missing cmake have cmake
      add_if_missing pkg-config have pkg-config
      add_if_missing libzmq3-dev test -f /usr/include/zmq.h
      add_if_missing cppzmq-dev test -f /usr/include/zmq.hpp
      add_if_missing libflatbuffers-dev test -f /usr/include/flatbuffers/flatbuffers.h
      add_if_missing googletest test -f /usr/src/googletest/CMakeLists.txt ;;
    csharp)
      add_if_missing mono-devel have mcs
      add_if_missing nunit-console have nunit-console
      add_if_missing libnunit-cil-dev compgen -G "/usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll"
      add_if_missing libzmq5 sh -c "ldconfig -p | grep -q 'libzmq.so.5 '"
      add_if_missing dpkg-dev have dpkg-source ;;
    shaders)
      add_if_missing glslang-tools have glslangValidator ;;
    browser)
      add_if_missing chromium test -x /usr/bin/chromium
      add_if_missing chromium-driver test -x /usr/bin/chromedriver ;;
    scaleout)
      add_if_missing haproxy have haproxy
      add_if_missing prometheus have prometheus ;;
    *)
      echo "install_tools: unknown group '$group' (known: protocol cpp csharp shaders browser scaleout)" >&2
      exit 2 ;;
  esac
done

if (( ${#need[@]} == 0 )); then
  echo "install_tools: ${groups[*]}: everything present"
  exit 0
fi
echo "install_tools: installing ${need[*]}"
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then SUDO="sudo"; fi
apt_opts=(-o DPkg::Lock::Timeout=600)
# chromium's recommended packages are a desktop's worth: the browser alone is enough for headless tests.
browser=() other=()
for package in "${need[@]}"; do
  case "$package" in chromium|chromium-driver) browser+=("$package") ;; *) other+=("$package") ;; esac
done
install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${apt_opts[@]}" "$@" >/dev/null; }
if ! $SUDO apt-get update "${apt_opts[@]}" >/dev/null ||
   { (( ${#other[@]} )) && ! install "${other[@]}"; } ||
   { (( ${#browser[@]} )) && ! install --no-install-recommends "${browser[@]}"; }; then
  echo "install_tools: apt-get could not install ${need[*]} (run as root or with sudo, with Debian 12 sources)" >&2
  exit 1
fi
if [[ " ${groups[*]} " == *" protocol "* ]] && ! flatc_208; then
  echo "install_tools: flatc is not version 2.0.8 after installing flatbuffers-compiler: $(flatc --version)" >&2
  exit 1
fi
