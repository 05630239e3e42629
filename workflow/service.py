"""The workflow service: applies one step of the transition table in one database transaction.

A step writes the order's new state and revision, a version when the items change, an audit event,
and the Slack effects still to do (run by bot/ after the commit). A step lands only if the revision it
read is still current, so two clicks on Approve make one approval, on any number of processes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import Engine, and_, delete, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.db import dialect_insert, queue_effects, session_scope
from storage.models import (
    Assignment,
    AuditEvent,
    CatalogEntry,
    ClientPrice,
    GivenApproval,
    LineItem,
    OrderNumbering,
    OrderVersion,
    ProposedChange,
    RoleGrant,
    ServiceOrder,
)
from storage.scope import current
from workflow import attachments
from workflow.amounts import amounts
from workflow.approvals import NextApproval, asked, check_approver, clear_round, next_approval, wait_for
from workflow.clock import Clock, earliest_today, latest_today, utcnow
from workflow.document import ItemLine, diff_items, subtotal
from workflow.effects import (
    ORDER,
    Card,
    Effect,
    EffectKind,
    FetchFile,
    Home,
    Invite,
    Kick,
    Message,
    OpenChannel,
    Payload,
    UploadPdf,
)
from workflow.errors import (
    ChangeAboveLevel,
    CrewUnchanged,
    Field,
    FieldErrors,
    FieldKey,
    FreeItemTaken,
    ItemRow,
    KeepOneFieldWorker,
    KeepOneItem,
    NegativePrice,
    NoItems,
    NoLongerOnOrder,
    NotFieldWorkers,
    NothingChanged,
    NotInCatalog,
    OnAnotherRow,
    OnlyFieldWorker,
    OwnChange,
    OwnOrder,
    PriceLine,
    Problem,
    Refused,
    RemovingAbsent,
    Required,
    ScheduleLapsed,
    ScheduleUnchanged,
    SiteOfAnotherClient,
    Stale,
    WindowBackwards,
)
from workflow.facts import FieldChange, StepFacts, item_facts
from workflow.inputs import (
    Approval,
    ChangeDecision,
    Closing,
    Confirmation,
    CrewChange,
    FreeItem,
    ItemQuantity,
    LevelApproval,
    OrderDraft,
    Pricing,
    Rejection,
    Reschedule,
    SendBack,
    SharedFile,
    StepInput,
    Withdrawal,
)
from workflow.limits import FREE_ITEMS, Limits
from workflow.people import local_today
from workflow.policy import ApprovalPolicy, Level, Separation, asked_for, escalated_for, may_approve, roles_for
from workflow.queries import field_workers, get_order, holders, open_stint, version_lines, waiting_change
from workflow.routing import Router
from workflow.shared_files import check as check_files
from workflow.transitions import BY_ACTION, Transition, check
from workflow.vocabulary import Action, CatalogKind, ItemKind, Role, State, order_number


class OrderService:
    def __init__(self, engine: Engine, clock: Clock = utcnow, currency: str = "USD",
                 limits: Limits | None = None, policy: ApprovalPolicy | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.currency = currency  # totals in step messages round to its minor unit
        self.limits = limits or Limits()
        self.policy = policy or ApprovalPolicy()

    def _separated(self, user: str, requester: str) -> bool:
        """Whether separation of duties keeps `user` from approving the order `requester` submitted."""
        return self.policy.separation is not Separation.OFF and user == requester

    def next_approval(self, session: Session, order: ServiceOrder) -> NextApproval:
        return next_approval(session, order, self.policy, self.currency, self.limits.tax_rate)

    # --- reads a listener needs before it opens a form -------------------------------------------

    def roles(self, user_id: str) -> set[Role]:
        with Session(self.engine) as session:
            return roles_of(session, user_id)

    def authorize(self, actor: str, order_id: int, action: Action, revision: int | None = None) -> ServiceOrder:
        """Check that `actor` may take `action` on the order now (and, given the revision the card showed,
        that the card is current); return the order as read."""
        with Session(self.engine, expire_on_commit=False) as session:
            order = get_order(session, order_id)
            _check(session, BY_ACTION[action], order, actor, self)
            _check_decider(session, order, actor, action, self)
            if revision is not None and revision != order.revision:
                raise Stale(order_number(order.number), State(order.state), on_card=True)
            return order

    def authorize_submit(self, actor: str) -> None:
        with Session(self.engine) as session:
            check(BY_ACTION[Action.SUBMIT], None, roles_of(session, actor), False, "")

    # --- steps -----------------------------------------------------------------------------------

    def check_submit(self, actor: str, draft: OrderDraft) -> None:
        """What submit(actor, draft) would refuse (NotAllowed, FieldErrors), raised without writing anything:
        a bulk import checks every row this way before it creates the first order."""
        _check_files(draft.files)
        with Session(self.engine) as session:
            check(BY_ACTION[Action.SUBMIT], None, roles_of(session, actor), False, "")
            _draft_lines(session, actor, draft, self.clock(), self)

    def submit(self, actor: str, draft: OrderDraft, view_id: str | None = None,
               external_ref: str | None = None) -> ServiceOrder:
        """A new order. Submitting the same Slack view again (a retry after a slow answer) returns the order
        it made the first time; `external_ref` is an imported order's key in its file (IntegrityError when
        taken)."""
        try:
            return self._submit(actor, draft, view_id, external_ref)
        except IntegrityError:  # the same view, submitted twice at once: the other one won
            if view_id is None:
                raise  # a reference already taken: the import counts it as existing
            with Session(self.engine, expire_on_commit=False) as session:
                return session.exec(select(ServiceOrder).where(ServiceOrder.submitted_view_id == view_id)).one()

    def _submit(self, actor: str, draft: OrderDraft, view_id: str | None,
                external_ref: str | None = None) -> ServiceOrder:
        # This runs inside Slack's 3-second ack: few statements (one catalog query for everything picked),
        # and inserts in bulk. A repeated view is caught by its unique id when the order is inserted.
        now = self.clock()
        _check_files(draft.files)
        with session_scope(self.engine) as session:
            first = self.policy.levels[0]
            roles, asked = _grants(session, actor, asked_for(first))
            check(BY_ACTION[Action.SUBMIT], None, roles, False, "")
            client, site, lines = _draft_lines(session, actor, draft, now, self)
            # whoever may give the first level of approval is asked to review, among those the client or site
            # names (not the requester: they may not)
            reviewers = [u for u in _reviewers(session, client.code, site.code, asked_for(first), asked)
                         if not self._separated(u, actor)]

            order = ServiceOrder(
                number=_next_number(session), state=State.PENDING_APPROVAL, requester_id=actor, client_code=client.code,
                site_code=site.code, requested_date=draft.requested_date, priority=draft.priority,
                description=draft.description, submitted_view_id=view_id, external_ref=external_ref,
                created_at=now, updated_at=now,
                pending_since=now, pending_round=1, approval_level=1, approval_role=first.role.value,
                approval_levels=len(self.policy.levels_for(amounts(lines, self.currency, self.limits.tax_rate).total)),
            )
            session.add(order)
            session.flush()
            _add_version(session, order, 0, Action.SUBMIT, actor, now, None, lines, self)
            facts = StepFacts(Action.SUBMIT, actor, client=client.name, site=site.name, item_count=len(lines),
                              requested_date=draft.requested_date, priority=draft.priority,
                              reviewers=tuple(reviewers), currency=self.currency, tax_rate=self.limits.tax_rate,
                              total=subtotal(lines, self.currency))
            _audit(session, order, actor, BY_ACTION[Action.SUBMIT], None, now, facts)
            effects = _Effects(session, order, now)
            effects.add(EffectKind.OPEN_CHANNEL, "channel", OpenChannel())
            escalation = _escalation(session, client.code, site.code, first)
            effects.add(EffectKind.INVITE, "invite:submit", Invite(tuple(_unique([actor, *reviewers, *escalation]))))
            effects.add(EffectKind.CARD, f"card:{order.revision}", Card())
            effects.add(EffectKind.MESSAGE, "message:review", Message(facts))
            _take_files(session, order, draft.files, actor, now, effects)  # on version 1, once approved
            effects.write()
            return order

    def apply(self, actor: str, order_id: int, action: Action, revision: int,
              data: StepInput) -> ServiceOrder:
        """Take one step on an existing order, or raise Refused / Stale / FieldErrors."""
        transition = BY_ACTION[action]
        now = self.clock()
        files = _files_of(data)
        _check_files(files)
        with session_scope(self.engine) as session:
            order = get_order(session, order_id)
            _check(session, transition, order, actor, self)
            _check_decider(session, order, actor, action, self)
            number = order_number(order.number)
            # Compare-and-set on the revision: the database, not memory, decides which step lands.
            claimed = session.execute(
                update(ServiceOrder)
                .where(ServiceOrder.id == order.id, ServiceOrder.revision == revision)
                .values(revision=revision + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                session.refresh(order)
                raise Stale(number, State(order.state))
            order.revision = revision + 1
            source = State(order.state)
            effects = _Effects(session, order, now)
            # before the step: a version it makes takes them (a change held for approval leaves them waiting)
            _take_files(session, order, files, actor, now, effects)
            facts = _STEPS[action](session, order, actor, data, now, effects, self)
            order.state = transition.waits_in if facts.held and transition.waits_in else transition.target
            order.updated_at = now
            session.add(order)
            _audit(session, order, actor, transition, source, now, facts)
            effects.add(EffectKind.CARD, f"card:{order.revision}", Card())
            effects.add(EffectKind.MESSAGE, f"message:{order.revision}", Message(facts))
            effects.write()
            return order


def _draft_lines(session: Session, actor: str, draft: OrderDraft, now: datetime,
                 service: OrderService) -> tuple[CatalogEntry, CatalogEntry, list[ItemLine]]:
    """A new or edited request, checked against the catalog and the limits: its client, site and lines,
    or FieldErrors."""
    errors: dict[FieldKey, Problem] = {}
    catalog, own = _catalog_priced(session, [("client", draft.client_code), ("site", draft.site_code),
                                             *(_ref(item) for item in draft.items)], draft.client_code)
    client = catalog.get(("client", draft.client_code))
    site = catalog.get(("site", draft.site_code))
    if client is None:
        errors[Field.CLIENT] = NotInCatalog(CatalogKind.CLIENT)
    if site is None:
        errors[Field.SITE] = NotInCatalog(CatalogKind.SITE)
    elif client is not None and site.parent_code != client.code:
        errors[Field.SITE] = SiteOfAnotherClient(site.name, client.name)
    if problem := _date_problem(session, actor, draft.requested_date, now, service.limits):
        errors[Field.REQUESTED_DATE] = problem
    lines = _resolve_items(session, draft.items, errors, catalog, own=own)
    lines += _free_lines(draft.free_items, {line.key for line in lines}, errors)
    first_field: FieldKey = ItemRow(draft.items[0].row) if draft.items else FREE_ITEMS
    if not lines and not errors:
        errors[first_field] = NoItems()
    fields: dict[str, FieldKey] = {item.ref: ItemRow(item.row) for item in draft.items}
    errors = service.limits.line_problems(lines, service.currency, fields, first_field) | errors
    if not errors and (problem := service.limits.total_problem(lines, service.currency)):
        errors[first_field] = problem
    if errors:
        raise FieldErrors(errors)
    assert client is not None and site is not None
    return client, site, lines


# --- the steps -----------------------------------------------------------------------------------


def _approve(session: Session, order: ServiceOrder, actor: str, data: Approval | LevelApproval, now: datetime,
             effects: _Effects, service: OrderService) -> StepFacts:
    """One level's approval (workflow/policy.py). Level 1's form chooses the crew, the date and the notes; a
    later level's adds a note. The last level the order needs issues version 1 with level 1's choices; one
    before it is recorded and leaves the order pending, asking the next level."""
    step = service.next_approval(session, order)
    if isinstance(data, Approval) != (step.level == 1):  # a form of another level (forged, or a level ago)
        raise Stale(order_number(order.number), State(order.state))
    if isinstance(data, Approval):
        _check_choices(session, data, actor, now, service)
        check_approver(session, order, actor, roles_of(session, actor), Action.APPROVE, step, service.policy,
                       crew=data.field_workers)
        crew, scheduled, notes = data.field_workers, data.scheduled_date, data.notes
    else:
        first = step.given[0]
        crew, scheduled, notes = step.crew or (), first.scheduled_date, first.notes
        assert scheduled is not None
    given = GivenApproval(
        order_id=order.id, round=order.pending_round, level=step.level, role=step.needed.role.value,
        approver_id=actor, at=now, scheduled_date=data.scheduled_date if isinstance(data, Approval) else None,
        field_workers=json.dumps(list(crew)) if isinstance(data, Approval) else None, notes=data.notes)
    session.add(given)
    if not step.last:
        following = NextApproval(step.level + 1, step.levels, (*step.given, given))
        return _partial_approval(session, order, actor, data, following, now, effects, service)
    if step.level > 1:
        _check_lapsed(session, order, actor, crew, scheduled, now, service)
    facts = _issue_approved(session, order, actor, crew, scheduled, notes, now, effects, service)
    if len(step.levels) == 1:  # as before levels: the facts of one approval
        return facts
    return replace(facts, level=step.level, levels=len(step.levels))


def _check_choices(session: Session, data: Approval, actor: str, now: datetime, service: OrderService) -> None:
    errors: dict[FieldKey, Problem] = {}
    _check_field_workers(session, data.field_workers, errors)
    if problem := _date_problem(session, actor, data.scheduled_date, now, service.limits):
        errors[Field.SCHEDULED_DATE] = problem
    if errors:
        raise FieldErrors(errors)


def _check_lapsed(session: Session, order: ServiceOrder, actor: str, crew: tuple[str, ...], scheduled: date,
                  now: datetime, service: OrderService) -> None:
    """Level 1's choices, checked again when the last level issues them: the date may have passed meanwhile
    (only a send-back lets the requester's side choose another), a field worker may have lost the role."""
    if _date_problem(session, actor, scheduled, now, service.limits):
        raise ScheduleLapsed(order_number(order.number), scheduled)
    errors: dict[FieldKey, Problem] = {}
    _check_field_workers(session, crew, errors)
    if errors:
        raise FieldErrors(errors)


def _partial_approval(session: Session, order: ServiceOrder, actor: str, data: Approval | LevelApproval,
                      following: NextApproval, now: datetime, effects: _Effects, service: OrderService) -> StepFacts:
    """A level before the last: the order waits for the `following` one, timed from now (its reminders too), and
    those asked for it are brought into the channel."""
    wait_for(order, following.level, following.levels)
    order.pending_since = now
    people = asked(session, order, following, service.policy)
    invited = _unique([*people, *_escalation(session, order.client_code, order.site_code, following.needed)])
    if invited:
        effects.add(EffectKind.INVITE, f"invite:{order.revision}:l{following.level}", Invite(tuple(invited)))
    scheduled = data.scheduled_date if isinstance(data, Approval) else None
    return StepFacts(Action.APPROVE, actor, level=following.level - 1, levels=len(following.levels),
                     next_role=following.needed.role.value, next_people=people, scheduled_date=scheduled,
                     people_added=(), note=data.notes or None)


def _issue_approved(session: Session, order: ServiceOrder, actor: str, crew: tuple[str, ...], scheduled: date,
                    notes: str | None, now: datetime, effects: _Effects, service: OrderService) -> StepFacts:
    """The order is approved: version 1, its crew brought in, its PDF."""
    order.scheduled_date = scheduled
    order.approval_notes = notes
    order.approved_by = actor
    order.approved_at = now
    lines = _lines(session, order)
    _add_version(session, order, 1, Action.APPROVE, actor, now, notes, lines, service)
    for user in crew:
        session.add(Assignment(order_id=order.id, user_id=user, added_in_version=1))
    effects.add(EffectKind.INVITE, "invite:v1", Invite(tuple(crew)))
    effects.add(EffectKind.UPLOAD_PDF, "pdf:v1", UploadPdf(1))
    return StepFacts(Action.APPROVE, actor, version=1, scheduled_date=scheduled,
                     fields=(FieldChange("scheduled_date", None, scheduled.isoformat()),),
                     people_added=tuple(crew), note=notes or None, currency=service.currency,
                     tax_rate=service.limits.tax_rate,
                     total=subtotal(lines, service.currency))


def _reject(session: Session, order: ServiceOrder, actor: str, data: Rejection, now: datetime,
            effects: _Effects, service: OrderService) -> StepFacts:
    order.closed_by, order.closed_at, order.close_reason = actor, now, data.reason
    return StepFacts(Action.REJECT, actor, note=data.reason)


def _confirm(session: Session, order: ServiceOrder, actor: str, data: Confirmation, now: datetime,
             effects: _Effects, service: OrderService) -> StepFacts:
    errors: dict[FieldKey, Problem] = {}
    ids = {f"line:{line_id}": line for line_id, line in version_lines(session, order.id, order.current_version)}
    before = list(ids.values())
    assigned = set(field_workers(session, order.id))
    new_people = [u for u in _unique(list(data.field_workers)) if u not in assigned]
    _check_field_workers(session, new_people, errors)

    after = {line.key: line for line in before}
    fields: dict[str, FieldKey] = {}  # the row each changed line came from, for its errors
    seen: set[str] = set()
    for change in data.changes:
        row = ItemRow(change.row)
        if change.ref.startswith("line:"):
            line = ids.get(change.ref)
            if line is None:
                errors[row] = NoLongerOnOrder()
                continue
        else:
            resolved = _resolve_items(session, (ItemQuantity(change.ref, Decimal(1), change.row),), errors,
                                      client_code=order.client_code)
            if not resolved:
                continue
            line = after.get(resolved[0].key, resolved[0])
        if line.key in seen:
            errors[row] = OnAnotherRow()
            continue
        seen.add(line.key)
        fields[line.key] = row
        if change.quantity == 0:
            if line.key not in after:
                errors[row] = RemovingAbsent()
            after.pop(line.key, None)
        else:
            after[line.key] = _with_quantity(line, change.quantity)
    for line in _free_lines(data.free_items, set(after), errors):
        after[line.key] = line
    lines = list(after.values())
    if not errors and not lines:
        errors[Field.NOTE] = KeepOneItem()
    changes = diff_items(tuple(before), tuple(lines))
    if not errors and not changes and not new_people:
        errors[Field.NOTE] = NothingChanged()
    changed = [c.after for c in changes if c.after is not None]
    changed_field = next((fields.get(line.key, FREE_ITEMS) for line in changed), Field.NOTE)
    _check_ceilings(service, before, lines, changed, fields, changed_field, errors)

    number = order.current_version + 1
    total = subtotal(lines, service.currency)
    facts = StepFacts(Action.CONFIRM, actor, version=number, items=item_facts(changes, service.currency),
                      people_added=tuple(new_people), note=data.note, currency=service.currency, total=total,
                      tax_rate=service.limits.tax_rate,
                      delta=total - subtotal(before, service.currency))
    if held := _hold_for_approval(session, order, facts, before, lines, now, effects, service):
        return held
    _issue_change(session, order, Action.CONFIRM, actor, now, data.note, lines, new_people, effects, service)
    return facts


def _complete(session: Session, order: ServiceOrder, actor: str, data: Closing, now: datetime,
              effects: _Effects, service: OrderService) -> StepFacts:
    order.closed_by, order.closed_at, order.close_reason = actor, now, data.note
    number = _closing_version(session, order, Action.COMPLETE, actor, now, data.note, effects, service)
    return StepFacts(Action.COMPLETE, actor, version=number, note=data.note or None)


def _not_perform(session: Session, order: ServiceOrder, actor: str, data: Closing, now: datetime,
                 effects: _Effects, service: OrderService) -> StepFacts:
    if not data.note:
        raise FieldErrors({Field.REASON: Required()})
    order.closed_by, order.closed_at, order.close_reason = actor, now, data.note
    number = _closing_version(session, order, Action.NOT_PERFORM, actor, now, data.note, effects, service)
    return StepFacts(Action.NOT_PERFORM, actor, version=number, note=data.note)


def _closing_version(session: Session, order: ServiceOrder, action: Action, actor: str, now: datetime,
                     note: str | None, effects: _Effects, service: OrderService) -> int:
    """Closing an approved order issues one last version (same items, who closed it, when and how), so the
    record a provider hands its client shows the outcome and carries the signature lines."""
    number = order.current_version + 1
    _add_version(session, order, number, action, actor, now, note, _lines(session, order), service)
    effects.add(EffectKind.UPLOAD_PDF, f"pdf:v{number}", UploadPdf(number))
    return number


def _set_prices(session: Session, order: ServiceOrder, actor: str, data: Pricing, now: datetime,
                effects: _Effects, service: OrderService) -> StepFacts:
    """New unit prices on lines of the current version (a free-text item entered without one included): a new
    version, under the same ceilings as a confirmation."""
    errors: dict[FieldKey, Problem] = {}
    current = version_lines(session, order.id, order.current_version)
    ids = {line_id: line for line_id, line in current}
    before = [line for _, line in current]
    after = dict(ids)
    fields: dict[str, FieldKey] = {}  # each changed line's price field, for its errors
    for price in data.prices:
        field = PriceLine(price.line_id)
        line = ids.get(price.line_id)
        if line is None:  # a line of another version or order: the form was not ours
            errors[field] = NoLongerOnOrder()
            continue
        if price.unit_price < 0:
            errors[field] = NegativePrice()
            continue
        if line.unit_price is not None and price.unit_price == line.unit_price:
            continue
        after[price.line_id] = ItemLine(line.kind, line.code, line.description, line.unit, price.unit_price,
                                        line.quantity)
        fields[line.key] = field
    lines = list(after.values())
    changes = diff_items(tuple(before), tuple(lines))
    first: FieldKey = next(iter(fields.values()), PriceLine(current[0][0]) if current else Field.REASON)
    if not errors and not changes:
        errors[first] = NothingChanged()
    changed = [c.after for c in changes if c.after is not None]
    _check_ceilings(service, before, lines, changed, fields, first, errors)  # the same as a confirmation's
    total = subtotal(lines, service.currency)
    facts = StepFacts(Action.SET_PRICES, actor, version=order.current_version + 1,
                      items=item_facts(changes, service.currency), note=data.reason, currency=service.currency,
                      total=total, tax_rate=service.limits.tax_rate, delta=total - subtotal(before, service.currency))
    if held := _hold_for_approval(session, order, facts, before, lines, now, effects, service):
        return held
    _issue_change(session, order, Action.SET_PRICES, actor, now, data.reason, lines, [], effects, service)
    return facts


def _issue_change(session: Session, order: ServiceOrder, action: Action, author: str, now: datetime,
                  note: str | None, lines: list[ItemLine], new_people: list[str], effects: _Effects,
                  service: OrderService) -> int:
    """A change's new version (a confirmation or prices, at once or once approved): its lines, the field workers
    it adds (invited), and its PDF."""
    number = order.current_version + 1
    _add_version(session, order, number, action, author, now, note, lines, service)
    for user in new_people:
        _assign(session, order.id, user, number)
    if new_people:
        effects.add(EffectKind.INVITE, f"invite:v{number}", Invite(tuple(new_people)))
    effects.add(EffectKind.UPLOAD_PDF, f"pdf:v{number}", UploadPdf(number))
    return number


# --- re-approval of changes: a rise in the total past REAPPROVAL_OVER waits for approval ------------------


def _with_tax(lines: list[ItemLine], service: OrderService) -> Decimal:
    return amounts(lines, service.currency, service.limits.tax_rate).total


def _hold_for_approval(session: Session, order: ServiceOrder, facts: StepFacts, before: list[ItemLine],
                       lines: list[ItemLine], now: datetime, effects: _Effects,
                       service: OrderService) -> StepFacts | None:
    """If the step raises the total with tax past the threshold, keep it as a proposed change (no version, no
    PDF) and return its facts, naming who may approve it; None: the step issues its version as before.

    The rise is measured from the total last approved, not from the current version: small steps that each
    stay under the threshold add up, and once they pass it, or reach a level of approval the approved total did
    not need, the step that does so waits."""
    total_before, total_after = _with_tax(before, service), _with_tax(lines, service)
    policy = service.policy
    if total_after <= total_before or policy.reapproval.off:
        return None
    approved = _approved_total(session, order, service)
    if not (policy.reapproval.exceeded(approved, total_after)
            or len(policy.levels_for(total_after)) > len(policy.levels_for(approved))):
        return None
    level = service.policy.top_level(total_after)
    asked = asked_for(level)  # those asked for that level, among the people the client or site names
    barred = _barred(session, order, service.policy) | {facts.actor}
    approvers = tuple(u for u in _reviewers(session, order.client_code, order.site_code, asked) if u not in barred)
    order.approval_role = level.role  # what App Home's and /order list's pending listings ask by
    # the change's reminders are timed from now (workflow/reminders.py), keyed by this revision; the round is
    # not bumped: the card and the PDF list the approvals of the order's round
    order.pending_since = now
    held = replace(facts, version=None, proposed=True, reviewers=approvers)
    session.add(ProposedChange(
        order_id=order.id, action=facts.action, author_id=facts.actor, created_at=now,
        base_version=order.current_version, note=facts.note, lines=_lines_json(lines),
        people=json.dumps(list(facts.people_added)), facts=held.dumps(), total_before=total_before,
        total_after=total_after, level=level.role))
    invited = _unique([*approvers, *_escalation(session, order.client_code, order.site_code, level)])
    if invited:  # in the channel before the message that asks them (already there: Slack's benign answer)
        effects.add(EffectKind.INVITE, f"invite:c{order.revision}", Invite(tuple(invited)))
    return held


def _approved_total(session: Session, order: ServiceOrder, service: OrderService) -> Decimal:
    """The total with tax last approved: the latest approved change's, else the approved original's (version 1)."""
    last = session.exec(select(ProposedChange.total_after).where(
        ProposedChange.order_id == order.id, ProposedChange.outcome == "approved")
        .order_by(ProposedChange.id.desc())).first()  # type: ignore[union-attr]
    if last is not None:
        return last
    return _with_tax([line for _, line in version_lines(session, order.id, 1)], service)


def _lines_json(lines: list[ItemLine]) -> str:
    return json.dumps([{"kind": line.kind, "code": line.code, "description": line.description, "unit": line.unit,
                        "unit_price": None if line.unit_price is None else str(line.unit_price),
                        "quantity": str(line.quantity)} for line in lines])


def _lines_of(change: ProposedChange) -> list[ItemLine]:
    return [ItemLine(row["kind"], row["code"], row["description"], row["unit"],
                     None if row["unit_price"] is None else Decimal(row["unit_price"]), Decimal(row["quantity"]))
            for row in json.loads(change.lines)]


def _deciders(session: Session, level: Level, barred: set[str]) -> tuple[str, ...]:
    """Who may decide a change whose new total needs `level` (as the policy says today): its roles, but not
    `barred` (the change's author, and whom separation of duties keeps out)."""
    return tuple(u for u in holders(session, roles_for(level)) if u not in barred)


def _barred(session: Session, order: ServiceOrder, policy: ApprovalPolicy) -> set[str]:
    """Who separation of duties keeps from deciding on the order: its requester, and under `strict` its only
    field worker."""
    if policy.separation is Separation.OFF:
        return set()
    crew = set(field_workers(session, order.id))
    only = crew if policy.separation is Separation.STRICT and len(crew) == 1 else set()
    return {order.requester_id} | only


def _check_decider(session: Session, order: ServiceOrder, actor: str, action: Action,
                   service: OrderService) -> None:
    """Approving or rejecting a change: never its author (whatever SEPARATION_OF_DUTIES says), and someone of
    the level its new total needs or higher. Each refusal names who may instead."""
    if action not in (Action.APPROVE_CHANGE, Action.REJECT_CHANGE):
        return
    change = waiting_change(session, order.id)
    if change is None:  # change_pending without a change: nothing to decide (the state check refused it already)
        return
    barred = _barred(session, order, service.policy)  # the same separation of duties as a new order's
    level: Level = service.policy.top_level(change.total_after)
    number = order_number(order.number)

    def others() -> tuple[str, ...]:  # who may instead: read only for a refusal, not on every decision
        return _deciders(session, level, barred | {change.author_id})

    if change.author_id == actor:
        raise OwnChange(number, others())
    if actor == order.requester_id and actor in barred:
        raise OwnOrder(action, number, others())
    if actor in barred:
        raise OnlyFieldWorker(number, others(), change=True)
    if not may_approve(level, roles_of(session, actor)):
        raise ChangeAboveLevel(number, level.role, others())


def _approve_change(session: Session, order: ServiceOrder, actor: str, data: ChangeDecision, now: datetime,
                    effects: _Effects, service: OrderService) -> StepFacts:
    """The waiting change becomes the next version, as its step would have made it (its author's, with its
    note); the ceilings are checked again, in case they were lowered while it waited."""
    change = waiting_change(session, order.id)
    assert change is not None  # change_pending always holds one (_hold_for_approval)
    before, lines = _lines(session, order), _lines_of(change)
    changes = diff_items(tuple(before), tuple(lines))
    _check_ceilings(service, before, lines, [c.after for c in changes if c.after is not None], {}, Field.NOTE, {})
    assigned = set(field_workers(session, order.id))
    people = [u for u in json.loads(change.people) if u not in assigned]
    number = _issue_change(session, order, Action(change.action), change.author_id, now, change.note, lines,
                           people, effects, service)
    change.outcome, change.decided_by, change.decided_at = "approved", actor, now
    session.add(change)
    total = subtotal(lines, service.currency)
    return StepFacts(Action.APPROVE_CHANGE, actor, version=number, items=item_facts(changes, service.currency),
                     people_added=tuple(people), note=change.note, currency=service.currency, total=total,
                     tax_rate=service.limits.tax_rate, delta=total - subtotal(before, service.currency),
                     author=change.author_id, step=change.action)


def _reject_change(session: Session, order: ServiceOrder, actor: str, data: ChangeDecision, now: datetime,
                   effects: _Effects, service: OrderService) -> StepFacts:
    """The waiting change is dropped, with a reason for its author: the current version stays."""
    if not (data.reason or "").strip():
        raise FieldErrors({Field.REASON: Required()})
    change = waiting_change(session, order.id)
    assert change is not None
    change.outcome, change.decided_by, change.decided_at, change.reason = "rejected", actor, now, data.reason
    session.add(change)
    proposed = StepFacts.loads(change.facts)
    return StepFacts(Action.REJECT_CHANGE, actor, version=None, items=proposed.items,
                     people_added=proposed.people_added, note=data.reason, author=change.author_id,
                     step=change.action)


# --- rounds before approval: edit, withdraw, send back, resubmit --------------------------------------
# Version 0 is "the request": an edit before approval rewrites it in place (its lines are replaced), so
# the approved original stays version 1 and every PDF number is an issued document. Each round's before and
# after is kept in the audit's facts, not in versions.


def _edit(session: Session, order: ServiceOrder, actor: str, data: OrderDraft, now: datetime,
          effects: _Effects, service: OrderService) -> StepFacts:
    return _revise(session, order, actor, data, now, effects, service, Action.EDIT)


def _resubmit(session: Session, order: ServiceOrder, actor: str, data: OrderDraft, now: datetime,
              effects: _Effects, service: OrderService) -> StepFacts:
    return _revise(session, order, actor, data, now, effects, service, Action.RESUBMIT)


def _revise(session: Session, order: ServiceOrder, actor: str, data: OrderDraft, now: datetime,
            effects: _Effects, service: OrderService, action: Action) -> StepFacts:
    client, site, lines = _draft_lines(session, actor, data, now, service)
    before_lines = _lines(session, order)
    names = _catalog(session, [("client", order.client_code), ("site", order.site_code)])
    old_client = names.get(("client", order.client_code))
    old_site = names.get(("site", order.site_code))
    pairs = (
        ("client", old_client.name if old_client else order.client_code, client.name),
        ("site", old_site.name if old_site else order.site_code, site.name),
        ("requested_date", order.requested_date.isoformat(), data.requested_date.isoformat()),
        ("priority", order.priority, data.priority),
        ("description", order.description, data.description),
    )
    fields = tuple(FieldChange(name, before, after) for name, before, after in pairs if before != after)
    changes = diff_items(tuple(before_lines), tuple(lines))
    if action is Action.EDIT and not fields and not changes:  # a resubmission may answer the note as it is
        raise FieldErrors({Field.DESCRIPTION: NothingChanged()})
    order.client_code, order.site_code = client.code, site.code
    order.requested_date, order.priority, order.description = data.requested_date, data.priority, data.description
    if changes:
        _replace_request_lines(session, order, lines)
    total = subtotal(lines, service.currency)
    reviewers: tuple[str, ...] = ()
    first = service.policy.levels[0]
    # an edit clears the approvals given so far in this round: what they approved is not what is asked now
    cleared = clear_round(session, order, now, service.next_approval(session, order).levels)
    if action is Action.RESUBMIT or cleared:
        # a new round of approval, timed from now (an edit while pending that cleared nothing keeps the clock):
        # its level 1 is asked and reminded again, keyed apart from the round whose approvals no longer stand
        order.pending_since, order.pending_round = now, order.pending_round + 1
    asked_now = [u for u in _reviewers(session, client.code, site.code, asked_for(first))
                 if not service._separated(u, actor)]
    if action is Action.RESUBMIT:  # asked to review again, as on submit (someone granted since joins them)
        reviewers = tuple(asked_now)
    # those the client or site routes the order to now (an edit may change them) are in its channel
    invited = _unique([*asked_now, *_escalation(session, client.code, site.code, first)])
    effects.add(EffectKind.INVITE, f"invite:r{order.revision}", Invite(tuple(invited)))
    return StepFacts(action, actor, version=None, fields=fields, items=item_facts(changes, service.currency),
                     reviewers=reviewers, currency=service.currency, total=total, tax_rate=service.limits.tax_rate,
                     delta=total - subtotal(before_lines, service.currency), cleared=cleared)


def _replace_request_lines(session: Session, order: ServiceOrder, lines: list[ItemLine]) -> None:
    """Version 0's lines become `lines` (an edit before approval: no version was issued yet)."""
    version = session.exec(select(OrderVersion).where(OrderVersion.order_id == order.id,
                                                      OrderVersion.number == 0)).one()
    session.connection().execute(delete(LineItem).where(LineItem.version_id == version.id))
    if lines:
        session.connection().execute(insert(LineItem), [
            {"version_id": version.id, "position": position, "kind": line.kind, "code": line.code,
             "description": line.description, "unit": line.unit, "unit_price": line.unit_price,
             "quantity": line.quantity} for position, line in enumerate(lines)])


def _withdraw(session: Session, order: ServiceOrder, actor: str, data: Withdrawal, now: datetime,
              effects: _Effects, service: OrderService) -> StepFacts:
    if not data.reason.strip():
        raise FieldErrors({Field.REASON: Required()})
    order.closed_by, order.closed_at, order.close_reason = actor, now, data.reason
    action = Action.WITHDRAW if order.state == State.PENDING_APPROVAL else Action.WITHDRAW_SENT_BACK
    return StepFacts(action, actor, note=data.reason)


def _send_back(session: Session, order: ServiceOrder, actor: str, data: SendBack, now: datetime,
               effects: _Effects, service: OrderService) -> StepFacts:
    if not data.note.strip():
        raise FieldErrors({Field.NOTE: Required()})
    cleared = clear_round(session, order, now, service.next_approval(session, order).levels)
    return StepFacts(Action.SEND_BACK, actor, note=data.note, cleared=cleared)


def _reschedule(session: Session, order: ServiceOrder, actor: str, data: Reschedule, now: datetime,
                effects: _Effects, service: OrderService) -> StepFacts:
    """A new date (and window) is a new version: the document's schedule changed. Overdue and the field
    workers' mornings follow the order's scheduled_date (workflow/overview.py, reminders.py), so they move."""
    errors: dict[FieldKey, Problem] = {}
    if problem := _date_problem(session, actor, data.scheduled_date, now, service.limits):
        errors[Field.SCHEDULED_DATE] = problem
    if data.start is not None and data.end is not None and data.end <= data.start:
        errors[Field.END_TIME] = WindowBackwards()
    before = (order.scheduled_date, order.scheduled_start, order.scheduled_end)
    after = (data.scheduled_date, data.start, data.end)
    if not errors and before == after:
        errors[Field.SCHEDULED_DATE] = ScheduleUnchanged()
    if errors:  # the reason is required by its form (forms/schedule_crew.py)
        raise FieldErrors(errors)
    order.scheduled_date, order.scheduled_start, order.scheduled_end = after
    number = order.current_version + 1
    _add_version(session, order, number, Action.RESCHEDULE, actor, now, data.reason, _lines(session, order),
                 service)
    effects.add(EffectKind.UPLOAD_PDF, f"pdf:v{number}", UploadPdf(number))
    names = ("scheduled_date", "scheduled_start", "scheduled_end")
    # the whole schedule before and after (a window that stayed is part of what the new date means)
    changes = tuple(FieldChange(name, _iso(old), _iso(new))
                    for name, old, new in zip(names, before, after, strict=True))
    return StepFacts(Action.RESCHEDULE, actor, version=number, scheduled_date=data.scheduled_date, fields=changes,
                     note=data.reason)


def _change_crew(session: Session, order: ServiceOrder, actor: str, data: CrewChange, now: datetime,
                 effects: _Effects, service: OrderService) -> StepFacts:
    """The crew the form names becomes the order's: a new version lists it. Those removed are kicked from the
    channel (unless they hold another part in the order: bot/effects/kick.py asks) and lose it from App Home."""
    errors: dict[FieldKey, Problem] = {}
    crew = _unique(list(data.field_workers))
    current = list(field_workers(session, order.id))
    added = [u for u in crew if u not in current]
    removed = [u for u in current if u not in crew]
    if not crew:
        errors[Field.FIELD_WORKERS] = KeepOneFieldWorker()
    else:
        _check_field_workers(session, added, errors)
        if not errors and not added and not removed:
            errors[Field.FIELD_WORKERS] = CrewUnchanged()
    if errors:
        raise FieldErrors(errors)
    number = order.current_version + 1
    _add_version(session, order, number, Action.CHANGE_CREW, actor, now, data.note, _lines(session, order),
                 service)
    for user in removed:
        assignment = open_stint(session, order.id, user)
        assert assignment is not None
        assignment.removed_in_version = number
        session.add(assignment)
    for user in added:
        _assign(session, order.id, user, number)
    if added:
        effects.add(EffectKind.INVITE, f"invite:v{number}", Invite(tuple(added)))
    if removed:
        effects.add(EffectKind.KICK, f"kick:v{number}", Kick(tuple(removed)))
        effects.home_also = tuple(removed)  # their App Home loses the order
    effects.add(EffectKind.UPLOAD_PDF, f"pdf:v{number}", UploadPdf(number))
    return StepFacts(Action.CHANGE_CREW, actor, version=number, people_added=tuple(added),
                     people_removed=tuple(removed), note=data.note)


_STEPS: dict[Action, Callable[..., StepFacts]] = {
    Action.APPROVE: _approve,
    Action.REJECT: _reject,
    Action.CONFIRM: _confirm,
    Action.COMPLETE: _complete,
    Action.NOT_PERFORM: _not_perform,
    Action.SET_PRICES: _set_prices,
    Action.EDIT: _edit,
    Action.WITHDRAW: _withdraw,
    Action.SEND_BACK: _send_back,
    Action.RESUBMIT: _resubmit,
    Action.WITHDRAW_SENT_BACK: _withdraw,
    Action.RESCHEDULE: _reschedule,
    Action.CHANGE_CREW: _change_crew,
    Action.APPROVE_CHANGE: _approve_change,
    Action.REJECT_CHANGE: _reject_change,
}


# --- helpers -------------------------------------------------------------------------------------


def roles_of(session: Session, user_id: str) -> set[Role]:
    grants = session.exec(select(RoleGrant.role).where(RoleGrant.user_id == user_id))
    return {Role(role) for role in grants}


def is_assigned(session: Session, order_id: int, user_id: str) -> bool:
    return open_stint(session, order_id, user_id) is not None


def _assign(session: Session, order_id: int, user: str, version: int) -> None:
    """Put a field worker on the order from `version`: a new stint, so one removed by a crew change and added
    back keeps their earlier stint, and the versions between still list the crew they had."""
    session.add(Assignment(order_id=order_id, user_id=user, added_in_version=version))


def _iso(value: date | time | None) -> str | None:
    return value.isoformat(timespec="minutes") if isinstance(value, time) else value.isoformat() if value else None


def _check(session: Session, transition: Transition, order: ServiceOrder, actor: str,
           service: OrderService) -> None:
    """The transition table's check, then the approval policy's (separation of duties, the level's role)."""
    roles = roles_of(session, actor)
    check(transition, State(order.state), roles, is_assigned(session, order.id, actor),
          order_number(order.number), requester=order.requester_id == actor)
    if transition.action in (Action.APPROVE, Action.REJECT):
        check_approver(session, order, actor, roles, transition.action, service.next_approval(session, order),
                       service.policy)


def _date_problem(session: Session, actor: str, day: date, now: datetime, limits: Limits) -> Problem | None:
    """What is wrong with `day` as a date the actor picks, by their today. Their zone is read only when the
    zones on earth disagree (the day is near today or the horizon): for the usual date every today from UTC-12
    to UTC+14 accepts it, and an ack skips the query."""
    if not (limits.date_problem(day, earliest_today(now)) or limits.date_problem(day, latest_today(now))):
        return None
    return limits.date_problem(day, local_today(session, actor, now))


def _escalation(session: Session, client: str, site: str, level: Level) -> list[str]:
    """Who hears that `level`'s approval is late (workflow/policy.escalated_for), among those the client or site
    names: invited with those asked, since a mention in a private channel reaches only its members. Roles already
    asked for the level are left out: they are invited as such (a supervisor's level escalates to coordinators,
    who are asked for it too), and the submit's ack skips the queries."""
    roles = escalated_for(level) - asked_for(level)
    return _reviewers(session, client, site, roles) if roles else []


def _next_number(session: Session) -> int:
    """The served workspace's next order number: one statement, whose row lock makes two submits at once count
    on from each other (a submit that fails gives its number back with its rollback)."""
    insert = dialect_insert(session, OrderNumbering).values(workspace=current(), last=1)
    return int(session.execute(insert.on_conflict_do_update(
        index_elements=["workspace"], set_={"last": OrderNumbering.last + 1})  # type: ignore[operator]
        .returning(insert.table.c.last)).scalar_one())


def _grants(session: Session, actor: str, roles: frozenset[Role]) -> tuple[set[Role], list[str]]:
    """The actor's roles (`roles_of`) and who holds any of `roles` (`holders`), in one query."""
    rows = list(session.exec(select(RoleGrant.user_id, RoleGrant.role).where(
        or_(RoleGrant.user_id == actor, RoleGrant.role.in_(sorted(roles))))))  # type: ignore[attr-defined]
    return ({Role(role) for user, role in rows if user == actor},
            sorted({user for user, role in rows if Role(role) in roles}))


def _reviewers(session: Session, client: str, site: str, roles: frozenset[Role],
               holding: list[str] | None = None) -> list[str]:
    """Who is asked to review an order for this client and site: the holders of `roles` (those asked for its
    first level of approval; `holding`, when the caller has read them already), narrowed to the people the
    client or site names (workflow/routing.py)."""
    return Router(session).narrow(client, site, holders(session, roles) if holding is None else holding, roles)


def _unique(users: list[str]) -> list[str]:
    return list(dict.fromkeys(users))


def _check_ceilings(service: OrderService, before: list[ItemLine], lines: list[ItemLine], changed: list[ItemLine],
                    fields: dict[str, FieldKey], first: FieldKey, errors: dict[FieldKey, Problem]) -> None:
    """Raise FieldErrors with `errors` and the ceilings' problems: each changed line's, and the total's if the
    change raises it (an order over a ceiling lowered since may still come down)."""
    errors = service.limits.line_problems(changed, service.currency, fields, first) | errors
    if (changed and not errors and subtotal(lines, service.currency) > subtotal(before, service.currency)
            and (problem := service.limits.total_problem(lines, service.currency))):
        errors[first] = problem
    if errors:
        raise FieldErrors(errors)


def _check_field_workers(session: Session, users: tuple[str, ...] | list[str],
                         errors: dict[FieldKey, Problem]) -> None:
    missing = [u for u in users if Role.FIELD_WORKER not in roles_of(session, u)]
    if missing:
        errors[Field.FIELD_WORKERS] = NotFieldWorkers(tuple(missing))


def _ref(item: ItemQuantity) -> tuple[str, str]:
    kind, _, code = item.ref.partition(":")
    return kind, code


def _catalog(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], CatalogEntry]:
    """The catalog entries named by (kind, code), in one query."""
    codes = {code for _, code in keys}
    rows = session.exec(select(CatalogEntry).where(CatalogEntry.code.in_(codes))) if codes else []
    return {(e.kind, e.code): e for e in rows if (e.kind, e.code) in set(keys)}


