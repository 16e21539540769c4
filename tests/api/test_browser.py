"""The web page in a real browser: Debian's chromium driven by Playwright for Python.

Load the page, search (Enter), ask a question and watch the streamed answer, click a citation chip,
and check that the video element seeks to the cited start. Needs `/usr/bin/chromium`
(`apt-get install chromium`); Playwright's own browser download is never used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def browser_page():
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is missing: run `apt-get install -y chromium` (CI installs it).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        yield page
        browser.close()


@pytest.mark.browser
def test_page_search_ask_and_play_a_citation(live_url, browser_page):
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_url + "/")
    page.wait_for_selector("#videos li[data-video-id]")
    assert page.locator("#videos li[data-video-id]").count() >= 4
    page.fill("#search-input", "three-way handshake")
    page.press("#search-input", "Enter")
    page.wait_for_selector(".hit img")
    assert "tcp_networking.mp4" in page.locator(".hit .when").first.inner_text()
    assert page.locator(".hit q.video-text").count() >= 1  # video text is shown as a quotation (untrusted)
    page.wait_for_function(
        "() => { const img = document.querySelector('.hit img'); return img.complete && img.naturalWidth > 0; }"
    )  # the thumbnail loaded

    page.fill("#ask-input", "How does TCP slow start work?")
    page.press("#ask-input", "Enter")
    chip = page.wait_for_selector("#citations .chip")
    assert page.locator("#steps li").count() >= 1
    assert "seconds" in page.inner_text("#answer")
    start = float(chip.get_attribute("data-start"))
    chip.click()
    page.wait_for_function(
        "start => { const v = document.getElementById('player');"
        " return v.readyState >= 1 && Math.abs(v.currentTime - start) < 0.75; }",
        arg=start,
    )
    src = page.eval_on_selector("#player", "v => v.currentSrc")
    assert f"/videos/{chip.get_attribute('data-video-id')}/media#t=" in src
    assert page.inner_text("#now-playing").startswith("tcp_networking.mp4")
    assert not errors, errors
