"""The machine-readable stamp in a version PDF's document information: which order, version and document.

The stamp is the /Keywords entry, `service-order SO-000042 v3 sha256:<64 hex>`, the fingerprint being
the SHA-256 of the version's canonical document (`VersionDocument.fingerprint`). The client's signed copy of a
version says so: `service-order SO-000042 v3 signed sha256:<64 hex>`, with the signed copy's fingerprint
(`SignedCopy.fingerprint`). The stamp only says what
a file claims to be: whether it is genuine is for the verifier to decide, by rendering that document again
and comparing bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

STAMP_PREFIX = "service-order"
_STAMP = re.compile(r"service-order (?P<order>\S{1,64}) v(?P<version>[1-9][0-9]{0,8})(?P<signed> signed)? "
                    r"sha256:(?P<sha>[0-9a-f]{64})")


@dataclass(frozen=True)
class Stamp:
    order_number: str
    version: int
    fingerprint: str  # hex SHA-256 of the version's canonical document (a signed copy: of the signed copy's)
    signed: bool = False  # the client's signed copy of the version, not the version itself

    def text(self) -> str:
        signed = " signed" if self.signed else ""
        return f"{STAMP_PREFIX} {self.order_number} v{self.version}{signed} sha256:{self.fingerprint}"


def parse_stamp(text: str) -> Stamp | None:
    match = _STAMP.fullmatch(text.strip())
    if match is None:
        return None
    return Stamp(match["order"], int(match["version"]), match["sha"], signed=match["signed"] is not None)


def read_stamp(data: bytes) -> Stamp | None:
    """The stamp embedded in this PDF, or None (not a PDF, unreadable, or no stamp of ours). Never raises."""
    if not isinstance(data, bytes | bytearray | memoryview) or b"%PDF-" not in bytes(data[:1024]):
        return None
    from pypdf import PdfReader  # imported here: only verification reads PDFs back

    try:
        metadata = PdfReader(io.BytesIO(bytes(data)), strict=False).metadata
        keywords = metadata.get("/Keywords") if metadata is not None else None
        return parse_stamp(str(keywords)) if keywords is not None else None
    except Exception:  # noqa: BLE001 - anything a malformed file makes pypdf raise means "no stamp"
        return None
