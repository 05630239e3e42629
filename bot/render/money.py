"""An order's money in words, one way on every surface (card, channel messages, App Home, list, status):
subtotal, tax and total with the currency, the PDF's figures, in the reader's language (Babel)."""

from __future__ import annotations

from i18n import Language
from workflow.amounts import Amounts


def amounts_text(lang: Language, figures: Amounts) -> str:
    """'Subtotal 310.00 · tax 21% 65.10 · total 375.10 EUR' (and how many lines have no price yet)."""
    text = lang._("Subtotal {subtotal} · tax {rate} {tax} · total {total} {currency}").format(
        subtotal=lang.money(figures.subtotal, figures.currency), rate=lang.percent(figures.tax_rate),
        tax=lang.money(figures.tax, figures.currency), total=lang.money(figures.total, figures.currency),
        currency=figures.currency)
    if figures.unpriced:
        text += " " + lang.n_("({count} item without a price)", "({count} items without a price)",
                              figures.unpriced).format(count=lang.number(figures.unpriced))
    return text
