"""Linking a chat with a code, and asking for consent before anything is stored."""

from __future__ import annotations

from sqlalchemy import select

from feedback_bot.conversation.turn import Turn
from feedback_bot.people.codes import FailedCodeThrottle, redeem
from feedback_bot.ports import AfterSend
from feedback_bot.privacy.audit import record
from feedback_bot.storage.models import Client, ConsentRecord, Identity, Practice, Practitioner
from feedback_bot.storage.states import ClientStatus, OutboxKind


async def handle_start(turn: Turn, throttle: FailedCodeThrottle) -> None:
    code = turn.event.args.strip()
    if turn.identity is not None:
        if turn.client is not None and turn.client.status == ClientStatus.INVITED:
            await ask_consent(turn)  # "start" again after "Not now"
        elif turn.client is not None and turn.client.status == ClientStatus.STOPPED and not code:
            await ask_consent(turn)
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
        reachable=True,
        platform_user=turn.event.sender,
        created_at=turn.now,
    )
    turn.session.add(ident)
    await turn.session.flush()
    turn.identity = ident
    if row.client_id is not None:
        turn.client = await turn.session.get(Client, row.client_id)
        assert turn.client is not None
        turn.practitioner = await turn.session.get(Practitioner, turn.client.practitioner_id)
        assert turn.practitioner is not None
        turn.practice = await turn.session.get(Practice, turn.practitioner.practice_id)
        await record(turn.session, turn.now, "chat", "client.linked", "client", turn.client.id)
        await ask_consent(turn)
    else:
        turn.practitioner = await turn.session.get(Practitioner, row.practitioner_id)
        assert turn.practitioner is not None
        turn.practice = await turn.session.get(Practice, turn.practitioner.practice_id)
        await record(
            turn.session,
            turn.now,
            "chat",
            "practitioner.linked",
            "practitioner",
            turn.practitioner.id,
        )
        assert turn.practice is not None
        turn.say(
            turn.t("practitioner.welcome", name=turn.practitioner.name, practice=turn.practice.name)
            + "\n\n"
            + turn.t("help.practitioner"),
            kind=OutboxKind.PRACTITIONER_WELCOME,
            then=AfterSend.PRACTITIONER_MENU,
        )


async def ask_consent(turn: Turn) -> None:
    assert turn.practice is not None
    parts = [
        turn.t("onboarding.welcome", practice=turn.practice.name),
        turn.t("onboarding.what"),
        turn.t("onboarding.stored"),
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


async def on_consent(turn: Turn, key: str) -> None:
    if key == "agree":
        await turn.ask("alerts", turn.t("onboarding.ask_alerts"), ["yes_alert", "no_alert"])
    else:
        await turn.reset()
        turn.say(turn.t("onboarding.not_now"))


async def on_alerts(turn: Turn, key: str) -> None:
    client = turn.client
    assert client is not None
    client.risk_alerts = key == "yes_alert"
    client.status = ClientStatus.ACTIVE
    client.status_changed_at = turn.now
    client.consented_at = turn.now
    client.consent_version = turn.deps.config.consent_version
    turn.session.add(
        ConsentRecord(
            client_id=client.id,
            version=turn.deps.config.consent_version,
            risk_alerts=client.risk_alerts,
            given_at=turn.now,
        )
    )
    await record(turn.session, turn.now, "client", "consent.given", "client", client.id)
    await turn.reset()
    turn.say(turn.t("onboarding.done") + "\n\n" + turn.t("common.pause_stop"))


async def withdraw_consent(turn: Turn) -> None:
    client = turn.client
    assert client is not None
    client.status = ClientStatus.STOPPED
    client.status_changed_at = turn.now
    open_consents = await turn.session.execute(
        select(ConsentRecord).where(
            ConsentRecord.client_id == client.id, ConsentRecord.withdrawn_at.is_(None)
        )
    )
    for consent in open_consents.scalars():
        consent.withdrawn_at = turn.now
    await record(turn.session, turn.now, "client", "consent.withdrawn", "client", client.id)
