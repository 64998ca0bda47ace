"""``feedback-bot client``: clients. Admins manage clients by alias and status; they never
see what a client wrote, nor their chat address (docs/security.md, "Admin")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from adapters.registry import platforms
from feedback_bot.app.cli.common import (
    admin_call,
    directory_call,
    emit,
    emit_rows,
    err,
    fail,
    json_option,
    settings_or_exit,
)
from feedback_bot.people import directory

client_app = typer.Typer(help="Clients.", no_args_is_help=True)
CLIENT = typer.Option(..., "--id", "--client", help="the client's id")
ACTOR = "admin"


@client_app.command("invite")
def client_invite(
    practitioner: int = typer.Option(...),
    alias: str = typer.Option(None),
    qr: Path = typer.Option(
        None,
        "--qr",
        metavar="FILE.png|FILE.svg",
        help="also write the invite as a QR code (the Telegram link, else the code)",
    ),
    as_json: bool = json_option(),
) -> None:
    """A new client of a practitioner: prints the one-time invite code and links."""
    from feedback_bot.people.invite_qr import invite_payload, invite_qr, qr_kind_of

    kind = qr_kind_of(qr.name) if qr is not None else None
    if qr is not None and kind is None:
        raise fail("--qr takes a file name ending in .png or .svg", as_json, "usage")
    if qr is not None and not qr.parent.is_dir():
        raise fail(f"no such directory: {qr.parent}", as_json, "usage")
    invite = admin_call(lambda b: b.admin.invite_client(practitioner, alias), as_json)
    data: dict[str, Any] = {
        "client_id": invite.client_id,
        "alias": invite.alias,
        "invite_code": invite.code,
    }
    settings = settings_or_exit(as_json)
    links: dict[str, str] = {}
    for platform in platforms():
        if template := platform.invite_link_for(settings):
            links[platform.name] = template.format(code=invite.code)
    links.update(invite.links)
    data.update({f"{p}_link": link for p, link in links.items()})
    if qr is not None and kind is not None:
        payload = invite_payload(invite.code, links)
        qr.write_bytes(invite_qr(payload, kind))
        data["qr_file"] = str(qr)
        data["qr_encodes"] = "telegram_link" if payload != invite.code else "invite_code"
        if not as_json:
            err.print(
                "The QR code lets whoever scans it link to this client: hand it only to them.",
                highlight=False,
            )
    emit(data, as_json, "Client invited")


@client_app.command("list")
def client_list(
    practice: int = typer.Option(..., "--practice"),
    practitioner: int = typer.Option(None, "--practitioner", help="only this one's clients"),
    as_json: bool = json_option(),
) -> None:
    """A practice's clients: alias, practitioner, status and last activity (no content)."""
    rows = directory_call(
        lambda s, b: directory.list_clients(s, practice, practitioner_id=practitioner), as_json
    )
    emit_rows(
        "clients",
        [r.as_dict() for r in rows],
        ["id", "alias", "practitioner_id", "practitioner", "status", "linked", "last_activity"],
        as_json,
        f"Clients of practice {practice}",
    )


@client_app.command("show")
def client_show(client: int = CLIENT, as_json: bool = json_option()) -> None:
    """One client: practitioner, status, where linked (platform only), times. Never what
    they wrote, never their chat address."""
    info = directory_call(lambda s, b: directory.show_client(s, client), as_json)
    emit(info.as_dict(), as_json, f"Client {client}")


@client_app.command("set")
def client_set(
    client: int = CLIENT,
    alias: str = typer.Option(None, help="a new alias, unique for their practitioner"),
    as_json: bool = json_option(),
) -> None:
    """Change what the practice calls a client (their schedule is theirs to set)."""
    if alias is None:
        raise fail("nothing to change: give --alias", as_json, "usage")

    async def go(session: Any, bot: Any) -> list[str]:
        return await directory.set_client(
            session, client, actor=ACTOR, now=bot.clock.now(), alias=alias
        )

    changed = directory_call(go, as_json)
    emit({"client_id": client, "changed": changed}, as_json, "Client changed")


@client_app.command("deactivate")
def client_deactivate(client: int = CLIENT, as_json: bool = json_option()) -> None:
    """End the feedback line for a client: they are told kindly, nothing new is kept, no
    check-ins come, and they keep their export and erasure."""

    async def go(session: Any, bot: Any) -> None:
        await directory.deactivate_client(
            session, client, actor=ACTOR, deps=bot.deps, now=bot.clock.now()
        )

    directory_call(go, as_json)
    emit({"client_id": client, "deactivated": True}, as_json, "Client deactivated")


@client_app.command("move")
def client_move(
    client: int = CLIENT,
    to: int = typer.Option(..., "--to", metavar="PRACTITIONER", help="the new practitioner's id"),
    as_json: bool = json_option(),
) -> None:
    """Move a client to another practitioner of the same practice. From now on what they
    share goes to the new practitioner, who does not see what came before; the client is
    told in their language; check-ins are recomputed and old session dates removed."""

    async def go(session: Any, bot: Any) -> int:
        moved = await directory.move_client(
            session, client, to, actor=ACTOR, deps=bot.deps, now=bot.clock.now()
        )
        return moved.practitioner_id

    now_with = directory_call(go, as_json)
    emit({"client_id": client, "practitioner_id": now_with}, as_json, "Client moved")
