"""``feedback-bot demo``: a short story on a simulated clock, printed as a transcript.

It uses a throwaway SQLite database and key, the console adapter, and the same app that
``run`` uses, so what you see is what clients and practitioners would see.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule

from adapters.console import ConsoleAdapter
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.app.settings import Settings
from feedback_bot.ports import OutgoingMessage
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.scheduling.clock import FakeClock

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday morning in London


class Story:
    def __init__(self, app: App, console: ConsoleAdapter, clock: FakeClock, term: Console) -> None:
        self.app, self.console, self.clock, self.term = app, console, clock, term

    def show_bot(self, message: OutgoingMessage) -> None:
        body = message.text  # choices already appear as a numbered list (no buttons here)
        for att in message.attachments:
            body += f"\n📎 {att.filename} ({len(att.data):,} bytes)"
        self.term.print(
            Panel(
                body,
                title=f"bot → {message.address}",
                title_align="left",
                border_style="cyan",
                width=96,
            )
        )

    def narrate(self, text: str) -> None:
        self.term.print(Rule(f"[bold]{text}[/]  ·  {self.clock.now():%a %d %b %H:%M} UTC"))

    async def says(self, who: str, text: str) -> None:
        self.term.print(
            Panel(text, title=f"{who} → bot", title_align="right", border_style="green", width=96)
        )
        await self.console.say(who, text)
        await self.app.drain()

    async def presses(self, who: str, label: str) -> None:
        msg = next(m for m in reversed(self.console.sent[who]) if m.choices)
        choice = next(c for c in msg.choices if c.label == label)
        self.term.print(f"[green]{who} presses[/] [bold]\\[{label}][/]", justify="right")
        await self.console.press(who, choice.id)
        await self.app.drain()

    async def wait(self, delta: timedelta) -> None:
        # Tick hourly: finer than the missed-slot grace, and every slot here is on the hour.
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.advance(min(timedelta(hours=1), end - self.clock.now()))
            await self.app.tick()
            await self.app.drain()


async def run_demo(out_dir: Path, term: Console | None = None) -> Path:
    term = term or Console()
    with tempfile.TemporaryDirectory(prefix="feedback-bot-demo-") as tmp:
        clock = FakeClock(START)
        story_holder: list[Story] = []
        console = ConsoleAdapter(
            output=lambda m: story_holder[0].show_bot(m), attachments_dir=out_dir
        )
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite+aiosqlite:///{tmp}/demo.sqlite3",
            encryption_key=generate_key(),  # throwaway: the database goes with the temp dir
            prompts_file=REPO / "config" / "prompts.yaml",
        )

        async def sleep(seconds: float) -> None:
            clock.advance(timedelta(seconds=seconds))

        app = await build_app(settings, adapters=[console], clock=clock, sleep=sleep)
        await console.start(app.receive)
        story = Story(app, console, clock, term)
        story_holder.append(story)
        try:
            await _play(story, app)
        finally:
            await app.close()
    written = sorted(p for p in out_dir.glob("*") if p.is_file())
    term.print(Rule("[bold]Done"))
    term.print(f"The practitioner's digest was written to [bold]{out_dir.resolve()}[/]:")
    for path in written:
        term.print(f"  • {path.name}")
    return out_dir


async def _play(s: Story, app: App) -> None:
    s.narrate("An admin sets up the practice")
    practice = await app.admin.create_practice("Riverside Counselling", "Europe/London")
    sam, sam_code = await app.admin.add_practitioner(practice, "Sam")
    jo, jo_code = await app.admin.add_practitioner(practice, "Jo", feedback_contact=True)
    s.term.print(f"practice {practice}: practitioner Sam (id {sam}), and Jo (id {jo}), the")
    s.term.print("practice's feedback contact for anything a client would rather not tell Sam")
    await s.says("sam", f"!start {sam_code}")
    await s.says("jo", f"!start {jo_code}")

    s.narrate("Sam invites three clients")
    invites = {}
    for alias in ("Alex", "Bea", "Chris"):
        invites[alias] = await app.admin.invite_client(sam, alias)
    await s.says("sam", "!session Alex 2026-11-17 10:00 weekly")

    s.narrate("Alex joins and agrees")
    await s.says("alex", f"!start {invites['Alex'].code}")
    await s.presses("alex", "I agree")
    await s.presses("alex", "Yes, let them know")

    s.narrate("Bea isn't sure yet, then comes back")
    await s.says("bea", f"!start {invites['Bea'].code}")
    await s.presses("bea", "Not now")
    await s.says("bea", "!start")
    await s.presses("bea", "I agree")
    await s.presses("bea", "No, thank you")

    s.narrate("Chris joins")
    await s.says("chris", f"!start {invites['Chris'].code}")
    await s.presses("chris", "I agree")
    await s.presses("chris", "No, thank you")

    s.narrate("Anytime feedback: Alex writes first, the questions follow")
    await s.wait(timedelta(hours=3))
    await s.says("alex", "I really appreciated how you slowed down when I talked about my dad.")
    await s.presses("alex", "Something felt good")
    await s.presses("alex", "Bring it into our next session")

    s.narrate("Bea would rather tell the practice than Sam")
    await s.says("bea", "!feedback")
    await s.presses("bea", "Something didn't feel right")
    await s.says("bea", "The session started 20 minutes late and nobody said why.")
    await s.presses("bea", "To the practice's feedback contact instead")

    s.narrate("Chris shares something, then changes their mind")
    await s.says("chris", "Not sure the breathing exercise is for me.")
    await s.presses("chris", "Skip")
    await s.presses("chris", "Just so you know")
    await s.says("chris", "!mine")
    await s.says("chris", "!withdraw 1")

    s.narrate("Tuesday: Alex has a session; a gentle check-in arrives the next morning")
    await s.wait(timedelta(days=1, hours=22))
    await s.presses("alex", "Something didn't feel right")
    await s.says("alex", "When you mentioned homework I felt judged, like I'd failed.")
    await s.presses("alex", "Bring it into our next session")
    for score in ("8", "4"):
        await s.says("alex", score)

    s.narrate("Sam asks for the digest before the next session")
    await s.says("sam", "!digest")
    await s.presses("sam", "I've read this")
    await s.presses("sam", "I've read it; we'll talk next session")
    await s.says("sam", "!reply Alex Thank you for telling me, let's talk about it on Tuesday")
    await s.says("sam", "!clients")

    s.narrate("Jo, the practice's feedback contact, reads what Bea sent to them")
    await s.says("jo", "!digest")
    await s.presses("jo", "I've read this")
    await s.presses("jo", "I've read it")