def _catalog_priced(session: Session, keys: list[tuple[str, str]], client_code: str
                    ) -> tuple[dict[tuple[str, str], CatalogEntry], dict[str, Decimal]]:
    """`_catalog`, with the client's own prices for the entries found (`_client_prices`), in one query: each
    statement in the submit's ack is a round trip that waits for the interpreter again."""
    codes = {code for _, code in keys}
    rows = session.exec(select(CatalogEntry, ClientPrice.unit_price).where(CatalogEntry.code.in_(codes))
                        .outerjoin(ClientPrice, and_(ClientPrice.client_code == client_code,
                                                     ClientPrice.item_code == CatalogEntry.code))
                        ) if codes else []  # type: ignore[attr-defined]
    wanted, catalog, own = set(keys), {}, {}
    for entry, price in rows:
        if (entry.kind, entry.code) in wanted:
            catalog[(entry.kind, entry.code)] = entry
            if price is not None:
                own[entry.code] = price
    return catalog, own


def _resolve_items(session: Session, items: tuple[ItemQuantity, ...], errors: dict[FieldKey, Problem],
                   catalog: dict[tuple[str, str], CatalogEntry] | None = None,
                   client_code: str | None = None, own: dict[str, Decimal] | None = None) -> list[ItemLine]:
    """Picked catalog items as lines, each at the client's own price where the catalog has one for it (`own`, when
    the caller read them with the catalog)."""
    catalog = catalog if catalog is not None else _catalog(session, [_ref(item) for item in items])
    if own is None:
        own = _client_prices(session, client_code, {code for _, code in map(_ref, items)})
    lines: dict[str, ItemLine] = {}
    for item in items:
        kind, code = _ref(item)
        entry = catalog.get((kind, code)) if kind in (ItemKind.SERVICE, ItemKind.MATERIAL) else None
        if entry is None:
            errors[ItemRow(item.row)] = NotInCatalog()
            continue
        line = ItemLine(kind=kind, code=entry.code, description=entry.name, unit=entry.unit,
                        unit_price=own.get(entry.code, entry.unit_price), quantity=item.quantity)
        if line.key in lines:
            errors[ItemRow(item.row)] = OnAnotherRow()
            continue
        lines[line.key] = line
    return list(lines.values())


