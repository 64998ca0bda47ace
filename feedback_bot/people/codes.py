"""Invite and link codes: single use, expiring, 192 bits of randomness, URL-safe so they
fit a Telegram deep link (``A-Za-z0-9_-``, at most 64 characters)."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.privacy.vault import code_hash
from feedback_bot.storage.models import InviteCode

CODE_BYTES = 24  # 192 bits → 32 characters
CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def issue(
    session: AsyncSession,
    *,
    now: datetime,
    valid_days: int,
    client_id: int | None = None,
    practitioner_id: int | None = None,
    admin_id: int | None = None,
) -> str:
    code = new_code()
    session.add(
        InviteCode(
            code_hash=code_hash(code),
            client_id=client_id,
            practitioner_id=practitioner_id,
            admin_id=admin_id,
            expires_at=now + timedelta(days=valid_days),
            created_at=now,
        )
    )
    return code


async def redeem(session: AsyncSession, code: str, now: datetime) -> InviteCode | None:
    """The code's row, marked used, or None if it is unknown, used or expired."""
    code = code.strip()
    if not CODE_SHAPE.match(code):
        return None
    wanted = code_hash(code)
    row = (
        await session.execute(
            select(InviteCode).where(InviteCode.code_hash == wanted).with_for_update()
        )
    ).scalar_one_or_none()
    # The lookup is by hash of a high-entropy secret; the compare is constant time anyway.
    if row is None or not hmac.compare_digest(row.code_hash, wanted):
        return None
    if row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    return row


class FailedCodeThrottle:
    """Slows down guessing from one chat. In memory on purpose: unlinked chats must leave
    nothing in the database."""

    def __init__(self, max_failures: int = 5, window_seconds: float = 900.0) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] > self._window:
            q.popleft()
        return q

    def blocked(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return len(self._prune(key, now)) >= self._max

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._prune(key, now).append(now)
        if len(self._failures) > 10_000:  # bounded memory under a flood of new chats
            self._failures.pop(next(iter(self._failures)))
