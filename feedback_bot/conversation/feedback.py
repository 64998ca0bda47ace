"""Anytime feedback: what it was, in their own words, and where it should go."""

from __future__ import annotations

from datetime import datetime

from feedback_bot.conversation import drafts
from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.digest.timing import next_digest_for_client, next_weekly_digest
from feedback_bot.people.rules import client_tz
from feedback_bot.privacy.access import read_own_text, seal_text
from feedback_bot.storage.models import FeedbackItem, Practice, Practitioner, new_uid
from feedback_bot.storage.states import ItemStatus, Routing, Valence

VALENCE_OPTIONS = ["good", "not_right", "other", "skip"]
BELONGS_OPTIONS = ["same", "new"]
# The questions about a draft, by state: for asking one again.
QUESTIONS = {
    "valence": "feedback.ask_valence",
    "words": "feedback.ask_words",
    "routing": "feedback.ask_routing",
    "belongs": "words.ask_belongs",
    "alliance_words": "words.ask_note_or_new",
}


def routing_options(turn: ClientTurn) -> list[str]:
    """ "To the feedback contact instead" only where that is someone other than their own
    practitioner: otherwise the choice would promise something it can't keep."""
    contact = turn.practice.feedback_contact_id
    if contact is None or contact == turn.practitioner.id:
        return ["session", "fyi", "skip"]
    return ["session", "fyi", "contact", "skip"]


async def current_item(turn: ClientTurn) -> FeedbackItem | None:
    conv = await turn.conv()
    if conv.item_id is None:
        return None
    item = await turn.session.get(FeedbackItem, conv.item_id)
    return item if item is not None and item.status == ItemStatus.DRAFT else None


async def start(
    turn: ClientTurn,
    text: str | None = None,
    *,
    source: str = "anytime",
    checkin_id: int | None = None,
    valence: str | None = None,
    risk: bool = False,
) -> None:
    """Open a draft. Words sent before any question are kept, and the questions follow.
    An unfinished draft (left by a command in between) is continued; after a pause the
    client is asked whether new words belong to it, never merged silently."""
    draft = await current_item(turn)
    if draft is not None and checkin_id is None:
        if text and drafts.paused(draft, turn.now):
            await ask_belongs(turn, draft, text, risk)
        else:
            await _resume(turn, draft, text, risk)
        return
    await _new_draft(turn, text, source=source, checkin_id=checkin_id, valence=valence, risk=risk)
    if valence is None:
        await turn.ask("valence", turn.t("feedback.ask_valence"), VALENCE_OPTIONS)
    else:
        await turn.ask("words", turn.t("feedback.ask_words"), ["skip"])


async def _new_draft(
    turn: ClientTurn,
    text: str | None,
    *,
    source: str = "anytime",
    checkin_id: int | None = None,
    valence: str | None = None,
    risk: bool = False,
) -> FeedbackItem:
    """A new draft becomes the conversation's current one. One it replaces is not lost:
    the clock files it when due (``draft_clock``)."""
    item = FeedbackItem(
        uid=new_uid(),  # before sealing: the ciphertext is bound to it
        client_id=turn.client.id,
        status=ItemStatus.DRAFT,
        source=source,
        checkin_id=checkin_id,
        valence=valence,
        risk=risk,
        created_at=turn.now,
    )
    seal_text(turn.deps.vault, item, text)
    drafts.touch(item, turn.now)
    turn.session.add(item)
    await turn.session.flush()
    conv = await turn.conv()
    conv.item_id = item.id
    return item


async def keep_after_crisis(turn: ClientTurn, text: str) -> None:
    """After the crisis reply: keep the words, ask nothing. Whatever was pending is let go
    (a routine question right after "you deserve support right now" would be cold); the
    words wait as a draft that their next message, or ``feedback``, picks up again, and
    the clock files it if they don't."""
    draft = await current_item(turn)
    if draft is not None and not drafts.paused(draft, turn.now):
        _add_words(turn, draft, text)
        draft.risk = True
    else:
        await _new_draft(turn, text, risk=True)
    await turn.reset()
    turn.say(turn.t("safety.kept"))


