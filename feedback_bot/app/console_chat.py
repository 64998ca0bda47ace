"""``feedback-bot chat``: talk to the bot in a terminal, as a client or a practitioner.

To make trying it effortless, a missing practice, practitioner or invite is created on
the configured database, and this terminal is linked to it.
"""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.panel import Panel
from sqlalchemy import select

from adapters.console import ConsoleAdapter
from feedback_bot.app.bootstrap import build_app
from feedback_bot.app.settings import Settings
from feedback_bot.ports import OutgoingMessage
from feedback_bot.storage.models import Identity, Practitioner


async def chat_session(settings: Settings, role: str) -> None:
    term = Console()

    def show(message: OutgoingMessage) -> None:
        body = message.text
        if message.choices:
            body += "\n" + "\n".join(f"{n}. {c.label}" for n, c in enumerate(message.choices, 1))
        term.print(Panel(body, title="bot", title_align="left", border_style="cyan"))

    console = ConsoleAdapter(output=show)
    app = await build_app(settings, adapters=[console])
    address = f"terminal-{role}"
    await console.start(app.receive)
    try:
        async with app.sessions() as session:
            linked = (
                await session.execute(
                    select(Identity).where(
                        Identity.platform == "console", Identity.address == address
                    )
                )
            ).scalar_one_or_none()
            pr = (await session.execute(select(Practitioner).limit(1))).scalar_one_or_none()
        if linked is None:
            if pr is None:
                practice = await app.admin.create_practice("My Practice", "Europe/London")
                pid, code = await app.admin.add_practitioner(practice, "Practitioner")
            else:
                pid, code = pr.id, ""
            if role == "client":
                code = (await app.admin.invite_client(pid, "Terminal client")).code
            if code:
                await console.say(address, f"!start {code}")
        await app.drain()
        term.print("[dim]Type a message, a number to choose, or !help. !quit to leave.[/]")
        while True:
            line = await _read(term)
            if line is None or line.strip() in ("!quit", "!exit"):
                return
            if line.strip():
                await console.say(address, line)
                await app.drain()
    finally:
        await app.close()


async def _read(term: Console) -> str | None:
    try:
        return await asyncio.to_thread(term.input, "[green]> [/]")
    except EOFError:
        return None
