"""SQLModel tables. Money and quantities are Decimal (SQL Numeric); times are timezone-aware UTC."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import Column, Dialect, Index, LargeBinary, Numeric, String, Text, TypeDecorator, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.scope import Scoped, ScopedKey


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC where the database has it; on SQLite (whose NUMERIC is a float) the exact digits as text."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect):  # type: ignore[no-untyped-def]
        return dialect.type_descriptor(String(40) if dialect.name == "sqlite" else self.impl)

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Decimal | str | None:
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal(1).scaleb(-self.scale))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: object, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


MONEY = ExactDecimal(14, 4)  # unit prices may carry sub-cent precision; totals round to the currency
QUANTITY = ExactDecimal(14, 3)


class RoleGrant(ScopedKey, table=True):
    __tablename__ = "role_grant"
    user_id: str = Field(primary_key=True, max_length=32)
    role: str = Field(primary_key=True, max_length=32)


class Person(ScopedKey, table=True):
    """Display names of Slack users, learnt from payloads and users.info, for cards and PDFs."""

    user_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    tz: str | None = Field(default=None, max_length=64)  # IANA zone from Slack, for "today" where they are
    # CLDR name of the language they read Slack in ('es_419'); None: Slack did not say, they read the provider's
    locale: str | None = Field(default=None, max_length=16)
    updated_at: datetime


class CatalogEntry(Scoped, table=True):
    """Master data: clients, their sites, services and materials. One row per (kind, code)."""

    __tablename__ = "catalog_entry"
    __table_args__ = (
        UniqueConstraint("workspace", "kind", "code"),
        # the typeahead's LIKE '%word%' (revision 0021): on PostgreSQL a trigram GIN index finds a rare word's
        # entries; on SQLite a plain index, which the typeahead does not use
        Index("ix_catalog_entry_search_text", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}),
        # and per kind in code order, the words checked in the index itself (no row read until one matches)
        Index("ix_catalog_entry_typeahead", "workspace", "kind", "code", "search_text"),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True, max_length=16)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    unit: str | None = Field(default=None, max_length=32)
    unit_price: Decimal | None = Field(default=None, sa_type=MONEY)
    parent_code: str | None = Field(default=None, index=True, max_length=64)
    address: str | None = Field(default=None, max_length=300)  # a site's street address
    contact: str | None = Field(default=None, max_length=200)  # a client's contact person
    # "code name" folded (workflow/folding.py: no case, no accents) for typeahead matching with LIKE
    search_text: str = Field(max_length=300)


class ClientPrice(ScopedKey, table=True):
    """A client's own unit price for a service or material (catalog rows of kind `price`): used instead of the
    catalog's price whenever that client's order picks the item."""

    __tablename__ = "client_price"
    client_code: str = Field(primary_key=True, max_length=64)
    item_code: str = Field(primary_key=True, max_length=64)
    unit_price: Decimal = Field(sa_type=MONEY)


class Routing(ScopedKey, table=True):
    """Who a client's or site's orders go to: its named supervisors and coordinators (catalog columns
    `supervisors`, `coordinators`). A site's names for a role stand before its client's; with none on either,
    everyone with the role is routed (workflow/routing.py)."""

    __tablename__ = "routing"
    kind: str = Field(primary_key=True, max_length=16)  # client or site
    code: str = Field(primary_key=True, max_length=64)
    role: str = Field(primary_key=True, max_length=16)  # supervisor or coordinator
    user_id: str = Field(primary_key=True, max_length=32)


# a partial index's condition: closed orders (closed_at is set on closing) whose channel is not archived yet
_TO_ARCHIVE = {dialect: text("closed_at IS NOT NULL AND channel_archived_at IS NULL")
               for dialect in ("postgresql_where", "sqlite_where")}


class ServiceOrder(Scoped, table=True):
    __tablename__ = "service_order"
    # the lists of App Home, `/order list` and the reminder sweep: by state, oldest or soonest first
    # a unique index, not a constraint: SQLite adds it in place (a constraint would rebuild the table)
    __table_args__ = (Index("uq_service_order_number", "workspace", "number", unique=True),
                      Index("ix_service_order_state_created", "workspace", "state", "created_at"),
                      # with the approval role: App Home's counts of every order (an admin's) read this index alone
                      Index("ix_service_order_state_scheduled_role", "workspace", "state", "scheduled_date",
                            "approval_role"),
                      # the approval reminders' sweep: orders pending approval, by when this round began
                      Index("ix_service_order_state_pending", "workspace", "state", "pending_since"),
                      # the archive sweep: closed orders whose channel is not archived yet, by when they closed
                      # (only those: the index stays small however many orders were closed and archived)
                      Index("ix_service_order_to_archive", "workspace", "closed_at", **_TO_ARCHIVE),
                      # and per priority (SLAs by priority: workflow/sla.py)
                      Index("ix_service_order_state_priority_pending", "workspace", "state", "priority",
                            "pending_since"),
                      # the orders routed to a person (workflow/routing.seen_by): by client, by site; with what
                      # App Home counts of them (workflow/overview.tally), so its one pass reads the index alone
                      Index("ix_service_order_routed_client", "workspace", "client_code", "state", "site_code",
                            "approval_role", "scheduled_date"),
                      Index("ix_service_order_routed_site", "workspace", "site_code", "state", "approval_role",
                            "scheduled_date"),
                      # a bulk import's idempotency key: a re-run finds the orders it made (NULLs repeat freely)
                      Index("uq_service_order_external_ref", "workspace", "external_ref", unique=True))
    id: int | None = Field(default=None, primary_key=True)
    number: int  # SO-000042: counted per workspace (OrderNumbering)
    state: str = Field(index=True, max_length=32)
    # every step bumps it; a step lands only if the revision it read is still current
    revision: int = 0
    requester_id: str = Field(index=True, max_length=32)
    client_code: str = Field(max_length=64)
    site_code: str = Field(max_length=64)
    requested_date: date
    priority: str = Field(max_length=16)
    description: str = Field(sa_column=Column(Text, nullable=False))
    scheduled_date: date | None = None
    approval_notes: str | None = Field(default=None, sa_column=Column(Text))
    # an optional time window on the scheduled date, in the provider's time zone (set by a reschedule)
    scheduled_start: time | None = None
    scheduled_end: time | None = None
    approved_by: str | None = Field(default=None, max_length=32)
    approved_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=32)
    closed_at: datetime | None = None
    close_reason: str | None = Field(default=None, sa_column=Column(Text))
    current_version: int = 0  # 0: as submitted, not yet approved
    # the Slack view the order was submitted from: a second submission of the same form is the same order
    submitted_view_id: str | None = Field(default=None, unique=True, max_length=32)
    channel_id: str | None = Field(default=None, max_length=32)
    channel_name: str | None = Field(default=None, max_length=80)
    card_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime
    updated_at: datetime
    # when the order last entered pending approval (submitted, or resubmitted after a send-back), and which
    # time that was (1: the submission): each round's approval reminders are timed and keyed from them
    pending_since: datetime
    pending_round: int
    # when the order's channel was archived (ARCHIVE_AFTER_DAYS after closing, or found archived after it
    # closed): it is never replaced, and what the order still has to say goes by direct message
    channel_archived_at: datetime | None = None
    # the level of approval the order waits for in this round (1-based) and the role it needs (or a higher
    # one): the approval policy's (workflow/policy.py), kept here so reminders and App Home can ask by it
    approval_level: int
    approval_role: str = Field(max_length=32)
    approval_levels: int  # how many levels its request's total needs (set on submit and each edit)
    # the reference the order has in the file `orders import` made it from (None: submitted in Slack)
    external_ref: str | None = Field(default=None, max_length=64)


class OrderVersion(SQLModel, table=True):
    """Version 0 is the order as submitted; 1 the approved original; each confirmation adds one."""

    __tablename__ = "order_version"
    __table_args__ = (UniqueConstraint("order_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    number: int
    action: str = Field(max_length=32)
    author_id: str = Field(max_length=32)
    created_at: datetime
    note: str | None = Field(default=None, sa_column=Column(Text))
    scheduled_date: date | None = None
    scheduled_start: time | None = None  # the order's time window when the version was made
    scheduled_end: time | None = None
    # frozen the first time the version is issued: its PDF is a pure function of this, for ever
    document: str | None = Field(default=None, sa_column=Column(Text))
    fingerprint: str | None = Field(default=None, index=True, max_length=64)  # SHA-256 of `document`
    # SHA-256 of the PDF bytes as issued: what `verify` checks a file against, whatever renders it later
    pdf_sha256: str | None = Field(default=None, max_length=64)
    pdf_file_id: str | None = Field(default=None, max_length=32)
    # the provider's currency and tax rate when the version was made: its figures for ever (export); None on
    # versions made before they were recorded
    currency: str | None = Field(default=None, max_length=3)
    tax_rate: Decimal | None = Field(default=None, sa_type=ExactDecimal(7, 6))


class GivenApproval(SQLModel, table=True):
    """One level's approval of one round of an order (workflow/policy.py: an order needs one from each level
    its total reaches). Level 1's carries the approver's choices, which the last level's approval issues
    version 1 with. An edit or a send-back clears the round's approvals (`cleared_at`); the rows stay, as the
    audit trail does."""

    __tablename__ = "approval"
    __table_args__ = (Index("ix_approval_order_round", "order_id", "round"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id")
    round: int  # the order's pending_round when given
    level: int  # 1-based
    role: str = Field(max_length=32)  # the role the level needed
    approver_id: str = Field(max_length=32)
    at: datetime
    scheduled_date: date | None = None  # level 1's choices
    field_workers: str | None = Field(default=None, sa_column=Column(Text))  # JSON list of user ids
    notes: str | None = Field(default=None, sa_column=Column(Text))
    cleared_at: datetime | None = None


class LineItem(SQLModel, table=True):
    """One line of one version: each version holds its full list, so versions diff cleanly."""

    __tablename__ = "line_item"
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="order_version.id", index=True)
    position: int
    kind: str = Field(max_length=16)
    code: str | None = Field(default=None, max_length=64)
    description: str = Field(max_length=300)
    unit: str | None = Field(default=None, max_length=32)
    unit_price: Decimal | None = Field(default=None, sa_type=MONEY)
    quantity: Decimal = Field(sa_type=QUANTITY)


class Assignment(SQLModel, table=True):
    """One stint of a field worker on an order: the version that added them, and the one that removed them (a
    crew change; None: still on it). Re-added later, they get a new stint, so each version keeps its crew."""

    order_id: int = Field(foreign_key="service_order.id", primary_key=True)
    user_id: str = Field(primary_key=True, max_length=32, index=True)  # "assigned to me"
    added_in_version: int = Field(primary_key=True)
    removed_in_version: int | None = None


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    at: datetime
    actor_id: str = Field(max_length=32)
    action: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    version: int
    # what the step did, as JSON of workflow.facts.StepFacts: typed values, no words, no markup (bot/ renders
    # it per reader); rows from before revision 0006 hold their old text, without markup, as its `legacy`
    detail: str = Field(sa_column=Column(Text, nullable=False))


class ProposedChange(SQLModel, table=True):
    """A step that raised the order's total with tax past REAPPROVAL_OVER: held, not issued, until someone the
    policy's level for its new total allows approves it (a new version, as the step would have made) or
    rejects it (the current version stays). At most one per order is undecided: the order is change_pending."""

    __tablename__ = "proposed_change"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    action: str = Field(max_length=32)  # the step that proposed it: confirm, set_prices
    author_id: str = Field(max_length=32)
    created_at: datetime
    base_version: int  # the version it changes: the one it was proposed on
    note: str | None = Field(default=None, sa_column=Column(Text))  # the step's why or reason
    # the version it would issue: its lines and the field workers it adds (JSON), and the step's facts
    lines: str = Field(sa_column=Column(Text, nullable=False))
    people: str = Field(sa_column=Column(Text, nullable=False))
    facts: str = Field(sa_column=Column(Text, nullable=False))
    total_before: Decimal = Field(sa_type=MONEY)  # with tax, in the order's currency
    total_after: Decimal = Field(sa_type=MONEY)
    level: str = Field(max_length=32)  # the role its approval needs (or a higher one), at its new total
    outcome: str | None = Field(default=None, max_length=16)  # None: waiting; approved, rejected
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = None
    reason: str | None = Field(default=None, sa_column=Column(Text))  # a rejection's


# a partial index's condition, in each dialect's keyword
_PENDING_ONLY = {"postgresql_where": text("status = 'pending'"), "sqlite_where": text("status = 'pending'")}


class PendingEffect(Scoped, table=True):
    """A Slack call a step still owes, written in the step's transaction and run after its commit."""

    __tablename__ = "pending_effect"
    # The effect runner's claim reads the oldest pending effect whose order has no earlier one pending. Done
    # effects pile up for ever, so these hold only pending ones: the claim stays an index probe, not a
    # scan of the backlog for each pending row (59 ms a claim with 2,000 pending, before).
    __table_args__ = (UniqueConstraint("workspace", "key"),
                      Index("ix_pending_effect_pending", "id", **_PENDING_ONLY),
                      Index("ix_pending_effect_pending_order", "order_id", "id", **_PENDING_ONLY))
    id: int | None = Field(default=None, primary_key=True)
    # None: not about one order (a coordinator's daily digest)
    order_id: int | None = Field(default=None, foreign_key="service_order.id", index=True)
    kind: str = Field(max_length=32)
    key: str = Field(max_length=200)  # idempotency key: one effect per step and target, in its workspace
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    status: str = Field(default="pending", index=True, max_length=16)  # pending, done, failed
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    not_before: datetime
    # a process running the effect holds it until then; if it dies, another takes it over after that
    claimed_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime
    done_at: datetime | None = None
    # the Slack request that queued it (storage/request_context.py); None when the app queued it on its own
    request_id: str | None = Field(default=None, max_length=32)


