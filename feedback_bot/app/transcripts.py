"""The main journeys as transcripts from the real app: ``docs/conversation.md``.

``python -m feedback_bot.app.transcripts`` writes the file; ``--check`` exits non-zero when
it is out of date (``tests/test_transcripts.py`` does the same). Each journey is one entry
in ``JOURNEYS`` and continues the story of the one before it, on a simulated clock, with
a throwaway SQLite database and the console adapter, so every word shown is what the app
says. Invite codes are the only thing made up: numbered, so the file does not change
from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from feedback_bot.app.story import REPO, Story, told
from feedback_bot.people import codes
from feedback_bot.ports import OutgoingMessage

DOC = REPO / "docs" / "conversation.md"
NAMES = {"sam": "Sam (practitioner)", "alex": "Alex (client)"}


@dataclass
class Transcript(Story):
    """The story as plain text: who said what, and what the bot sent."""

    lines: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)  # ids and codes for later journeys

    def show_bot(self, message: OutgoingMessage) -> None:
        text = message.text
        for att in message.attachments:
            text += f"\n📎 {att.filename}"
        self._block(f"bot → {NAMES.get(message.address, message.address)}", text)

    def show_says(self, who: str, text: str) -> None:
        self._block(f"{NAMES.get(who, who)} writes", text)

    def show_press(self, who: str, label: str) -> None:
        self._block(f"{NAMES.get(who, who)} chooses", label)

    def _block(self, who: str, text: str) -> None:
        stamp = self.clock.now().strftime("%a %d %b %H:%M")
        self.lines.append(f"[{stamp}] {who}:")
        self.lines += [f"    {line}".rstrip() for line in text.splitlines()]
        self.lines.append("")

    def note(self, text: str) -> None:
        self.lines.append(f"({text})")
        self.lines.append("")


@dataclass(frozen=True)
class Journey:
    title: str
    about: str
    play: Callable[[Transcript], Awaitable[None]]


async def _onboarding(s: Transcript) -> None:
    practice = await s.app.admin.create_practice("Riverside Counselling", "Europe/London")
    sam, sam_code = await s.app.admin.add_practitioner(practice, "Sam")
    s.facts["sam"] = sam
    s.note("An admin adds Sam to the practice and gives them a link code.")
    await s.says("sam", f"!start {sam_code}")
    await s.says("sam", "!invite Alex")
    code = next(w for w in s.console.sent["sam"][-1].text.split() if codes.CODE_SHAPE.match(w))
    s.note("Sam gives Alex the code in person.")
    await s.says("alex", f"!start {code}")
    await s.presses("alex", "I agree")
    await s.presses("alex", "No, thank you")


async def _anytime(s: Transcript) -> None:
    await s.wait(timedelta(hours=3))
    await s.says("alex", "I felt rushed at the end of our session")
    await s.presses("alex", "Something didn't feel right")
    await s.presses("alex", "Bring it into our next session")


async def _checkin(s: Transcript) -> None:
    await s.says("sam", "!session Alex 2026-11-17 10:00 weekly")
    s.note("Alex has a session on Tuesday; the check-in comes the next morning.")
    await s.wait(timedelta(days=1, hours=22))
    await s.presses("alex", "Something felt good")
    await s.says("alex", "The breathing exercise helped me sleep")
    await s.presses("alex", "Just so you know")
    for score in ("8", "7"):
        await s.says("alex", score)


async def _digest(s: Transcript) -> None:
    await s.says("sam", "!digest")


async def _reply(s: Transcript) -> None:
    await s.says("sam", "!reply Alex Thank you for telling me. Let's make time for it on Tuesday.")


async def _closing_the_loop(s: Transcript) -> None:
    await s.presses("sam", "I've read this")
    await s.presses("sam", "I've read it; we'll talk next session")


JOURNEYS: tuple[Journey, ...] = (
    Journey(
        "Client onboarding",
        "A practitioner invites a client; the client agrees to what is stored, or not.",
        _onboarding,
    ),
    Journey(
        "Anytime feedback",
        "The client writes first, whenever something comes up; the questions follow.",
        _anytime,
    ),
    Journey(
        "Check-in",
        "After a session, a gentle check-in the client can answer, put off or let pass.",
        _checkin,
    ),
    Journey(
        "Practitioner digest",
        "The practitioner reads what their clients shared (weekly, before a session, or now).",
        _digest,
    ),
    Journey(
        "Practitioner reply",
        "A short answer, in the practitioner's own words; the client is never asked to reply.",
        _reply,
    ),
    Journey(
        "Closing the loop",
        "The practitioner marks the digest as read and chooses what the client hears.",
        _closing_the_loop,
    ),
)

HEADER = """# The conversation

These transcripts are generated from the real app by `python -m feedback_bot.app.transcripts`
(console adapter, simulated clock, throwaway database; `tests/test_transcripts.py` fails
when they are out of date). Commands start with `!` here, as on the console and Matrix;
on Telegram they start with `/`. Choices show as numbered lists here; on Telegram they are
buttons. Invite codes are numbered placeholders.
"""


@contextmanager
def _numbered_codes() -> Iterator[None]:
    counter = itertools.count(1)
    real = codes.new_code
    codes.new_code = lambda: f"EXAMPLE-CODE-{next(counter):04d}-abcdefgh"
    try:
        yield
    finally:
        codes.new_code = real


async def render(journeys: tuple[Journey, ...] = JOURNEYS) -> str:
    out = [HEADER]
    with _numbered_codes():
        async with told(Transcript, "transcripts") as story:
            for journey in journeys:
                story.lines = []
                await journey.play(story)
                body = "\n".join(story.lines).rstrip()
                out.append(f"## {journey.title}\n\n{journey.about}\n\n```text\n{body}\n```\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    text = asyncio.run(render())
    if args.check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is out of date: run python -m feedback_bot.app.transcripts")
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
