"""The client's signature over plain HTTP (no browser): the card's button makes a link, the page shows the
version and takes the answer once, the channel hears of it and gets the signed copy; every bad request gets a
clear page and stores nothing; the settings' refusals."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from bot.server import WebServer, web_app
from bot.settings import ClientSigning, Settings, SettingsError, client_signing
from bot.signing_links import Links
from sandbox.client import drawn_signature as signature_png
from sandbox.client import fetch, open_page
from sandbox.local import free_port
from storage.models import Asset
from tests.conftest import COORDINATOR, OUTSIDER, REQUESTER, WORKER
from tests.signing_helpers import LINK_SECRET, SIGNING, Signing
from workflow.document import SignedCopy
from workflow.verification import verify


@pytest.fixture
def ws(seeded):  # type: ignore[no-untyped-def]
    with Signing(seeded) as workspace:
        yield workspace


def stored(ws: Signing) -> list[tuple[object, ...]]:
    """What the answers stored: the requests' answered columns, and the assets."""
    with Session(ws.engine) as session:
        assets = len(session.exec(select(Asset)).all())
    return [(r.used_at, r.outcome, r.signer_name, r.document, r.signature_sha256) for r in ws.requests()] + [assets]


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_field_worker_asks_and_the_client_signs_over_http(ws: Signing) -> None:
    order_id = ws.approved_order()
    link = ws.ask(WORKER, order_id)
    [request] = ws.requests()
    assert (request.version, request.asked_by, len(request.nonce)) == (1, WORKER, 32)
    assert request.expires_at.replace(tzinfo=None) == (ws.now + timedelta(hours=72)).replace(tzinfo=None)
    said = ws.transcript(order_id)
    assert "@Jürgen Müller asked the client to sign *SO-000001 v1*" in said and "works once" in said

    page = open_page(link)
    headers, body = page.answer.headers, page.answer.body
    assert headers["Content-Security-Policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    assert (headers["X-Content-Type-Options"], headers["Referrer-Policy"], headers["Cache-Control"]) == (
        "nosniff", "no-referrer", "no-store")
    assert "SameSite=Strict" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert "SO-000001 version 1" in body and "Constructora Peñalolén" in body and "Total USD" in body
    assert "http" not in body.replace(link.split("/sign/")[0], "")  # no external resource, no other site
    # its script and style are files of the bot's own, as the policy allows
    assert fetch(f"{ws.url}/sign/static/sign.js").headers["Content-Type"].startswith("text/javascript")
    assert fetch(f"{ws.url}/sign/static/sign.css").status == 200
    version_pdf = fetch(f"{link}/pdf")
    assert version_pdf.headers["Content-Type"] == "application/pdf" and "SO-000001" in pdf_text(version_pdf.raw)
    # a browser's own PDF viewer (an <embed>) may load: only framing is refused; it saves under its own name
    assert version_pdf.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert version_pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert version_pdf.headers["Content-Disposition"] == 'inline; filename="SO-000001-v1.pdf"'

    thanks = page.post(outcome="accepted", name="  María José\u0007 Pérez ", comment="", signature=signature_png())
    assert thanks.status == 200 and "Thank you" in thanks.body, thanks.body
    [request] = ws.requests()
    copy = SignedCopy.from_json(request.document or "")
    assert (request.outcome, request.signer_name, request.ip) == ("accepted", "María José Pérez", "127.0.0.1")
    assert request.user_agent and request.user_agent.startswith("Python-urllib")
    assert request.used_at is not None and request.fingerprint == copy.fingerprint
    assert (copy.signature.name, copy.signature.outcome, copy.document.version) == ("María José Pérez", "accepted", 1)
    with Session(ws.engine) as session:
        asset = session.get(Asset, request.signature_sha256)
        assert asset is not None and asset.media_type == "image/png"
    ws.settle()
    assert "*SO-000001 v1* was signed by María José Pérez" in ws.transcript(order_id)
    [signed] = [f for f in ws.fake.files.values() if f.name == "SO-000001-v1-signed.pdf"]
    assert "María José Pérez" in pdf_text(signed.content)
    assert verify(ws.engine, signed.content, signed.name).finding.name == "GENUINE_SIGNED"  # the signed copy

    # the same form sent again stores nothing more: the link is used
    before = stored(ws)
    again = page.post(outcome="accepted", name="Someone Else", signature=signature_png())
    assert again.status == 410 and "already" in again.body.lower()
    assert fetch(link).status == 410 and fetch(f"{link}/pdf").status == 410
    assert stored(ws) == before


