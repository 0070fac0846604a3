"""The preview page in a real headless Chromium (Debian's chromium + chromedriver, driven by selenium).

The page loads; while a client streams, two screenshots of the output view
taken a second apart differ; a prompt typed into the page reaches the session (asserted on the server)
and the engine client receives the Notice; the conditioning images of served ControlNets show and their
named-weight sliders reach the session. Screenshots go to out/preview-screenshots/ (CI keeps out/).
Without chromium these tests skip, unless SDBRIDGE_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdbridge import params
from sdbridge.preview.style_upload import MAX_IMAGE_CHARS, PAGE_SIDE
from sdbridge.protocol import messages as m
from tests.conftest import wait_for
from tests.preview.conftest import PlaneStreamer

pytestmark = pytest.mark.integration

SHOTS = Path(__file__).resolve().parents[2] / "out" / "preview-screenshots"
CHROMIUM = os.environ.get("SDBRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SDBRIDGE_CHROMEDRIVER", "/usr/bin/chromedriver")


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e .[dev])"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return ""


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium with a fresh profile; quit after the test."""
    reason = _missing()
    if reason:
        if os.environ.get("SDBRIDGE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SDBRIDGE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sdbridge-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _element_png(driver, element_id: str, name: str) -> np.ndarray:
    from selenium.webdriver.common.by import By

    png = driver.find_element(By.ID, element_id).screenshot_as_png
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / name).write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _frame_shown(driver, element_id: str) -> int:
    return int(driver.execute_script(
        "const e = document.getElementById(arguments[0]); "
        "return e.complete && e.naturalWidth > 0 ? Number(e.dataset.frame || 0) : 0;", element_id))


def _value_of(driver, element_id: str) -> str | None:
    """The value of a control, None until the page has built it (controls are built on the hello message)."""
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.value : null;",
                                 element_id)


def test_page_loads_and_lists_the_session(browser, identity_server, streamer_factory):
    from selenium.webdriver.common.by import By

    streamer = streamer_factory(identity_server)
    browser.get(identity_server.preview_url)
    assert "StreamDiffusion Bridge" in browser.title
    wait_for(lambda: browser.find_element(By.ID, "status").text == "connected", 15, "the websocket to connect")
    # the table is rebuilt on every snapshot (2 Hz): read the row in one script call, never hold its element
    row_text = wait_for(lambda: browser.execute_script(
        "const r = document.querySelector(`tr[data-session='${arguments[0]}']`); return r ? r.textContent : '';",
        streamer.session_id), 15, "the session row")
    assert "test-game" in row_text
    # the parameter controls are built from the server's registry (ids "param-" + registry name)
    wait_for(lambda: browser.find_elements(By.ID, "param-seed"), 15, "the parameter controls")
    for element_id in ("prompt", "param-guidance_scale", "param-delta", "strength", "param-seed",
                       "param-similarity_filter", "param-similarity_threshold", "param-max_skip_frames",
                       "param-t_index_list", "event-name", "send-event", "chart-fps", "chart-latency", "chart-skip"):
        assert browser.find_element(By.ID, element_id).is_displayed(), element_id
    assert browser.get_log("browser") == [] or all(e["level"] != "SEVERE" for e in browser.get_log("browser"))


def test_output_view_changes_while_a_client_streams(browser, tiny_server, streamer_factory):
    streamer = streamer_factory(tiny_server)
    browser.get(tiny_server.preview_url + f"?session={streamer.session_id}")
    wait_for(lambda: _frame_shown(browser, "output-view"), 60, "a first output preview")
    first_id = _frame_shown(browser, "output-view")
    first = _element_png(browser, "output-view", "output-1.png")
    time.sleep(1.0)  # a second apart (longer only if this shared CPU made no new result in that second)
    wait_for(lambda: _frame_shown(browser, "output-view") > first_id, 30, "a newer output frame in the page")
    second = _element_png(browser, "output-view", "output-2.png")
    assert first.shape == second.shape
    # a frozen view gives byte-identical screenshots (same JPEG, same rendering); any new output differs
    changed = np.abs(first.astype(int) - second.astype(int)).max(axis=2) > 0
    assert changed.mean() > 0.01, f"the output view did not change ({changed.mean():.4f} of pixels differ)"
    wait_for(lambda: browser.execute_script(
        "return document.getElementById('chart-fps').toDataURL().length") > 3000, 15, "the fps chart to be drawn")
    browser.save_screenshot(str(SHOTS / "page-streaming.png"))


