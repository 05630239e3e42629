"""What the signing tests share: a workspace whose bot serves the signing page at its own address, on a clock
the test moves; an order taken to approval; the link the bot posted; a drawn signature; the page's form."""

from __future__ import annotations

import base64
import io
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

from PIL import Image, ImageDraw
from sqlmodel import Session, select

from bot.settings import ClientSigning
from sandbox.local import OWN_URL, LocalWorkspace
from storage.models import SignatureRequest
from tests.conftest import COORDINATOR, NO_REAPPROVAL, OUTSIDER, REQUESTER, SUPERVISOR, WORKER, WORKER2

PEOPLE = {REQUESTER: "Rosa Requester", SUPERVISOR: "Sam Supervisor", COORDINATOR: "Carla Coordinator",
          WORKER: "Jürgen Müller", WORKER2: "Ana Peñalolén", OUTSIDER: "Otto Outsider"}
LINK_SECRET = "a-link-secret-of-its-own-0123456789abcdef"
SIGNING = ClientSigning(public_url=OWN_URL, secret=LINK_SECRET, link_hours=72)


class Signing(LocalWorkspace):
    """A workspace whose bot serves the signing page at its own address, reading the test's clock."""

    def __init__(self, engine, signing: ClientSigning | None = SIGNING, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.now = datetime.now(UTC)
        super().__init__(engine, PEOPLE, clock=lambda: self.now, policy=NO_REAPPROVAL,
                         signing=signing or ClientSigning(), **kwargs)

    def approved_order(self) -> int:
        soon = (self.now + timedelta(days=3)).date().isoformat()
        ack = self.submit_order(REQUESTER, client="peñ", site="presidentes", items=[("hvac", "3"), ("cement", "10")],
                                requested=soon, description="Replace the HVAC filters; patch the slab.")
        assert ack.status == 200 and ack.text == "", ack.text
        self.settle()
        order_id = self.latest_order_id()
        assert self.approve(SUPERVISOR, order_id, workers=[WORKER], scheduled=soon).text == ""
        self.settle()
        return order_id

    def ask(self, user: str, order_id: int) -> str:
        """Click "Ask the client to sign" and return the link the bot posted in the channel."""
        before = len(self.requests())
        assert self.ask_to_sign(user, order_id).status == 200
        self.wait(lambda: len(self.requests()) > before, "the signature request")
        self.settle()
        links = re.findall(r"<(http://[^|>]+/sign/[^|>]+)\|", self.transcript(order_id, raw=True))
        assert links, self.transcript(order_id)
        return links[-1]

    def transcript(self, order_id: int, raw: bool = False) -> str:
        channel = self.order(order_id).channel_id
        assert channel
        if raw:
            return "\n".join(m.text for m in self.fake.channels[channel].messages)
        return self.fake.transcript(channel)

    def requests(self) -> list[SignatureRequest]:
        with Session(self.engine) as session:
            return list(session.exec(select(SignatureRequest).order_by(SignatureRequest.id)))


def signature_png(ink: bool = True) -> str:
    """A signature as the page's canvas sends it: a PNG data URL (a scrawl, or a blank canvas)."""
    image = Image.new("RGBA", (360, 160), (0, 0, 0, 0))
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
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310 - loopback
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
    assert answer.status == 200, answer.body
    parser = _Hidden()
    parser.feed(answer.body)
    cookie = answer.headers["Set-Cookie"].split(";")[0]
    return Page(url, answer, parser.fields["csrf"], cookie)