def test_a_dispute_needs_a_comment_and_says_it_in_the_channel(ws: Signing) -> None:
    order_id = ws.approved_order()
    page = open_page(ws.ask(COORDINATOR, order_id))
    refused = page.post(outcome="disputed", name="Pat Client", comment="  ", signature=signature_png())
    assert refused.status == 400 and "Say what you dispute in the comment." in refused.body
    assert ws.requests()[0].used_at is None
    page = open_page(page.url)
    assert page.post(outcome="disputed", name="Pat Client", comment="Two filters were not replaced",
                     signature=signature_png()).status == 200
    ws.settle()
    assert "*SO-000001 v1* was disputed by Pat Client" in ws.transcript(order_id)
    assert "Two filters were not replaced" in ws.transcript(order_id)
    assert ws.requests()[0].comment == "Two filters were not replaced"
    # the disputed copy is called what it is, in Slack and in the PDF, never "signed by"
    [disputed] = [f for f in ws.fake.files.values() if f.name.startswith("SO-000001-v1-")]
    assert (disputed.name, disputed.title) == ("SO-000001-v1-disputed.pdf", "SO-000001 v1, disputed by Pat Client")
    reader = PdfReader(io.BytesIO(disputed.content))
    assert reader.metadata.title.endswith("v1, disputed by Pat Client")
    assert "disputed copy" in pdf_text(disputed.content) and "signed" not in pdf_text(disputed.content).lower()


def test_who_may_ask_and_when(ws: Signing) -> None:
    order_id = ws.approved_order()
    for person in (REQUESTER, OUTSIDER):
        ws.ask_to_sign(person, order_id)
        ws.wait(lambda p=person: [e for e in ws.fake.ephemerals if e["user"] == p], "the refusal")
    refusals = [e["text"] for e in ws.fake.ephemerals]
    assert refusals == ["Only a field worker assigned to it or a coordinator can ask the client to sign "
                        "SO-000001."] * 2
    assert ws.requests() == []


def test_without_public_url_the_button_says_what_to_set_and_makes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    with Signing(seeded, signing=ClientSigning(secret=LINK_SECRET)) as ws:
        order_id = ws.approved_order()
        assert ws.ask_to_sign(COORDINATOR, order_id).status == 200
        ws.wait(lambda: ws.fake.ephemerals, "the answer")
        assert ws.fake.ephemerals[-1]["text"].startswith(
            "Client signatures are not set up yet: an admin must set PUBLIC_URL")
        ws.settle()
        assert ws.requests() == [] and "/sign/" not in ws.transcript(order_id, raw=True)


