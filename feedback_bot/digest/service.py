"""When digests go out, what marks items as seen, and closing the loop with clients."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from feedback_bot.catalog import Catalog
from feedback_bot.delivery.attachments import html_file, png_image, private_dir, write_private
from feedback_bot.delivery.choice_ids import digest_ack, reply_choice
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.digest.build import BuiltDigest, DigestBuilder
from feedback_bot.digest.render import render_chat_text, render_html, render_markdown
from feedback_bot.digest.view import DigestView
from feedback_bot.people.rules import practitioner_chats, practitioner_tz
from feedback_bot.ports import Choice
from feedback_bot.privacy.audit import record
from feedback_bot.scheduling.appointments import occurrences
from feedback_bot.scheduling.clock import Clock
from feedback_bot.scheduling.due import next_pre_session_digest, next_weekly_digest
from feedback_bot.scheduling.wallclock import parse_hhmm, weekly_occurrence_on_or_before, zone
from feedback_bot.services import Services
from feedback_bot.storage.database import upsert_insert
from feedback_bot.storage.models import (
    Appointment,
    Client,
    Digest,
    FeedbackItem,
    Identity,
    Practice,
    Practitioner,
    SafetyEvent,
    new_uid,
)
from feedback_bot.storage.states import ClientStatus, DigestKind, ItemStatus, OutboxKind, Routing

log = logging.getLogger(__name__)

# How far back a pre-session digest looks for the last session (none within it: it
# shows everything the client has shared so far).
LAST_SESSION_LOOKBACK = timedelta(days=120)
DUE_BATCH = 500  # practitioners (or appointments) looked at per beat and kind


def trend_chart(view: DigestView, catalog: Catalog) -> bytes | None:
    # Imported when first drawn: charts are drawn about once a week.
    from feedback_bot.digest.chart import render_trend_chart

    return render_trend_chart(view, catalog)


class DigestService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        deps: Services,
        clock: Clock,
        missed_grace: timedelta = timedelta(hours=2),
    ) -> None:
        self._sessions = sessions
        self._deps = deps
        self._clock = clock
        # A weekly digest missed by longer (the bot was down) waits for next week rather
        # than arriving at an odd hour.
        self._grace = missed_grace

    # -- scheduled -----------------------------------------------------------------
    async def tick(self, now: datetime) -> int:
        """Weekly digests of practitioners, and pre-session digests of appointments, whose
        stored next-due time has come; each in its own transaction, which claims the row,
        moves its time on and composes the digest, so one failure loses nothing else."""
        sent = 0
        for model, run in ((Practitioner, self._weekly), (Appointment, self._pre_session)):
            seen: set[int] = set()  # rows another worker holds come back: look once
            while fresh := [i for i in await self._due(model, now) if i not in seen]:
                seen.update(fresh)
                for row_id in fresh:
                    sent += await run(row_id, now)
        return sent

    async def _due(self, model: type[Practitioner] | type[Appointment], now: datetime) -> list[int]:
        """Ids whose digest time has come, soonest first, a bounded batch."""
        async with self._sessions() as session:
            return list(
                (
                    await session.execute(
                        select(model.id)
                        .where(model.next_digest_at <= now)
                        .order_by(model.next_digest_at)
                        .limit(DUE_BATCH)
                    )
                ).scalars()
            )

    @staticmethod
    async def _claim_due(
        session: AsyncSession,
        model: type[Practitioner] | type[Appointment],
        row_id: int,
        now: datetime,
    ) -> Practitioner | Appointment | None:
        """The row, locked, if it is still due (another worker may have taken it)."""
        row = (
            await session.execute(
                select(model)
                .where(model.id == row_id, model.next_digest_at <= now)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        return cast(Practitioner | Appointment | None, row)

    async def _weekly(self, practitioner_id: int, now: datetime) -> int:
        sent = 0
        async with self._sessions() as session, session.begin():
            pr = await self._claim_due(session, Practitioner, practitioner_id, now)
            if not isinstance(pr, Practitioner):
                return 0
            practice = await session.get(Practice, pr.practice_id)
            assert practice is not None
            # Moved on in this transaction: claimed once, whatever else ticks.
            pr.next_digest_at = next_weekly_digest(pr, practice, now) if pr.active else None
            await session.flush()
            if not pr.active:
                return 0
            tz = zone(practitioner_tz(pr, practice))
            slot = weekly_occurrence_on_or_before(
                pr.digest_weekday, parse_hhmm(pr.digest_time), tz, now
            )
            if now - slot > self._grace or slot < pr.created_at:
                return 0
            kinds = [DigestKind.WEEKLY] + (
                [DigestKind.CONTACT] if await is_contact(session, practice, pr.id) else []
            )
            for kind in kinds:
                digest = await self._claim_slot(session, pr.id, kind, slot.isoformat(), now)
                if digest is not None:
                    sent += await self._compose(
                        session,
                        pr,
                        digest,
                        since=await self._last_sent(session, pr.id, kind, digest.id),
                    )
        return sent

    async def _pre_session(self, appointment_id: int, now: datetime) -> int:
        sent = 0
        async with self._sessions() as session, session.begin():
            appt = await self._claim_due(session, Appointment, appointment_id, now)
            if not isinstance(appt, Appointment):
                return 0
            client = await session.get(Client, appt.client_id)
            assert client is not None
            pr, practice = await self._load(session, client.practitioner_id)
            tz_name = practitioner_tz(pr, practice)
            lead = timedelta(hours=pr.pre_session_hours)
            appt.next_digest_at = next_pre_session_digest(appt, tz_name, lead, now + lead)
            await session.flush()
            if not pr.active or client.status not in (ClientStatus.ACTIVE, ClientStatus.PAUSED):
                return 0
            for start in occurrences(appt, tz_name, now, now + lead):
                key = f"{appt.client_id}:{start.isoformat()}"
                digest = await self._claim_slot(session, pr.id, DigestKind.PRE_SESSION, key, now)
                if digest is not None:
                    # Everything since the client's last session, not only since a digest.
                    theirs = await session.execute(
                        select(Appointment).where(Appointment.client_id == appt.client_id)
                    )
                    last = _last_session(list(theirs.scalars()), appt.client_id, tz_name, now)
                    sent += await self._compose(
                        session,
                        pr,
                        digest,
                        since=last,
                        only=[appt.client_id],
                        since_session=True,
                    )
        return sent

    async def _claim_slot(
        self, session: AsyncSession, practitioner_id: int, kind: str, slot_key: str, now: datetime
    ) -> Digest | None:
        """The digest row for this slot if this call created it; None if it already existed."""
        slot = (
            Digest.practitioner_id == practitioner_id,
            Digest.kind == kind,
            Digest.slot_key == slot_key,
        )
        if await session.scalar(select(Digest.id).where(*slot)) is not None:
            return None  # the common case on every tick: read, don't write
        insert = upsert_insert(session)
        result = await session.execute(
            insert(Digest)
            .values(
                uid=new_uid(),
                practitioner_id=practitioner_id,
                kind=kind,
                slot_key=slot_key,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["practitioner_id", "kind", "slot_key"])
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        return (await session.execute(select(Digest).where(*slot))).scalar_one()

    async def _last_sent(
        self, session: AsyncSession, practitioner_id: int, kind: str, exclude: int
    ) -> datetime | None:
        return await session.scalar(
            select(Digest.sent_at)
            .where(
                Digest.practitioner_id == practitioner_id,
                Digest.kind == kind,
                Digest.id != exclude,
                Digest.sent_at.is_not(None),
            )
            .order_by(Digest.sent_at.desc())
            .limit(1)
        )

    # -- composing and sending -----------------------------------------------------
    async def _compose(
        self,
        session: AsyncSession,
        pr: Practitioner,
        digest: Digest,
        *,
        since: datetime | None,
        only: list[int] | None = None,
        on_demand: bool = False,
        since_session: bool = False,
    ) -> int:
        now = self._clock.now()
        deps = await self._deps.for_practice_id(session, pr.practice_id)
        targets = await practitioner_chats(session, pr.id)
        lang = deps.config.reader_language(*(i.language for i in targets))
        built = await DigestBuilder(session, deps, now).build(
            pr,
            digest.kind,
            lang=lang,
            since=since,
            only_client_ids=only,
            since_session=since_session,
        )
        if not on_demand and (
            built.view.is_empty or await self._only_old_flags(session, pr.id, digest, built)
        ):
            return 0  # the row stays as the slot's marker, unsent
        if not targets:
            log.info("digest %s: practitioner %s has no reachable chat", digest.id, pr.id)
            return 0
        for ident in targets:
            self._enqueue_digest(session, deps, ident, digest, built, lang, now)
        if built.item_ids:  # at most the items of one digest
            await session.execute(
                update(FeedbackItem)
                # An item shown again before a session keeps the digest it first came in:
                # acknowledging that one is what tells the client.
                .where(FeedbackItem.id.in_(built.item_ids), FeedbackItem.digest_id.is_(None))
                .values(digest_id=digest.id)
            )
        if built.safety_ids:
            await session.execute(
                update(SafetyEvent)
                .where(SafetyEvent.id.in_(built.safety_ids))
                .values(digest_id=digest.id)
            )
        digest.sent_at = now
        await record(
            session,
            now,
            "system",
            "digest.sent",
            "digest",
            digest.id,
            practitioner=pr.id,
            items=len(built.item_ids),
            kind=digest.kind,
        )
        return 1

    async def _only_old_flags(
        self, session: AsyncSession, practitioner_id: int, digest: Digest, built: BuiltDigest
    ) -> bool:
        """Nothing new but flags an earlier digest already carried ("Nothing new from Kim",
        again): not worth a message of its own."""
        if built.safety_ids or any(c.items for c in built.view.clients):
            return False
        if any(f.at is None for f in built.view.flags):
            return False
        last = await session.scalar(
            select(func.max(Digest.sent_at)).where(
                Digest.practitioner_id == practitioner_id,
                Digest.kind != DigestKind.CONTACT,
                Digest.id != digest.id,
                Digest.sent_at.is_not(None),
            )
        )
        return last is not None and all(f.at is not None and f.at <= last for f in built.view.flags)

    @staticmethod
    def _enqueue_digest(
        session: AsyncSession,
        deps: Services,
        ident: Identity,
        digest: Digest,
        built: BuiltDigest,
        lang: str,
        now: datetime,
    ) -> None:
        cat, view = deps.catalog, built.view
        p = deps.prefix(ident.platform)
        stamp = now.astimezone(zone(view.timezone)).strftime("%Y-%m-%d")
        if view.is_empty:
            # The renderer already words an empty digest ("Nothing new since …").
            enqueue(
                session,
                deps.vault,
                platform=ident.platform,
                address=ident.address,
                identity_id=ident.id,
                text=render_chat_text(view, cat),
                kind=OutboxKind.DIGEST,
                now=now,
            )
            return
        chart = trend_chart(view, cat)
        attachments = [
            html_file(cat.t("digest.file_html", lang, date=stamp), render_html(view, cat, chart))
        ]
        if chart is not None:
            attachments.insert(0, png_image(cat.t("digest.file_chart", lang, date=stamp), chart))
        hint = "digest_hint.contact" if digest.kind == DigestKind.CONTACT else "digest.ack_hint"
        text = "\n\n".join([render_chat_text(view, cat), cat.t(hint, lang, p=p)])
        choices = digest_choices(view, digest, cat, lang)
        digest.choices = [c.id for c in choices]
        enqueue(
            session,
            deps.vault,
            platform=ident.platform,
            address=ident.address,
            identity_id=ident.id,
            text=text,
            attachments=tuple(attachments),
            protect=True,
            choices=choices,
            kind=OutboxKind.DIGEST,
            digest_id=digest.id,
            now=now,
        )

    # -- on demand -----------------------------------------------------------------
    async def on_demand(
        self, session: AsyncSession, pr: Practitioner, only: list[int] | None, now: datetime
    ) -> int:
        practice = await session.get(Practice, pr.practice_id)
        as_contact = practice is not None and await is_contact(session, practice, pr.id)
        has_clients = await session.scalar(
            select(Client.id).where(Client.practitioner_id == pr.id).limit(1)
        )
        sent = 0
        if has_clients is not None or not as_contact:
            digest = await self._new_on_demand(session, pr.id, DigestKind.ON_DEMAND, now)
            since = await self._last_sent(session, pr.id, DigestKind.WEEKLY, digest.id)
            sent += await self._compose(session, pr, digest, since=since, only=only, on_demand=True)
        if as_contact and only is None:
            # The feedback contact also gets what clients sent to them instead.
            digest = await self._new_on_demand(session, pr.id, DigestKind.CONTACT, now)
            since = await self._last_sent(session, pr.id, DigestKind.CONTACT, digest.id)
            sent += await self._compose(
                session, pr, digest, since=since, on_demand=has_clients is None
            )
        return sent

    @staticmethod
    async def _new_on_demand(
        session: AsyncSession, practitioner_id: int, kind: str, now: datetime
    ) -> Digest:
        """An on-demand digest's row: its slot key is new, so nothing to claim (one INSERT
        where a scheduled slot's claim takes three statements)."""
        digest = Digest(
            uid=new_uid(),
            practitioner_id=practitioner_id,
            kind=kind,
            slot_key=f"od:{new_uid()}",
            created_at=now,
        )
        session.add(digest)
        await session.flush()
        return digest

    async def send_now(self, practitioner_id: int) -> int:
        """``feedback-bot digest send``: like the command, for admins and cron."""
        async with self._sessions() as session, session.begin():
            pr, _ = await self._load(session, practitioner_id)
            return await self.on_demand(session, pr, None, self._clock.now())

    async def send_all(
        self,
        progress: Callable[[int, int], None] = lambda done, total: None,
        share: tuple[int, int] = (0, 1),
    ) -> int:
        """``feedback-bot digest send --all``: a digest now for every active practitioner,
        each in its own transaction (one failure loses nothing else), walked in id order
        a batch at a time. ``progress(done, total)`` after each; returns how many went out.

        ``share=(k, n)`` takes only the practitioners whose id is k modulo n, so that n
        processes can split the work between them (``app/digest_processes.py``)."""
        k, n = share
        mine: list[ColumnElement[bool]] = [cast(ColumnElement[bool], Practitioner.active)]
        if n > 1:
            mine.append(Practitioner.id % n == k)
        async with self._sessions() as session:
            total = int(
                await session.scalar(select(func.count()).select_from(Practitioner).where(*mine))
                or 0
            )
        done = sent = 0
        after = 0
        while True:
            async with self._sessions() as session:
                ids = list(
                    (
                        await session.execute(
                            select(Practitioner.id)
                            .where(*mine, Practitioner.id > after)
                            .order_by(Practitioner.id)
                            .limit(DUE_BATCH)
                        )
                    ).scalars()
                )
            if not ids:
                return sent
            for practitioner_id in ids:
                sent += await self.send_now(practitioner_id)
                done += 1
                progress(done, max(total, done))
            after = ids[-1]

    async def render_files(self, practitioner_id: int, out_dir: Path) -> list[Path]:
        """Write the digest as it would be sent now, without marking anything as seen.

        The files hold clients' own words, so reading them this way is audited, and they
        are owner-only from the moment they exist (never world-readable, then chmod'ed)."""
        now = self._clock.now()
        async with self._sessions() as session:
            pr, _ = await self._load(session, practitioner_id)
            deps = await self._deps.for_practice_id(session, pr.practice_id)
            built = await DigestBuilder(session, deps, now).build(
                pr, DigestKind.ON_DEMAND, lang=deps.config.language, since=None
            )
            await session.rollback()
        async with self._sessions() as session, session.begin():
            await record(session, now, "admin", "digest.rendered", "practitioner", practitioner_id)
        private_dir(out_dir)
        chart = trend_chart(built.view, deps.catalog)
        cat = deps.catalog
        files: dict[str, bytes] = {
            "digest.md": render_markdown(built.view, cat).encode("utf-8"),
            "digest.html": render_html(built.view, cat, chart).encode("utf-8"),
        }
        if chart is not None:
            files["trend.png"] = chart
        return [write_private(out_dir / name, data) for name, data in files.items()]

    @staticmethod
    async def _load(session: AsyncSession, practitioner_id: int) -> tuple[Practitioner, Practice]:
        pr = await session.get(Practitioner, practitioner_id)
        if pr is None:
            raise LookupError(f"no practitioner with id {practitioner_id}")
        practice = await session.get(Practice, pr.practice_id)
        assert practice is not None
        return pr, practice


