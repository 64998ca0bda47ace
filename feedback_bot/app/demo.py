"""``feedback-bot demo``: a short story on a simulated clock, printed as a transcript.

It uses a throwaway SQLite database and key, the console adapter, and the same app that
``run`` uses, so what you see is what clients and practitioners would see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule

from feedback_bot.app.bootstrap import App
from feedback_bot.app.story import Story, told
from feedback_bot.ports import OutgoingMessage


@dataclass
class Shown(Story):
    """The story printed to a terminal as it happens."""

    term: Console = field(default_factory=Console)

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

    def show_says(self, who: str, text: str) -> None:
        self.term.print(
            Panel(text, title=f"{who} → bot", title_align="right", border_style="green", width=96)
        )

    def show_press(self, who: str, label: str) -> None:
        self.term.print(f"[green]{who} presses[/] [bold]\\[{label}][/]", justify="right")

    def narrate(self, text: str) -> None:
        self.term.print(Rule(f"[bold]{text}[/]  ·  {self.clock.now():%a %d %b %H:%M} UTC"))


async def run_demo(out_dir: Path, term: Console | None = None) -> Path:
    term = term or Console()
    async with told(
        lambda app, console, clock: Shown(app, console, clock, term), "demo", out_dir
    ) as story:
        await _play(story, story.app)
    written = sorted(p for p in out_dir.glob("*") if p.is_file())
    term.print(Rule("[bold]Done"))
    term.print(f"The practitioner's digest was written to [bold]{out_dir.resolve()}[/]:")
    for path in written:
        term.print(f"  • {path.name}")
    return out_dir


async def _play(s: Shown, app: App) -> None:
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
