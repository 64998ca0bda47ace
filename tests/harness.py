"""Driving the whole app like a conversation, through the console adapter (our in-memory
test backend), with a fake clock and a real database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapters.console import ConsoleAdapter
from adapters.registry import platforms
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.app.platforms import settings_class
from feedback_bot.app.settings import Settings
from feedback_bot.conversation.commands import COMMANDS, Role
from feedback_bot.ports import OutgoingMessage
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.scheduling.clock import FakeClock
from feedback_bot.storage.models import Checkin, Client

REPO = Path(__file__).resolve().parent.parent


def t(bot: Harness, key: str, **params: object) -> str:
    """A catalog text as the console shows it to Sam's clients, for exact comparisons."""
    params.setdefault("p", "!")
    params.setdefault("practitioner", "Sam")
    return bot.app.catalog.t(key, "en", **params)


def help_text(bot: Harness, role: Role) -> str:
    """The help a client or practitioner gets, as the console shows it (built from the
    command table: an intro, then one line per command)."""
    return COMMANDS.help_text(bot.app.catalog, "en", role, p="!")


async def rows(bot: Harness, model: Any, *where: Any) -> list[Any]:
    async with bot.app.sessions() as s:
        return list((await s.execute(select(model).where(*where))).scalars())


async def count(bot: Harness, model: Any, *where: Any) -> int:
    async with bot.app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def alex_linked(bot: Harness) -> int:
    """Sam ("dr") and their client Alex ("alex"), linked and Sam's notices read; Alex's id."""
    pid = await bot.practitioner("dr", name="Sam")
    cid = await bot.client("alex", pid)
    bot.new_messages("dr")
    return cid


def settings_for(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "encryption_key": generate_key(),
        "prompts_file": REPO / "config" / "prompts.yaml",
    }
    values.update(overrides)
    # With every registered platform's section: settings_for(url, telegram=...) works.
    return settings_class(platforms())(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    app: App
    console: ConsoleAdapter
    clock: FakeClock
    tmp: Path
    seen: dict[str, int] = field(default_factory=dict)
    # (fake clock at delivery, text) per address: what a person saw, and when.
    deliveries: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    practice_id: int = 0

    async def close(self) -> None:
        await self.app.close()

    async def fake_sleep(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    # -- conversation ------------------------------------------------------------
    def new_messages(self, who: str) -> list[OutgoingMessage]:
        sent = self.console.sent[who]
        start = self.seen.get(who, 0)
        self.seen[who] = len(sent)
        return sent[start:]

    async def says(self, who: str, text: str) -> list[str]:
        await self.console.say(who, text)
        await self.app.drain()
        return [m.text for m in self.new_messages(who)]

    async def presses(self, who: str, label: str) -> list[str]:
        """Press the button with this label on the latest message that has buttons."""
        msg = self.last_with_choices(who)
        matches = [c for c in msg.choices if c.label == label]
        assert matches, f"no button {label!r}; have {[c.label for c in msg.choices]}"
        await self.console.press(who, matches[0].id)
        await self.app.drain()
        return [m.text for m in self.new_messages(who)]

    def last_with_choices(self, who: str) -> OutgoingMessage:
        for msg in reversed(self.console.sent[who]):
            if msg.choices:
                return msg
        raise AssertionError(f"{who} has no message with choices")

    def all_text(self, who: str) -> str:
        return "\n".join(m.text for m in self.console.sent[who])

    async def tick(self, **delta: float) -> None:
        if delta:
            self.clock.advance(timedelta(**delta))
        await self.app.tick()
        await self.app.drain()

    # -- set-up shortcuts ----------------------------------------------------------
    async def practitioner(
        self,
        who: str = "dr",
        name: str = "Sam",
        tz: str | None = None,
        feedback_contact: bool = False,
    ) -> int:
        if not self.practice_id:
            self.practice_id = await self.app.admin.create_practice(
                "Riverside Practice", "Europe/London"
            )
        pid, code = await self.app.admin.add_practitioner(
            self.practice_id, name, timezone=tz, feedback_contact=feedback_contact
        )
        await self.says(who, f"!start {code}")
        return pid

    async def client(
        self, who: str, practitioner_id: int, alias: str | None = None, alerts: bool = False
    ) -> int:
        invite = await self.app.admin.invite_client(practitioner_id, alias or who.title())
        await self.says(who, f"!start {invite.code}")
        await self.presses(who, "I agree")
        await self.presses(who, "Yes, let them know" if alerts else "No, thank you")
        return invite.client_id

    async def shares(self, who: str, text: str, valence: str, route: str) -> list[str]:
        """A client writes, says how it felt and where it goes; the replies to the last."""
        await self.says(who, text)
        await self.presses(who, valence)
        return await self.presses(who, route)

    async def checkins_unanswered(self, alias: str, weeks: int) -> None:
        """Weekly check-ins for the next ``weeks`` weeks, each sent and left unanswered."""
        async with self.app.sessions() as s, s.begin():
            client = (await s.execute(select(Client).where(Client.alias == alias))).scalar_one()
            for week in range(1, weeks + 1):
                slot = self.clock.now() + timedelta(weeks=week)
                s.add(
                    Checkin(
                        client_id=client.id,
                        kind="weekly",
                        slot_at=slot,
                        due_at=slot,
                        status="expired",
                        sent_at=slot,
                        created_at=slot,
                    )
                )


async def make_harness(
    database_url: str, tmp: Path, start: datetime, **settings: object
) -> Harness:
    clock = FakeClock(start)
    deliveries: dict[str, list[tuple[datetime, str]]] = {}

    def record(message: OutgoingMessage) -> None:
        deliveries.setdefault(message.address, []).append((clock.now(), message.text))

    console = ConsoleAdapter(output=record, attachments_dir=tmp / "attachments")

    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    app = await build_app(
        settings_for(database_url, **settings), adapters=[console], clock=clock, sleep=sleep
    )
    await console.start(app.receive)
    return Harness(app=app, console=console, clock=clock, tmp=tmp, deliveries=deliveries)
