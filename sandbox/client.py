"""The client who signs: opens the link the bot posted, types a name, draws a signature and accepts or disputes,
as a person does on the signing page. In Debian's Chromium, headless and driven by Playwright with the system
browser (never one it downloads), when both are here; otherwise with the HTTP requests that page sends (its
form, its cookie, a drawn PNG), which is what the server sees from a browser either way.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

from PIL import Image, ImageDraw

# what the probe of these machines found Chromium needs headless as root, without reaching the network
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-proxy-server"]


# a signing link as the bot posts it in Slack: <url|label> (bot/render/signing.py link_message)
POSTED_LINK = re.compile(r"<(https?://[^|>]+/sign/[^|>]+)\|")


def posted_link(texts: Iterable[str]) -> str | None:
    """The last signing link among these messages' texts (a channel's, oldest first), if any."""
    links = [link for text in texts for link in POSTED_LINK.findall(text)]
    return links[-1] if links else None


def chromium() -> str | None:
    """The system's Chromium, if it and Playwright are installed."""
    try:
        import playwright.sync_api  # noqa: F401 - only whether it is there
    except ImportError:
        return None
    return shutil.which("chromium")


@dataclass(frozen=True)
class Signed:
    status: int  # the page's answer to the submission
    how: str  # "browser" or "http"


def sign(link: str, name: str, *, outcome: str = "accepted", comment: str = "") -> Signed:
    """Sign at `link` in Chromium if it is here, else over HTTP."""
    browser = chromium()
    if browser:
        return sign_in_browser(browser, link, name, outcome=outcome, comment=comment)
    return sign_over_http(link, name, outcome=outcome, comment=comment)


def sign_in_browser(browser: str, link: str, name: str, *, outcome: str = "accepted", comment: str = "",
                    phone: bool = True) -> Signed:
    """A phone's screen (360 px) and a mouse's pointer events drawing the signature."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=browser, headless=True, args=CHROMIUM_ARGS)
        try:
            context = chrome.new_context(viewport={"width": 360, "height": 740} if phone else None)
            page = context.new_page()
            page.goto(link)
            page.fill("#name", name)
            draw(page)
            if comment:
                page.fill("#comment", comment)
            with page.expect_response(lambda answer: answer.request.method == "POST") as posted:
                page.click("button.accept" if outcome == "accepted" else "button.dispute")
            status = posted.value.status
            page.wait_for_load_state()
        finally:
            chrome.close()
    return Signed(status, "browser")


def draw(page: Any) -> None:
    """A signature with a pointer: down, a zigzag of moves, up."""
    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y, width, height = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 20, y + height * 0.7)
    page.mouse.down()
    for step in range(1, 13):
        page.mouse.move(x + 20 + step * (width - 40) / 12, y + height * (0.3 if step % 2 else 0.7), steps=4)
    page.mouse.up()


def sign_over_http(link: str, name: str, *, outcome: str = "accepted", comment: str = "") -> Signed:
    """GET the page (its form's CSRF field and its cookie), then POST the form as the page's script does."""
    page = open_page(link)
    answer = page.post(name=name, outcome=outcome, comment=comment, signature=drawn_signature())
    return Signed(answer.status, "http")


def drawn_signature(ink: bool = True, size: tuple[int, int] = (360, 160)) -> str:
    """A signature as the page's canvas sends it: a PNG data URL (a scrawl, or a blank canvas)."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if ink:
        ImageDraw.Draw(image).line([(20, 120), (80, 40), (140, 110), (220, 30), (320, 100)], fill="#111", width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    raw: bytes = b""


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
          method: str | None = None) -> Answer:
    """One HTTP request; an error status is an answer like any other."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310 - the bot's own page
            raw = answer.read()
            return Answer(answer.status, dict(answer.headers.items()), raw.decode("utf-8", "replace"), raw)
    except urllib.error.HTTPError as error:
        raw = error.read()
        return Answer(error.code, dict(error.headers.items()), raw.decode("utf-8", "replace"), raw)


class _Hidden(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("type") == "hidden" and named.get("name"):
            self.fields[str(named["name"])] = named.get("value") or ""


@dataclass
class Page:
    """The signing page as a browser holds it: its hidden fields and the cookie it set."""

    url: str
    answer: Answer
    csrf: str
    cookie: str

    def post(self, origin: str | None = "", more: dict[str, str] | None = None, **fields: str) -> Answer:
        """Submit the form (fields as the page names them); `origin` None sends none, "" the page's own;
        `more` headers."""
        body = urlencode({"csrf": self.csrf, **fields}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie, **(more or {})}
        if origin is not None:
            headers["Origin"] = origin or re.match(r"https?://[^/]+", self.url).group(0)  # type: ignore[union-attr]
        return fetch(self.url, body, headers, "POST")


def open_page(url: str) -> Page:
    answer = fetch(url)
    if answer.status != 200:
        raise RuntimeError(f"the signing page answered HTTP {answer.status}")
    parser = _Hidden()
    parser.feed(answer.body)
    cookie = answer.headers["Set-Cookie"].split(";")[0]
    return Page(url, answer, parser.fields["csrf"], cookie)
