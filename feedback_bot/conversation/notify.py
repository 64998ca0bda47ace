"""Messages to a client's practitioner, caused by something the client did."""

from __future__ import annotations

from sqlalchemy import select

from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.storage.models import Identity


async def practitioner_identities(turn: ClientTurn, practitioner_id: int) -> list[Identity]:
    rows = await turn.session.execute(
        select(Identity).where(
            Identity.practitioner_id == practitioner_id, Identity.reachable.is_(True)
        )
    )
    return list(rows.scalars())


async def notify_practitioner(
    turn: ClientTurn, key: str, *, kind: str = "notice", **params: object
) -> int:
    sent = 0
    for ident in await practitioner_identities(turn, turn.practitioner.id):
        lang = ident.language or turn.deps.config.language
        text = turn.deps.catalog.t(key, lang, p=turn.deps.prefix(ident.platform), **params)
        enqueue(
            turn.session,
            turn.deps.vault,
            platform=ident.platform,
            address=ident.address,
            identity_id=ident.id,
            text=text,
            kind=kind,
            now=turn.now,
        )
        sent += 1
    return sent
