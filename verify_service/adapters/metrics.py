"""Prometheus metrics; correct under several gunicorn workers (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from verify_service.domain.agent_watch import ACTIONS
from verify_service.domain.model import Challenge, Verification
from verify_service.domain.names import AnomalyKind, CheckResult
from verify_service.domain.sms_guard import REFUSAL_REASONS
from verify_service.errors import DependencyUnavailable

M = TypeVar("M", Counter, Histogram)

REQUEST_SECONDS = Histogram(
    "verify_http_request_duration_seconds", "HTTP request latency by route and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
_SERIES: dict[tuple[object, tuple[str, ...]], Any] = {}


def _series(metric: M, *labels: str) -> M:
    """One labelled series of a hot-path metric, looked up once per process (labels() takes a lock and a copy)."""
    key = (metric, labels)
    series = _SERIES.get(key)
    if series is None:
        series = _SERIES[key] = metric.labels(*labels)
    return cast(M, series)


def request_seconds(method: str, route: str, status: int) -> Histogram:
    """The latency series of one (method, route, status)."""
    return _series(REQUEST_SECONDS, method, route, str(status))


VERIFICATIONS = Counter("verify_verifications_total", "Verification checks by result.", ["result", "channel"])
LOCKS = Counter("verify_customer_locks_total", "Customers locked after too many failed checks.")
CODES = Counter("verify_codes_total", "One-time code messages: sent (queued), delivered, failed.", ["outcome"])
APPROVALS = Counter("verify_approvals_total", "Approval requests: requested, approved, denied, used (by a check).",
                    ["outcome"])
EVENTS = Counter("verify_security_events_total", "Security event deliveries by outcome.", ["outcome"])
SMS_REFUSED = Counter("verify_sms_refused_total",
                      "SMS code sends refused by the pumping guard, by reason (reason=\"global\": the hourly cap).",
                      ["reason"])


AGENT_ANOMALIES = Counter("verify_agent_anomalies_total", "Agent anomalies raised, by kind.", ["kind"])
AGENT_BLOCKED = Counter("verify_agent_blocked_total",
                        "Acts refused because the agent or key is blocked, by action.", ["action"])
# Every documented series exists from the start (at 0), in every worker's file: a scrape lists it before
# the first event, and increase() sees that first event instead of a series appearing from nothing.
CHECK_CHANNELS = ("phone", "chat")
_KNOWN_LABELS: tuple[tuple[Counter, tuple[tuple[str, ...], ...]], ...] = (
    (VERIFICATIONS, tuple((result.value, channel) for result in CheckResult for channel in CHECK_CHANNELS)),
    (CODES, (("sent",), ("delivered",), ("failed",))),
    (APPROVALS, (("requested",), ("approved",), ("denied",), ("used",))),
    (EVENTS, (("delivered",), ("failed",))),
    (SMS_REFUSED, tuple((reason,) for reason in REFUSAL_REASONS)),
    (AGENT_ANOMALIES, tuple((kind.value,) for kind in AnomalyKind)),
    (AGENT_BLOCKED, tuple((action,) for action in ACTIONS)),
)
for _metric, _label_sets in _KNOWN_LABELS:
    for _labels in _label_sets:
        _metric.labels(*_labels)


WATCH_MISSED = Counter("verify_agent_watch_missed_total",
                       "Recorded checks, code sends, contacts and approval requests the agent watch could not count "
                       "(its store did not answer).")


def record_watch_missed() -> None:
    """Count one stored act (a check, code send, contact or approval request) the agent watch missed."""
    WATCH_MISSED.inc()


def record_agent_anomaly(kind: str) -> None:
    """Count one agent anomaly raised."""
    AGENT_ANOMALIES.labels(kind).inc()


def record_agent_blocked(action: str) -> None:
    """Count one check or code send refused because the agent is blocked."""
    AGENT_BLOCKED.labels(action).inc()


def record_sms_refusal(reason: str) -> None:
    """Count one SMS send the pumping guard refused."""
    SMS_REFUSED.labels(reason).inc()


def record_check(verification: Verification) -> None:
    """Count one verification check (API or console) and a lock it set."""
    _series(VERIFICATIONS, verification.result, verification.channel).inc()
    if verification.locked_by_this_check:
        LOCKS.inc()


def record_code_sent(challenge: Challenge) -> None:
    """Count one code queued for delivery (API or console)."""
    CODES.labels("sent").inc()


def record_approval(outcome: str) -> None:
    """Count an approval request made, answered or used (API or console)."""
    APPROVALS.labels(outcome).inc()


def record_delivery(kind: str, outcome: str) -> None:
    """Count an outbox result (`sent` or `failed`; retries are not counted here)."""
    if outcome == "retry":
        return
    label = "delivered" if outcome == "sent" else outcome
    (CODES if kind == "sms" else EVENTS).labels(label).inc()


class BacklogCollector(Collector):
    """Outbox backlog and the age of its oldest message, read from the database at scrape time."""

    def __init__(self, backlog: Callable[[], tuple[int, datetime | None]], now: Callable[[], datetime]):
        self._backlog, self._now = backlog, now

    def collect(self):  # type: ignore[no-untyped-def]
        """Two gauges (none while the database is down: the counters still get scraped)."""
        try:
            count, oldest = self._backlog()
        except DependencyUnavailable:
            return
        age = (self._now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily("verify_outbox_backlog", "Messages waiting for delivery.", value=count)
        yield GaugeMetricFamily("verify_outbox_oldest_age_seconds", "Age of the oldest waiting message.",
                                value=max(0.0, age))


class AnchorAgeCollector(Collector):
    """How long ago the newest scheduled audit anchor actually written was taken, read at scrape time (only
    with anchoring on): the anchor file's newest signed line, or the newest anchor the events webhook accepted
    (by its signed receipt), never the database's schedule row.

    Alert when it exceeds about two periods: a stopped schedule widens the window in which the newest
    events can be removed unseen."""

    def __init__(self, age: Callable[[], timedelta | None], period: timedelta):
        self._age, self._period = age, period

    def collect(self):  # type: ignore[no-untyped-def]
        """The age (absent before the first anchor or when the newest is not validly signed; with the webhook,
        while the database is down) and the period."""
        yield GaugeMetricFamily("verify_audit_anchor_period_seconds", "How often an audit anchor is due.",
                                value=self._period.total_seconds())
        try:
            age = self._age()
        except DependencyUnavailable:
            return
        if age is not None:
            yield GaugeMetricFamily("verify_audit_anchor_age_seconds", "Seconds since the newest audit anchor.",
                                    value=max(0.0, age.total_seconds()))


def split_counters() -> bool:
    """True when PROMETHEUS_MULTIPROC_DIR is set but prometheus_client was imported before it (in-memory values).

    Each worker then counts in its own memory while /metrics reads the (empty) shared folder: the counters
    the README's alerts use never show. gunicorn.conf.py sets the folder before anything imports the client."""
    from prometheus_client import values

    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR")) and values.ValueClass is values.MutexValue


def render(*live_collectors: Collector) -> bytes:
    """The exposition text: every worker's counters (multiprocess) plus the live gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    live = CollectorRegistry()
    for collector in live_collectors:
        live.register(collector)
    return body + generate_latest(live)