def _client_prices(session: Session, client_code: str | None, codes: set[str]) -> dict[str, Decimal]:
    """The client's own unit prices for these item codes (catalog rows of kind `price`), in one query."""
    if not client_code or not codes:
        return {}
    rows = session.exec(select(ClientPrice).where(ClientPrice.client_code == client_code,
                                                  ClientPrice.item_code.in_(codes)))  # type: ignore[attr-defined]
    return {row.item_code: row.unit_price for row in rows}


def _free_line(item: FreeItem) -> ItemLine:
    return ItemLine(kind=ItemKind.FREE, code=None, description=item.description, unit=item.unit,
                    unit_price=item.unit_price, quantity=item.quantity)


def _free_lines(items: tuple[FreeItem, ...], taken: set[str], errors: dict[FieldKey, Problem]) -> list[ItemLine]:
    """A free-text item is known by its description, so each description appears once per order."""
    lines: list[ItemLine] = []
    for item in items:
        line = _free_line(item)
        if line.key in taken:
            errors[FREE_ITEMS] = FreeItemTaken(item.description)
            continue
        taken.add(line.key)
        lines.append(line)
    return lines


def _with_quantity(line: ItemLine, quantity: Decimal) -> ItemLine:
    return ItemLine(line.kind, line.code, line.description, line.unit, line.unit_price, quantity)