def test_bad_links_and_bad_requests_get_a_clear_page_and_store_nothing(ws: Signing) -> None:
    order_id = ws.approved_order()
    link = ws.ask(WORKER, order_id)
    token = link.rsplit("/", 1)[1]
    base = link.rsplit("/", 1)[0]
    before = stored(ws)

    def page_of(answer) -> str:  # type: ignore[no-untyped-def]
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "Content-Security-Policy" in answer.headers
        return answer.body

    # a token changed by one character, and one signed with another secret: not ours
    # (the first character, whose six bits are all the payload's: the last one's lowest bits may be base64 padding,
    # which decodes to the same bytes)
    tampered = ("B" if token[0] != "B" else "C") + token[1:]
    assert "not valid" in page_of(answer := fetch(f"{base}/{tampered}")) and answer.status == 403
    assert fetch(f"{base}/{Links('', 'another-secret-' * 3).token(ws.requests()[0].nonce)}").status == 403
    # a token we signed for a nonce no request has
    assert fetch(f"{base}/{Links(ws.url, LINK_SECRET).token('0' * 32)}").status == 403
    # wrong method, unknown paths
    assert fetch(link, b"", method="PUT").status == 405
    assert fetch(f"{link}/pdf", b"x", method="POST").status == 405
    assert fetch(f"{link}/other").status == 404 and fetch(f"{base}/").status == 404

    page = open_page(link)
    good = {"outcome": "accepted", "name": "Pat Client", "signature": signature_png()}
    # CSRF: no cookie, another page's token, a foreign Origin
    no_cookie = fetch(link, f"csrf={page.csrf}&outcome=accepted&name=x".encode(),
                      {"Content-Type": "application/x-www-form-urlencoded"}, "POST")
    assert no_cookie.status == 403 and "out of date" in no_cookie.body
    other = open_page(link)
    page.csrf, saved = other.csrf, page.csrf
    assert page.post(**good).status == 403
    page.csrf = "é.x"  # not ASCII: refused like any other made-up token, not a failure of ours
    assert "out of date" in (answer := page.post(**good)).body and answer.status == 403
    page.csrf = saved
    assert page.post(origin="https://evil.example", **good).status == 403
    assert page.post(more={"Sec-Fetch-Site": "cross-site"}, **good).status == 403
    # bad answers: each one line on the form, 400
    for fields, line in (
            ({**good, "name": " \u0007 "}, "Write your name"),
            ({**good, "name": "x" * 201}, "Write your name"),
            ({**good, "outcome": "maybe"}, "Choose Accept or Dispute."),
            ({**good, "signature": signature_png(ink=False)}, "Draw your signature"),
            ({**good, "signature": "data:image/png;base64,bm90IGEgcG5n"}, "Draw your signature"),
            ({**good, "signature": "data:image/svg+xml;base64,PHN2Zz4="}, "Draw your signature"),
            ({**good, "signature": signature_png(size=(2001, 160))}, "Draw your signature"),  # too large to decode
            ({**good, "comment": "y" * 2001}, "The comment is too long")):
        answer = page.post(**fields)
        assert answer.status == 400 and line in answer.body, (fields.get("name"), answer.body[:300])
    # too large a body
    huge = fetch(link, b"a" * (800 * 1024), {"Content-Type": "application/x-www-form-urlencoded",
                                              "Cookie": page.cookie}, "POST")
    assert huge.status == 413
    assert stored(ws) == before

    # past its hours the link has expired: the page and the form say so
    ws.now += timedelta(hours=72, seconds=1)
    assert "expired" in page_of(answer := fetch(link)) and answer.status == 410
    assert page.post(**good).status == 410
    assert stored(ws) == before
    # the order's channel heard nothing more than the link
    assert "signed by" not in ws.transcript(order_id)


def test_a_link_stays_for_its_version_when_the_order_moves_on(ws: Signing) -> None:
    order_id = ws.approved_order()
    page = open_page(ws.ask(WORKER, order_id))
    ws.complete(WORKER, order_id, note="Done")
    ws.settle()
    assert ws.order(order_id).current_version == 2
    assert page.post(outcome="accepted", name="Pat Client", signature=signature_png()).status == 200
    assert SignedCopy.from_json(ws.requests()[0].document or "").document.version == 1
    # the completed order may be signed too: its closing record
    link = ws.ask(WORKER, order_id)
    assert ws.requests()[-1].version == 2 and "SO-000001 version 2" in open_page(link).answer.body