async def ask_next(turn: ClientTurn, item: FeedbackItem, prefix: str = "") -> None:
    """Ask whatever the draft still needs."""
    if item.valence is None:
        await turn.ask("valence", prefix + turn.t("feedback.ask_valence"), VALENCE_OPTIONS)
    elif item.text_enc is None:
        await turn.ask("words", prefix + turn.t("feedback.ask_words"), ["skip"])
    else:
        await turn.ask("routing", prefix + turn.t("feedback.ask_routing"), routing_options(turn))


async def _resume(turn: ClientTurn, item: FeedbackItem, text: str | None, risk: bool) -> None:
    if text:
        _add_words(turn, item, text)
    item.risk = item.risk or risk
    prefix = turn.t("feedback.kept_words") + " " if item.text_enc is not None else ""
    await ask_next(turn, item, prefix)


async def ask_belongs(turn: ClientTurn, earlier: FeedbackItem, text: str, risk: bool) -> None:
    """After a pause: the new words wait as a draft of their own while the client says
    whether they belong to what they were saying. The earlier draft's clock is set past
    the new one's, so the question is settled (or both are filed apart) before it."""
    new = await _new_draft(turn, text, risk=risk)
    earlier.draft_due_at = (new.draft_due_at or turn.now) + drafts.SUBMIT_AFTER + drafts.PAUSE
    question = turn.t("words.ask_belongs")
    await turn.ask("belongs", question, BELONGS_OPTIONS, data={"earlier": earlier.id})


async def on_belongs(turn: ClientTurn, key: str | None) -> None:
    new = await current_item(turn)
    conv = await turn.conv()
    earlier_id = conv.data.get("earlier")
    earlier = await turn.session.get(FeedbackItem, int(earlier_id)) if earlier_id else None
    if new is None:
        await turn.reset()
        return
    if key is None:
        await join_words(turn, new)
        return
    if earlier is None or earlier.status != ItemStatus.DRAFT:
        await ask_next(turn, new)  # the earlier one was filed meanwhile: go on with this
        return
    if key == "same":
        _add_words(turn, earlier, read_own_text(turn.deps.vault, turn.client.id, new) or "")
        earlier.risk = earlier.risk or new.risk
        conv.item_id = earlier.id
        await drafts.discard(turn.session, new)
        await ask_next(turn, earlier, turn.t("words.joined") + " ")
        return
    filed = await file_as_it_was(turn, earlier)
    conv.item_id = new.id
    await ask_next(turn, new, (filed + "\n\n" if filed else "") + turn.t("words.new_one") + " ")


async def file_as_it_was(turn: ClientTurn, item: FeedbackItem) -> str:
    """File a draft the client has moved on from; what to tell them ("" for an empty one,
    which is let go: it held nothing)."""
    conv = await turn.conv()
    if conv.item_id == item.id:
        conv.item_id = None
    if drafts.is_empty(item):
        await drafts.discard(turn.session, item)
        return ""
    await drafts.submit(turn.session, item, turn.now)
    return await filed_text(turn, item)


async def filed_text(turn: ClientTurn, item: FeedbackItem) -> str:
    at = await next_digest_for_client(
        turn.session, turn.practitioner, turn.practice, turn.client.id, turn.now
    )
    when = _when(turn, turn.practitioner, turn.practice, at)
    return turn.t("words.filed", when=when, n=item.number)


async def on_valence(turn: ClientTurn, key: str | None) -> None:
    item = await current_item(turn)
    if item is None:
        await turn.reset()
        return
    if key is None:
        await _more_words(turn, item)
        return
    drafts.touch(item, turn.now)
    # A skip leaves it unchosen: "Something else" is filed, but never as a signal.
    item.valence = None if key == "skip" else Valence(key)
    if item.text_enc is None:
        await turn.ask("words", turn.t("feedback.ask_words"), ["skip"])
    else:
        await turn.ask("routing", turn.t("feedback.ask_routing"), routing_options(turn))


