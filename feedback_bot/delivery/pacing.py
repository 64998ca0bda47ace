"""Per-chat and per-platform send pacing, plus holds from a platform's retry-after."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from feedback_bot.ports import RateLimit


@dataclass
class Pacer:
    limit: RateLimit
    _next_chat: dict[str, datetime] = field(default_factory=dict)
    _next_any: datetime | None = None

    def chat_ready_at(self, chat: str) -> datetime | None:
        return self._next_chat.get(chat)

    def busy_chats(self, now: datetime) -> list[str]:
        """Chats that may not receive anything yet (at most a second's worth, or held)."""
        return [chat for chat, ready in self._next_chat.items() if ready > now]

    def next_ready(self, now: datetime) -> datetime | None:
        waiting = [ready for ready in self._next_chat.values() if ready > now]
        return min(waiting) if waiting else None

    def wait_for_platform(self, now: datetime) -> float:
        if self._next_any is None or self._next_any <= now:
            return 0.0
        return (self._next_any - now).total_seconds()

    def sent(self, chat: str, at: datetime) -> None:
        self._next_chat[chat] = max(
            self._next_chat.get(chat, at),
            at + timedelta(seconds=1 / self.limit.per_chat_per_second),
        )
        self._next_any = at + timedelta(seconds=1 / self.limit.overall_per_second)
        if len(self._next_chat) > 50_000:
            self._forget_before(at)

    def hold(self, chat: str, until: datetime) -> None:
        """The platform asked us to wait for this chat only."""
        self._next_chat[chat] = max(self._next_chat.get(chat, until), until)

    def _forget_before(self, now: datetime) -> None:
        self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
