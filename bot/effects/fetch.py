"""fetch_file: one shared photo or file read from Slack after the ack, and kept or left out.

Slack is asked where the file is now (files.info: the URL the bot token goes to is Slack's answer, never a
payload's; for a Slack Connect file, which comes as its id alone, its name, type and size too), its bytes are read
with the bot token up to the 10 MB cap, and they must be what Slack said: an image Pillow opens and verifies, of
the format its type names and at most MAX_PIXELS (checked before anything is decoded), or a PDF that starts as
one. A kept image gets a thumbnail (at most 480 px, JPEG, turned as its EXIF says) kept in `asset` by SHA-256, for
the PDF. A file left out is said in the order's channel (by direct message once a closed order's channel is
archived), with why.

It runs beside the order's chain (workflow/effects.py ASIDE): its version's PDF waits for it (FilesBeingRead),
never the other way round. A read that fails for good (a missing scope, or its last try) leaves the file out as
`not_read`, and says so, rather than leave the version's PDF waiting for ever.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import update
from sqlmodel import Session

from bot.effects.base import Claim, Effects, Record
from bot.gateway import ErrorCode, SlackError
from bot.pacing import Deferred
from bot.profiles import learn
from bot.render.notices import left_out
from storage.db import queue_effects
from storage.models import Asset, OrderAttachment, PendingEffect
from workflow.attachments import LeftOut, Source, Status
from workflow.effects import Card, EffectKind, FetchFile
from workflow.shared_files import ACCEPTED, IMAGE_TYPES, MAX_BYTES, MAX_PIXELS, SharedFile, shared_file
from workflow.vocabulary import order_number

log = logging.getLogger("bot.effects")

THUMBNAIL_PX = 480  # the longer side; the PDF's grid shows them a few centimetres wide
THUMBNAIL_QUALITY = 80
# Pillow's format → the type Slack reports for it (workflow/attachments.IMAGE_TYPES); many cameras write JPEGs
# that Pillow reads as MPO (several pictures in one file)
FORMAT_TYPE = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
               "WEBP": "image/webp"}


@dataclass(frozen=True)
class Read:
    """What the bytes turned out to be: kept (their hash, an image's thumbnail) or left out (why)."""

    sha256: str | None = None
    thumbnail: bytes | None = None
    reason: LeftOut | None = None


def examine(content: bytes, mimetype: str) -> Read:
    """Whether `content` is what Slack said it is (`mimetype`), and an image's thumbnail."""
    digest = hashlib.sha256(content).hexdigest()
    if mimetype not in IMAGE_TYPES:  # a PDF (the only other type taken)
        return Read(digest) if content.startswith(b"%PDF-") else Read(reason=LeftOut.NOT_ITS_TYPE)
    try:
        with Image.open(io.BytesIO(content)) as image:
            if FORMAT_TYPE.get(image.format or "") != mimetype:
                return Read(reason=LeftOut.NOT_ITS_TYPE)
            if image.width * image.height > MAX_PIXELS:  # from its header: nothing decoded yet
                return Read(reason=LeftOut.TOO_MANY_PIXELS)
            image.verify()  # the whole file, without decoding it: a cut-short or damaged one fails here
        with Image.open(io.BytesIO(content)) as image:  # verify() leaves the image unusable: open it again
            image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))  # a JPEG decodes at a fraction of its size
            thumb = _on_white(ImageOps.exif_transpose(image))
            thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    except UnidentifiedImageError:
        return Read(reason=LeftOut.NOT_ITS_TYPE)
    # Pillow's words for a bad file (a PNG with no image data in it raises IndexError)
    except (OSError, SyntaxError, ValueError, IndexError, EOFError, Image.DecompressionBombError):
        return Read(reason=LeftOut.UNREADABLE)
    return Read(digest, out.getvalue())


