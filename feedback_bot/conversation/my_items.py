"""``mine``, ``edit N`` and ``withdraw N``: the client stays in charge of what they shared."""

from __future__ import annotations

from sqlalchemy import select

from feedback_bot.conversation.notify import notify_practitioner
from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.people.rules import client_tz
from feedback_bot.privacy.access import read_own_text, seal_text
from feedback_bot.storage.models import Digest, FeedbackItem
from feedback_bot.storage.states import ItemStatus

MINE_LIMIT = 10


async def recent_items(turn: ClientTurn) -> list[FeedbackItem]:
    rows = await turn.session.execute(
        select(FeedbackItem)
        .where(FeedbackItem.client_id == turn.client.id, FeedbackItem.status != ItemStatus.DRAFT)
        .order_by(FeedbackItem.submitted_at.desc(), FeedbackItem.id.desc())
        .limit(MINE_LIMIT)
    )
    return list(rows.scalars())


async def show_mine(turn: ClientTurn) -> None:
    items = await recent_items(turn)
    if not items:
        turn.say(turn.t("mine.empty") + "\n\n" + turn.t("transparency.sees"))
        return
    tz_name = client_tz(turn.client, turn.practitioner, turn.practice)
    lines = [turn.t("mine.header")]
    for item in items:
        status = ""
        if item.status == ItemStatus.WITHDRAWN:
            status = turn.t("mine.status_withdrawn")
        elif item.digest_id is not None:
            status = turn.t("mine.status_seen")
        when = item.submitted_at or item.created_at
        lines.append(
            turn.t(
                "mine.line",
                n=item.number,
                date=turn.date(when, tz_name),
                valence=turn.t(f"labels.valence.{item.valence or 'other'}"),
                routing=turn.t(f"labels.routing.{item.routing or 'fyi'}"),
                status=status,
            )
        )
    lines.append(turn.t("mine.footer"))
    await turn.set_state("idle")  # a question left open (an edit) is let go, as before
    turn.say("\n".join(lines) + "\n\n" + turn.t("transparency.sees"))


async def _pick(turn: ClientTurn) -> FeedbackItem | None:
    """The item with the client's own number: numbers never shift as new items come."""
    arg = turn.event.args.strip().lstrip("#")
    item = None
    if arg.isdigit():
        item = (
            await turn.session.execute(
                select(FeedbackItem).where(
                    FeedbackItem.client_id == turn.client.id, FeedbackItem.number == int(arg)
                )
            )
        ).scalar_one_or_none()
    if item is None:
        turn.say(turn.t("mine.pick_unknown", n=arg or "?"))
        return None
    if item.status == ItemStatus.WITHDRAWN:
        turn.say(turn.t("words.already_withdrawn", n=arg))
        return None
    return item


async def start_edit(turn: ClientTurn) -> None:
    item = await _pick(turn)
    if item is None:
        return
    if item.digest_id is not None:
        turn.say(turn.t("mine.edit_locked"))
        return
    old = read_own_text(turn.deps.vault, turn.client.id, item)
    shown = turn.t("words.edit_old", words=old) if old else turn.t("words.edit_no_words")
    # The item travels in the question's data: conv.item_id stays the unfinished draft.
    question = shown + "\n\n" + turn.t("mine.edit_ask")
    await turn.ask("edit", question, ["skip"], data={"edit_item": item.id})


async def on_edit(turn: ClientTurn, key: str | None) -> None:
    conv = await turn.conv()
    item_id = conv.data.get("edit_item")
    item = await turn.session.get(FeedbackItem, int(item_id)) if item_id else None
    await turn.reset()
    if key is not None or item is None:
        turn.say(turn.t("mine.edit_kept"))
        return
    if item.digest_id is not None:  # it went into a digest while we were waiting
        turn.say(turn.t("mine.edit_locked"))
        return
    seal_text(turn.deps.vault, item, turn.event.text or "")
    item.edit_count += 1
    item.edited_at = turn.now
    turn.say(turn.t("mine.edited"))


async def withdraw(turn: ClientTurn) -> None:
    item = await _pick(turn)
    if item is None:
        return
    item.status = ItemStatus.WITHDRAWN
    item.withdrawn_at = turn.now
    if item.digest_id is None:
        # Never seen: the words go now, not at retention time.
        item.text_enc = None
        turn.say(turn.t("mine.withdrawn"))
        return
    # Whoever read it is told, and only they: for an item sent to the feedback contact,
    # the practitioner learns nothing of it.
    digest = await turn.session.get(Digest, item.digest_id)
    if digest is not None:
        await notify_practitioner(
            turn, "practitioner.client_withdrew", to=digest.practitioner_id, alias=turn.client.alias
        )
    turn.say(turn.t("mine.withdrawn_after_seen"))
