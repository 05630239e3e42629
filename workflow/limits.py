"""How large and how far ahead an order may go: checked at every step that sets items or dates, so a typo
of a few extra digits is caught on the field instead of landing on a document that carries money."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from workflow.document import ItemLine, money, subtotal
from workflow.errors import DateInPast, DateTooFar, Field, FieldKey, LineOverCeiling, Problem, TotalOverCeiling
from workflow.vocabulary import ItemKind

# what the money columns hold (NUMERIC(14, 4)): the largest unit price, and the largest ceiling a setting may ask
MAX_PRICE = Decimal("9999999999.9999")
MAX_CEILING = Decimal("9999999999")
DEFAULT_CEILING = Decimal("1000000000")
DEFAULT_HORIZON_DAYS = 730
MAX_QUANTITY = Decimal("1000000")  # of one item on an order
DESCRIPTION_MAX = 3000  # characters of an order's description (the form's box and the import's cell)


@dataclass(frozen=True)
class Limits:
    """No line and no order total with tax above `ceiling` (in the provider's currency); no requested or
    scheduled date before today or more than `horizon_days` after it."""

    ceiling: Decimal = DEFAULT_CEILING
    tax_rate: Decimal = Decimal(0)  # 0.19 for 19 %
    horizon_days: int = DEFAULT_HORIZON_DAYS

    def date_problem(self, day: date, today: date) -> Problem | None:
        if day < today:
            return DateInPast()
        latest = today + timedelta(days=self.horizon_days)
        if day > latest:
            return DateTooFar(latest, self.horizon_days)
        return None

    def line_problems(self, lines: list[ItemLine], currency: str, rows: dict[str, FieldKey],
                      default_field: FieldKey) -> dict[FieldKey, Problem]:
        """Each line over the ceiling, on its field: `rows` maps a line's key to it; items the catalog lacks
        are on the free-items field."""
        problems: dict[FieldKey, Problem] = {}
        for line in lines:
            amount = line.total(currency)
            if amount is not None and amount > self.ceiling:
                free = line.kind == ItemKind.FREE
                field = rows.get(line.key, FREE_ITEMS if free else default_field)
                problems.setdefault(field, LineOverCeiling(line.description if free else None, amount,
                                                           self.ceiling, currency))
        return problems

    def total_problem(self, lines: list[ItemLine], currency: str) -> Problem | None:
        net = subtotal(lines, currency)
        total = net + money(net * self.tax_rate, currency)
        if total > self.ceiling:
            return TotalOverCeiling(total, self.ceiling, currency)
        return None


FREE_ITEMS = Field.FREE_ITEMS  # where problems with items the catalog lacks go
