"""Gentle check-ins: slots on the client's own calendar, sent once, reminded at most once.

Every slot is a row with a unique key (client, kind, slot time), inserted idempotently, and
a check-in is sent only by the transaction that moves it from ``scheduled`` to ``sent``.
So however many ticks, restarts or workers overlap, a slot produces one message at most.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.delivery.choice_ids import checkin_choice
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.metrics import CHECKINS_SENT
from feedback_bot.people.rules import client_chat, client_tz, client_tz_of
from feedback_bot.ports import Choice
from feedback_bot.scheduling.appointments import occurrences
from feedback_bot.scheduling.clock import Clock
from feedback_bot.scheduling.settings import SchedulingSettings
from feedback_bot.scheduling.wallclock import (
    after_quiet_hours,
    parse_hhmm,
    weekly_occurrence_on_or_before,
    zone,
)
from feedback_bot.services import Services
from feedback_bot.storage.database import upsert_insert
from feedback_bot.storage.models import (
    Appointment,
    Checkin,
    Client,
    Identity,
    Practice,
    Practitioner,
)
from feedback_bot.storage.states import (
    Cadence,
    CheckinKind,
    CheckinStatus,
    ClientStatus,
    Delivery,
    OutboxKind,
)

log = logging.getLogger(__name__)

# The answers a check-in offers, in order; "later" asks once more after a while.
CHECKIN_OPTIONS = ["good", "not_right", "nothing", "later"]

AFTER_SESSION_LOOKBACK = timedelta(days=7)
SEND_BATCH = 50


def jitter_seconds(client_id: int, slot: datetime, spread: int) -> int:
    """Stable per slot, so re-inserting a slot computes the same due time."""
    if spread <= 0:
        return 0
    digest = hashlib.sha256(f"{client_id}:{slot.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (spread + 1)


class CheckinScheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        deps: Services,
        clock: Clock,
        settings: SchedulingSettings,
    ) -> None:
        self._sessions = sessions
        self._deps = deps
        self._clock = clock
        self._settings = settings

    async def tick(self, now: datetime) -> None:
        # Each step's claims are conditional updates, so overlapping ticks (or workers)
        # still can't send a slot twice. Sending commits in small batches: a weekly burst
        # must not hold SQLite's write lock (and so every incoming message) for seconds.
        async with self._sessions() as session, session.begin():
            await self.plan(session, now)
        while True:
            async with self._sessions() as session, session.begin():
                if await self.send_due(session, now, limit=SEND_BATCH) < SEND_BATCH:
                    break
        async with self._sessions() as session, session.begin():
            await self.remind_due(session, now)
            await self.expire(session, now)

    # -- planning ------------------------------------------------------------------
    async def plan(self, session: AsyncSession, now: datetime) -> int:
        """Insert the slots that have come due; returns how many were new.

        Reads first and writes only what is missing: on SQLite a write takes the database
        lock until commit, so a tick that wrote for every client would hold up incoming
        messages for its whole length."""
        rows = (
            await session.execute(
                select(Client, Practitioner, Practice)
                .join(Practitioner, Practitioner.id == Client.practitioner_id)
                .join(Practice, Practice.id == Practitioner.practice_id)
                .where(Client.status == ClientStatus.ACTIVE, Client.checkin_cadence != Cadence.OFF)
            )
        ).all()
        if not rows:
            return 0
        ids = [client.id for client, _, _ in rows]
        appointments: dict[int, list[Appointment]] = defaultdict(list)
        for appt in (
            await session.execute(select(Appointment).where(Appointment.client_id.in_(ids)))
        ).scalars():
            appointments[appt.client_id].append(appt)
        wanted: list[tuple[Client, CheckinKind, datetime, str]] = []
        for client, practitioner, practice in rows:
            tz_name = client_tz(client, practitioner, practice)
            for kind, slot in self._slots(client, appointments[client.id], tz_name, now):
                wanted.append((client, kind, slot, tz_name))
        if not wanted:
            return 0
        earliest = min(slot for _, _, slot, _ in wanted)
        have = {
            (cid, kind, at.timestamp())
            for cid, kind, at in (
                await session.execute(
                    select(Checkin.client_id, Checkin.kind, Checkin.slot_at).where(
                        Checkin.client_id.in_(ids), Checkin.slot_at >= earliest
                    )
                )
            ).all()
        }
        created = 0
        for client, kind, slot, tz_name in wanted:
            if (client.id, kind, slot.timestamp()) not in have:
                created += await self._insert_slot(session, client, kind, slot, tz_name, now)
        return created

    @staticmethod
    def _slots(
        client: Client, appointments: list[Appointment], tz_name: str, now: datetime
    ) -> list[tuple[CheckinKind, datetime]]:
        since = client.consented_at or now
        if client.checkin_cadence == Cadence.WEEKLY:
            slot = weekly_occurrence_on_or_before(
                client.checkin_weekday, parse_hhmm(client.checkin_time), zone(tz_name), now
            )
            return [(CheckinKind.WEEKLY, slot)] if slot >= since else []
        out = []
        hours = timedelta(hours=client.after_session_hours)
        window_start = now - AFTER_SESSION_LOOKBACK - hours
        for appt in appointments:
            for start in occurrences(appt, tz_name, window_start, now):
                slot = start + timedelta(minutes=appt.duration_minutes) + hours
                if since <= slot <= now:
                    out.append((CheckinKind.AFTER_SESSION, slot))
        return out

    async def _insert_slot(
        self,
        session: AsyncSession,
        client: Client,
        kind: CheckinKind,
        slot: datetime,
        tz_name: str,
        now: datetime,
    ) -> int:
        tz = zone(tz_name)
        quiet = parse_hhmm(client.quiet_start), parse_hhmm(client.quiet_end)
        due = after_quiet_hours(slot, *quiet, tz)
        jittered = due + timedelta(
            seconds=jitter_seconds(client.id, slot, self._settings.jitter_seconds)
        )
        due = after_quiet_hours(jittered, *quiet, tz)
        grace = timedelta(minutes=self._settings.missed_slot_grace_minutes)
        status = CheckinStatus.MISSED if now - due > grace else CheckinStatus.SCHEDULED
        insert = upsert_insert(session)
        result = await session.execute(
            insert(Checkin)
            .values(
                client_id=client.id,
                kind=kind,
                slot_at=slot,
                due_at=due,
                status=status,
                reminded=False,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["client_id", "kind", "slot_at"])
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- sending -------------------------------------------------------------------
    async def send_due(self, session: AsyncSession, now: datetime, limit: int = SEND_BATCH) -> int:
        """Resolve up to ``limit`` due slots (sent, skipped or missed); returns how many."""
        grace = timedelta(minutes=self._settings.missed_slot_grace_minutes)
        due = (
            (
                await session.execute(
                    select(Checkin.id)
                    .where(Checkin.status == CheckinStatus.SCHEDULED, Checkin.due_at <= now)
                    .order_by(Checkin.due_at)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        for checkin_id in due:
            await self._send_one(session, checkin_id, now, grace)
        return len(due)

    async def _send_one(
        self, session: AsyncSession, checkin_id: int, now: datetime, grace: timedelta
    ) -> int:
        checkin = await session.get(Checkin, checkin_id)
        assert checkin is not None
        client = await session.get(Client, checkin.client_id)
        target = await client_chat(session, checkin.client_id)
        if now - checkin.due_at > grace:
            new_status = CheckinStatus.MISSED  # too late to be kind; the next slot will come
        elif client is None or client.status != ClientStatus.ACTIVE or target is None:
            new_status = CheckinStatus.SKIPPED
        else:
            new_status = CheckinStatus.SENT
        claimed = await session.execute(
            update(Checkin)
            .where(Checkin.id == checkin_id, Checkin.status == CheckinStatus.SCHEDULED)
            .values(status=new_status, sent_at=now if new_status == CheckinStatus.SENT else None)
        )
        if claimed.rowcount != 1 or new_status != CheckinStatus.SENT:  # type: ignore[attr-defined]
            return 0
        assert client is not None and target is not None
        # Only one open check-in at a time: an older unanswered one quietly lapses.
        await session.execute(
            update(Checkin)
            .where(
                Checkin.client_id == client.id,
                Checkin.id != checkin_id,
                Checkin.status.in_([CheckinStatus.SENT, CheckinStatus.SNOOZED]),
            )
            .values(status=CheckinStatus.EXPIRED)
        )
        self._enqueue(session, client, target, checkin_id, "checkin.ask", CHECKIN_OPTIONS, now)
        CHECKINS_SENT.inc()
        return 1

    def _enqueue(
        self,
        session: AsyncSession,
        client: Client,
        target: Identity,
        checkin_id: int,
        text_key: str,
        options: list[str],
        now: datetime,
    ) -> None:
        lang = client.language or self._deps.config.language
        p = self._deps.prefix(target.platform)
        choices = tuple(
            Choice(
                id=checkin_choice(checkin_id, k),
                label=self._deps.catalog.t(f"choices.{k}", lang),
            )
            for k in options
        )
        text = (
            self._deps.catalog.t(text_key, lang)
            + "\n\n"
            + self._deps.catalog.t("common.pause_stop", lang, p=p)
        )
        enqueue(
            session,
            self._deps.vault,
            platform=target.platform,
            address=target.address,
            identity_id=target.id,
            text=text,
            choices=choices,
            kind=OutboxKind.CHECKIN if text_key == "checkin.ask" else OutboxKind.REMINDER,
            delivery=Delivery.AT_MOST_ONCE,  # a nudge is never sent twice
            now=now,
        )

    async def remind_due(self, session: AsyncSession, now: datetime) -> int:
        sent = 0
        rows = (
            (
                await session.execute(
                    select(Checkin).where(
                        Checkin.status == CheckinStatus.SNOOZED,
                        Checkin.reminded.is_(False),
                        Checkin.remind_at <= now,
                    )
                )
            )
            .scalars()
            .all()
        )
        for checkin in rows:
            client = await session.get(Client, checkin.client_id)
            target = await client_chat(session, checkin.client_id)
            if client is None or client.status != ClientStatus.ACTIVE or target is None:
                continue
            tz = zone(await client_tz_of(session, client))
            quiet = parse_hhmm(client.quiet_start), parse_hhmm(client.quiet_end)
            later = after_quiet_hours(now, *quiet, tz)
            if later > now:
                checkin.remind_at = later
                continue
            claimed = await session.execute(
                update(Checkin)
                .where(Checkin.id == checkin.id, Checkin.reminded.is_(False))
                .values(reminded=True, status=CheckinStatus.SENT)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                options = [k for k in CHECKIN_OPTIONS if k != "later"]
                self._enqueue(session, client, target, checkin.id, "checkin.reminder", options, now)
                sent += 1
        return sent

    async def expire(self, session: AsyncSession, now: datetime) -> int:
        cutoff = now - timedelta(hours=self._deps.config.checkins.expire_hours)
        result = await session.execute(
            update(Checkin)
            .where(
                Checkin.status.in_([CheckinStatus.SENT, CheckinStatus.SNOOZED]),
                Checkin.sent_at <= cutoff,
            )
            .values(status=CheckinStatus.EXPIRED)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
