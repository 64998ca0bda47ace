"""Shared services every part of the core is handed: encryption, texts, practice
configuration, the crisis detector and what the platforms told us at start.

It sits below the conversation, the digests and the scheduler, so none of them has to
import another to reach these."""

from __future__ import annotations

from dataclasses import dataclass, field

from feedback_bot.catalog import Catalog
from feedback_bot.people.practice_config import PracticeConfig
from feedback_bot.privacy.vault import Vault
from feedback_bot.safety import RiskDetector


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

    def prefix(self, platform: str) -> str:
        return self.command_prefixes.get(platform, "!")

    def crisis_block(self, lang: str) -> str:
        """The practice's crisis resources under a short heading, in the reader's language."""
        res = self.config.crisis_resources
        lines = [self.catalog.t("common.crisis_header", lang)]
        lines += [f"• {r.name}: {r.contact}" for r in res.emergency + res.crisis_lines]
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
