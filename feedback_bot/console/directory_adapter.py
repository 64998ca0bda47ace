"""The console's changes to people go through the practice directory
(``people/directory``), scoped to the admin's practice, like the admin CLI's; its errors
become a sentence shown beside the form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from feedback_bot.people import directory
from feedback_bot.people.directory import DirectoryError
from feedback_bot.people.invite_qr import qr_code

if TYPE_CHECKING:
    from feedback_bot.app.bootstrap import App


async def deactivate_practitioner(
    app: App, practice_id: int, practitioner_id: int, by: str
) -> str | None:
    """None when done, else why not (in words for the admin)."""
    try:
        async with app.sessions() as session, session.begin():
            await directory.deactivate_practitioner(
                session, practitioner_id, actor=by, now=app.clock.now(), scope=practice_id
            )
    except DirectoryError as exc:
        return exc.message
    return None


async def move_client(
    app: App, practice_id: int, client_id: int, to_practitioner_id: int, by: str
) -> str | None:
    try:
        async with app.sessions() as session, session.begin():
            await directory.move_client(
                session,
                client_id,
                to_practitioner_id,
                actor=by,
                deps=app.deps,
                now=app.clock.now(),
                scope=practice_id,
            )
    except DirectoryError as exc:
        return exc.message
    app.wake()  # the client is told about the move
    return None


def invite_qr_svg(payload: str) -> str:
    """The invite's QR code (the admin CLI's, ``people/invite_qr.py``) as inline SVG."""
    return str(qr_code(payload).svg_inline(scale=4, dark="#000000", light="#ffffff"))
