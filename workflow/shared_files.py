"""What a step takes of the photos and files people attach: Slack's file objects typed (`SharedFile`, nothing of
it read yet) and checked by what Slack reports of them (type and size), in the ack. No database, no Slack: the
forms read it, workflow/attachments.py records what passes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from workflow.errors import FileNotAccepted, FileTooLarge, Problem, TooManyFiles

MAX_FILES = 10  # a file_input's own ceiling (Block Kit: max_files 1..10)
MAX_BYTES = 10 * 1024 * 1024  # Slack's limit for a file_input's files: 10 MB
# the largest image decoded (width × height, from its header): a 40 MP camera's photo; a larger one would take
# hundreds of MB to decode (Pillow's own bomb limit is ~178 MP)
MAX_PIXELS = 40_000_000
# What we keep: images Pillow reads (a thumbnail for the PDF) and PDFs. HEIC needs a plugin Pillow lacks.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
ACCEPTED = IMAGE_TYPES | {"application/pdf"}
FILETYPES = ("jpg", "jpeg", "png", "gif", "webp", "pdf")  # the file_input's filetypes (Slack's names)


@dataclass(frozen=True)
class SharedFile:
    """A photo or file as Slack reported it (a file_input's state, a message's `files`, files.info's answer):
    nothing of it was read yet. `check` checks it; workflow/attachments.py records it; bot/effects/fetch.py reads
    it from where files.info says it is now."""

    slack_id: str
    name: str
    mimetype: str
    size: int  # bytes, as Slack says
    url_private: str
    user: str | None = None  # who shared it, as Slack says
    created: datetime | None = None

    @property
    def ask_slack(self) -> bool:
        """Only its id came (Slack Connect: `file_access: check_file_info`): files.info says the rest."""
        return not self.url_private


CHECK_FILE_INFO = "check_file_info"  # a message's file in a Slack Connect channel: only its id, ask files.info


def shared_file(data: object) -> SharedFile | None:
    """A Slack file object, typed; None when it is not one (no id, or no url_private unless Slack says to ask
    files.info: a Slack Connect file comes as {id, file_access: check_file_info}, with no type or size)."""
    if not isinstance(data, dict):
        return None
    slack_id, url = data.get("id"), data.get("url_private") or data.get("url_private_download")
    if data.get("file_access") == CHECK_FILE_INFO and not url:
        url = ""  # its URL, type and size come from files.info, when it is read (bot/effects/fetch.py)
    elif not isinstance(url, str) or not url:
        return None
    if not isinstance(slack_id, str) or not slack_id or not isinstance(url, str):
        return None
    size, created = data.get("size"), data.get("created") or data.get("timestamp")
    return SharedFile(
        slack_id=slack_id[:32], name=str(data.get("name") or data.get("title") or slack_id)[:255],
        mimetype=str(data.get("mimetype") or "application/octet-stream").lower()[:100],
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0, url_private=url,
        user=data["user"] if isinstance(data.get("user"), str) else None,
        created=(datetime.fromtimestamp(created, UTC)
                 if isinstance(created, int | float) and not isinstance(created, bool) and 0 < created < 2**33
                 else None))


def check(files: Iterable[SharedFile]) -> Problem | None:
    """Whether a form's files may be taken, by what Slack reports: a type we keep, within Slack's size."""
    files = list(files)
    if len(files) > MAX_FILES:
        return TooManyFiles(MAX_FILES)
    for file in files:
        if file.mimetype not in ACCEPTED:
            return FileNotAccepted(file.name, file.mimetype)
        if file.size > MAX_BYTES:
            return FileTooLarge(file.name, file.size, MAX_BYTES)
    return None
