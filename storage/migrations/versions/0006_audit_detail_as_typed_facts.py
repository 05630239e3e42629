"""audit_event.detail holds typed facts as JSON (workflow.facts.StepFacts), no markup: old rows' text becomes
their `legacy` note, with Slack's markup turned into plain ids and text.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 01:00:00
"""

import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_audit = sa.table('audit_event', sa.column('id', sa.Integer), sa.column('action', sa.String),
                  sa.column('actor_id', sa.String), sa.column('detail', sa.Text))
_BATCH = 1000


def plain(text: str) -> str:
    """Slack mrkdwn as the old release wrote it, as plain text: <@U123> → U123, <#C1|name> → C1, then Slack's
    escapes undone (&lt; &gt; &amp;), so no markup remains and what a person typed reads as they typed it."""
    text = re.sub(r"<[@#!]([^>|]+)(?:\|[^>]*)?>", lambda m: m.group(1).removeprefix("subteam^"), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _is_facts(detail: str) -> bool:
    if not detail.startswith("{"):
        return False
    try:
        return isinstance(json.loads(detail), dict)
    except ValueError:
        return False


def upgrade() -> None:
    connection = op.get_bind()
    last = 0
    while True:  # in batches by id, so a long trail is never held in memory at once
        rows = connection.execute(sa.select(_audit.c.id, _audit.c.action, _audit.c.actor_id, _audit.c.detail)
                                  .where(_audit.c.id > last).order_by(_audit.c.id).limit(_BATCH)).all()
        if not rows:
            return
        last = rows[-1].id
        changed = [{"row": row.id, "facts": json.dumps(
                        {"action": row.action, "actor": row.actor_id, "legacy": plain(row.detail or "")},
                        ensure_ascii=False, sort_keys=True)}
                   for row in rows if not _is_facts(row.detail or "")]
        if changed:
            connection.execute(_audit.update().where(_audit.c.id == sa.bindparam("row"))
                               .values(detail=sa.bindparam("facts")), changed)


def downgrade() -> None:
    pass  # the JSON is text the old release shows as it is; the markup it had is not made up again