def test_the_closing_record_of_an_order_not_performed_is_signed_too(ws: Signing) -> None:
    order_id = ws.approved_order()
    assert ws.not_perform(WORKER, order_id, reason="The site was closed").text == ""
    ws.settle()
    page = open_page(ws.ask(WORKER, order_id))
    assert ws.requests()[0].version == 2 and "SO-000001 version 2" in page.answer.body
    assert page.post(outcome="accepted", name="Pat Client", signature=signature_png()).status == 200
    ws.settle()
    assert "*SO-000001 v2* was signed by Pat Client" in ws.transcript(order_id)


def test_behind_a_proxy_the_browsers_origin_matches_a_public_url_with_its_default_port(seeded) -> None:  # type: ignore[no-untyped-def]
    signing = client_signing({"PUBLIC_URL": "https://orders.example.com:443/", "SIGNATURE_LINK_SECRET": LINK_SECRET})
    with Signing(seeded, signing=signing) as ws:
        order_id = ws.approved_order()
        assert ws.ask_to_sign(COORDINATOR, order_id).status == 200
        ws.wait(lambda: ws.requests(), "the signature request")
        ws.settle()
        token = Links(signing.public_url or "", LINK_SECRET).token(ws.requests()[0].nonce)
        assert f"<https://orders.example.com/sign/{token}|" in ws.transcript(order_id, raw=True)
        page = open_page(f"{ws.url}/sign/{token}")  # as the proxy passes it on
        assert "Secure" in page.answer.headers["Set-Cookie"]
        answer = page.post(origin="https://orders.example.com", outcome="accepted", name="Pat Client",
                           signature=signature_png())
        assert answer.status == 200, answer.body


# --- settings --------------------------------------------------------------------------------------------------

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "slack-secret"}


def test_the_signing_settings() -> None:
    signing = Settings.from_env({**BASE, "PUBLIC_URL": "https://orders.example.com/", "WEB_PORT": "8081",
                                 "SIGNATURE_LINK_SECRET": LINK_SECRET, "SIGNATURE_LINK_HOURS": "24"}).signing
    assert signing == ClientSigning("https://orders.example.com", LINK_SECRET, 24, 8081)
    assert signing.missing == () and LINK_SECRET not in repr(signing)
    assert Settings.from_env(BASE).signing.missing == ("PUBLIC_URL", "SIGNATURE_LINK_SECRET")
    assert client_signing({"PUBLIC_URL": "http://localhost:3000"}).public_url == "http://localhost:3000"
    # as a browser's Origin says it: lower case, no default port
    for given, origin in (("https://Orders.Example.com:443/", "https://orders.example.com"),
                          ("http://localhost:80", "http://localhost"), ("http://[::1]:8080/", "http://[::1]:8080"),
                          ("https://orders.example.com:8443", "https://orders.example.com:8443")):
        assert client_signing({"PUBLIC_URL": given}).public_url == origin
    # in Socket Mode only the web listener serves the page: without WEB_PORT a link would open nothing
    socket = {**BASE, "SLACK_APP_TOKEN": "xapp-1", "PUBLIC_URL": "https://orders.example.com",
              "SIGNATURE_LINK_SECRET": LINK_SECRET}
    assert Settings.from_env(socket, socket_mode=True).signing.missing == ("WEB_PORT",)
    assert Settings.from_env({**socket, "WEB_PORT": "8081"}, socket_mode=True).signing.missing == ()
    assert Settings.from_env(socket).signing.missing == ()  # HTTP mode serves the page itself
    assert SIGNING.link_hours == 72


