"""The crisis path on Matrix when the inbox refuses events (issue 11, point 9)."""

from __future__ import annotations

from adapters.matrix.settings import MatrixSettings
from tests.matrix.conftest import AdapterRunner
from tests.matrix.support import ClientUser, MemoryCursorStore, RecordingSink
from tests.matrix.test_durability import linked_room, texts

RISKY = "I have been thinking about ending my life"


async def test_a_refused_event_does_not_keep_later_ones_from_the_screen(
    client: ClientUser,
    practitioner: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    """The inbox refuses one person's ordinary message again and again (the database is
    failing); someone else's crisis text after it still reaches the inbox's screen."""
    sink = RecordingSink(fail_on=lambda e: e.text == "an ordinary message")
    bot = await adapters.start(bot_settings, cursors, sink)
    first = await linked_room(client, bot.user_id, sink)
    second = await linked_room(practitioner, bot.user_id, sink)
    await client.say(first, "an ordinary message")
    await sink.wait_for_failure()
    await practitioner.say(second, RISKY)
    await sink.wait_for(lambda evs: RISKY in texts(evs), seconds=15)
    assert len(sink.failed) >= 2, "the refused event is handed over again"

    # Its cursor was not confirmed: after a restart it comes again, nothing is lost.
    await adapters.stop(bot)
    later = RecordingSink()
    await adapters.start(bot_settings, cursors, later)
    await later.wait_for(lambda evs: "an ordinary message" in texts(evs))