def _lines(session: Session, order: ServiceOrder) -> list[ItemLine]:
    """The items of the order's current version."""
    return [line for _, line in version_lines(session, order.id, order.current_version)]


def _add_version(session: Session, order: ServiceOrder, number: int, action: Action, actor: str,
                 now: datetime, note: str | None, lines: list[ItemLine], service: OrderService) -> None:
    """A new version of the order, with its lines and the money it is made in (its currency and tax rate: its
    figures for ever, whatever the settings say later)."""
    version = OrderVersion(order_id=order.id, number=number, action=action, author_id=actor, created_at=now,
                           note=note, scheduled_date=order.scheduled_date, scheduled_start=order.scheduled_start,
                           scheduled_end=order.scheduled_end, currency=service.currency,
                           tax_rate=service.limits.tax_rate)
    session.add(version)
    session.flush()
    if lines:  # one bulk INSERT, not one per line (Core: the ORM's bulk bookkeeping costs more than the rows)
        session.connection().execute(insert(LineItem), [
            {"version_id": version.id, "position": position, "kind": line.kind, "code": line.code,
             "description": line.description, "unit": line.unit, "unit_price": line.unit_price,
             "quantity": line.quantity} for position, line in enumerate(lines)])
    order.current_version = number
    if number >= 1:  # an issued version (not the request): the photos and files waiting go on it
        attachments.claim(session, order.id, number)


