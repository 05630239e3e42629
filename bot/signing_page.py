"""The client's signing page: a small WSGI app under /sign/, served by the bot's HTTP server (HTTP mode) or by
the web listener on WEB_PORT (Socket Mode).

    GET  /sign/<token>          the version's summary, its PDF's link, a name, a canvas, Accept or Dispute
    GET  /sign/<token>/pdf      the version's PDF
    POST /sign/<token>          the answer: stored once (workflow/signing.record), then a thank-you page
    GET  /sign/static/sign.js   the canvas (pointer events), and sign.css: files, as the CSP allows

Every page is in the provider's language, sends a strict Content-Security-Policy and never an HTTP 500.
Expired and used links get 410; a token we did not sign, or a nonce we do not know, 403 (the link is not
ours to explain); anything else a clear page and nothing stored. The form is CSRF-safe: a SameSite=Strict
cookie scoped to the link, a hidden field that is that cookie's value HMAC-bound to the link's nonce (double
submit), and the Origin, when the browser sends one, must be PUBLIC_URL's.

The client's address is REMOTE_ADDR; behind a proxy, only with TRUST_X_FORWARDED_FOR, the last address of
X-Forwarded-For (the one the proxy itself appended: earlier ones are whatever the client sent).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from http.cookies import CookieError, SimpleCookie
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from PIL import Image, ImageChops, UnidentifiedImageError
from sqlalchemy import Engine
from sqlmodel import Session

from bot.signing_links import Links
from i18n import Language, language
from storage.scope import serving
from workflow.clock import Clock, aware
from workflow.document import VersionDocument
from workflow.errors import FilesBeingRead
from workflow.issuing import issue
from workflow.letterhead import Letterhead
from workflow.signing import (
    MAX_COMMENT,
    MAX_NAME,
    Answer,
    LinkRefused,
    LinkTrouble,
    Outcome,
    document_for,
    open_request,
    record,
    workspace_of,
)

log = logging.getLogger(__name__)

PREFIX = "/sign/"
MAX_BODY = 768 * 1024  # a form with a signature drawn on a phone is some 20-80 KB
MAX_PNG = 512 * 1024
MAX_SIDE = 2000  # pixels a side, read from the PNG's header before decoding it (bot/web/sign.js keeps to it)
MIN_INK = 30  # pixels drawn: a tap is not a signature
COOKIE = "so_sign"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
# the version's PDF: a browser's own viewer draws it in an <embed> that default-src 'none' would blank out
PDF_CSP = "frame-ancestors 'none'"
_STATIC = {"sign.js": "text/javascript; charset=utf-8", "sign.css": "text/css; charset=utf-8"}

Start = Callable[..., Any]


@dataclass(frozen=True)
class Reply:
    status: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    cookie: str | None = None
    csp: str = CSP
    filename: str | None = None  # shown inline, saved under this name


class SigningPage:
    def __init__(self, engine: Engine, letterhead: Letterhead, links: Links, clock: Clock,
                 answered: Callable[[], None] = lambda: None, trust_forwarded_for: bool = False) -> None:
        """`answered` is called after an answer is stored (the bot kicks its effect runner)."""
        self.engine, self.letterhead, self.links, self.clock = engine, letterhead, links, clock
        self.answered, self.trust_forwarded_for = answered, trust_forwarded_for
        self.lang = language(letterhead.provider.locale)
        public = urlsplit(links.public_url) if links.public_url else None
        self.origin = f"{public.scheme}://{public.netloc}" if public else None
        self.secure = bool(public and public.scheme == "https")

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        try:
            reply = self._route(environ)
        except FilesBeingRead:  # the version's photos are still being read: nothing frozen, nothing stored
            reply = self._page("503 Service Unavailable", self.lang._("Being prepared"), self.lang._(
                "This document is still being prepared. Please try again in a moment."))
        except Exception:  # a page that failed says so plainly, never a 500 with a trace
            log.exception("the signing page failed")
            reply = self._page("503 Service Unavailable", self.lang._("Something went wrong"), self.lang._(
                "Something went wrong on our side and nothing was saved. Please try again in a moment."))
        headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))),
                   ("Content-Security-Policy", reply.csp), ("X-Content-Type-Options", "nosniff"),
                   ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY")]
        if reply.cookie:
            headers.append(("Set-Cookie", reply.cookie))
        if reply.filename:
            headers.append(("Content-Disposition", f'inline; filename="{reply.filename}"'))
        start_response(reply.status, headers)
        return [reply.body]

    # --- routing -------------------------------------------------------------------------------------------

    def _route(self, environ: dict[str, Any]) -> Reply:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        parts = path.removeprefix(PREFIX).split("/")
        if len(parts) == 2 and parts[0] == "static" and parts[1] in _STATIC:
            if method not in ("GET", "HEAD"):
                return self._wrong_method()
            return Reply("200 OK", files("bot.web").joinpath(parts[1]).read_bytes(), _STATIC[parts[1]])
        if not path.startswith(PREFIX) or not parts[0] or len(parts) > 2 or (len(parts) == 2 and parts[1] != "pdf"):
            return self._page("404 Not Found", self.lang._("Page not found"),
                              self.lang._("There is nothing here. Open the link exactly as you were given it."))
        pdf = len(parts) == 2
        if method not in (("GET", "HEAD") if pdf else ("GET", "HEAD", "POST")):
            return self._wrong_method()
        nonce = self.links.nonce(parts[0])
        team = workspace_of(self.engine, nonce) if nonce is not None else None
        if nonce is None or team is None:
            return self._refused(LinkRefused(LinkTrouble.UNKNOWN))
        with serving(team):
            return self._answer(environ, method, parts[0], nonce, pdf)

    def _answer(self, environ: dict[str, Any], method: str, token: str, nonce: str, pdf: bool) -> Reply:
        """The link's page, its PDF, or the client's answer, in the workspace of its order."""
        if method == "POST":
            return self._post(environ, token, nonce)
        try:
            with Session(self.engine) as session:
                request = open_request(session, nonce, self.clock())
        except LinkRefused as refusal:
            return self._refused(refusal)
        if pdf:
            issued = issue(self.engine, request.order_id, request.version, self.letterhead)
            return Reply("200 OK", issued.pdf, "application/pdf", csp=PDF_CSP, filename=issued.document.filename)
        document = document_for(self.engine, request, self.letterhead)
        return self._form(document, token, nonce)

    # --- the answer ----------------------------------------------------------------------------------------

    def _post(self, environ: dict[str, Any], token: str, nonce: str) -> Reply:
        _ = self.lang._
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return self._page("413 Content Too Large", _("Too large"), _(
                "What was sent is too large. Go back, clear the signature, draw it again and send it."))
        # Fetch Metadata and Origin: a browser says where a form came from. With Referrer-Policy no-referrer a
        # same-origin form's Origin is "null", which says nothing; Sec-Fetch-Site still says same-origin
        origin, site = environ.get("HTTP_ORIGIN"), environ.get("HTTP_SEC_FETCH_SITE")
        if (origin not in (None, "null", self.origin)) or site not in (None, "same-origin"):
            return self._page("403 Forbidden", _("Not sent from this page"), _(
                "This answer did not come from the signing page. Open the link again and sign there."))
        try:
            fields = parse_qs(environ["wsgi.input"].read(length).decode("utf-8"), max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            fields = {}
        value = {name: values[0] for name, values in fields.items() if len(values) == 1}
        try:
            with Session(self.engine) as session:
                request = open_request(session, nonce, self.clock())
        except LinkRefused as refusal:
            return self._refused(refusal)
        if not self.links.form_token_ok(nonce, _cookie(environ), value.get("csrf")):
            return self._page("403 Forbidden", _("The page is out of date"), _(
                "This answer did not come from the signing page as it was opened. Open the link again and sign "
                "there."))
        answer, problem = self._read(environ, value)
        if answer is None:
            document = document_for(self.engine, request, self.letterhead)
            return self._form(document, token, nonce, problem=problem, value=value, status="400 Bad Request")
        try:
            copy = record(self.engine, nonce, answer, self.clock(), self.letterhead)
        except LinkRefused as refusal:  # a double submit, or two at once: the first one counts
            return self._refused(refusal)
        self.answered()
        lang = language(copy.document.provider.locale)
        number = f"{copy.document.order_number} v{copy.document.version}"
        said = (lang._("You signed {document}. Thank you: the provider has your signature and will send you the "
                       "signed copy.") if answer.outcome is Outcome.ACCEPTED else
                lang._("You disputed {document}. Thank you: the provider has your comment and will contact you."))
        return self._page("200 OK", lang._("Thank you"), said.format(document=number), lang)

    def _read(self, environ: dict[str, Any], value: dict[str, str]) -> tuple[Answer | None, str]:
        """The answer, checked; or None and one line saying what to fix."""
        _ = self.lang._
        try:
            outcome = Outcome(value.get("outcome", ""))
        except ValueError:
            return None, _("Choose Accept or Dispute.")
        name = " ".join("".join(c for c in value.get("name", "") if c.isprintable()).split())
        if not 1 <= len(name) <= MAX_NAME:
            return None, _("Write your name (at most {most} characters).").format(most=MAX_NAME)
        comment = "".join(c for c in value.get("comment", "") if c.isprintable() or c == "\n").strip()
        if outcome is Outcome.DISPUTED and not comment:
            return None, _("Say what you dispute in the comment.")
        if len(comment) > MAX_COMMENT:
            return None, _("The comment is too long (at most {most} characters).").format(most=MAX_COMMENT)
        png = _signature_png(value.get("signature", ""))
        if png is None:
            return None, _("Draw your signature in the box, then send it.")
        ip = environ.get("REMOTE_ADDR")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if self.trust_forwarded_for and forwarded.strip():
            ip = forwarded.split(",")[-1].strip()
        return Answer(outcome, name, comment or None, png, hashlib.sha256(png).hexdigest(), (ip or "")[:64] or None,
                      environ.get("HTTP_USER_AGENT")), ""

    # --- pages ---------------------------------------------------------------------------------------------

    def _form(self, doc: VersionDocument, token: str, nonce: str, problem: str = "",
              value: dict[str, str] | None = None, status: str = "200 OK") -> Reply:
        lang = language(doc.provider.locale)
        _ = lang._
        value = value or {}
        cookie_value, field = self.links.new_form_token(nonce)
        currency = doc.currency
        rows = "".join(
            f"<tr><td>{escape(line.description)}</td><td class=n>{escape(lang.number(line.quantity))}"
            f"{' ' + escape(line.unit) if line.unit else ''}</td><td class=n>"
            f"{escape(lang.money(total, currency)) if (total := line.total(currency)) is not None else '—'}</td></tr>"
            for line in doc.items)
        tax = _("Tax {rate}").format(rate=lang.percent(doc.provider.tax_rate))
        feet = "".join(f"<tr{' class=total' if strong else ''}><td colspan=2>{escape(label)}</td>"
                       f"<td class=n>{escape(amount)}</td></tr>" for label, amount, strong in (
                           (_("Subtotal"), lang.money(doc.subtotal, currency), False),
                           (tax, lang.money(doc.tax, currency), False),
                           (_("Total {currency}").format(currency=currency), lang.amount(doc.total, currency), True)))
        issued = lang.datetime(aware(doc.issued_at), ZoneInfo(doc.provider.timezone))
        title = _("{number} version {version}").format(number=doc.order_number, version=doc.version)
        site = doc.site + (", " + doc.site_address if doc.site_address else "")
        kept = _("Your name, signature, the time, your IP address and browser are kept with this document.")
        w = {name: escape(text) for name, text in {
            "issued": _("issued {when}").format(when=issued),
            "client": _("Client"),
            "site": _("Site"),
            "item": _("Item"),
            "quantity": _("Quantity"),
            "amount": _("Amount"),
            "pdf": _("Read the whole document (PDF)"),
            "your_name": _("Your name"),
            "your_signature": _("Your signature"),
            "pad": _("Sign here with a finger or the mouse"),
            "undrawn": _("Draw your signature in the box, then send it."),
            "cleared": _("The screen changed size, so the box was cleared: draw your signature again."),
            "clear": _("Clear"),
            "comment": _("Comment (required to dispute)"),
            "accept_and_sign": _("Accept and sign"),
            "dispute": _("Dispute")}.items()}
        body = f"""
