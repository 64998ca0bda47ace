"""Anytime feedback: what it was, in their own words, and where it should go."""

from __future__ import annotations

from datetime import datetime, timedelta

from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.digest.timing import next_digest_for_client, next_weekly_digest
from feedback_bot.people.rules import client_tz
from feedback_bot.privacy.access import read_own_text, seal_text
from feedback_bot.storage.models import FeedbackItem, Practice, Practitioner, new_uid
from feedback_bot.storage.states import ItemStatus, Routing, Valence

VALENCE_OPTIONS = ["good", "not_right", "other", "skip"]
DEFAULT_VALENCE = Valence.OTHER
# Within this, new words continue an unfinished draft; later they start afresh (a week-old
# half-sentence glued to today's would put words together the client never meant together).
RESUME_WINDOW = timedelta(hours=24)
# Skipping "where should this go" must not put words in front of the practitioner that the
# client did not choose to bring into the room, so the gentler route is the default.
DEFAULT_ROUTING = Routing.FYI


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
    An unfinished draft (left by a command in between) is continued, not abandoned."""
    draft = await current_item(turn)
    if draft is not None and checkin_id is None and turn.now - draft.created_at < RESUME_WINDOW:
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
    turn.session.add(item)
    await turn.session.flush()
    conv = await turn.conv()
    conv.item_id = item.id
    return item


async def keep_after_crisis(turn: ClientTurn, text: str) -> None:
    """After the crisis reply: keep the words, ask nothing. Whatever was pending is let go
    (a routine question right after "you deserve support right now" would be cold); the
    words wait as a draft that their next message, or ``feedback``, picks up again."""
    draft = await current_item(turn)
    if draft is not None and turn.now - draft.created_at < RESUME_WINDOW:
        _add_words(turn, draft, text)
        draft.risk = True
    else:
        await _new_draft(turn, text, risk=True)
    await turn.reset()
    turn.say(turn.t("safety.kept"))


async def _resume(turn: ClientTurn, item: FeedbackItem, text: str | None, risk: bool) -> None:
    if text:
        _add_words(turn, item, text)
    item.risk = item.risk or risk
    prefix = turn.t("feedback.kept_words") + " " if item.text_enc is not None else ""
    if item.valence is None:
        await turn.ask("valence", prefix + turn.t("feedback.ask_valence"), VALENCE_OPTIONS)
    elif item.text_enc is None:
        await turn.ask("words", turn.t("feedback.ask_words"), ["skip"])
    else:
        await turn.ask("routing", prefix + turn.t("feedback.ask_routing"), routing_options(turn))


async def on_valence(turn: ClientTurn, key: str | None) -> None:
    item = await current_item(turn)
    if item is None:
        await turn.reset()
        return
    if key is None:
        await _keep_words_and_ask_again(turn, item, "valence", VALENCE_OPTIONS)
        return
    item.valence = DEFAULT_VALENCE if key == "skip" else Valence(key)
    if item.text_enc is None:
        await turn.ask("words", turn.t("feedback.ask_words"), ["skip"])
    else:
        await turn.ask("routing", turn.t("feedback.ask_routing"), routing_options(turn))


async def on_words(turn: ClientTurn, key: str | None) -> None:
    item = await current_item(turn)
    if item is None:
        await turn.reset()
        return
    if key is None:
        _add_words(turn, item, turn.event.text or "")
    await turn.ask("routing", turn.t("feedback.ask_routing"), routing_options(turn))


async def on_routing(turn: ClientTurn, key: str | None) -> FeedbackItem | None:
    """Submit the draft; returns it once submitted."""
    item = await current_item(turn)
    if item is None:
        await turn.reset()
        return None
    if key is None:
        await _keep_words_and_ask_again(turn, item, "routing", routing_options(turn))
        return None
    routing = DEFAULT_ROUTING if key == "skip" else Routing(key)
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
    item.valence = item.valence or DEFAULT_VALENCE
    item.status = ItemStatus.SUBMITTED
    item.submitted_at = turn.now
    await turn.reset()
    (await turn.conv()).item_id = None  # finished: no draft to continue
    turn.say(await acknowledgement(turn, item) + "\n\n" + turn.footer())
    return item


async def _keep_words_and_ask_again(
    turn: ClientTurn, item: FeedbackItem, state: str, options: list[str]
) -> None:
    """Words typed instead of a choice are kept, and the same question is asked again."""
    _add_words(turn, item, turn.event.text or "")
    question = turn.t("feedback.kept_words") + " " + turn.t(f"feedback.ask_{state}")
    await turn.ask(state, question, options)


def _add_words(turn: ClientTurn, item: FeedbackItem, words: str) -> None:
    existing = read_own_text(turn.deps.vault, turn.client.id, item)
    combined = words if not existing else existing + "\n\n" + words
    seal_text(turn.deps.vault, item, combined)


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
