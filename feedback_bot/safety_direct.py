"""The crisis path that must work even when the database does not."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from feedback_bot.engine.context import EngineDeps
from feedback_bot.ports import Adapter, IncomingEvent, OutgoingMessage, SendError
from feedback_bot.practice_config import PracticeConfig
from feedback_bot.safety import RiskDetector

log = logging.getLogger(__name__)

DEFAULT_PHRASES = Path(__file__).resolve().parent.parent / "config" / "safety.yaml"


def load_detector(config: PracticeConfig, phrases_file: Path = DEFAULT_PHRASES) -> RiskDetector:
    data: dict[str, Any] = yaml.safe_load(phrases_file.read_text(encoding="utf-8")) or {}
    # Practice extensions are added to, never replace, the shipped lists.
    for lang, lists in config.safety_phrases.items():
        section = data.setdefault("languages", {}).setdefault(lang, {})
        for kind, phrases in lists.items():
            section.setdefault(kind, [])
            section[kind] = list(section[kind]) + list(phrases)
    return RiskDetector.from_config(data)


def crisis_text(deps: EngineDeps, lang: str) -> str:
    res = deps.config.crisis_resources
    lines = [deps.catalog.t("safety.reply", lang), ""]
    lines += [f"• {r.name}: {r.contact}" for r in res.emergency + res.crisis_lines]
    return "\n".join(lines)


async def send_direct_safety_reply(adapter: Adapter, deps: EngineDeps, event: IncomingEvent) -> None:
    """Straight to the adapter, bypassing the outbox: the database just failed us."""
    message = OutgoingMessage(
        outbox_id=0, platform=event.platform, address=event.address,
        text=crisis_text(deps, deps.config.language),
    )
    try:
        await adapter.send(message)
        log.warning("safety: crisis resources sent directly while the database was unavailable")
    except SendError as exc:
        log.error("safety: direct crisis reply failed (%s)", type(exc).__name__)
