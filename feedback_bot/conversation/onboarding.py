"""Linking a chat with a code, and asking for consent before anything is stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from feedback_bot.conversation import admin_chat
from feedback_bot.conversation.turn import ClientTurn, PractitionerTurn, Turn, load_people
from feedback_bot.people.codes import FailedCodeThrottle, redeem
from feedback_bot.ports import AfterSend
from feedback_bot.privacy.audit import record
from feedback_bot.scheduling.due import reschedule_client
from feedback_bot.storage.models import ConsentRecord, Identity
from feedback_bot.storage.states import ClientStatus, OutboxKind


async def handle_start(
    turn: Turn, throttle: FailedCodeThrottle, practitioner_help: Callable[[PractitionerTurn], str]
) -> None:
    """Link the chat with a code. A practitioner is welcomed with ``practitioner_help``
    (given by the router: the help text comes from the command table, which needs us)."""
    code = turn.event.args.strip()
    if turn.identity is not None:
        client_turn = ClientTurn.of(turn)
        if client_turn is not None and client_turn.client.status == ClientStatus.INVITED:
            await ask_consent(client_turn)  # "start" again after "Not now"
        elif (
            client_turn is not None
            and client_turn.client.status == ClientStatus.STOPPED
            and not code
        ):
            await ask_consent(client_turn)
        else:
            turn.say(turn.t("code.already_linked"))
        return
    chat_key = turn.deps.vault.keyed_hash(turn.event.platform, turn.event.address)
    if throttle.blocked(chat_key):
        turn.say(turn.t("code.throttled"))
        return
    row = await redeem(turn.session, code, turn.now) if code else None
    if row is None:
        throttle.failed(chat_key)
        turn.say(turn.t("code.invalid") if code else turn.t("unlinked"))
        return
    ident = Identity(
        platform=turn.event.platform,
        address=turn.event.address,
        client_id=row.client_id,
        practitioner_id=row.practitioner_id,
        admin_id=row.admin_id,
        reachable=True,
        platform_user=turn.event.sender,
        created_at=turn.now,
    )
    turn.session.add(ident)
    await turn.session.flush()
    if row.admin_id is not None:
        turn.identity = ident
        await record(
            turn.session, turn.now, "chat", "console_admin.linked", "console_admin", row.admin_id
        )
        await admin_chat.welcome(turn, row.admin_id)
        return
    await load_people(turn)  # the new link: the client, or the practitioner, behind it
    if (client_turn := ClientTurn.of(turn)) is not None:
        await record(
            turn.session, turn.now, "chat", "client.linked", "client", client_turn.client.id
        )
        await ask_consent(client_turn)
    elif (pr_turn := PractitionerTurn.of(turn)) is not None:
        pr = pr_turn.practitioner
        await record(turn.session, turn.now, "chat", "practitioner.linked", "practitioner", pr.id)
        pr_turn.say(
            pr_turn.t("practitioner.welcome", name=pr.name, practice=pr_turn.practice.name)
            + "\n\n"
            + practitioner_help(pr_turn),
            kind=OutboxKind.PRACTITIONER_WELCOME,
            then=AfterSend.PRACTITIONER_MENU,
        )


async def ask_consent(turn: ClientTurn) -> None:
    if turn.client.deactivated_at is not None:
        # The practice ended the line (people/directory): coming back is not the client's
        # to choose; their data rights stay.
        turn.say(turn.t("directory.ended_already"))
        return
    parts = [
        turn.t("onboarding.welcome", practice=turn.practice.name),
        turn.t("onboarding.what"),
        turn.t("ethos.intro"),
        turn.t("onboarding.stored"),
        turn.t("transparency.sees"),
        turn.t("common.not_monitored"),
        turn.crisis_block(),
        turn.t("onboarding.checkins"),
        turn.t("common.pause_stop"),
    ]
    note_key = f"platform_note.{turn.event.platform}"
    if turn.deps.catalog.has(note_key, turn.lang):
        parts.append(turn.t(note_key))
    turn.say("\n\n".join(parts))
    await turn.ask("consent", turn.t("onboarding.ask"), ["agree", "not_now"])


async def on_consent(turn: ClientTurn, key: str) -> None:
    if key == "agree":
        await turn.ask("alerts", turn.t("onboarding.ask_alerts"), ["yes_alert", "no_alert"])
    else:
        await turn.reset()
        turn.say(turn.t("onboarding.not_now"))


async def on_alerts(turn: ClientTurn, key: str) -> None:
    await _give_consent(turn, risk_alerts=key == "yes_alert")
    await record(turn.session, turn.now, "client", "consent.given", "client", turn.client.id)
    await turn.reset()
    turn.say(turn.t("onboarding.done") + "\n\n" + turn.t("common.pause_stop"))


async def consent_with_words(turn: ClientTurn) -> None:
    """They pressed "I agree" and then wrote instead of answering about alerts. Consent
    given is consent given: alerts stay off until they answer, which they are asked
    again, gently, later (``draft_clock``); their words go on as feedback."""
    await _give_consent(turn, risk_alerts=False)
    turn.client.alerts_ask_at = turn.now + ALERTS_ASK_AGAIN_AFTER
    await record(turn.session, turn.now, "client", "consent.given", "client", turn.client.id)
    await turn.reset()
    turn.say(turn.t("words.consent_kept"))


ALERTS_ASK_AGAIN_AFTER = timedelta(hours=3)
ALERTS_OPTIONS = ["yes_alert", "no_alert"]


async def on_alerts_again(turn: ClientTurn, key: str) -> None:
    """The alerts question asked again: the answer changes the consent on record."""
    client = turn.client
    client.risk_alerts = key == "yes_alert"
    client.alerts_ask_at = None
    consents = await turn.session.execute(
        select(ConsentRecord).where(
            ConsentRecord.client_id == client.id, ConsentRecord.withdrawn_at.is_(None)
        )
    )
    for consent in consents.scalars():
        consent.risk_alerts = client.risk_alerts
    await record(turn.session, turn.now, "client", "consent.alerts", "client", client.id)
    await turn.reset()
    turn.say(turn.t("words.alerts_on" if client.risk_alerts else "words.alerts_off"))


async def _give_consent(turn: ClientTurn, *, risk_alerts: bool) -> None:
    client = turn.client
    client.risk_alerts = risk_alerts
    client.status = ClientStatus.ACTIVE
    client.status_changed_at = turn.now
    client.consented_at = turn.now
    client.consent_version = turn.deps.config.consent_version
    await reschedule_client(turn.session, client, turn.now)
    turn.session.add(
        ConsentRecord(
            client_id=client.id,
            version=turn.deps.config.consent_version,
            risk_alerts=client.risk_alerts,
            given_at=turn.now,
        )
    )


async def withdraw_consent(turn: ClientTurn) -> None:
    client = turn.client
    client.status = ClientStatus.STOPPED
    client.status_changed_at = turn.now
    await reschedule_client(turn.session, client, turn.now)
    open_consents = await turn.session.execute(
        select(ConsentRecord).where(
            ConsentRecord.client_id == client.id, ConsentRecord.withdrawn_at.is_(None)
        )
    )
    for consent in open_consents.scalars():
        consent.withdrawn_at = turn.now
    await record(turn.session, turn.now, "client", "consent.withdrawn", "client", client.id)
