"""A group chat never takes over anyone's private link (issue 11, point 1).

Alex (a linked client) and Sam (his practitioner) write in, or add the bot to, Telegram
groups. Their private chats keep getting their check-ins and digests; the groups get the
refusal and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from feedback_bot.app.bootstrap import App
from feedback_bot.scheduling.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegramApi
from tests.telegram.app_harness import ALEX, SAM, linked, settle, t, visible

ALEX_GROUP, SAM_GROUP = -500, -600
InGroup = Callable[[FakeTelegramApi, int, int], int]  # (api, group id, user id) → update id


def group_text(tg: FakeTelegramApi, group_id: int, user_id: int) -> int:
    return tg.push_group_text(group_id, "hello everyone", user_id=user_id)


def bot_added(tg: FakeTelegramApi, group_id: int, user_id: int) -> int:
    """``user_id`` adds the bot to a group: Telegram's my_chat_member update, from them."""
    info = tg.add_chat({"id": group_id, "type": "group", "title": "Family"})
    return tg.push_update(
        {
            "my_chat_member": {
                "chat": info,
                "from": {"id": user_id, "is_bot": False, "first_name": "Member"},
                "date": 0,
                "old_chat_member": {"status": "left", "user": tg.bot_user},
                "new_chat_member": {"status": "member", "user": tg.bot_user},
            }
        }
    )


@pytest.mark.parametrize(
    ("alex_does", "sam_does"), [(group_text, bot_added), (bot_added, group_text)]
)
async def test_a_group_never_takes_over_a_private_link(
    app: App, tg: FakeTelegramApi, clock: FakeClock, alex_does: InGroup, sam_does: InGroup
) -> None:
    sam, alex = await linked(app, tg)
    await alex.says("the homework was too much", until="Something didn't feel right")
    await alex.presses("Something didn't feel right", until=t(app, "feedback.ask_routing")[:30])
    await alex.presses("Bring it into our next session", until="Sam will see this")
    session_day = (clock.now() + timedelta(days=1)).date().isoformat()
    await sam.says(f"/session Alex {session_day} 10:00", until="Alex")

    await settle(app, tg, alex_does(tg, ALEX_GROUP, ALEX))
    await settle(app, tg, sam_does(tg, SAM_GROUP, SAM))
    before = len(tg.sent(ALEX))

    # Sam's pre-session digest and Alex's check-in after the session come due.
    def arrived() -> bool:
        return any(".html" in visible(m) for m in tg.sent(SAM)) and any(
            "gentle check-in" in visible(m) for m in tg.sent(ALEX)[before:]
        )

    until = clock.now() + timedelta(days=3)
    while clock.now() < until and not arrived():
        clock.advance(timedelta(hours=1))
        await app.tick()
        await app.drain()
    assert arrived()
    # The groups got the refusal, once each, and nothing else: no digest, no check-in.
    assert tg.texts(ALEX_GROUP) == [t(app, "group_refused")]
    assert tg.texts(SAM_GROUP) == [t(app, "group_refused")]

    # And the private chats still answer as before.
    await alex.says("/help", until=t(app, "help.line.feedback")[:20])
    await sam.says("/clients", until="Alex")
