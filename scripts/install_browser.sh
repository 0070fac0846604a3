#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver when missing: the preview page tests (tests/preview/
# test_browser.py) drive a real headless Chromium through selenium. scripts/test_all.sh runs this before
# pytest and sets SDBRIDGE_REQUIRE_BROWSER=1, so a browser that could not be installed fails CI instead of
# skipping. Uses sudo when not root.
set -euo pipefail
need_apt=()
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
[[ -x /usr/bin/chromedriver ]] || need_apt+=(chromium-driver)
if (( ${#need_apt[@]} )); then
  echo "browser: installing ${need_apt[*]}"
  SUDO=""
  [[ "$(id -u)" -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -o DPkg::Lock::Timeout=600 >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 \
    "${need_apt[@]}" >/dev/null
fi
/usr/bin/chromedriver --version
