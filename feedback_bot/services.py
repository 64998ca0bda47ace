"""Shared services every part of the core is handed: encryption, texts, practice
configuration, the crisis detector and what the platforms told us at start.

It sits below the conversation, the digests and the scheduler, so none of them has to
import another to reach these."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.catalog import Catalog
from feedback_bot.people.practice_config import CrisisResources, PracticeSettings
from feedback_bot.people.practice_settings import load_settings
from feedback_bot.privacy.vault import Vault
from feedback_bot.safety import RiskDetector


@dataclass(frozen=True)
class ConsoleLinks:
    """Where the web console is, for sign-in links sent in chat (None: console off)."""

    base_url: str
    link_minutes: int = 10


@dataclass
class Services:
    """``config`` and ``catalog`` are the deployment's (its file, its texts) until
    ``for_practice`` gives a copy with one practice's settings and texts: every turn and
    every scheduled message gets that copy, read fresh from the database."""

    vault: Vault
    catalog: Catalog
    config: PracticeSettings
    detector: RiskDetector
    command_prefixes: dict[str, str] = field(default_factory=dict)
    invite_links: dict[str, str] = field(default_factory=dict)  # platform → "…{code}"
    max_text_chars: int = 20_000
    retention_days: int = 365
    invite_valid_days: int = 7
    console: ConsoleLinks | None = None
    base_catalog: Catalog | None = None  # the bot's own texts, without the file's overrides
    practice_id: int | None = None  # whose settings ``config`` holds; None: the deployment's
    root: Services | None = field(default=None, repr=False)

    def prefix(self, platform: str) -> str:
        return self.command_prefixes.get(platform, "!")

    @property
    def deployment(self) -> Services:
        return self.root or self

    def for_practice(self, practice_id: int, settings: PracticeSettings) -> Services:
        """These services with one practice's settings and texts."""
        root = self.deployment
        base = root.base_catalog or root.catalog
        return dataclasses.replace(
            root,
            config=settings,
            catalog=base.with_overrides(settings.texts),
            practice_id=practice_id,
            root=root,
        )

    async def for_practice_id(self, session: AsyncSession, practice_id: int) -> Services:
        """The practice's settings as stored now (a change counts from the next message)."""
        if self.practice_id == practice_id:
            return self
        settings = await load_settings(session, practice_id, defaults=self.deployment.config)
        return self.for_practice(practice_id, settings)

    def crisis_resources(self, lang: str) -> CrisisResources:
        """The practice's resources in the reader's language, else in its default language."""
        return self.config.crisis_resources_for(lang)

    def top_emergency(self, lang: str) -> str:
        """The first emergency number, without its notes ("112", not "112 (or 911 …)")."""
        res = self.crisis_resources(lang)
        first = (res.emergency or res.all())[0].contact if res.all() else "112"
        return first.split(" (", 1)[0].strip() or first

    def crisis_block(self, lang: str) -> str:
        """Crisis resources under a short heading, in the reader's language."""
        res = self.crisis_resources(lang)
        lines = [self.catalog.t("common.crisis_header", lang)]
        lines += [f"• {r.name}: {r.contact}" for r in res.all()]
        return "\n".join(lines)

    def crisis_reply(self, lang: str) -> str:
        """What someone who may be in danger is told, by the outbox or directly."""
        # Short and warm, the resources straight after, then why they should use them now.
        return "\n\n".join(
            [
                self.catalog.t("safety.reply", lang),
                self.crisis_block(lang),
                self.catalog.t("safety.after", lang),
            ]
        )
