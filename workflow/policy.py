"""The approval policy (issue 16): who may approve what, by amount, and which changes need approving again.

Levels are chosen by the order's total with tax, in the provider's currency, as the Purchase Orders of the
product this replaces choose release levels: an order needs one approval from each level its total reaches,
in order, by distinct people. A level is approved by its role or a higher one (RANK). bot/settings.py reads
the policy from APPROVAL_LEVELS, SEPARATION_OF_DUTIES and REAPPROVAL_OVER; the service applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from workflow.vocabulary import Role

# who outranks whom when approving: a level may be approved by its role or one ranked above it
RANK: dict[Role, int] = {Role.SUPERVISOR: 1, Role.COORDINATOR: 2, Role.ADMIN: 3}
APPROVING_ROLES = frozenset(RANK)
MAX_LEVELS = 3  # the release levels of the product this replaces
# the roles asked to review an order (invited, pinged) as before levels: an admin may approve any level, but is
# only asked where a level needs an admin
_REVIEWING = frozenset({Role.SUPERVISOR, Role.COORDINATOR})


class Separation(StrEnum):
    OFF = "off"  # anyone the table lets approve may (as before issue 16)
    ON = "on"  # whoever submitted an order may not approve or reject it
    STRICT = "strict"  # and an approver may not be the order's only field worker


@dataclass(frozen=True)
class Level:
    """One level of approval: reached when the total with tax is above `above`; approved by `role` or higher."""

    role: Role
    above: Decimal = Decimal(0)


@dataclass(frozen=True)
class ReapprovalThreshold:
    """A change that raises the total (with tax) by more than this waits for approval: a percentage of the
    current total, or an amount in the provider's currency. None on both: no change waits."""

    percent: Decimal | None = None
    amount: Decimal | None = None

    @property
    def off(self) -> bool:
        """REAPPROVAL_OVER=off: no change waits for approval."""
        return self.percent is None and self.amount is None

    def exceeded(self, before: Decimal, after: Decimal) -> bool:
        rise = after - before
        if rise <= 0:
            return False
        if self.amount is not None:
            return rise > self.amount
        if self.percent is not None:
            return before <= 0 or rise * 100 > before * self.percent
        return False


@dataclass(frozen=True)
class ApprovalPolicy:
    levels: tuple[Level, ...] = (Level(Role.SUPERVISOR),)
    separation: Separation = Separation.ON
    reapproval: ReapprovalThreshold = ReapprovalThreshold(percent=Decimal(10))

    def levels_for(self, total: Decimal) -> tuple[Level, ...]:
        """The levels an order with this total (with tax) needs, lowest first: the first always."""
        return tuple(level for index, level in enumerate(self.levels) if index == 0 or total > level.above)

    def top_level(self, total: Decimal) -> Level:
        """The highest level this total reaches: the one a change to that total is approved at."""
        return self.levels_for(total)[-1]


def may_approve(level: Level, roles: set[Role] | frozenset[Role]) -> bool:
    """Whether someone with `roles` may give this level's approval: its role or a higher one."""
    return any(RANK.get(role, 0) >= RANK[level.role] for role in roles)


def roles_for(level: Level) -> frozenset[Role]:
    """The roles that may approve this level (to ask, remind and route to)."""
    return frozenset(role for role, rank in RANK.items() if rank >= RANK[level.role])


def asked_for(level: Level) -> frozenset[Role]:
    """The roles asked to give this level's approval (invited to the channel, named in its message, reminded):
    those who may, but admins only where the level needs one."""
    return (_REVIEWING & roles_for(level)) or frozenset({level.role})


def escalated_for(level: Level) -> frozenset[Role]:
    """Who hears that a level's approval is overdue: the role ranked just above it (the coordinators, for a
    supervisor's level, as before levels); for the top role, its own holders again."""
    above = [role for role, rank in sorted(RANK.items(), key=lambda item: item[1]) if rank > RANK[level.role]]
    return frozenset(above[:1] or [level.role])
