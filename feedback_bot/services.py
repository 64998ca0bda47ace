"""Shared services every part of the core is handed: encryption, texts, practice
configuration, the crisis detector and what the platforms told us at start.

It sits below the conversation, the digests and the scheduler, so none of them has to
import another to reach these."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydantic import ValidationError

from feedback_bot.catalog import Catalog
from feedback_bot.people.practice_config import (
    BY_LANGUAGE,
    CrisisResources,
    CrisisResourcesByLanguage,
    PracticeConfig,
)
from feedback_bot.privacy.vault import Vault
from feedback_bot.safety import RiskDetector
from feedback_bot.storage.models import Practice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsoleLinks:
    """Where the web console is, for sign-in links sent in chat (None: console off)."""

    base_url: str
    link_minutes: int = 10


@dataclass
class Services:
    vault: Vault
    catalog: Catalog
    config: PracticeConfig
    detector: RiskDetector
    command_prefixes: dict[str, str] = field(default_factory=dict)
    invite_links: dict[str, str] = field(default_factory=dict)  # platform → "…{code}"
    max_text_chars: int = 20_000
    retention_days: int = 365
    invite_valid_days: int = 7
    console: ConsoleLinks | None = None

    def prefix(self, platform: str) -> str:
        return self.command_prefixes.get(platform, "!")

    def crisis_resources(self, lang: str, practice: Practice | None = None) -> CrisisResources:
        """The practice's own resources if it has them, else the deployment's; in the
        reader's language, else in the deployment's default language."""
        own = practice_crisis_resources(practice)
        if own is not None:
            found = own.get(lang) or own.get(self.config.language)
            if found is not None:
                return found
        return self.config.crisis_resources_for(lang)

    def top_emergency(self, lang: str, practice: Practice | None = None) -> str:
        """The first emergency number, without its notes ("112", not "112 (or 911 …)")."""
        res = self.crisis_resources(lang, practice)
        first = (res.emergency or res.all())[0].contact if res.all() else "112"
        return first.split(" (", 1)[0].strip() or first

    def crisis_block(self, lang: str, practice: Practice | None = None) -> str:
        """Crisis resources under a short heading, in the reader's language."""
        res = self.crisis_resources(lang, practice)
        lines = [self.catalog.t("common.crisis_header", lang)]
        lines += [f"• {r.name}: {r.contact}" for r in res.all()]
        return "\n".join(lines)

    def crisis_reply(self, lang: str, practice: Practice | None = None) -> str:
        """What someone who may be in danger is told, by the outbox or directly."""
        # Short and warm, the resources straight after, then why they should use them now.
        return "\n\n".join(
            [
                self.catalog.t("safety.reply", lang),
                self.crisis_block(lang, practice),
                self.catalog.t("safety.after", lang),
            ]
        )


def practice_crisis_resources(practice: Practice | None) -> CrisisResourcesByLanguage | None:
    """A practice's own crisis resources (``feedback-bot practice crisis-resources``), or
    None. They were validated when stored; should the row be unreadable all the same, the
    deployment's resources are shown rather than none."""
    if practice is None or not practice.crisis_resources:
        return None
    try:
        return BY_LANGUAGE.validate_python(practice.crisis_resources)
    except ValidationError:
        log.error("practice %s: stored crisis resources unreadable, using defaults", practice.id)
        return None
