"""Answers to a gentle check-in, and the optional alliance micro-check that follows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from feedback_bot.conversation import drafts, feedback
from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.delivery.choice_ids import decode
from feedback_bot.metrics import CHECKINS_ANSWERED
from feedback_bot.scheduling.checkins import CHECKIN_OPTIONS
from feedback_bot.storage.models import AllianceScore, Checkin
from feedback_bot.storage.states import CheckinStatus, ItemSource, Valence

OPEN = (CheckinStatus.SENT, CheckinStatus.SNOOZED)
SCALE = [str(n) for n in range(11)] + ["skip"]


async def open_checkin(turn: ClientTurn) -> Checkin | None:
    return (
        await turn.session.execute(
            select(Checkin)
            .where(Checkin.client_id == turn.client.id, Checkin.status.in_(OPEN))
            .order_by(Checkin.sent_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def on_checkin_choice(turn: ClientTurn) -> None:
    choice = decode(turn.event.choice_id)
    checkin_id, key = (choice.number if choice.number is not None else -1), choice.option
    checkin = await turn.session.get(Checkin, checkin_id)
    if (
        checkin is None
        or checkin.client_id != turn.client.id
        or checkin.status not in OPEN
        or key not in CHECKIN_OPTIONS
    ):
        turn.say(turn.t("checkin.expired_choice"))
        return
    await answer(turn, checkin, key)


async def answer(turn: ClientTurn, checkin: Checkin, key: str) -> None:
    if key == "later":
        if checkin.reminded:
            key = "nothing"  # one reminder, ever: a second "later" lets it rest
        else:
            checkin.status = CheckinStatus.SNOOZED
            checkin.remind_at = turn.now + timedelta(hours=turn.deps.config.checkins.snooze_hours)
            turn.say(turn.t("checkin.later"))
            return
    checkin.status = CheckinStatus.ANSWERED
    checkin.response = key
    checkin.answered_at = turn.now
    CHECKINS_ANSWERED.inc()
    if key == "nothing":
        turn.say(turn.t("checkin.nothing"))
        await start_alliance(turn, checkin.id)
        return
    await feedback.start(turn, source=ItemSource.CHECKIN, checkin_id=checkin.id, valence=key)


async def answer_with_text(turn: ClientTurn, checkin: Checkin, text: str) -> None:
    """Words typed in reply to a check-in answer it, and become feedback."""
    checkin.status = CheckinStatus.ANSWERED
    checkin.response = "text"
    checkin.answered_at = turn.now
    CHECKINS_ANSWERED.inc()
    await feedback.start(turn, text, source=ItemSource.CHECKIN, checkin_id=checkin.id)


async def start_alliance(turn: ClientTurn, checkin_id: int) -> None:
    alliance = turn.deps.config.alliance
    if not alliance.enabled or not alliance.items:
        await turn.reset()
        return
    turn.say(turn.t("checkin.alliance_intro"))
    await _ask_item(turn, checkin_id, 0)


async def _ask_item(turn: ClientTurn, checkin_id: int, index: int) -> None:
    item = turn.deps.config.alliance.items[index]
    await turn.ask("alliance", item.question, SCALE, data={"checkin": checkin_id, "index": index})


async def on_alliance(turn: ClientTurn, key: str | None) -> None:
    conv = await turn.conv()
    checkin_id, index = int(conv.data["checkin"]), int(conv.data["index"])
    items = turn.deps.config.alliance.items
    if key is None:
        await _keep_words(turn, checkin_id, index)
        return
    if key != "skip" and index < len(items):
        turn.session.add(
            AllianceScore(
                checkin_id=checkin_id,
                client_id=turn.client.id,
                item_key=items[index].key,
                score=int(key),
                at=turn.now,
            )
        )
    if index + 1 < len(items):
        await _ask_item(turn, checkin_id, index + 1)
        return
    await turn.reset()
    turn.say(turn.t("checkin.alliance_done"))


NOTE_OPTIONS = ["note", "new_item"]


async def _keep_words(turn: ClientTurn, checkin_id: int, index: int) -> None:
    """Words typed instead of a number are kept, as a draft of their own, and the client
    chooses: a note on this check-in, or something new to share."""
    await feedback._new_draft(
        turn, turn.event.text or "", source=ItemSource.CHECKIN, checkin_id=checkin_id
    )
    await turn.ask(
        "alliance_words",
        turn.t("words.ask_note_or_new"),
        NOTE_OPTIONS,
        data={"checkin": checkin_id, "index": index},
    )


async def on_alliance_words(turn: ClientTurn, key: str | None) -> None:
    item = await feedback.current_item(turn)
    conv = await turn.conv()
    checkin_id, index = int(conv.data["checkin"]), int(conv.data["index"])
    if item is None:
        await _ask_item(turn, checkin_id, index)
        return
    if key is None:
        await feedback.join_words(turn, item)
        return
    if key == "new_item":
        # Something new: it goes through the usual questions, as anything shared does.
        item.source, item.checkin_id = ItemSource.ANYTIME, None
        await feedback.ask_next(turn, item, turn.t("words.new_one") + " ")
        return
    checkin = await turn.session.get(Checkin, checkin_id)
    if checkin is not None and checkin.response in ("good", "not_right"):
        item.valence = Valence(checkin.response)
    conv.item_id = None
    await drafts.submit(turn.session, item, turn.now)
    turn.say(turn.t("words.noted", n=item.number))
    await _ask_item(turn, checkin_id, index)  # back to the question they were on
