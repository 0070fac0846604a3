"""Take the README's screenshot of the preview page (docs/preview.png) from the real page.

Starts the server with the tiny random-weight model and the preview, streams the demo's moving scene
through BridgeClient, opens the page in headless Chromium (Debian's chromium + chromedriver, selenium),
sets a prompt through the page, lets the charts fill, and saves the screenshot.
Usage: .venv/bin/python scripts/preview_screenshot.py [--out docs/preview.png] [--size 128] [--seconds 20]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.scene import SceneRenderer
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient


def main() -> int:
    """Run the server, a streaming client and the browser; write the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/preview.png"))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=20.0, help="streaming time before the screenshot")
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    cfg = with_overrides(ServerConfig(), model={"name": "tiny", "width": args.size, "height": args.size},
                         pipeline={"t_index_list": (20, 40)},
                         preview={"enabled": True, "port": 0}, top={"bind": "tcp://127.0.0.1:*"})
    server = BridgeServer(cfg)
    server.start_in_thread()
    stop = threading.Event()
    client = BridgeClient(server.endpoint, name="demo-game", engine="synthetic scene")
    welcome = client.connect(timeout=60)

    def stream() -> None:
        scene = SceneRenderer(args.size, args.size, channels=4, speed=3.0)
        index = 0
        while not stop.is_set():
            client.submit(scene.render(index))
            index += 1
            client.receive(timeout=0.05)

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    profile = tempfile.mkdtemp(prefix="sdbridge-shot-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,860"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"{server.preview_url}?session={welcome.session_id}")
        time.sleep(3)
        box = driver.find_element(By.ID, "prompt")
        box.clear()
        box.send_keys("a watercolor painting of a castle on green hills")
        driver.find_element(By.ID, "apply-prompt").click()
        time.sleep(args.seconds)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(args.out))
        print(f"wrote {args.out}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        stop.set()
        thread.join(10)
        client.close()
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
