"""On platforms whose adapter opens DMs (Matrix) the bot opens a practitioner's chat
itself: practitioners configured with a user id there need no link code, and the chat is
recorded as theirs."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.conversation.commands import Role, help_text
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.ports import Adapter, SendError
from feedback_bot.privacy.audit import record
from feedback_bot.services import Services
from feedback_bot.storage.models import Identity, Practice, Practitioner

log = logging.getLogger(__name__)


async def open_practitioner_dms(
    sessions: async_sessionmaker[AsyncSession], deps: Services, adapter: Adapter, now: datetime
) -> int:
    async with sessions() as session:
        linked = select(Identity.practitioner_id).where(
            Identity.platform == adapter.platform, Identity.practitioner_id.is_not(None)
        )
        waiting = list(
            (
                await session.execute(
                    select(Practitioner).where(
                        Practitioner.platform == adapter.platform,
                        Practitioner.platform_user_id_enc.is_not(None),
                        Practitioner.active.is_(True),
                        Practitioner.id.not_in(linked),
                    )
                )
            ).scalars()
        )
    opened = 0
    for pr in waiting:
        assert pr.platform_user_id is not None
        try:
            room = await adapter.open_dm(pr.platform_user_id)
        except SendError as exc:
            log.warning(
                "%s: could not open a DM for practitioner %s (%s)", adapter.platform, pr.id, exc
            )
            continue
        if room is None:
            log.warning("%s opens no DMs: practitioner %s links by code", adapter.platform, pr.id)
            continue
        async with sessions() as session, session.begin():
            practice = await session.get(Practice, pr.practice_id)
            ident = Identity(
                platform=adapter.platform,
                address=room,
                practitioner_id=pr.id,
                platform_user=pr.platform_user_id,
                reachable=True,
                created_at=now,
            )
            session.add(ident)
            await session.flush()
            own = await deps.for_practice_id(session, pr.practice_id)
            lang = own.config.language
            text = (
                own.catalog.t(
                    "practitioner.welcome",
                    lang,
                    name=pr.name,
                    practice=practice.name if practice else "",
                )
                + "\n\n"
                + help_text(own.catalog, lang, Role.PRACTITIONER, p=own.prefix(adapter.platform))
            )
            enqueue(
                session,
                own.vault,
                platform=adapter.platform,
                address=room,
                identity_id=ident.id,
                text=text,
                now=now,
            )
            await record(
                session,
                now,
                "system",
                "practitioner.linked",
                "practitioner",
                pr.id,
                platform=adapter.platform,
            )
        opened += 1
    return opened
