"""Prometheus metrics. Labels are platforms, kinds and reason codes only: never content,
never addresses."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_IN = Counter(
    "feedback_bot_messages_in_total",
    "Incoming events processed",
    ["platform", "kind"],
    registry=REGISTRY,
)
MESSAGES_OUT = Counter(
    "feedback_bot_messages_out_total",
    "Messages delivered",
    ["platform", "kind"],
    registry=REGISTRY,
)
SEND_FAILURES = Counter(
    "feedback_bot_send_failures_total",
    "Failed send attempts",
    ["platform", "reason"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge("feedback_bot_outbox_depth", "Messages waiting to be sent", registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge(
    "feedback_bot_outbox_oldest_age_seconds",
    "Age of the oldest waiting message",
    registry=REGISTRY,
)
CHECKINS_SENT = Counter("feedback_bot_checkins_sent_total", "Check-ins sent", registry=REGISTRY)
CHECKINS_ANSWERED = Counter(
    "feedback_bot_checkins_answered_total", "Check-ins answered", registry=REGISTRY
)
