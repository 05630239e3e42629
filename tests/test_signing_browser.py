"""The signing page in a real browser: Debian's Chromium, headless, driven by Playwright (never a browser it
downloads). A client opens the link, draws a signature with pointer events and accepts; the signed copy's PDF
carries the name and the drawn signature. On a phone's screen the page fits, turning the phone clears the
drawing and says so, and a dispute goes through; expired and tampered links show their pages. No page breaks
its Content-Security-Policy. Without Playwright or Chromium these tests skip, except in CI (.ci/run sets
REQUIRE_BROWSER=1), where that is a failure."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader
from sqlmodel import Session

from sandbox.client import CHROMIUM_ARGS, draw
from storage.models import Asset
from tests.conftest import WORKER
from tests.signing_helpers import Signing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright import sync_api as playwright_api
except ImportError:
    playwright_api = None
MISSING = ("playwright is not installed (the dev extras)" if playwright_api is None else
           f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)" if not shutil.which(CHROMIUM) else None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if MISSING:
        (pytest.fail if os.environ.get("REQUIRE_BROWSER") == "1" else pytest.skip)(MISSING)
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def ws(seeded):  # type: ignore[no-untyped-def]
    with Signing(seeded) as workspace:
        yield workspace


class Watched:
    """A page, and every console error it logged (a CSP violation is one)."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))


def draw_with_a_finger(context: Any, page: Any) -> None:
    """A signature with a finger: touch events through Chromium's DevTools protocol (Playwright's touchscreen
    only taps), which the page receives as pointer events of type touch."""
    page.locator("#signature-pad").scroll_into_view_if_needed()
    box = page.locator("#signature-pad").bounding_box()
    x, y = box["x"], box["y"]
    cdp = context.new_cdp_session(page)
    points = [(x + 20 + step * (box["width"] - 40) / 12, y + box["height"] * (0.3 if step % 2 else 0.7))
              for step in range(13)]
    start = {"x": points[0][0], "y": points[0][1]}
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [start]})
    for px, py in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": px, "y": py}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_client_signs_in_the_browser_and_the_signed_copy_carries_the_name(ws: Signing, browser: Any) -> None:
    order_id = ws.approved_order()
    link = ws.ask(WORKER, order_id)
    context = browser.new_context()
    watched = Watched(context)
    page = watched.page
    assert page.goto(link).status == 200
    assert "SO-000001 version 1" in page.locator("h1").inner_text()
    # sending without drawing is stopped on the page: nothing is sent
    page.fill("#name", "María José Pérez")
    page.click("button.accept")
    assert page.locator("#signature-problem").is_visible() and ws.requests()[0].used_at is None
    # Clear wipes a drawing; then the real signature
    draw(page)
    page.click("#clear-signature")
    page.click("button.accept")
    assert page.locator("#signature-problem").is_visible()
    draw(page)
    page.click("button.accept")
    page.wait_for_selector("text=Thank you")
    assert "You signed SO-000001 v1" in page.content()
    assert watched.errors == []
    context.close()

    [request] = ws.requests()
    assert (request.outcome, request.signer_name) == ("accepted", "María José Pérez")
    assert request.user_agent and "Chrome" in request.user_agent
    ws.settle()
    [signed] = [f for f in ws.fake.files.values() if f.name == "SO-000001-v1-signed.pdf"]
    assert "María José Pérez" in pdf_text(signed.content)
    # the drawn signature is on the page that names the signer: the canvas's PNG, as stored, fitted to the block
    with Session(ws.engine) as session:
        asset = session.get(Asset, request.signature_sha256)
        assert asset is not None
        drawn = Image.open(io.BytesIO(asset.content))
        drawn.load()
    assert drawn.width > 200 and drawn.getchannel("A").getextrema() == (0, 255)  # ink on a transparent canvas
    [page_signed] = [p for p in PdfReader(io.BytesIO(signed.content)).pages
                     if "Signed by María José Pérez" in p.extract_text()]
    fitted = drawn.copy()
    fitted.thumbnail((800, 320))
    shown = [image.image for image in page_signed.images if image.image.size == fitted.size]
    assert shown, [image.image.size for image in page_signed.images]
    assert shown[0].mode == "RGBA"  # with its transparency: ink where the canvas had it, nowhere else
    seen = shown[0].getchannel("A").point(lambda a: 255 if a > 32 else 0)
    assert ImageChops.difference(seen, fitted.getchannel("A").point(lambda a: 255 if a > 32 else 0)).getbbox() is None


def test_on_a_phone_the_page_fits_and_a_dispute_goes_through(ws: Signing, browser: Any) -> None:
    order_id = ws.approved_order()
    link = ws.ask(WORKER, order_id)
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True, is_mobile=True,
                                  device_scale_factor=3)
    watched = Watched(context)
    page = watched.page
    assert page.goto(link).status == 200
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing sideways
    assert page.locator("#signature-pad").bounding_box()["width"] <= 360
    page.fill("#name", "Pat Client")
    draw_with_a_finger(context, page)
    # turning the phone fits the canvas to its new width, which clears it: the page says so, and a drawing
    # is needed again before anything is sent
    assert not page.locator("#signature-cleared").is_visible()
    page.set_viewport_size({"width": 740, "height": 360})
    page.wait_for_selector("#signature-cleared", state="visible")
    assert "draw your signature again" in page.locator("#signature-cleared").inner_text()
    page.click("button.accept")
    assert page.locator("#signature-problem").is_visible() and ws.requests()[0].used_at is None
    page.set_viewport_size({"width": 360, "height": 740})
    draw_with_a_finger(context, page)
    assert not page.locator("#signature-cleared").is_visible()
    # a dispute without a comment is refused on the page, with what was typed kept
    page.click("button.dispute")
    page.wait_for_selector("text=Say what you dispute in the comment.")
    assert page.input_value("#name") == "Pat Client" and ws.requests()[0].used_at is None
    draw_with_a_finger(context, page)
    page.fill("#comment", "Two filters were not replaced")
    page.click("button.dispute")
    page.wait_for_selector("text=Thank you")
    # the refused dispute's page came with its 400; nothing else went wrong, no policy was broken
    assert watched.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    context.close()
    ws.settle()
    assert ws.requests()[0].outcome == "disputed"
    assert "was disputed by Pat Client" in ws.transcript(order_id)


def test_expired_and_tampered_links_show_their_pages(ws: Signing, browser: Any) -> None:
    order_id = ws.approved_order()
    link = ws.ask(WORKER, order_id)
    context = browser.new_context()
    page = context.new_page()
    tampered = link[:-2] + ("xy" if not link.endswith("xy") else "yz")
    answer = page.goto(tampered)
    assert answer.status == 403 and "This link is not valid" in page.locator("h1").inner_text()
    ws.now += timedelta(hours=73)
    answer = page.goto(link)
    assert answer.status == 410 and "This link has expired" in page.locator("h1").inner_text()
    context.close()
    assert ws.requests()[0].used_at is None
