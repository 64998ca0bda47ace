"""Reading the database into a :class:`DigestView` for one reader (practitioner or the
practice's feedback contact). All content is read through :mod:`feedback_bot.privacy.access`."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Row, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.digest.view import ClientSection, DigestView, Flag, ItemView, ScorePoint
from feedback_bot.people.rules import practitioner_tz
from feedback_bot.privacy.access import Reader, may_read, read_text
from feedback_bot.services import Services
from feedback_bot.storage.models import (
    AllianceScore,
    Checkin,
    Client,
    FeedbackItem,
    Practice,
    Practitioner,
    SafetyEvent,
    alias_key,
)
from feedback_bot.storage.states import (
    CheckinStatus,
    ClientStatus,
    DigestKind,
    ItemStatus,
    Routing,
    Valence,
)

TREND_WEEKS = 8
RATE_WEEKS = 4
ANSWERED = ("answered",)
UNANSWERED = (CheckinStatus.EXPIRED, CheckinStatus.SENT, CheckinStatus.SNOOZED)


@dataclass
class BuiltDigest:
    view: DigestView
    item_ids: list[int]
    safety_ids: list[int]
    client_ids: list[int]


def _order_key(item: FeedbackItem) -> tuple[int, float]:
    # Items for the session and things that didn't feel right first, then "just so you know";
    # newest first within each group.
    top = item.routing == Routing.SESSION or item.valence == Valence.NOT_RIGHT
    stamp = (item.submitted_at or item.created_at).timestamp()
    return (0 if top else 1, -stamp)


def _floor(client: Client) -> datetime:
    """Nothing from before a client came to their practitioner counts in the digest:
    not words (privacy/access.py decides those), scores, flags nor check-ins."""
    return client.practitioner_since or datetime(1970, 1, 1, tzinfo=UTC)


class DigestBuilder:
    def __init__(self, session: AsyncSession, deps: Services, now: datetime) -> None:
        self.s = session
        self.deps = deps
        self.now = now

    def _t(self, key: str, lang: str, **params: object) -> str:
        return self.deps.catalog.t(key, lang, **params)

    async def build(
        self,
        reader: Practitioner,
        kind: str,
        *,
        lang: str,
        since: datetime | None,
        only_client_ids: list[int] | None = None,
        since_session: bool = False,
    ) -> BuiltDigest:
        """``since_session``: a pre-session digest, where ``since`` is the last session:
        everything shared after it comes again, even if an earlier digest showed it."""
        practice = await self.s.get(Practice, reader.practice_id)
        assert practice is not None
        as_contact = kind == DigestKind.CONTACT
        who = Reader("contact" if as_contact else "practitioner", reader.id)
        clients = await self._clients(reader, as_contact, only_client_ids)
        await self._prefetch(who, since if since_session else False)
        names = await self._practitioner_names(practice) if as_contact else {}
        sections: list[ClientSection] = []
        flags: list[Flag] = []
        item_ids: list[int] = []
        safety_ids: list[int] = []
        for client in clients:
            items = await self._new_items(who, client)
            views = []
            for item in sorted(items, key=_order_key):
                views.append(
                    ItemView(
                        item_id=item.id,
                        when=item.submitted_at or item.created_at,
                        valence=item.valence or Valence.OTHER,
                        routing=item.routing or Routing.FYI,
                        text=await read_text(self.s, self.deps.vault, who, item),
                        edited=item.edit_count > 0,
                        risk=item.risk,
                        seen_before=item.digest_id is not None,
                    )
                )
                item_ids.append(item.id)
            if not as_contact:
                safety = await self._new_safety(client)
                safety_ids += [e.id for e in safety]
                flags += await self._flags(client, items, safety, since, lang)
            # The feedback contact reads what was sent to them, nothing about how the
            # client uses the bot otherwise.
            sent, answered = await self._response(client) if not as_contact else (0, 0)
            scores = await self._scores(client) if not as_contact else ()
            if views or not as_contact:
                sections.append(
                    ClientSection(
                        client_id=client.id,
                        alias=client.alias,
                        items=tuple(views),
                        checkins_sent=sent,
                        checkins_answered=answered,
                        scores=scores,
                        status=client.status,
                        practitioner_name=names.get(client.practitioner_id) if as_contact else None,
                    )
                )
        if only_client_ids is None:
            # Quiet clients with nothing new don't need a section in a weekly digest.
            sections = [
                s for s in sections if s.items or any(f.client_alias == s.alias for f in flags)
            ]
        labels = {i.key: i.label for i in self.deps.config.alliance.items}
        view = DigestView(
            practitioner_name=reader.name,
            practice_name=practice.name,
            kind=kind,
            generated_at=self.now,
            timezone=practitioner_tz(reader, practice),
            since=since,
            language=lang,
            flags=tuple(flags),
            clients=tuple(sections),
            reflective_prompt=None if as_contact else self.deps.config.digest.reflective_prompt,
            score_item_labels=labels,
        )
        return BuiltDigest(view, item_ids, safety_ids, [s.client_id for s in sections])

    async def _clients(
        self, reader: Practitioner, as_contact: bool, only: list[int] | None
    ) -> list[Client]:
        if as_contact:
            # Whose items were sent to this person as the feedback contact, whether or not
            # they still are the contact; never their own clients.
            stmt = select(Client).where(
                Client.practitioner_id != reader.id,
                Client.id.in_(
                    select(FeedbackItem.client_id).where(
                        FeedbackItem.routing == Routing.CONTACT,
                        FeedbackItem.contact_id == reader.id,
                    )
                ),
            )
        else:
            stmt = select(Client).where(Client.practitioner_id == reader.id)
        if only is not None:
            stmt = stmt.where(Client.id.in_(only))
        # The same clients as a subquery: what follows is read for all of them at once
        # (a statement per table, not per client and table), binding no list of ids.
        self._client_ids = stmt.with_only_columns(Client.id)
        found = (await self.s.execute(stmt)).scalars()
        return sorted(found, key=lambda c: alias_key(c.alias))  # sealed: not sortable in SQL

    async def _prefetch(self, who: Reader, again_after: datetime | None | bool) -> None:
        ids = self._client_ids
        self._items: dict[int, list[FeedbackItem]] = {}
        rows = await self.s.execute(
            select(FeedbackItem).where(
                FeedbackItem.client_id.in_(ids), *self._item_filter(who, again_after)
            )
        )
        for item in rows.scalars():
            self._items.setdefault(item.client_id, []).append(item)
        self._safety: dict[int, list[SafetyEvent]] = {}
        if who.role != "contact":
            found = await self.s.execute(
                select(SafetyEvent).where(
                    SafetyEvent.client_id.in_(ids), SafetyEvent.digest_id.is_(None)
                )
            )
            for event in found.scalars():
                self._safety.setdefault(event.client_id, []).append(event)
        self._checkins: dict[int, list[tuple[str, datetime | None]]] = {}
        self._all_scores: dict[int, list[Row[int, str, int, datetime]]] = {}
        self._difficult: dict[int, datetime] = {}
        if who.role == "contact":
            return
        since = self.now - timedelta(weeks=RATE_WEEKS)
        for cid, status, sent_at in await self.s.execute(
            select(Checkin.client_id, Checkin.status, Checkin.sent_at).where(
                Checkin.client_id.in_(ids), Checkin.sent_at >= since
            )
        ):
            self._checkins.setdefault(cid, []).append((status, sent_at))
        # Plain rows, not ORM objects: a weekly digest reads hundreds of scores and
        # only looks at them (the ORM's identity map and attribute machinery for each
        # was a tenth of a digest's CPU in the 1,000 × 25 profile).
        scores = await self.s.execute(
            select(
                AllianceScore.client_id,
                AllianceScore.item_key,
                AllianceScore.score,
                AllianceScore.at,
            )
            .where(AllianceScore.client_id.in_(ids))
            .order_by(AllianceScore.at, AllianceScore.id)
        )
        for score in scores:
            self._all_scores.setdefault(score.client_id, []).append(score)
        for cid, at in await self.s.execute(
            select(FeedbackItem.client_id, func.max(FeedbackItem.submitted_at))
            .where(
                FeedbackItem.client_id.in_(ids),
                FeedbackItem.status == ItemStatus.SUBMITTED,
                FeedbackItem.routing != Routing.CONTACT,
                FeedbackItem.valence == Valence.NOT_RIGHT,
            )
            .group_by(FeedbackItem.client_id)
        ):
            if at is not None:
                self._difficult[cid] = at

    async def _practitioner_names(self, practice: Practice) -> dict[int, str]:
        found = await self.s.execute(
            select(Practitioner).where(Practitioner.practice_id == practice.id)
        )
        return {p.id: p.name for p in found.scalars()}  # sealed: decrypted on the object

    @staticmethod
    def _item_filter(who: Reader, again_after: datetime | None | bool) -> list[ColumnElement[bool]]:
        """Items no digest has carried; with ``again_after`` (a pre-session digest: the
        last session, or None when there was none) also those shown already but shared
        after it, since they have not been talked about yet."""
        unseen: ColumnElement[bool] = FeedbackItem.digest_id.is_(None)
        if again_after is None:
            unseen = or_(unseen, FeedbackItem.digest_id.is_not(None))
        elif isinstance(again_after, datetime):
            unseen = or_(unseen, FeedbackItem.submitted_at > again_after)
        route = (
            FeedbackItem.contact_id == who.id
            if who.role == "contact"
            else FeedbackItem.routing != Routing.CONTACT
        )
        return [FeedbackItem.status == ItemStatus.SUBMITTED, unseen, route]

    async def _new_items(self, who: Reader, client: Client) -> list[FeedbackItem]:
        # The one rule about who reads what decides here too, not only the query.
        return [i for i in self._items.get(client.id, []) if await may_read(self.s, who, i)]

    async def _new_safety(self, client: Client) -> list[SafetyEvent]:
        floor = _floor(client)
        return [e for e in self._safety.get(client.id, []) if e.at >= floor]

    async def _response(self, client: Client) -> tuple[int, int]:
        floor = _floor(client)
        rows = [s for s, at in self._checkins.get(client.id, []) if at is not None and at >= floor]
        return len(rows), sum(1 for s in rows if s in ANSWERED)

    async def _scores(self, client: Client) -> tuple[ScorePoint, ...]:
        since = max(self.now - timedelta(weeks=TREND_WEEKS), _floor(client))
        return tuple(
            ScorePoint(when=r.at, item_key=r.item_key, score=r.score)
            for r in self._all_scores.get(client.id, [])
            if r.at >= since
        )

    async def _flags(
        self,
        client: Client,
        items: list[FeedbackItem],
        safety: list[SafetyEvent],
        since: datetime | None,
        lang: str,
    ) -> list[Flag]:
        alias = client.alias
        flags: list[Flag] = []

        def flag(rule: str, at: datetime | None = None, **params: object) -> None:
            text = self._t(f"digest.flag.{rule}", lang, alias=alias, **params)
            flags.append(Flag(alias, rule, text, at=at))

        if safety:
            flag("risk", count=len(safety))
        n_not_right = sum(1 for i in items if i.valence == Valence.NOT_RIGHT)
        if n_not_right:
            newest = max((i.submitted_at or i.created_at) for i in items)
            flag("not_right", at=newest, count=n_not_right)
        await self._score_flags(client, since, flag)
        if (unanswered := await self._unanswered_after_difficult(client)) is not None:
            flag("unanswered", at=unanswered, weeks=self.deps.config.digest.unanswered_weeks)
        changed = client.status_changed_at
        if (
            client.status in (ClientStatus.PAUSED, ClientStatus.STOPPED)
            and changed
            and (since is None or changed > since)
        ):
            flag(client.status, at=changed)
        return flags

    async def _score_flags(self, client: Client, since: datetime | None, flag: object) -> None:
        cfg = self.deps.config.alliance
        if not cfg.enabled:
            return
        floor = _floor(client)
        # Ordered by time; nothing from before the client came to this practitioner.
        rows = [r for r in self._all_scores.get(client.id, []) if r.at >= floor]
        # Per item: its times and running sums, so "the average before this one" is a
        # lookup (it was a scan of every score for every recent score).
        series: dict[str, tuple[list[datetime], list[int]]] = {}
        for p in rows:
            times, sums = series.setdefault(p.item_key, ([], [0]))
            times.append(p.at)
            sums.append(sums[-1] + p.score)
        for r in rows:
            if since is not None and r.at <= since:
                continue
            times, sums = series[r.item_key]
            n = bisect.bisect_left(times, r.at)  # the scores strictly before this one
            label = next((i.label for i in cfg.items if i.key == r.item_key), r.item_key)
            if r.score <= cfg.low_cutoff:
                flag("low_score", at=r.at, item=label, score=r.score, cutoff=cfg.low_cutoff)  # type: ignore[operator]
            elif n and sums[n] / n - r.score >= cfg.drop:
                avg = round(sums[n] / n, 1)
                flag("score_drop", at=r.at, item=label, score=r.score, average=avg)  # type: ignore[operator]

    async def _unanswered_after_difficult(self, client: Client) -> datetime | None:
        """When the latest of the unanswered check-ins after a difficult item went out,
        if all of them went unanswered; else None."""
        weeks = self.deps.config.digest.unanswered_weeks
        difficult = self._difficult.get(client.id)
        if difficult is not None and difficult < _floor(client):
            difficult = None  # told to the practitioner before this one
        if difficult is None or self.now - difficult < timedelta(weeks=weeks):
            return None
        # Only what the practitioner may read counts, both ways: an item sent to the
        # feedback contact, or withdrawn, neither raises the flag nor quiets it.
        theirs = (
            FeedbackItem.client_id == client.id,
            FeedbackItem.status == ItemStatus.SUBMITTED,
            FeedbackItem.routing != Routing.CONTACT,
            FeedbackItem.submitted_at >= _floor(client),
        )
        after = (
            await self.s.execute(
                select(Checkin.status, Checkin.sent_at).where(
                    Checkin.client_id == client.id, Checkin.sent_at > difficult
                )
            )
        ).all()
        newer_feedback = await self.s.scalar(
            select(FeedbackItem.id).where(*theirs, FeedbackItem.submitted_at > difficult).limit(1)
        )
        if len(after) >= 2 and all(s in UNANSWERED for s, _ in after) and newer_feedback is None:
            return max(at for _, at in after if at is not None)
        return None
