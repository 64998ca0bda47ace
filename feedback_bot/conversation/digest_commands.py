"""The practitioner's chat commands about digests: ``digest [ALIAS]``, and ``ack`` (or its
button), which ``closing_loop`` answers. The digest service does the work; this is only
the conversation around it."""

from __future__ import annotations

from feedback_bot.conversation import closing_loop
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

    return on_command, closing_loop.on_ack