async def on_words(turn: ClientTurn, key: str | None) -> None:
    item = await current_item(turn)
    if item is None:
        await turn.reset()
        return
    if key is None and drafts.paused(item, turn.now):
        await ask_belongs(turn, item, turn.event.text or "", False)
        return
    drafts.touch(item, turn.now)
    if key is None:
        _add_words(turn, item, turn.event.text or "")
    if drafts.is_empty(item):
        # Nothing to file: every question skipped. Nothing is sent, and they are told so.
        (await turn.conv()).item_id = None
        await drafts.discard(turn.session, item)
        await turn.reset()
        turn.say(turn.t("words.nothing_filed"))
        return
    await turn.ask("routing", turn.t("feedback.ask_routing"), routing_options(turn))


async def on_routing(turn: ClientTurn, key: str | None) -> FeedbackItem | None:
    """Submit the draft; returns it once submitted."""
    item = await current_item(turn)
    if item is None:
        await turn.reset()
        return None
    if key is None:
        await _more_words(turn, item)
        return None
    routing = drafts.DEFAULT_ROUTING if key == "skip" else Routing(key)
    if routing == Routing.CONTACT:
        if "contact" not in routing_options(turn):
            # The contact was removed (or became their own practitioner) since we asked:
            # nothing is sent, and the question comes again with what is possible now.
            question = turn.t("feedback.contact_gone") + " " + turn.t("feedback.ask_routing")
            await turn.ask("routing", question, routing_options(turn))
            return None
        # Fixed now: the person who is the contact at this moment, whoever is later.
        item.contact_id = turn.practice.feedback_contact_id
    item.routing = routing
    await drafts.submit(turn.session, item, turn.now)
    await turn.reset()
    (await turn.conv()).item_id = None  # finished: no draft to continue
    turn.say(await acknowledgement(turn, item) + "\n\n" + turn.footer())
    return item


async def _more_words(turn: ClientTurn, item: FeedbackItem) -> None:
    """Words typed instead of a choice: after a pause, are they part of this? Otherwise
    they join it."""
    if drafts.paused(item, turn.now):
        await ask_belongs(turn, item, turn.event.text or "", False)
    else:
        await join_words(turn, item)


async def join_words(turn: ClientTurn, item: FeedbackItem) -> None:
    """Words typed instead of an answer join the draft. While the first question has only
    just been asked, nothing more is said: a burst of messages gets one question, not one
    per message. Otherwise the same question is asked again, saying the words are kept."""
    _add_words(turn, item, turn.event.text or "")
    conv = await turn.conv()
    if conv.state == "valence" and turn.now - conv.updated_at <= drafts.BURST:
        return
    options = list(conv.data.get("options", []))
    data = {k: v for k, v in conv.data.items() if k != "options"}
    question = turn.t("feedback.kept_words") + " " + turn.t(QUESTIONS[conv.state])
    await turn.ask(conv.state, question, options, data=data)


def _add_words(turn: ClientTurn, item: FeedbackItem, words: str) -> None:
    existing = read_own_text(turn.deps.vault, turn.client.id, item)
    combined = words if not existing else existing + "\n\n" + words
    seal_text(turn.deps.vault, item, combined)
    drafts.touch(item, turn.now)


async def acknowledgement(turn: ClientTurn, item: FeedbackItem) -> str:
    if item.routing == Routing.CONTACT:
        contact = await _recorded_contact(turn, item)
        when = _when(
            turn,
            contact,
            turn.practice,
            None if contact is None else next_weekly_digest(contact, turn.practice, turn.now),
        )
        return turn.t("feedback.ack_contact", when=when)
    at = await next_digest_for_client(
        turn.session, turn.practitioner, turn.practice, turn.client.id, turn.now
    )
    key = "feedback.ack_session" if item.routing == Routing.SESSION else "feedback.ack_fyi"
    return turn.t(key, when=_when(turn, turn.practitioner, turn.practice, at))


def _when(
    turn: ClientTurn, reader: Practitioner | None, practice: Practice, at: datetime | None
) -> str:
    if reader is None or at is None:
        return turn.t("feedback.when_soon")
    tz_name = client_tz(turn.client, reader, practice)
    return turn.t("feedback.when_digest", date=turn.when(at, tz_name))


async def _recorded_contact(turn: ClientTurn, item: FeedbackItem) -> Practitioner | None:
    if item.contact_id is None:
        return None
    return await turn.session.get(Practitioner, item.contact_id)
