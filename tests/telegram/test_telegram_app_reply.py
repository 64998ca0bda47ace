"""Closing the loop over Telegram with buttons: Sam replies to Alex from under the digest,
then acknowledges it and chooses what Alex hears; Alex is never asked to answer."""

from __future__ import annotations

from feedback_bot.app.bootstrap import App
from tests.fakes.telegram_api import FakeTelegramApi
from tests.telegram.app_harness import SAM, Json, Person, linked, t, texts, visible


def new_messages(person: Person) -> list[Json]:
    """What arrived in a chat since last looked (the app has drained after each step)."""
    new = person.messages()[person.seen :]
    person.seen += len(new)
    return new


async def test_reply_and_acknowledge_with_buttons(app: App, tg: FakeTelegramApi) -> None:
    sam, alex = await linked(app, tg)
    await alex.says("the ending felt rushed", until="Something didn't feel right")
    await alex.presses("Something didn't feel right", until=t(app, "feedback.ask_routing")[:30])
    [ack] = await alex.presses("Just so you know", until="Sam will see this")
    assert "/urgent" in ack["text"] and "findahelpline" not in ack["text"]

    digest = await sam.says("/digest", until=".html")
    assert "Reply to Alex" in "\n".join(visible(m) for m in digest)
    await sam.presses("Reply to Alex", until="won't be asked to reply")
    await sam.says("Thank you for telling me, let's talk about it on Tuesday", until="Sent to Alex")
    [note] = new_messages(alex)
    assert "talk about it on Tuesday" in note["text"] and "own words" in note["text"]
    assert "reply_markup" not in note

    await sam.presses("I've read this", until="What should Alex hear")
    await sam.presses("I've read it; we'll talk next session", until="I've let Alex know")
    [told] = new_messages(alex)
    assert told["text"] == t(app, "loop.read_session")
    # Every keyboard Sam pressed is gone: nothing can be pressed twice.
    for _update_id, message_id in sam.presses_made:
        assert "reply_markup" not in tg.message(SAM, message_id)
    assert texts(alex.messages()).count("has read what you shared") == 1
