"""Send limits that hold for the whole deployment, kept in the database.

A platform's overall rate is a pool of tokens (``platform_pace``). A send takes a token
when its row is claimed (one that is free by the time the send is due, never earlier) and
gives it back ``hold`` seconds after the platform answered. The request arrived after the
token was free and before the answer came, so each token covers at most one arrival per
``hold`` seconds, and any window of ``hold``
seconds sees at most ``tokens`` requests, however many workers send and however late
their requests travel. (A plain "next slot" time would not: a request delayed on its way
lands next to the one after it.) The price is the answer's latency, added to every
token's cycle.

A chat's rate is its next allowed time (``chat_pace``), set in the transaction that
records the platform's answer, to ``answer + 1 / per_chat_per_second`` (or a retry-after).
A row is claimed only while its chat is allowed, and only a chat's oldest waiting row is
claimable, so one chat never has two sends in flight.

A worker killed mid-send keeps its tokens until their lease lapses (the same lease as its
claims, renewed while it lives); nothing else of it blocks anyone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.ports import RateLimit
from feedback_bot.storage.database import upsert_insert
from feedback_bot.storage.models import ChatPace, OutboxMessage, PlatformPace

# More tokens than this only make the claim's token query longer: above it, one token
# stands for several sends per second (a shorter hold).
MAX_TOKENS = 50
NEVER_USED = datetime(2000, 1, 1, tzinfo=UTC)
# How long a chat's pacing row is kept once its time has passed (privacy.retention).
CHAT_PACE_KEPT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Token:
    platform: str
    number: int


@dataclass
class SharedPace:
    """One platform's limits as the database keeps them."""

    platform: str
    limit: RateLimit
    _tokens_ready: bool = False

    @property
    def tokens(self) -> int:
        return max(1, min(MAX_TOKENS, math.floor(self.limit.overall_per_second)))

    @property
    def hold(self) -> timedelta:
        return timedelta(seconds=self.tokens / self.limit.overall_per_second)

    @property
    def spacing(self) -> timedelta:
        """Between two sends of one worker: the platform's rate, spread evenly (a burst
        of sends queues in the worker itself, and that wait lengthens every token's cycle)."""
        return timedelta(seconds=1 / self.limit.overall_per_second)

    @property
    def chat_gap(self) -> timedelta:
        return timedelta(seconds=1 / self.limit.per_chat_per_second)

    def _pool(self) -> list[ColumnElement[bool]]:
        return [PlatformPace.platform == self.platform, PlatformPace.token < self.tokens]

    async def _ensure_tokens(self, session: AsyncSession) -> None:
        if self._tokens_ready:
            return
        rows = [
            {"platform": self.platform, "token": n, "free_at": NEVER_USED}
            for n in range(self.tokens)
        ]
        insert = upsert_insert(session)
        await session.execute(insert(PlatformPace).values(rows).on_conflict_do_nothing())
        self._tokens_ready = True

    async def take(
        self, session: AsyncSession, n: int, by: datetime, holder: str, lease: timedelta
    ) -> list[tuple[Token, datetime]]:
        """Up to ``n`` tokens free by ``by``, each with the time it is free from (a send
        may use it from then on), held until given back or until the lease lapses. Asked
        after the rows, for as many as were found: none when nothing is waiting (the
        common claim), and no count of free tokens beforehand."""
        if n <= 0:
            return []
        await self._ensure_tokens(session)
        taken = list(
            (
                await session.execute(
                    select(PlatformPace.token, PlatformPace.free_at)
                    .where(*self._pool(), PlatformPace.free_at <= by)
                    .order_by(PlatformPace.free_at)
                    .limit(n)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        if taken:
            await session.execute(
                update(PlatformPace)
                .where(
                    PlatformPace.platform == self.platform,
                    PlatformPace.token.in_([number for number, _ in taken]),
                )
                .values(free_at=by + lease, held_by=holder)
            )
        return [(Token(self.platform, number), free_at) for number, free_at in taken]

    async def give_back(
        self, session: AsyncSession, token: Token, holder: str, answered: datetime | None
    ) -> None:
        """``answered``: when the platform answered (None: no request was made)."""
        free_at = answered + self.hold if answered is not None else NEVER_USED
        await session.execute(
            update(PlatformPace)
            .where(
                PlatformPace.platform == token.platform,
                PlatformPace.token == token.number,
                PlatformPace.held_by == holder,  # not after a lapsed lease: someone has it
            )
            .values(free_at=free_at, held_by=None)
        )

    async def chat_waits(self, session: AsyncSession, chat_hash: str, until: datetime) -> None:
        """Nothing more to this chat before ``until`` (from any worker)."""
        insert = upsert_insert(session)
        stmt = insert(ChatPace).values(
            platform=self.platform, chat_hash=chat_hash, next_allowed_at=until
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ChatPace.platform, ChatPace.chat_hash],
                set_={"next_allowed_at": stmt.excluded.next_allowed_at},
            )
        )

    async def forget_chat(self, session: AsyncSession, chat_hash: str) -> None:
        await session.execute(
            delete(ChatPace).where(
                ChatPace.platform == self.platform, ChatPace.chat_hash == chat_hash
            )
        )


def chat_allowed(now: datetime) -> ColumnElement[bool]:
    """For a claim: the outbox row's chat may receive a message now."""
    return ~exists().where(
        ChatPace.platform == OutboxMessage.platform,
        ChatPace.chat_hash == OutboxMessage.address,
        ChatPace.next_allowed_at > now,
    )


async def soonest_token(
    session: AsyncSession, paces: list[SharedPace], now: datetime
) -> datetime | None:
    """When a token of these platforms is next free, if none is free now. A token in
    flight (held) is back a hold after its answer at the earliest: a hold from now."""
    times = []
    for pace in paces:
        free_at, held = (
            await session.execute(
                select(
                    func.min(PlatformPace.free_at).filter(PlatformPace.held_by.is_(None)),
                    func.count().filter(PlatformPace.held_by.is_not(None)),
                ).where(*pace._pool())
            )
        ).one()
        if free_at is not None:
            times.append(free_at)
        if held:
            times.append(now + pace.hold)
    soonest = min(times, default=None)
    return soonest if soonest is not None and soonest > now else None


async def soonest_chat(
    session: AsyncSession, waiting: ColumnElement[bool], now: datetime
) -> datetime | None:
    """When the first chat with a due message (``waiting``) may receive it."""
    return await session.scalar(
        select(func.min(ChatPace.next_allowed_at)).where(
            ChatPace.next_allowed_at > now,
            exists().where(
                OutboxMessage.platform == ChatPace.platform,
                OutboxMessage.address == ChatPace.chat_hash,
                waiting,
            ),
        )
    )


async def renew_tokens(session: AsyncSession, holder: str, until: datetime) -> None:
    await session.execute(
        update(PlatformPace).where(PlatformPace.held_by == holder).values(free_at=until)
    )


async def release_tokens_of(
    session: AsyncSession, held: ColumnElement[bool], paces: dict[str, SharedPace], now: datetime
) -> None:
    """Tokens a previous life of this worker left taken: its last request may have just
    arrived, so they come back one hold from now."""
    for pace in paces.values():
        await session.execute(
            update(PlatformPace)
            .where(PlatformPace.platform == pace.platform, held)
            .values(free_at=now + pace.hold, held_by=None)
        )


async def forget_chats(session: AsyncSession, now: datetime) -> int:
    """Pacing rows whose time passed long ago say nothing any more (privacy.retention)."""
    result = await session.execute(
        delete(ChatPace).where(ChatPace.next_allowed_at < now - CHAT_PACE_KEPT)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def held_by_lives_of(worker_name: str) -> ColumnElement[bool]:
    return and_(
        PlatformPace.held_by.is_not(None),
        PlatformPace.held_by.startswith(f"{worker_name}/", autoescape=True),
    )