def test_prompt_typed_in_the_page_reaches_the_session_and_the_client(browser, tiny_server, streamer_factory):
    from selenium.webdriver.common.by import By

    streamer = streamer_factory(tiny_server)
    session = wait_for(lambda: tiny_server.table.sessions(), 10, "the session")[0]
    browser.get(tiny_server.preview_url + f"?session={streamer.session_id}")
    wait_for(lambda: browser.find_element(By.ID, "prompt").get_attribute("value"), 15, "the current prompt")
    text = "a neon city at night, rain"
    box = browser.find_element(By.ID, "prompt")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "apply-prompt").click()
    wait_for(lambda: session.prompt_values.get("prompt") == text, 15, "the typed prompt in the server's session")
    notice = wait_for(lambda: next((n for n in streamer.notices if n.kind is m.NoticeKind.PROMPT_CHANGED), None),
                      15, "the engine client's PromptChanged notice")
    assert notice.source == "preview" and notice.prompt.text == text
    wait_for(lambda: "applied to session" in browser.find_element(By.ID, "log").text, 10, "the page's confirmation")
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "page-prompt-applied.png"))


def test_seed_and_event_from_the_page_reach_the_session(browser, identity_server, streamer_factory):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    streamer = streamer_factory(identity_server)
    session = wait_for(lambda: identity_server.table.sessions(), 10, "the session")[0]
    browser.get(identity_server.preview_url + f"?session={streamer.session_id}")
    wait_for(lambda: _value_of(browser, "param-seed") == "2", 15, "the current seed")
    seed = browser.find_element(By.ID, "param-seed")
    seed.clear()
    seed.send_keys("1234", Keys.TAB)  # the change event fires on blur
    wait_for(lambda: session.prompt_values.get("seed") == 1234, 15, "the seed set in the page")
    wait_for(lambda: any(n.kind is m.NoticeKind.PARAMS_CHANGED and n.params.seed == 1234 for n in streamer.notices),
             15, "the ParamsChanged notice")
    browser.find_element(By.ID, "event-name").send_keys("boss_appears")
    browser.find_element(By.ID, "event-payload").send_keys('{"hp": 0.5}')
    browser.find_element(By.ID, "send-event").click()
    wait_for(lambda: ("boss_appears", {"hp": 0.5}) in list(session.events), 15, "the injected GameEvent")


def test_an_enum_parameter_is_a_select_of_the_registry_choices_and_reaches_the_session(
        browser, identity_server, streamer_factory):
    """attention_bank_blocks (and cfg_mode) get a <select> built from the registry's choices; a choice made in the
    page reaches the session and its client as the wire enum."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    streamer = streamer_factory(identity_server)
    session = wait_for(lambda: identity_server.table.sessions(), 10, "the session")[0]
    browser.get(identity_server.preview_url + f"?session={streamer.session_id}")
    wait_for(lambda: browser.find_elements(By.ID, "param-attention_bank_blocks"), 15, "the block choice")
    blocks = Select(browser.find_element(By.ID, "param-attention_bank_blocks"))
    assert [o.get_attribute("value") for o in blocks.options] == list(params.BY_NAME["attention_bank_blocks"].choices)
    assert [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "param-cfg_mode")).options] == \
        list(params.BY_NAME["cfg_mode"].choices)
    assert session.prompt_values.get("attention_bank_blocks", "all") == "all"  # not yet: the change below makes it
    blocks.select_by_value("up")
    wait_for(lambda: any(n.kind is m.NoticeKind.PARAMS_CHANGED
                         and n.params.attention_bank_blocks is m.AttentionBankBlocks.UP for n in streamer.notices),
             15, "the ParamsChanged notice with the block choice")
    wait_for(lambda: session.prompt_values.get("attention_bank_blocks") == "up", 15, "the session's block choice")


def test_a_session_address_shows_only_its_session_and_the_page_refuses_out_of_range_values(
        browser, identity_server, streamer_factory):
    """The address an engine client is told opens its own session only; the page's inputs carry the
    server's ranges and a value outside them (seed -1) is refused in the page, naming field, value and range."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    mine, other = streamer_factory(identity_server), streamer_factory(identity_server)
    address = wait_for(lambda: next((n.message for n in mine.notices if n.kind is m.NoticeKind.INFO
                                     and n.source == "preview"), None), 10, "the page address notice")
    session = next(s for s in identity_server.table.sessions() if s.session_id == mine.session_id)
    browser.get(address)
    wait_for(lambda: _value_of(browser, "param-seed") == "2", 15, "the current seed")
    rows = browser.execute_script("return [...document.querySelectorAll('#sessions tbody tr')]"
                                  ".map((r) => Number(r.dataset.session));")
    assert rows == [mine.session_id] and other.session_id not in rows
    seed = browser.find_element(By.ID, "param-seed")
    assert seed.get_attribute("min") == "0" and seed.get_attribute("max") == "18446744073709551615"
    assert browser.find_element(By.ID, "param-guidance_scale").get_attribute("max") == "30"
    transition = browser.find_element(By.ID, "transition")  # the prompt's transition: the registry's range and step
    entry = next(p for p in params.to_json() if p["name"] == "transition_seconds")
    wanted = [entry["minimum_text"], entry["maximum_text"], f"{entry['step']:g}"]
    assert [transition.get_attribute(a) for a in ("min", "max", "step")] == wanted
    assert browser.execute_script("return [state.limits.style_side, state.limits.style_max_chars];") == \
        [PAGE_SIDE, MAX_IMAGE_CHARS]  # the style upload's limits: the server's, from the hello
    seed.send_keys(Keys.CONTROL, "a")  # select the old value (clear() would send an empty, i.e. 0, seed)
    seed.send_keys("-1", Keys.TAB)
    wait_for(lambda: "seed=-1 must be an integer in" in browser.find_element(By.ID, "log").text, 10,
             "the page's refusal")
    assert "[0, 18446744073709551615]" in browser.find_element(By.ID, "log").text
    assert session.prompt_values.get("seed", 2) == 2
    # a good value typed after it reaches the session and its client on the same path a sent -1 would have taken
    seed.send_keys(Keys.CONTROL, "a")
    seed.send_keys("7", Keys.TAB)
    wait_for(lambda: session.prompt_values.get("seed") == 7, 15, "the good seed set in the page")
    changed = wait_for(lambda: [n for n in mine.notices if n.kind is m.NoticeKind.PARAMS_CHANGED], 15,
                       "the good seed's ParamsChanged notice")
    assert [n.params.seed for n in changed] == [7]  # the only change: the refused -1 changed nothing


