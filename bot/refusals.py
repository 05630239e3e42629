"""Why something was not done, worded for the person who asked: the workflow's typed refusals, a form or button
that could not be read, and our own failure. Plain text: each surface (ephemeral, modal notice, slash-command
answer) shows it as is."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from bot.home import code
from bot.readers import reader_language
from forms.metadata import BadMetadata, Unreadable
from forms.problems import problem_text
from i18n import N_, Language, language
from i18n.domain import A_ROLE, APPROVAL_OF, DOING, STATES_IN_SENTENCE, who_may
from storage.models import Person, ServiceOrder
from workflow.errors import (
    AlreadyApproved,
    ChangeAboveLevel,
    FieldErrors,
    LevelNotYours,
    NotAllowed,
    NotFound,
    OnlyFieldWorker,
    OwnChange,
    OwnOrder,
    Refused,
    ScheduleLapsed,
    Stale,
    WorkflowError,
    WrongState,
)
from workflow.queries import order_id_by_number
from workflow.visibility import may_open_order
from workflow.vocabulary import Action, order_number

# what a person reads when a step failed on our side (for any listener: bot/app.py's error handler too)
SORRY = N_("Something went wrong on our side and nothing was saved. Please try again in a moment.")

_UNREADABLE = {
    Unreadable.FORM: N_("This form could not be read; please open it again."),
    Unreadable.BUTTON: N_("This button could not be read; the card may be out of date."),
    Unreadable.NO_ORDER: N_("This form is not tied to an order; please open it again."),
}


def refusal_text(lang: Language, error: WorkflowError | BadMetadata,
                 name: Callable[[str], str] = str) -> str:
    """One line that says why, and what to do instead where there is something to do."""
    _ = lang._
    match error:
        case NotAllowed(action=action, roles=roles, assigned_field_worker=assigned, number=number,
                        requester=requester):
            return _("Only {who} can {step}.").format(who=who_may(lang, roles, assigned, requester),
                                                      step=_(DOING[action]).format(number=number))
        case WrongState(state=state, number=number) if state is not None and state.is_closed:
            return _("{number} is already {state}: it can no longer be changed.").format(
                number=number, state=_(STATES_IN_SENTENCE[state]))
        case WrongState(action=action, state=state, number=number):
            return _("{number} is {state}, so you can't {step} now.").format(
                number=number, state=_(STATES_IN_SENTENCE[state]) if state else _("not submitted"),
                step=_(DOING[action]).format(number=_("the order")))
        case OwnOrder() | OnlyFieldWorker() | LevelNotYours() | AlreadyApproved() | ScheduleLapsed():
            return _policy_refusal(lang, error, name)
        case OwnChange(number=number, approvers=approvers):
            return _("You proposed this change to {number}, so someone else must approve or reject it: {instead}"
                     ).format(number=number, instead=_instead(lang, approvers, name))
        case ChangeAboveLevel(number=number, level=level, approvers=approvers):
            return _("The change brings {number} to a total that {role} or higher must approve: {instead}").format(
                number=number, role=_(A_ROLE[level]), instead=_instead(lang, approvers, name))
        case Stale(number=number, on_card=True):
            return _("This card of {number} is out of date: the order changed since. Look at the updated card, "
                     "then try again.").format(number=number)
        case Stale(number=number, state=state):
            return _("{number} changed since you opened this (it is now {state}). Look at its card and try "
                     "again.").format(number=number, state=_(STATES_IN_SENTENCE[state]))
        case NotFound(number=None):  # an id no order of this workspace has (a payload's): not a number to show
            return _("There is no such order.")
        case NotFound(number=number, version=None):
            return _("There is no order {number}.").format(number=number)
        case NotFound(number=number, version=version):
            return _("{number} has no version {version}.").format(number=number, version=version)
        case FieldErrors(problems=problems):  # where there is no form to show them on
            return " ".join(problem_text(lang, key, problem, name) for key, problem in problems.items())
        case BadMetadata(what=what):
            return _(_UNREADABLE[what])
        case _:
            return _(SORRY)


def _policy_refusal(lang: Language, error: Refused, name: Callable[[str], str]) -> str:
    """The approval policy's refusals (workflow/approvals.py): why, then who may act instead."""
    _ = lang._
    match error:
        case OwnOrder(action=Action.REJECT, number=number):
            why = _("You submitted {number}, so you may not reject it yourself (separation of duties): withdraw "
                    "it if it is no longer wanted, or ask someone else.").format(number=number)
        case OwnOrder(action=Action.APPROVE_CHANGE | Action.REJECT_CHANGE, number=number):
            why = _("You submitted {number}, so you may not decide a change to it yourself: someone else must "
                    "(separation of duties).").format(number=number)
        case OwnOrder(number=number):
            why = _("You submitted {number}, so you may not approve it yourself: someone else must (separation "
                    "of duties).").format(number=number)
        case OnlyFieldWorker(number=number, change=True):
            why = _("You are the only field worker of {number}, so you may not decide a change to it yourself "
                    "(separation of duties): let someone else decide it.").format(number=number)
        case OnlyFieldWorker(number=number):
            why = _("You would be the only field worker of {number}, so you may not approve it yourself "
                    "(separation of duties): add another field worker, or let someone else approve it.").format(
                number=number)
        case LevelNotYours(number=number, level=level, levels=levels, role=role):
            why = _("{number} needs {approval} next (level {level} of {levels}).").format(
                number=number, approval=_(APPROVAL_OF[role]), level=level, levels=levels)
        case AlreadyApproved(number=number, given=given, level=level, levels=levels):
            why = _("You gave the approval of level {given} of {number}; level {level} of {levels} needs someone "
                    "else.").format(number=number, given=given, level=level, levels=levels)
        case ScheduleLapsed(number=number, scheduled_date=scheduled):
            return _("{number} was to be scheduled for {date}, which has passed: send it back for changes, so it "
                     "is approved again with a new date.").format(number=number, date=lang.date(scheduled))
        case _:  # pragma: no cover (every policy refusal is above)
            return _(SORRY)
    return f"{why} {instead(lang, getattr(error, 'others', ()), name)}"