class OrderAttachment(SQLModel, table=True):
    """A photo or file that is evidence of an order: from a form (submit, confirmation, closing) or shared in
    its channel. It goes on the next version the order issues (`version` is None until then: an issued
    version is frozen). Its bytes stay in Slack; we keep their SHA-256 and, for an image, a thumbnail
    (`asset`) once the download effect has read them."""

    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("order_id", "slack_file_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    version: int | None = None  # the version it is on; None: waiting for the next one
    source: str = Field(max_length=16)  # form, channel
    slack_file_id: str = Field(max_length=32)
    name: str = Field(max_length=255)
    mimetype: str = Field(max_length=100)  # as Slack reported it
    size: int  # bytes, as Slack reported it
    url_private: str = Field(sa_column=Column(Text, nullable=False))  # read with the bot token, after the ack
    shared_by: str = Field(max_length=32)
    shared_at: datetime
    status: str = Field(default="pending", max_length=16)  # pending (not read yet), kept, left_out
    reason: str | None = Field(default=None, max_length=32)  # why it was left out (a code, not words)
    sha256: str | None = Field(default=None, max_length=64)  # of the bytes downloaded
    thumbnail_sha256: str | None = Field(default=None, max_length=64)  # asset; None for a non-image


class SignatureRequest(SQLModel, table=True):
    """A link that asks the client to sign one version (single use, expiring), and what the client did with
    it: the facts of the signature and the signed copy, frozen (its own document and fingerprint)."""

    __tablename__ = "signature_request"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    version: int
    nonce: str = Field(unique=True, max_length=64)  # in the signed link; used once
    asked_by: str = Field(max_length=32)
    asked_at: datetime
    expires_at: datetime
    # set when the client answers, once
    used_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=16)  # accepted, disputed
    signer_name: str | None = Field(default=None, max_length=200)
    comment: str | None = Field(default=None, sa_column=Column(Text))  # a dispute's
    signature_sha256: str | None = Field(default=None, max_length=64)  # the drawn signature (PNG, asset)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=512)
    # the signed copy: the version's document with the signature, frozen at the answer; its PDF's hash at
    # its first render (what `verify` checks a signed copy against)
    document: str | None = Field(default=None, sa_column=Column(Text))
    fingerprint: str | None = Field(default=None, index=True, max_length=64)
    pdf_sha256: str | None = Field(default=None, max_length=64)


