"""The pending effects a step recorded, run after its commit: the queue's mechanics in `runner` (claim, lease,
backoff, chain failure, the worker threads), one small handler per effect kind beside it, each reading one
prepared view of what it needs and rendering it in the reader's language."""

from bot.effects.base import Claim, NotReady
from bot.effects.runner import CLAIM_BATCH, LEASE, MAX_ATTEMPTS, WORKERS, EffectRunner, lower_priority

__all__ = ["CLAIM_BATCH", "LEASE", "MAX_ATTEMPTS", "WORKERS", "Claim", "EffectRunner", "NotReady", "lower_priority"]
