"""The practitioner's chat commands about digests: ``digest [ALIAS]`` and ``ack`` (or its
button). The digest service does the work; this is only the conversation around it."""

from __future__ import annotations

from feedback_bot.conversation.practitioner import find_client
from feedback_bot.conversation.router import DigestHooks
from feedback_bot.conversation.turn import PractitionerTurn
from feedback_bot.digest.service import DigestService


def digest_hooks(digests: DigestService) -> DigestHooks:
    async def on_command(turn: PractitionerTurn) -> None:
        alias = turn.event.args.strip()
        only = None
        if alias:
            client = await find_client(turn, alias)
            if client is None:
                turn.say(turn.t("practitioner.no_such_client", alias=alias[:80]))
                return
            only = [client.id]
        await digests.on_demand(turn.session, turn.practitioner, only, turn.now)

    async def on_ack(turn: PractitionerTurn) -> None:
        digest = await digests.ackable(turn.session, turn.practitioner.id, turn.event.choice_id)
        told = None if digest is None else await digests.acknowledge(turn.session, digest, turn.now)
        if told is None:
            turn.say(turn.t("practitioner.nothing_to_ack"))
        else:
            key = "practitioner.acked_one" if told == 1 else "practitioner.acked"
            turn.say(turn.t(key, count=told))

    return on_command, on_ack