async def is_contact(session: AsyncSession, practice: Practice, practitioner_id: int) -> bool:
    """The practice's feedback contact now, or someone who was and still has items sent to
    them then waiting: those stay theirs to read, whoever took the role over."""
    if practice.feedback_contact_id == practitioner_id:
        return True
    waiting = await session.scalar(
        select(FeedbackItem.id)
        .where(
            FeedbackItem.contact_id == practitioner_id,
            FeedbackItem.routing == Routing.CONTACT,
            FeedbackItem.status == ItemStatus.SUBMITTED,
            FeedbackItem.digest_id.is_(None),
        )
        .limit(1)
    )
    return waiting is not None


def digest_choices(view: DigestView, digest: Digest, cat: Catalog, lang: str) -> tuple[Choice, ...]:
    """ "I've read this", then "Reply to …" for each client with words in it. A feedback
    contact's digest has no reply buttons: what was sent to them instead is not answered
    in the practitioner's name (``digest/loop.py``, ``may_reply``)."""
    choices = [Choice(id=digest_ack(digest.id), label=cat.t("choices.ack", lang))]
    if digest.kind == DigestKind.CONTACT:
        return tuple(choices)
    for section in view.clients:
        shown = [i for i in section.items if not i.withdrawn]
        if not shown or section.status not in (ClientStatus.ACTIVE, ClientStatus.PAUSED):
            continue
        latest = max(shown, key=lambda i: (i.when, i.item_id))
        label = cat.t("reply.button", lang, alias=section.alias)
        choices.append(Choice(id=reply_choice(latest.item_id), label=label))
    return tuple(choices)


def _last_session(
    appointments: list[Appointment], client_id: int, tz_name: str, now: datetime
) -> datetime | None:
    """When the client's latest session before now began; None if they have had none."""
    starts = [
        start
        for appt in appointments
        if appt.client_id == client_id
        for start in occurrences(appt, tz_name, now - LAST_SESSION_LOOKBACK, now)
        if start < now
    ]
    return max(starts, default=None)
