"""How typed text meets stored text: case and accents folded away, the same way on both sides, so that
"penalolen" finds "Peñalolén" and "PEÑA" finds "peña" on any database (the catalog's `search_text` is stored
folded; the typeahead folds what is typed)."""

from __future__ import annotations

import unicodedata

# Latin letters that are no base letter plus a mark, so NFKD leaves them: read as the letter people type
# without them ("lodz" finds "Łódź", "orsted" finds "Ørsted")
_BASE_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t", "ı": "i", "æ": "ae", "œ": "oe"})


def fold(text: str) -> str:
    """Casefolded ("ß" is "ss"), compatibility forms decomposed (NFKD: "²" is "2", "ﬁ" is "fi"), combining
    marks dropped ("é" is "e", "ñ" is "n"), and the few Latin letters NFKD leaves whole read as their base
    letter ("ø" is "o")."""
    if text.isascii():  # most codes and names: nothing to decompose
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_BASE_LETTERS)
