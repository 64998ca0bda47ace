"""Messages to a client's practitioner, caused by something the client did."""

from __future__ import annotations

from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.people.rules import practitioner_chats
from feedback_bot.storage.states import Delivery, OutboxKind


async def notify_practitioner(
    turn: ClientTurn,
    key: str,
    *,
    kind: OutboxKind = OutboxKind.NOTICE,
    delivery: Delivery = Delivery.AT_LEAST_ONCE,
    to: int | None = None,
    **params: object,
) -> int:
    """To the client's practitioner, or ``to`` another one (the feedback contact an item
    was sent to)."""
    sent = 0
    for ident in await practitioner_chats(turn.session, to or turn.practitioner.id):
        lang = turn.deps.config.reader_language(ident.language)
        text = turn.deps.catalog.t(key, lang, p=turn.deps.prefix(ident.platform), **params)
        enqueue(
            turn.session,
            turn.deps.vault,
            platform=ident.platform,
            address=ident.address,
            identity_id=ident.id,
            text=text,
            kind=kind,
            delivery=delivery,
            now=turn.now,
        )
        sent += 1
    return sent
