"""Photos and files on a form (submit, confirmation, the closings): Block Kit's file_input, and what Slack
reports of the files chosen, typed. Their type and size are checked by workflow/attachments.py, in the ack."""

from __future__ import annotations

from forms.elements import Block, Values, element_state, input_block
from forms.problems import BLOCKS
from i18n import Language
from workflow.errors import Field
from workflow.shared_files import FILETYPES, MAX_BYTES, MAX_FILES, SharedFile, shared_file

FILES = BLOCKS[Field.FILES]


def files_block(lang: Language) -> Block:
    """An optional file_input (Slack takes up to 10 files of up to 10 MB; reading them needs files:read)."""
    element = {"type": "file_input", "action_id": FILES, "filetypes": list(FILETYPES), "max_files": MAX_FILES}
    return input_block(FILES, lang._("Photos and files"), element, optional=True,
                       hint=lang._("Images or PDFs, up to {count} files of {size} MB each. They go on the order's "
                                   "next version.").format(count=lang.number(MAX_FILES),
                                                           size=lang.number(MAX_BYTES // 2**20)))


def parse_files(values: Values) -> tuple[SharedFile, ...]:
    """The files chosen, as Slack reports them (entries that are not file objects are not files)."""
    raw = element_state(values, FILES).get("files") or []
    files = (shared_file(item) for item in raw) if isinstance(raw, list) else ()
    return tuple(f for f in files if f is not None)