def instead(lang: Language, others: tuple[str, ...], name: Callable[[str], str]) -> str:
    """Who may act instead; if nobody, what it takes."""
    if others:
        return lang._("Who can: {people}.").format(people=lang.list([name(u) for u in others], style="or"))
    return lang._("Nobody else can yet: an admin must grant the role (service-orders roles grant USER ROLE).")
def _instead(lang: Language, approvers: tuple[str, ...], name: Callable[[str], str]) -> str:
    """Who may decide a waiting change instead: '<@U1> or <@U2> can.', or that nobody can yet."""
    if not approvers:
        return lang._("nobody can yet; an admin must grant someone that role (service-orders roles grant).")
    return lang._("{people} can.").format(people=lang.list([name(user) for user in approvers], style="or"))


def sorry(lang: Language) -> str:
    return lang._(SORRY)


def reader_of(engine: Engine, provider_locale: str, user: str | None) -> Language:
    """The language `user` reads; the provider's when we cannot tell (no user, or the database failing)."""
    if not user:
        return language(provider_locale)
    try:
        return reader_language(engine, user, provider_locale)
    except SQLAlchemyError:  # the database may be why we are saying sorry
        return language(provider_locale)


def names(engine: Engine) -> Callable[[str], str]:
    """A person's display name as Slack last told us, else their user id (a field error is plain text: a
    mention would show as its raw code)."""
    def name(user: str) -> str:
        with Session(engine) as session:
            known = session.exec(select(Person.name).where(Person.user_id == user)).first()
        return known or user
    return name


def order_to_read(session: Session, user: str, lang: Language, command: str, *, number: int | None = None,
                  order_id: int | None = None) -> ServiceOrder | str:
    """The order `user` asked to read (`/order status`, `/order history`, the History button), by the `number`
    they typed (SO-`number` of the served workspace) or a button's `order_id`; or the one line that says why
    not: no such order, or not one they may see (workflow/visibility.py)."""
    if number is not None:
        order_id = order_id_by_number(session, number)
    order = session.get(ServiceOrder, order_id) if order_id is not None else None
    if order is None and number is None:  # a button's id: not a number to show
        return lang._("There is no such order.")
    if order is None:
        return lang._("There is no order {number}. {command} shows the ones you have.").format(
            number=order_number(number or 0), command=code(f"{command} list"))
    if not may_open_order(session, user, order):
        return lang._("{number} is not one of yours: ask its requester or a coordinator.").format(
            number=order_number(order.number))
    return order
