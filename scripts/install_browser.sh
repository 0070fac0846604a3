#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver when missing: the preview page tests (tests/preview/
# test_browser.py) drive a real headless Chromium through selenium. scripts/test_all.sh installs them (with
# every other tool, scripts/install_tools.sh) before pytest and sets SDBRIDGE_REQUIRE_BROWSER=1, so a browser
# that could not be installed fails CI instead of skipping. Uses sudo when not root.
set -euo pipefail
bash "$(dirname "$0")/install_tools.sh" browser
/usr/bin/chromedriver --version