@pytest.mark.parametrize(("env", "line"), [
    ({"PUBLIC_URL": "http://orders.example.com"}, "PUBLIC_URL must be the https address clients' phones reach"),
    ({"PUBLIC_URL": "https://user:pw@orders.example.com"}, "PUBLIC_URL must be the https address"),
    ({"PUBLIC_URL": "orders.example.com"}, "PUBLIC_URL must be the https address"),
    ({"PUBLIC_URL": "https://orders.example.com/?a=1"}, "PUBLIC_URL must be the https address"),
    ({"PUBLIC_URL": "https://example.com/orders"}, "PUBLIC_URL must be the bot's address without a path"),
    ({"SIGNATURE_LINK_SECRET": "short"}, "SIGNATURE_LINK_SECRET must be at least 32 characters"),
    ({"SIGNATURE_LINK_SECRET": "s" * 40, "SLACK_SIGNING_SECRET": "s" * 40}, "must not be the Slack signing secret"),
    ({"SIGNATURE_LINK_HOURS": "0"}, "SIGNATURE_LINK_HOURS must be a whole number from 1 to 720"),
    ({"SIGNATURE_LINK_HOURS": "1.5"}, "SIGNATURE_LINK_HOURS must be a whole number from 1 to 720"),
    ({"WEB_PORT": "70000"}, "WEB_PORT must be a whole number from 1 to 65535"),
    ({"TRUST_X_FORWARDED_FOR": "maybe"}, "TRUST_X_FORWARDED_FOR must be true or false"),
])
def test_each_bad_signing_setting_is_one_line(env: dict[str, str], line: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**BASE, **env})
    assert line in str(refused.value) and "\n" not in str(refused.value)


def test_a_bad_public_url_in_spanish() -> None:
    from i18n import language

    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**BASE, "PUBLIC_URL": "ftp://x"})
    assert refused.value.text(language("es")).startswith("PUBLIC_URL debe ser la dirección https")


def test_in_socket_mode_the_web_listener_serves_the_page_and_the_health_check(seeded, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # slack_sdk's Socket Mode client would tunnel loopback
    port = free_port()
    signing = ClientSigning(public_url=f"http://127.0.0.1:{port}", secret=LINK_SECRET)
    with Signing(seeded, signing=signing, transport="socket_mode") as ws:
        assert ws.bot is not None
        listener = WebServer(web_app(ws.bot, ws.engine), host="127.0.0.1", port=port)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        try:
            order_id = ws.approved_order()
            link = ws.ask(COORDINATOR, order_id)
            assert link.startswith(f"http://127.0.0.1:{port}/sign/")
            health = fetch(f"http://127.0.0.1:{port}/healthz")
            assert health.status == 200 and '"ok": true' in health.body
            assert fetch(f"http://127.0.0.1:{port}/slack/events", b"{}", method="POST").status == 404
            assert open_page(link).post(outcome="accepted", name="Pat Client", signature=signature_png()).status == 200
            ws.settle()
            assert "was signed by Pat Client" in ws.transcript(order_id)
        finally:
            listener.stop()
            thread.join(timeout=10)


def test_once_a_closed_orders_channel_is_archived_its_people_hear_by_direct_message(ws: Signing) -> None:
    order_id = ws.approved_order()
    assert ws.complete(WORKER, order_id, note="Done").text == ""
    ws.settle()
    page = open_page(ws.ask(WORKER, order_id))  # the closing record, version 2
    channel = ws.order(order_id).channel_id
    assert channel
    ws.fake.archive(channel)  # the channel is tidied away before the client answers
    assert page.post(outcome="accepted", name="Pat Client", signature=signature_png()).status == 200
    ws.settle()
    assert ws.order(order_id).channel_archived_at is not None

    def direct(user: str) -> tuple[list[str], list[str]]:
        ims = [c for c in ws.fake.channels.values() if c.is_im and user in c.members]
        return ([m.text for c in ims for m in c.messages],
                [ws.fake.files[f].name for c in ims for m in c.messages for f in m.files])

    for person in (REQUESTER, WORKER):
        texts, files = direct(person)
        assert any(f"(its channel <#{channel}> is archived): :white_check_mark: *SO-000001 v2* was signed by "
                   "Pat Client" in text for text in texts), texts
        assert files[-1] == "SO-000001-v2-signed.pdf"
    assert "signed by" not in ws.transcript(order_id)
