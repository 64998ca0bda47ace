"""``feedback-bot chat``: talk to the bot in a terminal, as a client or a practitioner.

To make trying it effortless, a missing practice, practitioner or invite is created on
the configured database, and this terminal is linked to it. Several terminals may share
one database (a client in one, the practitioner in another): each delivers only its own
person's messages and shows them as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from sqlalchemy import select

from adapters.console import ConsoleAdapter
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.app.settings import Settings
from feedback_bot.ports import OutgoingMessage
from feedback_bot.storage.models import Identity, Practice, Practitioner

POLL_SECONDS = 1.0  # how soon a message from the other terminal shows up here


def address_of(role: str) -> str:
    return f"terminal-{role}"


async def chat_session(settings: Settings, role: str, files_dir: Path) -> None:
    term = Console()
    address = address_of(role)
    console: ConsoleAdapter

    def show(message: OutgoingMessage) -> None:
        # The core already adds the numbered choices to the text (the console has no
        # buttons). Text(...) prints it literally: "[alias]" is not Rich markup.
        body = Text(message.text)
        for att in message.attachments:
            body.append(
                f"\n📎 {att.filename} saved to {console.attachment_path(address, att.filename)}"
            )
        term.print(Panel(body, title="bot", title_align="left", border_style="cyan"))

    console = ConsoleAdapter(output=show, attachments_dir=files_dir)
    app = await build_app(settings, adapters=[console])
    app.dispatcher.serve_only(console.platform, [address])
    await console.start(app.receive)
    lock = asyncio.Lock()  # one drain at a time: the poller and the typist share the app

    async def drain() -> None:
        async with lock:
            await app.drain()

    async def poll() -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await drain()

    poller: asyncio.Task[None] | None = None
    try:
        await _link(app, console, term, role, address)
        await drain()
        term.print(
            Text("Type a message, a number to choose, or !help. !quit to leave."), style="dim"
        )
        poller = asyncio.create_task(poll())
        while True:
            line = await _read(term)
            if line is None or line.strip() in ("!quit", "!exit"):
                return
            if line.strip():
                await console.say(address, line)
                await drain()
    finally:
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        await app.close()


async def _link(app: App, console: ConsoleAdapter, term: Console, role: str, address: str) -> None:
    async with app.sessions() as session:
        linked = (
            await session.execute(
                select(Identity).where(Identity.platform == "console", Identity.address == address)
            )
        ).scalar_one_or_none()
        existing = list((await session.execute(select(Practitioner))).scalars())
        practice_ids = [p.id for p in (await session.execute(select(Practice))).scalars()]
    if linked is not None:
        return
    if not existing:
        practice = practice_ids[0] if practice_ids else None
        if practice is None:
            practice = await app.admin.create_practice("My Practice", "Europe/London")
        pid, code = await app.admin.add_practitioner(practice, "Practitioner")
        if role == "practitioner":
            await console.say(address, f"!start {code}")
            return
    else:
        pid = existing[0].id
        if role == "practitioner":
            term.print(_practitioner_hint(existing))
            return
    code = (await app.admin.invite_client(pid, "Terminal client")).code
    await console.say(address, f"!start {code}")


def _practitioner_hint(existing: list[Practitioner]) -> Text:
    """This database has practitioners already: linking this terminal to one of them is
    their (or an admin's) decision, so say how rather than take over their account."""
    names = ", ".join(f"{p.name} (id {p.id})" for p in existing)
    first = existing[0]
    return Text(
        f"This terminal is not linked to a practitioner yet. This database has: {names}.\n"
        "To link it, get a code in another terminal, then type !start CODE here:\n"
        f"  feedback-bot practitioner unlink --id {first.id}   "
        "(a new code for them; their other chats are disconnected)\n"
        f"  feedback-bot practitioner add --practice {first.practice_id} --name NAME   "
        "(a new practitioner)",
        style="yellow",
    )


async def _read(term: Console) -> str | None:
    try:
        return await asyncio.to_thread(term.input, Text("> ", style="green"))
    except EOFError:
        return None