def _on_white(image: Image.Image) -> Image.Image:
    """RGB for a JPEG: a transparent PNG, GIF or WebP shows on white paper, as the PDF's page is."""
    if image.mode in ("RGBA", "LA", "P", "PA") and ("A" in image.mode or "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    return image.convert("RGB")


def run(fx: Effects, effect: Claim) -> Record | None:
    payload = effect.payload
    assert isinstance(payload, FetchFile)
    with Session(fx.engine, expire_on_commit=False) as session:
        row = session.get(OrderAttachment, payload.attachment_id)
    if row is None or row.status != Status.PENDING:  # read already (a retry whose answer was recorded)
        return None
    learn(fx.engine, fx.gateway, [row.shared_by], fx.clock())  # the name the document will carry
    told: SharedFile | None = None
    try:
        told, read = _read(fx, row)
    except Exception as error:
        if isinstance(error, Deferred) or not (effect.last_try or (isinstance(error, SlackError)
                                                                   and error.admin_action)):
            raise  # tried again later (bot/effects/runner.py); a deferral is no try
        log.warning("%s: %s could not be read, left out: %s", effect.key, row.slack_file_id, error)
        read = Read(reason=LeftOut.NOT_READ)
    if told is not None:
        row.name = told.name
    if read.reason is not None:
        _tell(fx, effect, row, read.reason)

    def record(session: Session) -> None:
        kept = session.get(OrderAttachment, row.id)
        assert kept is not None
        if told is not None:
            kept.name, kept.mimetype, kept.size = told.name, told.mimetype, told.size
        # the card counts the photos not left out (workflow/queries.photo_counts): count again if that changed
        if row.mimetype.startswith("image/") != (read.reason is None and kept.mimetype.startswith("image/")):
            queue_effects(session, [(kept.order_id, EffectKind.CARD.value, f"{kept.order_id}:card:file:{kept.id}",
                                     Card().to_json())], fx.clock())
        if read.reason is not None:
            kept.status, kept.reason = Status.LEFT_OUT.value, read.reason.value
        else:
            kept.status, kept.sha256 = Status.KEPT.value, read.sha256
            if read.thumbnail is not None:
                sha = hashlib.sha256(read.thumbnail).hexdigest()
                if session.get(Asset, sha) is None:
                    session.add(Asset(sha256=sha, media_type="image/jpeg", content=read.thumbnail))
                kept.thumbnail_sha256 = sha
        session.add(kept)
        # the version's PDF, waiting for its files (NotReady, backing off), is due again now
        session.execute(update(PendingEffect).where(
            PendingEffect.order_id == kept.order_id, PendingEffect.kind == EffectKind.UPLOAD_PDF.value,
            PendingEffect.status == "pending").values(not_before=fx.clock()).execution_options(
            synchronize_session=False))

    return record


def _read(fx: Effects, row: OrderAttachment) -> tuple[SharedFile | None, Read]:
    """What files.info told of a file that came as its id alone (Slack Connect), and what its bytes are."""
    if row.size > MAX_BYTES:  # Slack said so: not worth reading
        return None, Read(reason=LeftOut.TOO_LARGE)
    info = fx.gateway.file_info(row.slack_file_id)
    now = shared_file(info)  # the file as Slack reports it now: where to read it, with the bot token
    if now is None or now.ask_slack:  # gone, or no URL to read it from
        return None, Read(reason=LeftOut.GONE)
    told = None if row.url_private else now
    mimetype = (told or row).mimetype
    if told and mimetype not in (IMAGE_TYPES if row.source == Source.CHANNEL else ACCEPTED):
        return told, Read(reason=LeftOut.NOT_A_PHOTO)  # only a channel's photos are evidence
    if told and told.size > MAX_BYTES:
        return told, Read(reason=LeftOut.TOO_LARGE)
    try:
        content = fx.gateway.download(now.url_private, MAX_BYTES, mimetype)
    except SlackError as error:
        if error.code == ErrorCode.FILE_NOT_FOUND:  # deleted since files.info answered
            return told, Read(reason=LeftOut.GONE)
        raise
    if content is None:
        return told, Read(reason=LeftOut.TOO_LARGE)
    return told, examine(content, mimetype)


def _tell(fx: Effects, effect: Claim, row: OrderAttachment, reason: LeftOut) -> None:
    """The channel hears which file was left out and why (once a closed order's channel is archived, its people
    do, each in their language)."""
    order = fx.order(row.order_id)
    fx.say(effect, order, lambda lang: left_out(order_number(order.number), row.name, reason, lang))
