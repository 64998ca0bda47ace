"""What clients write never appears in logs (at any level), in the database file, or in
metrics; and what is stored is encrypted, bound to its row, and useless without the key."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.engine import make_url

from feedback_bot.app.bootstrap import make_vault
from feedback_bot.conversation import feedback
from feedback_bot.conversation.turn import Turn
from feedback_bot.ports import EventKind, IncomingEvent
from feedback_bot.privacy.crypto import DecryptionError, generate_key
from feedback_bot.storage.models import Base, FeedbackItem, Identity, InboxEvent, OutboxMessage
from tests import harness
from tests.harness import Harness


def marker() -> str:
    return f"QZX{uuid.uuid4().hex[:12]}"


async def share(bot: Harness, who: str, said: str, route: str = "Just so you know") -> None:
    replies = await bot.says(who, said)
    if replies and replies[-1] == harness.t(bot, "safety.kept"):
        await bot.says(who, "!feedback")  # after a crisis reply, the flow waits to be asked for
    await bot.presses(who, "Something else")
    await bot.presses(who, route)


async def everything_in_the_database(bot: Harness) -> str:
    """Every row of every table, as text (for PostgreSQL, where there is no one file)."""
    out: list[str] = []
    async with bot.app.sessions() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).all():
                out.append(repr(tuple(row)))
    return "\n".join(out)


def database_files(bot: Harness) -> bytes:
    url = make_url(bot.app.settings.database_url)
    if url.get_backend_name() != "sqlite":
        return b""
    base = Path(url.database or "")
    return b"".join(
        p.read_bytes() for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists()
    )


async def test_no_client_words_in_logs_database_or_metrics(
    bot: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("aiosqlite", "asyncpg", "sqlalchemy", "feedback_bot", "adapters"):
        caplog.set_level(logging.DEBUG, logger=name)
    markers: list[str] = []

    def m() -> str:
        markers.append(marker())
        return markers[-1]

    pid = await bot.practitioner("dr", name="Sam")
    await bot.client("alex", pid, alerts=True)
    await bot.client("robin", pid)

    # Feedback in every shape: free text first, words asked for, mid-flow extra words.
    await share(bot, "alex", f"the session felt rushed {m()}", "Bring it into our next session")
    await bot.says("alex", "!feedback")
    await bot.presses("alex", "Something didn't feel right")
    await bot.says("alex", f"you looked at the clock {m()}")
    await bot.says("alex", f"and one more thing {m()}")
    await bot.presses("alex", "Just so you know")
    # Edit, withdraw, a safety phrase, an over-long text, an unknown command.
    await bot.says("alex", "!mine")
    await bot.says("alex", "!edit 1")
    await bot.says("alex", f"edited words {m()}")
    await share(bot, "robin", f"I don't see the point anymore {m()}")
    await bot.says("robin", f"{m()} " * 3000)
    await bot.says("alex", f"!{m()} with {m()}")
    await bot.says("alex", f"!timezone {m()}")
    await bot.says("alex", f"!quiet {m()}")
    # A stranger, whose words must not be kept either.
    await bot.says("stranger", f"hello {m()}")
    # A handler that fails with the client's words in its exception message.
    real_start = feedback.start

    async def leaky_start(turn: Turn, text: str | None = None, **kw: Any) -> None:
        if text and "LEAK" in text:
            raise ValueError(f"could not handle {text!r}")
        await real_start(turn, text, **kw)

    monkeypatch.setattr(feedback, "start", leaky_start)
    await bot.says("robin", f"LEAK {m()}")
    monkeypatch.undo()
    # The practitioner reads it all, and acknowledges.
    await bot.says("dr", "!digest")
    await bot.presses("dr", "I've read this")
    await bot.presses("dr", "In my own words")
    await bot.says("dr", f"thank you both {m()}")  # the practitioner's words are kept safe too
    await bot.says("dr", f"!reply Alex see you Tuesday {m()}")
    await bot.says("alex", "!withdraw 2")
    # Export and then erasure.
    await bot.says("alex", "!export")
    exported = bot.console.sent["alex"][-1].attachments[0].data.decode()
    assert markers[0] not in exported and markers[3] in exported  # item 1 is the first, always
    await bot.says("robin", "!delete")
    await bot.presses("robin", "Yes, delete everything")

    # The flows really carried the words (so the checks below can fail).
    digest = bot.all_text("dr")
    assert markers[1] in digest and markers[3] in digest and markers[4] in digest
    assert bot.all_text("alex").count("thank you both") == 1
    assert "see you Tuesday" in bot.all_text("alex")
    assert len(caplog.records) > 0

    logged = "\n".join(
        [caplog.text]
        + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {r.__dict__!r}" for r in caplog.records]
    )
    stored = await everything_in_the_database(bot)
    files = database_files(bot)
    metrics = generate_latest(REGISTRY).decode()
    for mk in markers:
        assert mk not in logged, "client words in the logs"
        assert mk not in stored, "client words stored in plain text"
        assert mk.encode() not in files, "client words in the database file"
        assert mk not in metrics, "client words in metrics"
    assert "point anymore" not in logged
    assert "point anymore" not in stored and b"point anymore" not in files


async def test_stored_text_is_encrypted_and_bound_to_its_row(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    cid = await bot.client("alex", pid)
    first, second = marker(), marker()
    await share(bot, "alex", first)
    await share(bot, "alex", second)
    async with bot.app.sessions() as s:
        items = list(
            (
                await s.execute(
                    select(FeedbackItem)
                    .where(FeedbackItem.client_id == cid)
                    .order_by(FeedbackItem.id)
                )
            ).scalars()
        )
    a, b = items
    for item in items:
        assert item.text_enc is not None and item.text_enc.startswith("v1.")
        assert first not in item.text_enc and second not in item.text_enc
    vault = bot.app.vault
    assert vault.open("feedback_item", "text", a.uid, a.text_enc or "") == first
    # Same value again gives a different ciphertext (random nonce).
    assert vault.seal("feedback_item", "text", a.uid, first) != a.text_enc

    # Another key can't read it.
    other = make_vault(
        harness.settings_for(bot.app.settings.database_url, encryption_key=generate_key())
    )
    with pytest.raises(DecryptionError):
        other.open("feedback_item", "text", a.uid, a.text_enc or "")
    # A ciphertext copied onto another row, or into another column, doesn't open.
    with pytest.raises(DecryptionError):
        vault.open("feedback_item", "text", b.uid, a.text_enc or "")
    with pytest.raises(DecryptionError):
        vault.open("inbox", "payload", a.uid, a.text_enc or "")
    # Nor does a tampered one.
    token = a.text_enc or ""
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        vault.open("feedback_item", "text", a.uid, tampered)


async def test_inbox_and_outbox_hold_content_only_encrypted_and_only_while_needed(
    bot: Harness,
) -> None:
    pid = await bot.practitioner("dr")
    await bot.client("alex", pid)
    said = marker()
    event = await bot.console.say("alex", said)
    async with bot.app.sessions() as s:
        [pending] = (
            await s.execute(select(InboxEvent).where(InboxEvent.event_id == event.event_id))
        ).scalars()
    assert pending.status == "pending"
    assert pending.payload_enc is not None and pending.payload_enc.startswith("v1.")
    assert said not in pending.payload_enc
    assert "alex" not in pending.chat_hash

    # Processed but not yet delivered: the reply is queued, encrypted.
    await bot.app.process_inbox()
    async with bot.app.sessions() as s:
        [done] = (
            await s.execute(select(InboxEvent).where(InboxEvent.event_id == event.event_id))
        ).scalars()
        queued = list(
            (
                await s.execute(select(OutboxMessage).where(OutboxMessage.status == "pending"))
            ).scalars()
        )
    assert done.status == "done" and done.payload_enc is None
    assert queued
    for row in queued:
        assert row.payload_enc.startswith("v1.") and "alex" not in row.address

    await bot.app.drain()
    async with bot.app.sessions() as s:
        sent = list((await s.execute(select(OutboxMessage))).scalars())
    assert sent and all(r.status == "sent" for r in sent)
    for row in sent:
        # Delivered content is not kept: the chat has it.
        assert bot.app.vault.open_json("outbox", "payload", row.uid, row.payload_enc) == {
            "sent": True
        }
        assert row.attachments_enc is None


async def test_the_export_message_is_protected_and_not_kept(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    cid = await bot.client("alex", pid)
    said = marker()
    await share(bot, "alex", said)
    await bot.says("alex", "!export")
    msg = bot.console.sent["alex"][-1]
    assert msg.protect
    assert json.loads(msg.attachments[0].data)["feedback"][0]["your_words"] == said
    async with bot.app.sessions() as s:
        rows = list(
            (await s.execute(select(OutboxMessage).where(OutboxMessage.status == "sent"))).scalars()
        )
    assert rows and all(r.attachments_enc is None for r in rows)
    assert cid


async def test_a_failing_commit_does_not_log_the_words(
    bot: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    pid = await bot.practitioner("dr")
    await bot.client("alex", pid)
    real = bot.app.inbox._sessions

    def failing() -> Any:
        session = real()

        def boom(_: Any) -> None:
            raise RuntimeError("database went away")

        sa_event.listen(session.sync_session, "before_commit", boom)
        return session

    monkeypatch.setattr(bot.app.inbox, "_sessions", failing)
    said = f"I don't see the point anymore {marker()}"
    with pytest.raises(RuntimeError):
        await bot.console.say("alex", said)
    assert bot.console.sent["alex"][-1].text.startswith(bot.app.catalog.t("safety.reply", "en"))
    assert any(r.levelno >= logging.ERROR for r in caplog.records)
    assert said not in caplog.text and said.split()[-1] not in caplog.text


async def test_debug_logging_names_nobody(bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG the database driver used to log every statement with its parameters: chat
    addresses and aliases, which say who is in therapy with whom."""
    from adapters.registry import platforms
    from feedback_bot.app.logging_setup import LIBRARY_LOGGERS, configure

    names = [*LIBRARY_LOGGERS, *(n for p in platforms() for n in p.loggers)]
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        configure("DEBUG", platforms())  # as `feedback-bot run` does with LOG_LEVEL=DEBUG
        caplog.set_level(logging.DEBUG)
        address, alias, said = f"chat{marker()}", f"Alias{marker()}", f"words {marker()}"
        pid = await bot.practitioner("dr", name="Sam")
        await bot.client(address, pid, alias=alias)
        await share(bot, address, said)
        await bot.says("dr", "!digest")
        logging.getLogger("feedback_bot.test").debug("debug is on")
        assert "debug is on" in caplog.text  # the scan below would see DEBUG records
        for secret in (address, alias, said):
            assert secret not in caplog.text
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_database_file_reveals_no_addresses_or_aliases(bot: Harness) -> None:
    """Who is a client, and whose, is itself health data: a copy of the database shows no
    chat address, platform user id, alias or practitioner name, while the bot still finds
    everyone by them."""
    digits = str(uuid.uuid4().int)[:10]
    client_chat, practitioner_chat = f"9{digits}", f"8{digits}"
    client_user, dm_user = f"@{marker()}:example.org", f"@{marker()}:example.org"
    alias, name, dm_name = marker(), marker(), marker()

    pid = await bot.practitioner(practitioner_chat, name=name)
    practice = bot.practice_id
    await bot.app.admin.add_practitioner(practice, dm_name, platform_user=("console", dm_user))
    invite = await bot.app.admin.invite_client(pid, alias)
    await bot.console.deliver(
        IncomingEvent(
            "console",
            marker(),
            client_chat,
            EventKind.COMMAND,
            text=f"!start {invite.code}",
            command="start",
            args=invite.code,
            sender=client_user,
        )
    )
    await bot.app.drain()
    await bot.presses(client_chat, "I agree")
    await bot.presses(client_chat, "No, thank you")
    await share(bot, client_chat, "The session felt rushed")
    # Still found by all of it: the alias (in another case), the chat, the user id.
    [listed] = await bot.says(practitioner_chat, "!clients")
    assert alias in listed
    [reply] = await bot.says(practitioner_chat, f"!session {alias.lower()} 2026-11-20 14:00")
    assert reply.startswith(f"Next session with {alias}:")
    async with bot.app.sessions() as s:
        ident = (
            await s.execute(select(Identity).where(Identity.platform_user == client_user))
        ).scalar_one()
        assert (ident.address, ident.client_id) == (client_chat, invite.client_id)

    names = [client_chat, practitioner_chat, client_user, dm_user, alias, name, dm_name]
    on_disk = database_files(bot)
    as_text = await everything_in_the_database(bot)
    for secret in names:
        assert secret.encode() not in on_disk, secret
        assert secret not in as_text, secret
