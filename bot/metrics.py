"""What the app reports at /metrics, in Prometheus's text format (prometheus-client).

Several processes (PROMETHEUS_MULTIPROC_DIR set, an empty directory each process can write): every process
writes its counters there and a scrape, in whichever process, adds them up (prometheus_client's
multiprocess mode). The effect backlog is read from the database at scrape time, so it is right whatever
process answers."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from storage.models import PendingEffect
from storage.scope import everywhere

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

ACK_SECONDS = Histogram("service_orders_ack_seconds",
                        "Time from a Slack request reaching Bolt to its ack (bot/observed.py)", ["kind"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3, 5))
STEPS = Counter("service_orders_steps", "Steps people took on orders, by action and outcome (stored, refused, "
                "invalid: field errors)", ["action", "outcome"])
SLACK_CALLS = Counter("service_orders_slack_api_calls", "Slack Web API calls made through the gateway", ["method"])
SLACK_ERRORS = Counter("service_orders_slack_api_errors", "Slack Web API error answers, by method and error code "
                       "(each 429 counts, retried or not, as 'ratelimited')", ["method", "code"])
SLACK_DEFERRED = Counter("service_orders_slack_api_deferred", "Effects' Web API calls put back for later, by method "
                         "and why: 'paced' (over the tier's pace, never sent) or 'ratelimited' (Slack answered 429)",
                         ["method", "why"])


class Access(StrEnum):
    """METRICS: who may read /metrics."""
    ON = "on"
    LOOPBACK = "loopback"  # the default: only this host (a Prometheus agent or sidecar beside the app)
    OFF = "off"


def allowed(access: Access, remote_addr: str | None) -> bool:
    if access is Access.ON:
        return True
    if access is Access.OFF:
        return False
    try:
        return ipaddress.ip_address((remote_addr or "").split("%")[0]).is_loopback
    except ValueError:  # a Unix socket or no peer address: not known to be loopback
        return False


def request_kind(body: dict[str, Any]) -> str:
    """The kind of a Slack request, for the ack histogram's label (a short, closed set)."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    return {"block_actions": "block_actions", "view_submission": "view_submission", "view_closed": "view_closed",
            "block_suggestion": "options", "event_callback": "event", "shortcut": "shortcut",
            "message_action": "shortcut"}.get(kind if isinstance(kind, str) else "", "other")


class EffectBacklog(Collector):
    """Pending and failed effects by kind, counted in the database when scraped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {status: GaugeMetricFamily(f"service_orders_effects_{status}", f"Effects {status}, by kind",
                                              labels=["kind"]) for status in ("pending", "failed")}
        with everywhere(), Session(self.engine) as session:  # the process's, whichever workspace they are for
            rows = session.exec(select(PendingEffect.kind, PendingEffect.status, func.count())
                                .where(PendingEffect.status.in_(families))  # type: ignore[attr-defined]
                                .group_by(PendingEffect.kind, PendingEffect.status)).all()
        for kind, status, count in rows:
            families[status].add_metric([kind], count)
        yield from families.values()


class _ThisProcess(Collector):
    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def exposition(engine: Engine) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(EffectBacklog(engine))
    return generate_latest(registry)
