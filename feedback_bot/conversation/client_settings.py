"""Client commands that change how the bot treats them: pause, stop, data rights, schedule."""

from __future__ import annotations

from feedback_bot.conversation.notify import notify_practitioner
from feedback_bot.conversation.onboarding import ask_consent, withdraw_consent
from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.delivery.attachments import json_file
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.people.practice_config import _HHMM
from feedback_bot.people.rules import client_tz
from feedback_bot.privacy.audit import record
from feedback_bot.privacy.data_rights import erase_client, export_client, export_json
from feedback_bot.scheduling.due import reschedule_client
from feedback_bot.scheduling.wallclock import is_valid_zone
from feedback_bot.storage.states import Cadence, ClientStatus, Delivery, OutboxKind

CADENCES = [str(c) for c in Cadence]


async def pause(turn: ClientTurn) -> None:
    if turn.client.status == ClientStatus.ACTIVE:
        turn.client.status = ClientStatus.PAUSED
        turn.client.status_changed_at = turn.now
        await reschedule_client(turn.session, turn.client, turn.now)
    turn.say(turn.t("pause.done"))


async def resume(turn: ClientTurn) -> None:
    if turn.client.status == ClientStatus.STOPPED:
        await ask_consent(turn)  # coming back after stop means agreeing again
        return
    turn.client.status = ClientStatus.ACTIVE
    turn.client.status_changed_at = turn.now
    turn.identity.reachable = True
    await reschedule_client(turn.session, turn.client, turn.now)
    turn.say(turn.t("pause.resumed"))


async def stop(turn: ClientTurn) -> None:
    await withdraw_consent(turn)
    await turn.reset()
    turn.say(turn.t("pause.stopped", days=turn.deps.retention_days))


async def export(turn: ClientTurn) -> None:
    data = export_json(await export_client(turn.session, turn.deps.vault, turn.client.id), turn.now)
    await record(turn.session, turn.now, "client", "client.export", "client", turn.client.id)
    turn.say(
        turn.t("export.done"),
        attachments=(json_file(turn.t("export.filename"), data),),
        protect=True,
    )


async def ask_delete(turn: ClientTurn) -> None:
    await turn.ask("delete", turn.t("delete.confirm"), ["yes_delete", "keep"])


async def on_delete(turn: ClientTurn, key: str) -> None:
    if key != "yes_delete":
        await turn.reset()
        turn.say(turn.t("delete.kept"))
        return
    client_id, alias = turn.client.id, turn.client.alias
    await notify_practitioner(turn, "delete.practitioner_notice", alias=alias)
    done_text = turn.t("delete.done")
    platform, address = turn.event.platform, turn.event.address
    counts = await erase_client(turn.session, turn.deps.vault, client_id)
    await record(
        turn.session,
        turn.now,
        "client",
        "client.erased",
        "client",
        client_id,
        **{f"rows_{k}": v for k, v in counts.items()},
    )
    # Not tied to any row of theirs, and deleted once sent.
    enqueue(
        turn.session,
        turn.deps.vault,
        platform=platform,
        address=address,
        text=done_text,
        kind=OutboxKind.EPHEMERAL,
        delivery=Delivery.EPHEMERAL,
        now=turn.now,
    )


async def language(turn: ClientTurn) -> None:
    langs = turn.deps.config.languages
    wanted = turn.event.args.strip().lower()
    if not wanted:
        # Only languages there are texts for: a button must not lead to "I don't have that".
        options = [f"lang_{code}" for code in langs if code in turn.deps.catalog.languages]
        await turn.ask("language", turn.t("language.ask"), options)
        return
    await set_language(turn, wanted)


async def set_language(turn: ClientTurn, code: str) -> None:
    langs = turn.deps.config.languages
    if code not in langs or code not in turn.deps.catalog.languages:
        turn.say(
            turn.t(
                "language.unknown",
                languages=", ".join(lang for lang in langs if lang in turn.deps.catalog.languages),
            )
        )
        return
    turn.client.language = code
    turn.identity.language = code
    await turn.reset()
    turn.say(turn.t("language.done"))


async def checkins(turn: ClientTurn) -> None:
    await turn.ask("cadence", turn.t("settings.checkins_ask"), CADENCES)


async def on_cadence(turn: ClientTurn, key: str) -> None:
    turn.client.checkin_cadence = Cadence(key)
    await reschedule_client(turn.session, turn.client, turn.now)
    await turn.reset()
    turn.say(turn.t("settings.checkins_done", cadence=turn.t(f"labels.cadence.{key}")))


async def timezone(turn: ClientTurn) -> None:
    wanted = turn.event.args.strip()
    if not wanted:
        current = client_tz(turn.client, turn.practitioner, turn.practice)
        turn.say(turn.t("settings.timezone_current", tz=current))
    elif is_valid_zone(wanted):
        turn.client.timezone = wanted
        await reschedule_client(turn.session, turn.client, turn.now)
        turn.say(turn.t("settings.timezone_done", tz=wanted))
    else:
        turn.say(turn.t("settings.timezone_bad", tz=wanted[:64]))


async def quiet(turn: ClientTurn) -> None:
    parts = turn.event.args.replace("-", " ").split()
    if len(parts) != 2 or not all(_HHMM.match(p) for p in parts):
        turn.say(turn.t("settings.quiet_bad"))
        return
    turn.client.quiet_start, turn.client.quiet_end = parts
    await reschedule_client(turn.session, turn.client, turn.now)
    turn.say(turn.t("settings.quiet_done", start=parts[0], end=parts[1]))


async def notices(turn: ClientTurn) -> None:
    arg = turn.event.args.strip().lower()
    turn.client.loop_notices = (
        (not turn.client.loop_notices) if arg not in ("on", "off") else arg == "on"
    )
    turn.say(turn.t("settings.notices_on" if turn.client.loop_notices else "settings.notices_off"))