def _loaded_frame(driver, element_id: str) -> int:
    """The frame id of the image an <img> shows (0 until one loaded; -1 while the page has no such element)."""
    return int(driver.execute_script(
        "const e = document.getElementById(arguments[0]); if (!e) return -1; "
        "return e.complete && e.naturalWidth > 0 ? Number(e.dataset.frame || 0) : 0;", element_id))


def test_conditioning_views_and_named_weight_sliders(browser, controlnet_server):
    """The page shows the conditioning image of each served ControlNet next to input and output (depth: near
    bright) and one slider per served ControlNet and setting; moving one reaches the session as a Params change of
    that parameter (every name at once)."""
    from selenium.webdriver.common.by import By

    streamer = PlaneStreamer(controlnet_server)
    try:
        session = wait_for(lambda: controlnet_server.table.sessions(), 10, "the session")[0]
        browser.get(controlnet_server.preview_url + f"?session={streamer.session_id}")
        for kind in ("depth", "canny"):
            wait_for(lambda kind=kind: _loaded_frame(browser, f"control-view-{kind}") > 0, 60, f"the {kind} view")
        depth = _element_png(browser, "control-view-depth", "control-depth.png")
        third = depth.shape[1] // 3
        assert depth[:, :third].mean() > depth[:, -third:].mean() + 60  # near (left) is bright
        assert browser.find_element(By.ID, "control-frame-depth").text.startswith("frame ")
        wait_for(lambda: _value_of(browser, "weight-controlnet_scale-canny") == "0.5", 15, "the canny scale slider")
        for name in ("controlnet_scale-depth", "controlnet_start-depth", "controlnet_end-canny"):
            assert browser.find_element(By.ID, f"weight-{name}").is_displayed(), name
        assert browser.find_element(By.ID, "weight-controlnet_scale-depth").get_attribute("max") == "2"
        browser.execute_script("const e = document.getElementById('weight-controlnet_scale-depth'); "
                               "e.value = '0.25'; e.dispatchEvent(new Event('change'));")
        wait_for(lambda: [tuple(p) for p in session.prompt_values.get("controlnet_scale", ())]
                 == [("depth", 0.25), ("canny", 0.5)], 15, "the scales set in the page")
        wait_for(lambda: "applied to session" in browser.find_element(By.ID, "log").text, 10, "the confirmation")
        browser.save_screenshot(str(SHOTS / "page-controlnet.png"))
    finally:
        streamer.stop()
