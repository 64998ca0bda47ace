"""The crisis path that must work even when the database does not."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from feedback_bot.people.practice_config import PracticeConfig
from feedback_bot.ports import Adapter, IncomingEvent, OutgoingMessage, SendError
from feedback_bot.safety import DEFAULT_CONFIG_PATH, RiskDetector, load_config, merge_configs
from feedback_bot.safety.model import shared_model
from feedback_bot.services import Services

log = logging.getLogger(__name__)


def load_detector(
    config: PracticeConfig, phrases_file: Path | None = None, *, model: bool = True
) -> RiskDetector:
    """The shipped lists, plus a deployment's ``safety.yaml`` beside its prompts file and
    the practice's own phrases: each adds to the shipped lists, none can remove from them.
    With ``model``, the process's shared risk model is asked when no pattern fires. It
    starts loading when the app starts serving (``App.start``) or at the first text it is
    asked about; until it is ready, the patterns alone decide. Admin commands, the digest
    processes and scheduler-only work never screen a text, so they never load its tens of
    megabytes."""
    extra = phrases_file if phrases_file is not None and phrases_file.exists() else None
    # An installed wheel has no repository beside it: there the deployment's config
    # directory (the Docker image copies config/ there) holds the shipped lists.
    base = DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() or extra is None else extra
    data = load_config(base)
    if extra is not None and extra.resolve() != base.resolve():
        data = merge_configs(data, load_config(extra))
    if config.safety_phrases:
        data = merge_configs(data, {"version": 1, "languages": config.safety_phrases})
    detector = RiskDetector.from_config(data)
    if not model:
        return detector
    return detector.with_model(shared_model())


def direct_reply_id(event: IncomingEvent) -> int:
    """The direct reply's idempotency key (``OutgoingMessage.outbox_id``, Matrix's tx_id).

    Derived from the platform's event id: a redelivered event gets the same key, so the
    platform deduplicates a second send; different messages get different keys. Negative,
    so it never meets an outbox row's id (those count up from 1)."""
    digest = hashlib.sha256(f"{event.platform}\0{event.event_id}".encode()).digest()
    return -1 - int.from_bytes(digest[:7], "big")


async def send_direct_safety_reply(adapter: Adapter, deps: Services, event: IncomingEvent) -> bool:
    """Straight to the adapter, bypassing the outbox: the database just failed us.
    True when the platform took the reply."""
    # Without the database we know neither the chat's practice nor the reader's language:
    # this reply carries the deployment's resources (config/prompts.yaml) in its default
    # language, never a practice's own (those live in the database).
    message = OutgoingMessage(
        outbox_id=direct_reply_id(event),
        platform=event.platform,
        address=event.address,
        text=deps.crisis_reply(deps.config.language),
    )
    try:
        await adapter.send(message)
    except SendError as exc:
        log.error("safety: direct crisis reply failed (%s)", type(exc).__name__)
        return False
    log.warning("safety: crisis resources sent directly while the database was unavailable")
    return True