<h1>{escape(title)}</h1>
<p class=meta>{escape(doc.provider.name)} · {w["issued"]}</p>
<p><strong>{w["client"]}:</strong> {escape(doc.client)}<br>
<strong>{w["site"]}:</strong> {escape(site)}</p>
<table><thead><tr><th>{w["item"]}</th><th class=n>{w["quantity"]}</th>
<th class=n>{w["amount"]}</th></tr></thead><tbody>{rows}</tbody><tfoot>{feet}</tfoot></table>
<p><a href="/sign/{escape(token)}/pdf">{w["pdf"]}</a></p>
<form id=sign-form method=post action="/sign/{escape(token)}">
{f'<p class=problem role=alert>{escape(problem)}</p>' if problem else ''}
<input type=hidden name=csrf value="{escape(field)}">
<input type=hidden name=signature id=signature value="">
<label for=name>{w["your_name"]}</label>
<input type=text id=name name=name maxlength={MAX_NAME} autocomplete=name required
 value="{escape(value.get("name", ""))}">
<label for=signature-pad>{w["your_signature"]}</label>
<canvas id=signature-pad aria-label="{w["pad"]}"></canvas>
<p id=signature-problem class=problem hidden>{w["undrawn"]}</p>
<p id=signature-cleared class=problem hidden>{w["cleared"]}</p>
<div class=row><button type=button id=clear-signature>{w["clear"]}</button></div>
<label for=comment>{w["comment"]}</label>
<textarea id=comment name=comment maxlength={MAX_COMMENT}>{escape(value.get("comment", ""))}</textarea>
<div class=row>
<button class=accept type=submit name=outcome value=accepted>{w["accept_and_sign"]}</button>
<button class=dispute type=submit name=outcome value=disputed>{w["dispute"]}</button>
</div>
<p class=note>{escape(kept)}</p>
</form>
<script src="/sign/static/sign.js"></script>"""
        cookie = (f"{COOKIE}={cookie_value}; Path=/sign/{token}; HttpOnly; SameSite=Strict"
                  + ("; Secure" if self.secure else ""))
        return Reply(status, _html(lang, title, body), cookie=cookie)

    def _refused(self, refusal: LinkRefused) -> Reply:
        _ = self.lang._
        match refusal.trouble:
            case LinkTrouble.USED:
                when = self.lang.datetime(aware(refusal.used_at), ZoneInfo(self.letterhead.provider.timezone)) \
                    if refusal.used_at else ""
                return self._page("410 Gone", _("Already answered"), _(
                    "This link was used on {when}: the document is answered. Thank you.").format(when=when))
            case LinkTrouble.EXPIRED:
                return self._page("410 Gone", _("This link has expired"), _(
                    "This link has expired. Ask the person who gave it to you for a new one."))
        return self._page("403 Forbidden", _("This link is not valid"), _(
            "This link is not valid. Check that it was copied whole, or ask the person who gave it to you for a "
            "new one."))

    def _wrong_method(self) -> Reply:
        return self._page("405 Method Not Allowed", self.lang._("Not here"), self.lang._(
            "This page only opens signing links and takes their form."))

    def _page(self, status: str, title: str, text: str, lang: Language | None = None) -> Reply:
        return Reply(status, _html(lang or self.lang, title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>"))


def _html(lang: Language, title: str, body: str) -> bytes:
    tag = str(lang.locale).replace("_", "-")
    return f"""<!doctype html>
<html lang="{escape(tag)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(title)}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/sign/static/sign.css">
</head>
<body><main>{body}</main></body></html>""".encode()


def _cookie(environ: dict[str, Any]) -> str | None:
    try:
        jar = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


def _signature_png(data_url: str) -> bytes | None:
    """The drawn signature: a PNG data URL, at most MAX_PNG, that Pillow reads as a PNG of sane size with some
    ink on it (dark, not transparent pixels); None otherwise."""
    head, _, encoded = data_url.partition(",")
    if head != "data:image/png;base64" or len(encoded) > MAX_PNG * 4 // 3 + 4:
        return None
    try:
        png = base64.b64decode(encoded, validate=True)
        with Image.open(io.BytesIO(png)) as image:
            if image.format != "PNG" or max(image.size) > MAX_SIDE:
                return None
            image.verify()
        with Image.open(io.BytesIO(png)) as image:
            rgba = image.convert("RGBA")
    except (binascii.Error, ValueError, OSError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
    seen = rgba.getchannel("A").point(lambda a: 255 if a > 32 else 0)
    dark = rgba.convert("L").point(lambda g: 255 if g < 160 else 0)
    ink = ImageChops.multiply(seen, dark).histogram()[255]
    return png if ink >= MIN_INK else None
