"""The console's changes to people that the admin CLI's directory service also makes
(deactivate a practitioner, move a client, the invite's QR code). A thin adapter so the
pages call one place whatever the service below is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import segno
from sqlalchemy import select

from feedback_bot.privacy.audit import record
from feedback_bot.scheduling.due import reschedule_client, reschedule_practitioner
from feedback_bot.storage.models import Client, Practice, Practitioner

if TYPE_CHECKING:
    from feedback_bot.app.bootstrap import App


async def deactivate_practitioner(app: App, practitioner_id: int, by: str) -> str | None:
    """None when done, else why not (in words for the admin)."""
    now = app.clock.now()
    async with app.sessions() as session, session.begin():
        pr = await session.get(Practitioner, practitioner_id)
        if pr is None:
            return "No such practitioner."
        practice = await session.get(Practice, pr.practice_id)
        if practice is not None and practice.feedback_contact_id == pr.id:
            return "Choose another feedback contact before deactivating this practitioner."
        has_clients = (
            await session.execute(select(Client.id).where(Client.practitioner_id == pr.id))
        ).first()
        if has_clients is not None:
            return "Move their clients to another practitioner first."
        pr.active = False
        await reschedule_practitioner(session, pr, now)
        await record(session, now, by, "practitioner.deactivated", "practitioner", pr.id)
    return None


async def move_client(app: App, client_id: int, to_practitioner_id: int, by: str) -> str | None:
    now = app.clock.now()
    async with app.sessions() as session, session.begin():
        client = await session.get(Client, client_id)
        target = await session.get(Practitioner, to_practitioner_id)
        if client is None or target is None or not target.active:
            return "Choose an active practitioner."
        if client.practitioner_id == target.id:
            return "The client is with that practitioner already."
        taken = (
            await session.execute(
                select(Client.id).where(
                    Client.practitioner_id == target.id, Client.alias == client.alias
                )
            )
        ).first()
        if taken is not None:
            return "That practitioner already has a client with this alias."
        before = client.practitioner_id
        client.practitioner_id = target.id
        await reschedule_client(session, client, now)
        await record(
            session,
            now,
            by,
            "client.moved",
            "client",
            client.id,
            from_practitioner=before,
            to_practitioner=target.id,
        )
    return None


def invite_qr_svg(payload: str) -> str:
    """The invite as an inline SVG QR code (dark on white, with its quiet zone)."""
    return segno.make(payload, error="m").svg_inline(scale=4, dark="#000000", light="#ffffff")
