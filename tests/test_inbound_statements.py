"""What one free-text message costs the database, end to end: committed to the inbox,
processed into a draft and a question, the question delivered.

Counted statements, not time: the count is the same on any machine, and each statement is
a round trip (and, on SQLite, a hop to the driver's thread) that every message pays. The
path needs 10 per message (the inbox insert; the claim, the people in one query, the open
check-in, the draft, the conversation, the question and the row marked done; the delivery
read and marked sent), 11.6 here with the drain's empty rounds shared by five messages.
The bound is a few above, so a change that adds lookups per message fails here. Before the
lean path this test counted 20.6 on SQLite and 19.6 on PostgreSQL (the people one query
each, a savepoint and its release, the row written twice, two PRAGMAs around the insert).

Since then two features each cost statements on purpose, and the bound moved with them:
the practice's own settings are read for every turn (a change counts from the next
message), and shared pacing returns the send's platform token and records when the chat
may next be sent to (the deployment-wide limits live in the database): 16.6 here.

Then the adapter-overhead work (issue 15) took 2.6 off: the send uses the row its claim
took instead of reading it again; a claim reads the rows first and asks for tokens only
for the rows it found (no count of free tokens first); and the practice's settings come
with the people's query instead of a read of their own: 14.0 here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from feedback_bot.storage.models import FeedbackItem
from tests.harness import Harness, count, t

BOUND = 15  # statements per free-text message, all engines of the app together
CLIENTS = 5


def _engines(bot: Harness) -> list[Engine]:
    """Every engine the app's sessions run on (the inbox may have one of its own)."""
    engines = [bot.app.engine.sync_engine]
    inbox_bind = bot.app.inbox._sessions.kw.get("bind")
    if inbox_bind is not None and inbox_bind.sync_engine not in engines:
        engines.append(inbox_bind.sync_engine)
    return engines


async def test_a_free_text_message_costs_a_bounded_number_of_statements(bot: Harness) -> None:
    pid = await bot.practitioner("dr", name="Sam")
    who = [f"client-{i}" for i in range(CLIENTS)]
    for name in who:
        await bot.client(name, pid)
        bot.new_messages(name)
    bot.clock.advance(minutes=5)

    statements: list[str] = []

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engines = _engines(bot)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", counted)
    try:
        for i, name in enumerate(who):
            await bot.console.say(name, f"the end of the session felt rushed ({i})")
        await bot.app.drain()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", counted)

    # The work happened: one draft and one question per message.
    for name in who:
        [question] = bot.new_messages(name)
        assert question.text.startswith(t(bot, "feedback.ask_valence"))
    assert await count(bot, FeedbackItem, FeedbackItem.status == "draft") == CLIENTS
    per_message = len(statements) / CLIENTS
    assert per_message <= BOUND, (
        f"{per_message:.1f} statements per free-text message (bound {BOUND}):\n"
        + "\n".join(s.split("\n")[0][:100] for s in statements)
    )
