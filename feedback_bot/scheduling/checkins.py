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
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, func, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.delivery.choice_ids import checkin_choice
from feedback_bot.delivery.outbox import enqueue_many, outbox_values
from feedback_bot.metrics import CHECKINS_SENT
from feedback_bot.people.rules import client_chat, client_tz_of
from feedback_bot.ports import Choice
from feedback_bot.scheduling.clock import Clock
from feedback_bot.scheduling.due import next_slot_after, slots_owed
from feedback_bot.scheduling.settings import SchedulingSettings
from feedback_bot.scheduling.wallclock import after_quiet_hours, parse_hhmm, zone
from feedback_bot.services import Services
from feedback_bot.storage.database import upsert_insert
from feedback_bot.storage.models import (
    Appointment,
    Checkin,
    Client,
    Identity,
    Practice,
    PracticeSettingsRecord,
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

# Clients planned, and due slots resolved, per transaction (see ``tick``).
PLAN_BATCH = 500
SEND_BATCH = 200


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
        # Planning reads only clients whose stored next-due time has come, and both steps
        # commit per bounded batch: a weekly burst must not hold SQLite's write lock (and
        # so every incoming message) for longer than one batch. Claims are row locks on
        # PostgreSQL and conditional updates everywhere, so overlapping ticks (or
        # workers) still can't send a slot twice.
        async with self._sessions() as session:
            plan, send, remind, expire = await self._due_work(session, now)
        if not (plan or send or remind or expire):
            return
        while plan:
            async with self._sessions() as session, session.begin():
                if await self.plan(session, now, limit=PLAN_BATCH) < PLAN_BATCH:
                    break
        while plan or send:  # planning may have made slots due now
            async with self._sessions() as session, session.begin():
                if await self.send_due(session, now, limit=SEND_BATCH) < SEND_BATCH:
                    break
        if remind or expire:
            async with self._sessions() as session, session.begin():
                await self.remind_due(session, now)
                await self.expire(session, now)

    async def _due_work(self, session: AsyncSession, now: datetime) -> tuple[bool, ...]:
        """Which steps have anything to do, in one indexed read: most beats have nothing,
        and on a busy machine each transaction and round trip costs more than its query.

        Asked as the earliest time per index (``min``), not ``EXISTS (… <= now)``: a
        minimum is the first entry of the index whatever the statistics say, while
        PostgreSQL answered the EXISTS with a scan of every client when its statistics
        were from before the last burst (every client "due"): 68 ms at 100,000 clients,
        every beat, until the next ANALYZE."""

        def earliest(column: Any, *where: Any) -> Any:
            return select(func.min(column)).where(*where).scalar_subquery()

        cutoff = now - timedelta(hours=self._deps.config.checkins.expire_hours)
        plan, send, remind, sent, snoozed = (
            await session.execute(
                select(
                    earliest(Client.next_checkin_at),
                    earliest(Checkin.due_at, Checkin.status == CheckinStatus.SCHEDULED),
                    earliest(
                        Checkin.remind_at,
                        Checkin.status == CheckinStatus.SNOOZED,
                        Checkin.reminded.is_(False),
                    ),
                    # One status each: the minimum over two is not an index's first entry.
                    earliest(Checkin.sent_at, Checkin.status == CheckinStatus.SENT),
                    earliest(Checkin.sent_at, Checkin.status == CheckinStatus.SNOOZED),
                )
            )
        ).one()

        def by(at: datetime | None, limit: datetime) -> bool:
            return at is not None and at <= limit

        return (
            by(plan, now),
            by(send, now),
            by(remind, now),
            by(sent, cutoff) or by(snoozed, cutoff),
        )

    # -- planning ------------------------------------------------------------------
    async def plan(self, session: AsyncSession, now: datetime, limit: int = PLAN_BATCH) -> int:
        """Plan up to ``limit`` clients whose next check-in time has come: insert the
        slots they are owed (the unique key makes a second insert a no-op) and move their
        next-due time on, in this transaction. Returns how many clients were looked at."""
        rows = (
            await session.execute(
                select(
                    Client.id,
                    Client.status,
                    Client.checkin_cadence,
                    Client.checkin_weekday,
                    Client.checkin_time,
                    Client.after_session_hours,
                    Client.quiet_start,
                    Client.quiet_end,
                    Client.consented_at,
                    Client.next_checkin_at,
                    func.coalesce(Client.timezone, Practitioner.timezone, Practice.timezone),
                )
                .join(Practitioner, Practitioner.id == Client.practitioner_id)
                .join(Practice, Practice.id == Practitioner.practice_id)
                .where(Client.next_checkin_at <= now)
                .order_by(Client.next_checkin_at)
                .limit(limit)
                .with_for_update(of=Client, skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        appointments: dict[int, list[Appointment]] = defaultdict(list)
        after_session = [r.id for r in rows if r.checkin_cadence == Cadence.AFTER_SESSION]
        if after_session:  # at most ``limit`` ids
            for appt in (
                await session.execute(
                    select(Appointment).where(Appointment.client_id.in_(after_session))
                )
            ).scalars():
                appointments[appt.client_id].append(appt)
        slots: list[dict[str, object]] = []
        moves: list[dict[str, object]] = []
        for row in rows:
            tz_name = str(row[-1])
            appts = appointments[row.id]
            for kind, slot in slots_owed(row, appts, tz_name, now):
                slots.append(self._slot_row(row, kind, slot, tz_name, now))
            moves.append(
                {
                    "b_id": row.id,
                    "b_old": row.next_checkin_at,
                    "b_new": next_slot_after(row, appts, tz_name, now),
                }
            )
        if slots:
            insert = upsert_insert(session)
            await session.execute(
                insert(Checkin).on_conflict_do_nothing(
                    index_elements=["client_id", "kind", "slot_at"]
                ),
                slots,
            )
        # Conditional on the time read: a change committed meanwhile (SQLite has no row
        # locks) keeps the time it computed.
        table = cast(Table, Client.__table__)
        conn = await session.connection()
        await conn.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.next_checkin_at == bindparam("b_old"))
            .values(next_checkin_at=bindparam("b_new")),
            moves,
        )
        return len(rows)

    def _slot_row(
        self, client: Any, kind: CheckinKind, slot: datetime, tz_name: str, now: datetime
    ) -> dict[str, object]:
        tz = zone(tz_name)
        quiet = parse_hhmm(client.quiet_start), parse_hhmm(client.quiet_end)
        due = after_quiet_hours(slot, *quiet, tz)
        jittered = due + timedelta(
            seconds=jitter_seconds(client.id, slot, self._settings.jitter_seconds)
        )
        due = after_quiet_hours(jittered, *quiet, tz)
        grace = timedelta(minutes=self._settings.missed_slot_grace_minutes)
        status = CheckinStatus.MISSED if now - due > grace else CheckinStatus.SCHEDULED
        return {
            "client_id": client.id,
            "kind": kind,
            "slot_at": slot,
            "due_at": due,
            "status": status,
            "reminded": False,
            "created_at": now,
        }

    # -- sending -------------------------------------------------------------------
    async def send_due(self, session: AsyncSession, now: datetime, limit: int = SEND_BATCH) -> int:
        """Resolve up to ``limit`` due slots (sent, skipped or missed); returns how many."""
        grace = timedelta(minutes=self._settings.missed_slot_grace_minutes)
        due = (
            await session.execute(
                select(
                    Checkin.id,
                    Checkin.client_id,
                    Checkin.due_at,
                    Client.status,
                    Client.language,
                    Practitioner.practice_id,
                )
                .join(Client, Client.id == Checkin.client_id)
                .join(Practitioner, Practitioner.id == Client.practitioner_id)
                .where(Checkin.status == CheckinStatus.SCHEDULED, Checkin.due_at <= now)
                # In no order: the tick resolves every due slot before it returns, so
                # which batch one falls in changes nothing. Ordered, PostgreSQL with
                # statistics from a quiet hour (few slots scheduled) joined and sorted
                # *every* due slot to return ``limit`` of them, once per batch: 850 ms
                # for the first batch of a 100,000-slot burst (EXPLAIN ANALYZE), 13 ms
                # without the ORDER BY. (A tie-breaker did the same on both databases.)
                .limit(limit)
                .with_for_update(of=Checkin, skip_locked=True)
            )
        ).all()
        if not due:
            return 0
        targets: dict[int, Identity] = {}
        for ident in (
            await session.execute(
                select(Identity)
                .where(
                    Identity.client_id.in_({r.client_id for r in due}),  # at most ``limit``
                    Identity.reachable.is_(True),
                )
                .order_by(Identity.id.desc())
            )
        ).scalars():
            assert ident.client_id is not None
            targets[ident.client_id] = ident  # the oldest reachable chat wins (client_chat)
        outcome: dict[CheckinStatus, list[int]] = defaultdict(list)
        for r in due:
            if now - r.due_at > grace:
                outcome[CheckinStatus.MISSED].append(r.id)  # too late to be kind
            elif r.status != ClientStatus.ACTIVE or r.client_id not in targets:
                outcome[CheckinStatus.SKIPPED].append(r.id)
            else:
                outcome[CheckinStatus.SENT].append(r.id)
        claimed: set[int] = set()
        for status, ids in outcome.items():
            result = await session.execute(
                update(Checkin)
                # ``status || ''``: not a column SQLite can look up, so it finds the rows by
                # id. Given ``status = ?`` it walked the (status, due_at) index over every
                # scheduled slot instead, once per batch: a weekly burst went quadratic.
                .where(
                    Checkin.id.in_(ids),
                    type_coerce(Checkin.status, String).concat("") == CheckinStatus.SCHEDULED.value,
                )
                .values(status=status, sent_at=now if status == CheckinStatus.SENT else None)
                .returning(Checkin.id)
                .execution_options(synchronize_session=False)
            )
            if status == CheckinStatus.SENT:
                claimed.update(result.scalars())
        sent = [r for r in due if r.id in claimed]
        if not sent:
            return len(due)
        # Only one open check-in at a time: an older unanswered one quietly lapses (also
        # one sent earlier in this batch, when a client had two slots due).
        newest = {r.client_id: r.id for r in sent}
        # One statement per client, found by its client_id index alone. An IN list over a
        # table the planner has no statistics for yet (a first weekly burst) made
        # PostgreSQL scan all of it; and with ``status = ?`` indexable it ANDed the
        # client's rows with every 'sent' row of the (status, sent_at) index, 1 ms per
        # client and growing with the burst (EXPLAIN ANALYZE: 40,000 index entries read
        # to find none). ``status || ''`` leaves it only the client's own rows.
        table = cast(Table, Checkin.__table__)
        state = type_coerce(table.c.status, String).concat("")
        conn = await session.connection()
        await conn.execute(
            update(table)
            .where(
                table.c.client_id == bindparam("b_client"),
                table.c.id != bindparam("b_keep"),
                # Not in_(): an expanding list cannot be used with executemany.
                or_(state == CheckinStatus.SENT.value, state == CheckinStatus.SNOOZED.value),
            )
            .values(status=CheckinStatus.EXPIRED),
            [{"b_client": c, "b_keep": k} for c, k in newest.items()],
        )
        practices: dict[int, Services] = {}  # each practice's settings, read once per batch
        wordings: dict[tuple[int, str, str, str], tuple[str, tuple[str, ...]]] = {}
        rows: list[dict[str, object]] = []
        for r in sent:
            deps = practices.get(r.practice_id)
            if deps is None:
                deps = practices[r.practice_id] = await self._deps.for_practice_id(
                    session, r.practice_id
                )
            target = targets[r.client_id]
            lang = deps.config.reader_language(r.language, target.language)
            rows.append(
                self._message(
                    deps,
                    r.practice_id,
                    lang,
                    target,
                    r.id,
                    "checkin.ask",
                    CHECKIN_OPTIONS,
                    now,
                    wordings,
                )
            )
        await enqueue_many(session, rows)
        CHECKINS_SENT.inc(len(sent))
        return len(due)

    @staticmethod
    def _message(
        deps: Services,
        practice_id: int,
        lang: str,
        target: Identity,
        checkin_id: int,
        text_key: str,
        options: list[str],
        now: datetime,
        wordings: dict[tuple[int, str, str, str], tuple[str, tuple[str, ...]]],
    ) -> dict[str, object]:
        """The outbox row asking (or reminding) about one check-in. ``wordings``: texts
        already rendered in this batch (the same few for every client of a practice and
        language)."""
        p = deps.prefix(target.platform)
        key = (practice_id, lang, p, text_key)
        if key not in wordings:
            t = deps.catalog.t
            text = t(text_key, lang) + "\n\n" + t("common.pause_stop", lang, p=p)
            wordings[key] = (text, tuple(t(f"choices.{k}", lang) for k in options))
        text, labels = wordings[key]
        choices = tuple(
            Choice(id=checkin_choice(checkin_id, k), label=label)
            for k, label in zip(options, labels, strict=True)
        )
        return outbox_values(
            deps.vault,
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
                pr = await session.get(Practitioner, client.practitioner_id)
                assert pr is not None
                deps = await self._deps.for_practice_id(session, pr.practice_id)
                lang = deps.config.reader_language(client.language, target.language)
                row = self._message(
                    deps,
                    pr.practice_id,
                    lang,
                    target,
                    checkin.id,
                    "checkin.reminder",
                    options,
                    now,
                    {},
                )
                await enqueue_many(session, [row])
                sent += 1
        return sent

    async def expire(self, session: AsyncSession, now: datetime) -> int:
        """Unanswered check-ins lapse after their practice's ``checkins.expire_hours``:
        one statement per distinct value (practices without stored settings follow the
        deployment's)."""
        hours: dict[int, list[int]] = defaultdict(list)
        for practice_id, document in await session.execute(
            select(PracticeSettingsRecord.practice_id, PracticeSettingsRecord.document)
        ):
            checkins = document.get("checkins") if isinstance(document, dict) else None
            value = checkins.get("expire_hours") if isinstance(checkins, dict) else None
            hours[value if isinstance(value, int) else -1].append(practice_id)
        default = self._deps.deployment.config.checkins.expire_hours
        stored = [pid for ids in hours.values() for pid in ids]
        groups = [
            (h if h > 0 else default, Practitioner.practice_id.in_(ids)) for h, ids in hours.items()
        ]
        groups.append((default, Practitioner.practice_id.not_in(stored)))
        expired = 0
        for h, practices in groups:
            result = await session.execute(
                update(Checkin)
                .where(
                    Checkin.status.in_([CheckinStatus.SENT, CheckinStatus.SNOOZED]),
                    Checkin.sent_at <= now - timedelta(hours=h),
                    Checkin.client_id.in_(
                        select(Client.id)
                        .join(Practitioner, Practitioner.id == Client.practitioner_id)
                        .where(practices)
                    ),
                )
                .values(status=CheckinStatus.EXPIRED)
                .execution_options(synchronize_session=False)
            )
            expired += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return expired