def _files_of(data: StepInput) -> tuple[SharedFile, ...]:
    return getattr(data, "files", ())


def _check_files(files: tuple[SharedFile, ...]) -> None:
    """A form's files, by what Slack reports of them (nothing is downloaded in the ack)."""
    if problem := check_files(files):
        raise FieldErrors({Field.FILES: problem})


def _take_files(session: Session, order: ServiceOrder, files: tuple[SharedFile, ...], actor: str, now: datetime,
                effects: _Effects) -> None:
    """A form's files on the order, waiting for its next version, each read from Slack after the ack."""
    for attachment_id in attachments.record(session, order.id, files, attachments.Source.FORM, actor, now):
        effects.add(EffectKind.FETCH_FILE, f"file:{attachment_id}", FetchFile(attachment_id))


def _audit(session: Session, order: ServiceOrder, actor: str, transition: Transition, source: State | None,
           now: datetime, facts: StepFacts) -> None:
    session.add(AuditEvent(order_id=order.id, at=now, actor_id=actor, action=transition.action,
                           from_state=source, to_state=order.state, version=order.current_version,
                           detail=facts.dumps()))


class _Effects:
    """The Slack effects a step owes, written in the kinds' ORDER (workflow/effects.py) when the step is done."""

    def __init__(self, session: Session, order: ServiceOrder, now: datetime) -> None:
        self.session, self.order, self.now = session, order, now
        self.owed: list[Effect] = []
        self.home_also: tuple[str, ...] = ()  # people no longer on the order whose App Home still lists it

    def add(self, kind: EffectKind, key: str, payload: Payload) -> None:
        self.owed.append(Effect(kind, key, payload))

    def write(self) -> None:
        self.add(EffectKind.HOME, f"home:{self.order.revision}", Home(self.home_also))
        owed = sorted(self.owed, key=lambda effect: ORDER.index(effect.kind))
        queue_effects(self.session, [(self.order.id, effect.kind.value, f"{self.order.id}:{effect.key}",
                                      effect.payload.to_json()) for effect in owed], self.now)


__all__ = ["OrderService", "Refused", "roles_of", "is_assigned"]
