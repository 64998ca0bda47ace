"""What practice admins do: set up practices, practitioners and invites. Admins configure;
nothing here reads client content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.people.clients import AliasTaken, create_client
from feedback_bot.people.codes import issue
from feedback_bot.people.practice_config import BY_LANGUAGE, CrisisResourcesByLanguage
from feedback_bot.people.practice_settings import (
    create_settings,
    load_settings,
    save_settings,
    settings_document,
)
from feedback_bot.privacy.audit import list_events, record
from feedback_bot.scheduling.clock import Clock
from feedback_bot.scheduling.due import reschedule_practitioner
from feedback_bot.scheduling.wallclock import WEEKDAYS, is_valid_zone
from feedback_bot.services import Services
from feedback_bot.storage.models import AuditEvent, Identity, Practice, Practitioner


class AdminError(Exception):
    """``code`` as :class:`~feedback_bot.people.directory.DirectoryError`'s: ``not_found``,
    ``inactive``, ``alias_taken``, ``invalid``."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Invite:
    client_id: int
    alias: str
    code: str
    links: dict[str, str]


class Admin:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], deps: Services, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._deps = deps
        self._clock = clock

    async def create_practice(self, name: str, timezone: str) -> int:
        if not is_valid_zone(timezone):
            raise AdminError(f"unknown time zone {timezone!r} (use a name like Europe/Berlin)")
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            defaults = self._deps.deployment.config
            practice = Practice(
                name=name, timezone=timezone, language=defaults.language, created_at=now
            )
            session.add(practice)
            await session.flush()
            # The deployment's file as it is today: later edits to it change no practice.
            await create_settings(session, practice.id, defaults, now)
            await record(session, now, "admin", "practice.created", "practice", practice.id)
            return practice.id

    async def add_practitioner(
        self,
        practice_id: int,
        name: str,
        timezone: str | None = None,
        feedback_contact: bool = False,
        platform_user: tuple[str, str] | None = None,
        *,
        actor: str = "admin",
    ) -> tuple[int, str]:
        """Returns the practitioner id and their one-time link code. ``platform_user`` is
        (platform, user id) on a platform whose adapter opens the DM itself (Matrix)."""
        if timezone is not None and not is_valid_zone(timezone):
            raise AdminError(f"unknown time zone {timezone!r}")
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            practice = await session.get(Practice, practice_id)
            if practice is None:
                raise AdminError(f"no practice with id {practice_id}", "not_found")
            if practice.deactivated_at is not None:
                raise AdminError(f"practice {practice_id} is deactivated", "inactive")
            d = (await self._deps.for_practice_id(session, practice_id)).config.digest
            pr = Practitioner(
                practice_id=practice_id,
                name=name,
                timezone=timezone,
                digest_weekday=WEEKDAYS.index(d.weekly_day),
                digest_time=d.weekly_time,
                pre_session_hours=d.pre_session_hours,
                platform=platform_user[0] if platform_user else None,
                platform_user_id=platform_user[1] if platform_user else None,
                active=True,
                created_at=now,
            )
            session.add(pr)
            await session.flush()
            await reschedule_practitioner(session, pr, now)
            if feedback_contact:
                practice.feedback_contact_id = pr.id
            code = issue(
                session, now=now, valid_days=self._deps.invite_valid_days, practitioner_id=pr.id
            )
            await record(
                session,
                now,
                actor,
                "practitioner.added",
                "practitioner",
                pr.id,
                practice=practice_id,
            )
            return pr.id, code

    async def unlink_practitioner(self, practitioner_id: int) -> tuple[int, str]:
        """Remove the practitioner's chats (a lost phone, a left job) and issue a new link
        code. Their clients and the clients' data stay; nothing is sent until they re-link."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            pr = await session.get(Practitioner, practitioner_id)
            if pr is None:
                raise AdminError(f"no practitioner with id {practitioner_id}", "not_found")
            if not pr.active:
                raise AdminError(f"practitioner {practitioner_id} is deactivated", "inactive")
            chats = await session.execute(
                delete(Identity).where(Identity.practitioner_id == practitioner_id)
            )
            code = issue(
                session, now=now, valid_days=self._deps.invite_valid_days, practitioner_id=pr.id
            )
            await record(
                session,
                now,
                "admin",
                "practitioner.unlinked",
                "practitioner",
                pr.id,
                chats=int(chats.rowcount or 0),  # type: ignore[attr-defined]
            )
            return pr.id, code

    async def set_feedback_contact(
        self, practice_id: int, practitioner_id: int, *, actor: str = "admin"
    ) -> None:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            practice = await session.get(Practice, practice_id)
            pr = await session.get(Practitioner, practitioner_id)
            if practice is None or pr is None or pr.practice_id != practice_id:
                raise AdminError("that practitioner is not part of that practice")
            practice.feedback_contact_id = practitioner_id
            await record(
                session,
                now,
                actor,
                "practice.feedback_contact",
                "practice",
                practice_id,
                practitioner=practitioner_id,
            )

    async def set_crisis_resources(
        self,
        practice_id: int,
        resources: CrisisResourcesByLanguage | None,
        *,
        actor: str = "admin",
    ) -> None:
        """Replace the practice's crisis resources, or with None go back to the deployment
        file's. Every language the practice offers needs an emergency number and a crisis
        line. The audit records the practice and the setting, never the contents."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            if await session.get(Practice, practice_id) is None:
                raise AdminError(f"no practice with id {practice_id}", "not_found")
            current = await load_settings(
                session, practice_id, defaults=self._deps.deployment.config
            )
            chosen = (
                self._deps.deployment.config.crisis_resources if resources is None else resources
            )
            doc = settings_document(current)
            doc["crisis_resources"] = BY_LANGUAGE.dump_python(chosen, mode="json")
            errors = await save_settings(
                session,
                practice_id,
                doc,
                actor=actor,
                now=now,
                action="practice.setting_changed" if resources else "practice.setting_reset",
            )
            if errors:
                raise AdminError("; ".join(e.message for e in errors))

    async def languages(self, practice_id: int) -> list[str]:
        """The languages the practice offers now."""
        async with self._sessions() as session:
            if await session.get(Practice, practice_id) is None:
                raise AdminError(f"no practice with id {practice_id}", "not_found")
            deps = await self._deps.for_practice_id(session, practice_id)
        return deps.config.offered_languages

    async def crisis_resources(self, practice_id: int) -> tuple[str, CrisisResourcesByLanguage]:
        """What the practice's clients are shown, per language offered, and whose resources
        they are: ``"practice"`` (its own) or ``"deployment"`` (the same as the file's)."""
        async with self._sessions() as session:
            if await session.get(Practice, practice_id) is None:
                raise AdminError(f"no practice with id {practice_id}", "not_found")
            deps = await self._deps.for_practice_id(session, practice_id)
        own = deps.config.crisis_resources != self._deps.deployment.config.crisis_resources
        languages = deps.config.offered_languages
        return (
            "practice" if own else "deployment",
            {lang: deps.crisis_resources(lang) for lang in languages},
        )

    async def invite_client(
        self, practitioner_id: int, alias: str | None = None, *, actor: str = "admin"
    ) -> Invite:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            pr = await session.get(Practitioner, practitioner_id)
            if pr is None:
                raise AdminError(f"no practitioner with id {practitioner_id}", "not_found")
            if not pr.active:
                raise AdminError(f"practitioner {practitioner_id} is deactivated", "inactive")
            try:
                deps = await self._deps.for_practice_id(session, pr.practice_id)
                client = await create_client(session, deps.config, practitioner_id, alias, now)
            except AliasTaken as taken:
                raise AdminError(
                    f"practitioner {practitioner_id} already has a client called "
                    f"{taken.alias!r}; choose another alias",
                    "alias_taken",
                ) from None
            code = issue(
                session, now=now, valid_days=self._deps.invite_valid_days, client_id=client.id
            )
            await record(session, now, actor, "client.invited", "client", client.id)
            links = {p: t.format(code=code) for p, t in self._deps.invite_links.items()}
            return Invite(client_id=client.id, alias=client.alias, code=code, links=links)

    async def audit_log(
        self,
        limit: int = 200,
        *,
        practice_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEvent]:
        async with self._sessions() as session:
            if practice_id is not None and await session.get(Practice, practice_id) is None:
                raise AdminError(f"no practice with id {practice_id}", "not_found")
            return await list_events(
                session, practice_id=practice_id, since=since, until=until, limit=limit
            )
