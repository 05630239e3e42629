"""What the signing tests share: a workspace whose bot serves the signing page at its own address, on a clock
the test moves; an order taken to approval; the link the bot posted; a drawn signature; the page's form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from bot.settings import ClientSigning
from sandbox.client import posted_link
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
        link = posted_link([self.transcript(order_id, raw=True)])
        assert link, self.transcript(order_id)
        return link

    def transcript(self, order_id: int, raw: bool = False) -> str:
        channel = self.order(order_id).channel_id
        assert channel
        if raw:
            return "\n".join(m.text for m in self.fake.channels[channel].messages)
        return self.fake.transcript(channel)

    def requests(self) -> list[SignatureRequest]:
        with Session(self.engine) as session:
            return list(session.exec(select(SignatureRequest).order_by(SignatureRequest.id)))