class Asset(SQLModel, table=True):
    """Bytes a document refers to by hash (the provider's logo, photos' thumbnails, a client's signature), kept so
    old versions render the same."""

    sha256: str = Field(primary_key=True, max_length=64)
    media_type: str = Field(max_length=32)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SlackEvent(SQLModel, table=True):
    """Events API deliveries already taken, by event_id: Slack retries a delivery it thinks failed, and Bolt
    does not de-duplicate, so a retry must change nothing."""

    __tablename__ = "slack_event"
    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = Field(index=True)


class HomeViewer(ScopedKey, table=True):
    """People who have opened the app's Home tab: a step that changes what they should see refreshes it."""

    __tablename__ = "home_viewer"
    user_id: str = Field(primary_key=True, max_length=32)
    opened_at: datetime


class Reminder(Scoped, table=True):
    """A reminder queued for one due moment, named by `key` (e.g. approval:42:20261127T0930): inserted once,
    with the effect that sends it, however many processes sweep and however often."""

    __table_args__ = (UniqueConstraint("workspace", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)
    kind: str = Field(max_length=16)  # approval, escalation, morning, overdue, digest
    order_id: int | None = Field(default=None, foreign_key="service_order.id", index=True)
    recipient_id: str | None = Field(default=None, max_length=32)
    due_at: datetime = Field(index=True)  # a sweep reads the recent ones
    created_at: datetime


class OrderNumbering(ScopedKey, table=True):
    """The last order number a workspace gave: its orders count from SO-000001, whatever other workspaces hold."""

    __tablename__ = "order_numbering"
    last: int


class SlackWorkspace(SQLModel, table=True):
    """A Slack workspace the bot serves (the `workspace` of every scoped row): the one SLACK_BOT_TOKEN's
    auth.test names, or each one the app is installed in through OAuth (bot/workspace.py)."""

    __tablename__ = "slack_workspace"
    team_id: str = Field(primary_key=True, max_length=32)
    team_name: str = Field(max_length=200)
    enterprise_id: str | None = Field(default=None, max_length=32)  # its Enterprise Grid org, if any
    bot_user_id: str = Field(max_length=32)
    connected_at: datetime  # the first start with this workspace's token, or its first install
    uninstalled_at: datetime | None = None  # app_uninstalled or tokens_revoked: its effects stopped
