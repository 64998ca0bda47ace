"""Client commands that change how the bot treats them: pause, stop, data rights, schedule."""

from __future__ import annotations

from feedback_bot.conversation import feedback, schedule_text
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
DAY_KEYS = [f"day_{i}" for i in range(7)]
TIME_KEYS = ["at_0900", "at_1200", "at_1800", "at_2000"]


async def urgent(turn: ClientTurn) -> None:
    """The full list of where to get help now, whenever they ask (also before consent)."""
    turn.say(turn.t("urgent.intro") + "\n\n" + turn.crisis_block())


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
        practice_id=turn.practice.id,  # the client's row is gone
        **{f"rows_{k}": v for k, v in counts.items()},
    )
    # Not tied to any row of theirs, and deleted once sent with the chat's pacing row.
    enqueue(
        turn.session,
        turn.deps.vault,
        platform=platform,
        address=address,
        text=done_text,
        kind=OutboxKind.EPHEMERAL,
        delivery=Delivery.FAREWELL,
        now=turn.now,
    )


async def language(turn: ClientTurn) -> None:
    langs = turn.deps.config.offered_languages
    wanted = turn.event.args.strip().lower()
    if not wanted:
        # Only languages there are texts for: a button must not lead to "I don't have that".
        options = [f"lang_{code}" for code in langs if code in turn.deps.catalog.languages]
        await turn.ask("language", turn.t("language.ask"), options)
        return
    await set_language(turn, wanted)


async def set_language(turn: ClientTurn, code: str) -> None:
    langs = turn.deps.config.offered_languages
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
    """Shows the current setting first; with words ("weekly thursday 18:00", "off") sets
    it in one go, without them (or with "weekly" alone) asks step by step."""
    words = turn.event.args.lower().replace(",", " ").split()
    if not words:
        await turn.ask(
            "cadence",
            schedule_text.checkins_now(turn) + "\n\n" + turn.t("schedule.checkins.ask"),
            CADENCES,
        )
        return
    parsed = schedule_text.parse_checkins(turn, words)
    if parsed is None:
        turn.say(schedule_text.checkins_now(turn) + "\n\n" + turn.t("schedule.checkins.bad"))
        return
    cadence, day, at = parsed
    if cadence != Cadence.WEEKLY:
        await _set_cadence(turn, cadence)
        return
    if day is None and at is None:
        await _ask_day(turn)
    elif at is None:
        assert day is not None
        await _ask_time(turn, day)
    else:
        await _set_weekly(turn, turn.client.checkin_weekday if day is None else day, at)


async def on_cadence(turn: ClientTurn, key: str) -> None:
    if key == Cadence.WEEKLY:
        await _ask_day(turn)
        return
    await _set_cadence(turn, Cadence(key))


async def _ask_day(turn: ClientTurn) -> None:
    await turn.ask("checkin_day", turn.t("schedule.checkins.ask_day"), DAY_KEYS)


async def _ask_time(turn: ClientTurn, day: int) -> None:
    await turn.ask(
        "checkin_time",
        turn.t("schedule.checkins.ask_time", tz=_tz(turn)),
        TIME_KEYS,
        data={"day": day},
    )


async def on_day(turn: ClientTurn, key: str) -> None:
    await _ask_time(turn, DAY_KEYS.index(key))


async def on_time(turn: ClientTurn, key: str | None) -> None:
    """A time button, or a time typed ("18:30"); anything else is asked again kindly."""
    conv = await turn.conv()
    day = int(conv.data.get("day", turn.client.checkin_weekday))
    if key is not None and key in TIME_KEYS:
        at = f"{key[3:5]}:{key[5:7]}"
    else:
        typed = turn.event.text or ""
        at = schedule_text.read_time(typed) or ""
        if not at and any(c.isdigit() for c in typed) and len(typed) <= 12:
            turn.say(turn.t("schedule.checkins.time_bad"))
            return
        if not at:
            # Not a time at all: words are never thrown away, so they start an item.
            await turn.reset()
            await feedback.start(turn, typed)
            return
    await _set_weekly(turn, day, at)


async def _set_cadence(turn: ClientTurn, cadence: Cadence) -> None:
    turn.client.checkin_cadence = cadence
    await _checkins_changed(turn)


async def _set_weekly(turn: ClientTurn, day: int, at: str) -> None:
    turn.client.checkin_cadence = Cadence.WEEKLY
    turn.client.checkin_weekday = day
    turn.client.checkin_time = at
    await _checkins_changed(turn)


async def _checkins_changed(turn: ClientTurn) -> None:
    await reschedule_client(turn.session, turn.client, turn.now)
    await turn.reset()
    turn.say(turn.t("schedule.checkins.done") + " " + schedule_text.checkins_now(turn))


def _tz(turn: ClientTurn) -> str:
    return client_tz(turn.client, turn.practitioner, turn.practice)


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
    words = turn.event.args.replace("-", " ").split()
    if not words:
        turn.say(schedule_text.quiet_now(turn) + "\n" + turn.t("schedule.quiet.how"))
        return
    if [w.lower() for w in words] == ["off"]:
        # Equal start and end mean no quiet hours (scheduling/wallclock.in_quiet_hours).
        turn.client.quiet_start = turn.client.quiet_end = "00:00"
        await reschedule_client(turn.session, turn.client, turn.now)
        turn.say(turn.t("schedule.quiet.done") + " " + schedule_text.quiet_now(turn))
        return
    if len(words) != 2 or not all(_HHMM.match(w) for w in words):
        turn.say(schedule_text.quiet_now(turn) + "\n\n" + turn.t("settings.quiet_bad"))
        return
    turn.client.quiet_start, turn.client.quiet_end = (schedule_text.hhmm(w) for w in words)
    await reschedule_client(turn.session, turn.client, turn.now)
    turn.say(turn.t("schedule.quiet.done") + " " + schedule_text.quiet_now(turn))


async def notices(turn: ClientTurn) -> None:
    arg = turn.event.args.strip().lower()
    if arg not in ("on", "off"):
        turn.say(schedule_text.notices_now(turn))
        return
    turn.client.loop_notices = arg == "on"
    turn.say(turn.t("settings.notices_on" if turn.client.loop_notices else "settings.notices_off"))
