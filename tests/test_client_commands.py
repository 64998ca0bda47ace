"""Every client command, through the whole app: help, mine/edit/withdraw, pause/resume, stop,
export, delete, language, checkins, timezone, quiet and notices."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from feedback_bot.catalog import dates
from feedback_bot.delivery.outbox import to_message
from feedback_bot.privacy.access import read_own_text
from feedback_bot.storage.models import (
    AuditEvent,
    Base,
    Client,
    ConsentRecord,
    Digest,
    FeedbackItem,
    Identity,
    InboxEvent,
    OutboxMessage,
)
from tests.harness import Harness, count, rows, t


async def client(bot: Harness, cid: int) -> Client:
    [row] = await rows(bot, Client, Client.id == cid)
    return row


async def items(bot: Harness, cid: int) -> list[FeedbackItem]:
    found = await rows(bot, FeedbackItem, FeedbackItem.client_id == cid)
    return sorted(found, key=lambda i: i.id)


def words(bot: Harness, item: FeedbackItem) -> str | None:
    return read_own_text(bot.app.vault, item.client_id, item)


def day(bot: Harness, instant: datetime) -> str:
    return dates.date(bot.app.catalog, "en", instant, "Europe/London")


async def share(bot: Harness, who: str, said: str, route: str = "Just so you know") -> None:
    await bot.says(who, said)
    await bot.presses(who, "Something else")
    await bot.presses(who, route)


async def setup(bot: Harness) -> tuple[int, int]:
    pid = await bot.practitioner("dr", name="Sam")
    cid = await bot.client("alex", pid)
    bot.new_messages("dr")
    return pid, cid


# -- help -----------------------------------------------------------------------------------


async def test_help_lists_every_command_and_the_safety_footer(bot: Harness) -> None:
    await setup(bot)
    [reply] = await bot.says("alex", "!help")
    for command in (
        "feedback", "mine", "checkins", "timezone", "quiet", "notices",
        "pause", "resume", "stop", "export", "delete", "language",
    ):  # fmt: skip
        assert f"!{command}" in reply, command
    assert t(bot, "common.not_monitored") in reply
    for r in bot.app.config.crisis_resources_for("en").emergency:
        assert r.contact in reply


# -- mine, edit, withdraw ------------------------------------------------------------------


async def test_mine_lists_recent_items_newest_first(bot: Harness) -> None:
    _, cid = await setup(bot)
    [empty] = await bot.says("alex", "!mine")
    assert empty.startswith(t(bot, "mine.empty"))
    await share(bot, "alex", "first", "Bring it into our next session")
    bot.clock.advance(timedelta(days=1))
    await share(bot, "alex", "second")
    [listing] = await bot.says("alex", "!mine")
    lines = listing.splitlines()
    assert lines[0] == t(bot, "mine.header")
    today = bot.clock.now()
    yesterday = today - timedelta(days=1)
    # Newest first, each with its own number, which never shifts.
    assert lines[1].startswith(f"2. {day(bot, today)}") and "just so you know" in lines[1]
    assert lines[2].startswith(f"1. {day(bot, yesterday)}")
    assert "for your next session" in lines[2]
    # The list shows what and where, not the words themselves.
    assert "first" not in listing and "second" not in listing


async def test_edit_replaces_the_words_or_keeps_them(bot: Harness) -> None:
    _, cid = await setup(bot)
    await share(bot, "alex", "I felt rushed at the end")
    for arg in ("2", "0", "x", ""):
        assert await bot.says("alex", f"!edit {arg}".strip()) == [
            t(bot, "mine.pick_unknown", n=arg or "?")
        ]
    await bot.says("alex", "!edit 1")
    [reply] = await bot.presses("alex", "Skip")
    assert "erased" not in reply  # nothing is being erased here
    [item] = await items(bot, cid)
    assert words(bot, item) == "I felt rushed at the end" and item.edit_count == 0

    await bot.says("alex", "!mine")
    [question] = await bot.says("alex", "!edit 1")
    # The old words are shown, so the client can change them rather than retype them.
    assert question.startswith(t(bot, "words.edit_old", words="I felt rushed at the end"))
    assert t(bot, "mine.edit_ask") in question
    assert await bot.says("alex", "I felt a little rushed at the very end") == [
        t(bot, "mine.edited")
    ]
    [item] = await items(bot, cid)
    assert words(bot, item) == "I felt a little rushed at the very end"
    assert item.edit_count == 1 and item.edited_at is not None
    assert item.status == "submitted"
    # The digest shows the new words only.
    await bot.says("dr", "!digest")
    digest = bot.all_text("dr")
    assert "I felt a little rushed at the very end" in digest
    assert "I felt rushed at the end" not in digest


async def test_edit_is_locked_once_the_practitioner_has_seen_it(bot: Harness) -> None:
    _, cid = await setup(bot)
    await share(bot, "alex", "original words")
    # A digest goes out while the client is typing their new words.
    await bot.says("alex", "!edit 1")
    await bot.says("dr", "!digest")
    assert "original words" in bot.all_text("dr")
    assert await bot.says("alex", "changed words") == [t(bot, "mine.edit_locked")]
    [item] = await items(bot, cid)
    assert item.digest_id is not None
    assert words(bot, item) == "original words" and item.edit_count == 0
    # And afterwards.
    [listing] = await bot.says("alex", "!mine")
    assert t(bot, "mine.status_seen").strip() in listing
    assert await bot.says("alex", "!edit 1") == [t(bot, "mine.edit_locked")]

    # Whatever sets digest_id locks it, not only the on-demand digest.
    await share(bot, "alex", "second words")
    async with bot.app.sessions() as s, s.begin():
        digest = Digest(
            practitioner_id=(await client(bot, cid)).practitioner_id,
            kind="weekly",
            slot_key="test",
            created_at=bot.clock.now(),
            sent_at=bot.clock.now(),
        )
        s.add(digest)
        await s.flush()
        second = await s.get(FeedbackItem, (await items(bot, cid))[-1].id)
        assert second is not None
        second.digest_id = digest.id
    await bot.says("alex", "!mine")
    assert await bot.says("alex", "!edit 2") == [t(bot, "mine.edit_locked")]
    assert words(bot, (await items(bot, cid))[-1]) == "second words"


async def test_withdraw_before_digest_removes_the_words(bot: Harness) -> None:
    _, cid = await setup(bot)
    await share(bot, "alex", "please forget this", "Bring it into our next session")
    await share(bot, "alex", "but keep this")
    await bot.says("alex", "!mine")  # 1 = "please forget this", 2 = "but keep this"
    assert await bot.says("alex", "!withdraw 1") == [t(bot, "mine.withdrawn")]

    first, second = await items(bot, cid)
    assert first.status == "withdrawn" and first.text_enc is None
    assert second.status == "submitted" and words(bot, second) == "but keep this"
    assert bot.new_messages("dr") == []  # nothing to tell: Sam never saw it

    await bot.says("dr", "!digest")
    digest = bot.all_text("dr")
    assert "but keep this" in digest and "please forget this" not in digest
    [listing] = await bot.says("alex", "!mine")
    assert t(bot, "mine.status_withdrawn").strip() in listing
    # Withdrawing it again says so.
    assert await bot.says("alex", "!withdraw 1") == [t(bot, "words.already_withdrawn", n="1")]


async def test_withdraw_after_digest_tells_the_practitioner(bot: Harness) -> None:
    _, cid = await setup(bot)
    await share(bot, "alex", "already seen")
    await bot.says("dr", "!digest")
    bot.new_messages("dr")
    assert await bot.says("alex", "!withdraw 1") == [t(bot, "mine.withdrawn_after_seen")]
    assert [m.text for m in bot.new_messages("dr")] == [
        t(bot, "practitioner.client_withdrew", alias="Alex")
    ]
    [item] = await items(bot, cid)
    assert item.status == "withdrawn" and item.withdrawn_at is not None


# -- pause, resume, stop -------------------------------------------------------------------


async def test_pause_and_resume(bot: Harness) -> None:
    _, cid = await setup(bot)
    assert await bot.says("alex", "!pause") == [t(bot, "pause.done")]
    assert (await client(bot, cid)).status == "paused"
    # Paused is a break from check-ins, not from sharing.
    await share(bot, "alex", "still here")
    assert [i.status for i in await items(bot, cid)] == ["submitted"]
    assert await bot.says("alex", "!resume") == [t(bot, "pause.resumed")]
    assert (await client(bot, cid)).status == "active"


async def test_stop_ends_check_ins_keeps_data_and_resume_asks_consent_again(
    bot: Harness,
) -> None:
    pid, cid = await setup(bot)
    other = await bot.client("robin", pid)
    await share(bot, "alex", "kept after stopping")
    london = ZoneInfo("Europe/London")
    await bot.says("dr", "!session Alex 2026-11-17 10:00")
    await bot.says("dr", "!session Robin 2026-11-17 10:00")

    [reply] = await bot.says("alex", "!stop")
    assert reply == t(bot, "pause.stopped", days=bot.app.settings.retention_days)
    assert "!delete" in reply
    c = await client(bot, cid)
    assert c.status == "stopped"
    [consent] = await rows(bot, ConsentRecord, ConsentRecord.client_id == cid)
    assert consent.withdrawn_at is not None
    assert [words(bot, i) for i in await items(bot, cid)] == ["kept after stopping"]

    # The day after the session, Robin gets a check-in; Alex gets nothing at all.
    bot.new_messages("alex")
    bot.new_messages("robin")
    for hour in range(8, 20, 2):
        bot.clock.set(datetime(2026, 11, 18, hour, 0, tzinfo=london))
        await bot.tick()
    assert any(m.text.startswith(t(bot, "checkin.ask")) for m in bot.new_messages("robin"))
    assert bot.new_messages("alex") == []
    assert (await client(bot, other)).status == "active"

    # Words sent while stopped are not stored.
    assert await bot.says("alex", "hello?") == [t(bot, "pause.stopped_already")]
    assert len(await items(bot, cid)) == 1

    # Coming back means agreeing again.
    replies = await bot.says("alex", "!resume")
    assert t(bot, "onboarding.stored") in "\n".join(replies)
    await bot.presses("alex", "I agree")
    await bot.presses("alex", "No, thank you")
    assert (await client(bot, cid)).status == "active"
    assert len(await rows(bot, ConsentRecord, ConsentRecord.client_id == cid)) == 2


async def test_stopped_client_cannot_start_new_feedback_by_command(bot: Harness) -> None:
    _, cid = await setup(bot)
    await bot.says("dr", "!session Alex 2026-11-17 10:00")
    bot.clock.set(datetime(2026, 11, 18, 9, 0, tzinfo=ZoneInfo("Europe/London")))
    await bot.tick()
    checkin = bot.last_with_choices("alex")
    assert checkin.text.startswith(t(bot, "checkin.ask"))

    await bot.says("alex", "!stop")
    for command in ("!feedback", "!edit 1"):
        replies = await bot.says("alex", command)
        assert replies == [t(bot, "pause.stopped_already")], command
    # A check-in button from before the stop doesn't open a new item either.
    good = next(c for c in checkin.choices if c.label == "Something felt good")
    await bot.console.press("alex", good.id)
    await bot.app.drain()
    assert [m.text for m in bot.new_messages("alex")] == [t(bot, "pause.stopped_already")]
    assert await items(bot, cid) == []


# -- export --------------------------------------------------------------------------------


async def test_export_is_a_json_document_with_their_own_words(bot: Harness) -> None:
    pid, cid = await setup(bot)
    await bot.client("robin", pid)
    await share(bot, "alex", "Alex's own words ✨", "Bring it into our next session")
    await share(bot, "alex", "and a second thought")
    await share(bot, "robin", "Robin's words, not Alex's")
    await bot.says("alex", "!timezone Europe/Berlin")

    [reply] = await bot.says("alex", "!export")
    assert reply == t(bot, "export.done")
    message = bot.console.sent["alex"][-1]
    assert message.protect
    [attachment] = message.attachments
    assert attachment.filename.endswith(".json")
    assert attachment.mime_type == "application/json"
    data = json.loads(attachment.data.decode("utf-8"))

    assert data["client"]["alias"] == "Alex"
    assert data["client"]["timezone"] == "Europe/Berlin"
    assert sorted(f["your_words"] for f in data["feedback"]) == [
        "Alex's own words ✨",
        "and a second thought",
    ]
    assert {f["where_it_went"] for f in data["feedback"]} == {"session", "fyi"}
    assert [c["address"] for c in data["chats"]] == ["alex"]
    assert len(data["consent"]) == 1 and data["consent"][0]["withdrawn_at"] is None
    assert data["exported_at"].startswith(bot.clock.now().date().isoformat())
    assert "Robin" not in attachment.data.decode("utf-8")
    audit = await rows(bot, AuditEvent, AuditEvent.action == "client.export")
    assert [(a.subject_type, a.subject_id) for a in audit] == [("client", cid)]


# -- delete --------------------------------------------------------------------------------


async def everything_referring_to(
    bot: Harness, cid: int, identity_ids: list[int], address: str
) -> dict[str, int]:
    """Rows in ANY table that still point at the client, their chat or its hash."""
    chat_hash = bot.app.vault.keyed_hash("console", address)
    found: dict[str, int] = {}
    async with bot.app.sessions() as s:
        for table in Base.metadata.sorted_tables:
            conds = []
            cols = table.c
            if "client_id" in cols:
                conds.append(cols.client_id == cid)
            if "identity_id" in cols and identity_ids:
                conds.append(cols.identity_id.in_(identity_ids))
            if "chat_hash" in cols:
                conds.append(cols.chat_hash == chat_hash)
            if "address" in cols:
                conds.append(cols.address.in_([address, chat_hash]))
            if table.name == "client":
                conds.append(cols.id == cid)
            for cond in conds:
                n = await s.scalar(select(func.count()).select_from(table).where(cond))
                if n:
                    found[f"{table.name}: {cond}"] = int(n)
    return found


async def test_delete_erases_every_row_of_the_client(bot: Harness) -> None:
    pid, cid = await setup(bot)
    other = await bot.client("robin", pid)
    await share(bot, "alex", "erase me", "Bring it into our next session")
    await bot.says("alex", "I don't see the point anymore")  # a safety event, and a draft
    await bot.says("dr", "!session Alex 2026-11-20 10:00 weekly")
    await bot.says("dr", "!digest")
    await bot.presses("dr", "I've read this")
    await share(bot, "robin", "Robin stays")
    bot.new_messages("dr")
    bot.new_messages("alex")
    ident_ids = [i.id for i in await rows(bot, Identity, Identity.client_id == cid)]
    assert ident_ids
    before = await everything_referring_to(bot, cid, ident_ids, "alex")
    assert len(before) >= 6  # the check below can really find things

    replies = await bot.says("alex", "!delete")
    assert replies[0].startswith(t(bot, "delete.confirm"))
    assert await count(bot, Client, Client.id == cid) == 1  # not before confirming
    [done] = await bot.presses("alex", "Yes, delete everything")
    assert done == t(bot, "delete.done")

    # The goodbye was delivered and nothing of the chat is left, not even when it may
    # next be written to (shared pacing).
    assert await everything_referring_to(bot, cid, ident_ids, "alex") == {}
    assert [m.text for m in bot.new_messages("dr")] == [
        t(bot, "delete.practitioner_notice", alias="Alex")
    ]
    # Robin is untouched.
    assert [words(bot, i) for i in await items(bot, other)] == ["Robin stays"]
    # An audit record of the erasure, with ids and counts only.
    [audit] = await rows(bot, AuditEvent, AuditEvent.action == "client.erased")
    assert audit.subject_id == cid
    assert all(isinstance(v, int) for v in audit.details.values())

    # The chat is a stranger now.
    assert await bot.says("alex", "hello?") == [t(bot, "unlinked")]
    assert await count(bot, Identity, Identity.address == "alex") == 0
    chat_hash = bot.app.vault.keyed_hash("console", "alex")
    [seen] = await rows(bot, InboxEvent, InboxEvent.chat_hash == chat_hash)
    assert seen.payload_enc is None  # only the dedup key of an unknown chat's message
    [listing] = await bot.says("dr", "!clients")
    assert "Alex" not in listing and "Robin" in listing


async def test_delete_can_be_called_off(bot: Harness) -> None:
    _, cid = await setup(bot)
    await share(bot, "alex", "keep this")
    await bot.says("alex", "!delete")
    assert await bot.presses("alex", "No, keep it") == [t(bot, "delete.kept")]
    assert [words(bot, i) for i in await items(bot, cid)] == ["keep this"]
    assert (await client(bot, cid)).status == "active"
    assert await count(bot, Identity, Identity.client_id == cid) == 1
    assert bot.new_messages("dr") == []


async def test_delete_before_consent_removes_the_link(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    invite = await bot.app.admin.invite_client(pid, "Alex")
    await bot.says("alex", f"!start {invite.code}")
    await bot.presses("alex", "Not now")
    await bot.says("alex", "!delete")
    await bot.says("alex", "1")  # typed: "Yes, delete everything"
    assert await count(bot, Client, Client.id == invite.client_id) == 0
    assert await count(bot, Identity, Identity.address == "alex") == 0
    chat_hash = bot.app.vault.keyed_hash("console", "alex")
    assert await count(bot, InboxEvent, InboxEvent.chat_hash == chat_hash) == 0
    assert await count(bot, OutboxMessage, OutboxMessage.address == chat_hash) == 0


# -- settings ------------------------------------------------------------------------------


async def test_language(bot: Harness) -> None:
    _, cid = await setup(bot)
    available = [code for code in bot.app.config.languages if code in bot.app.catalog.languages]
    assert await bot.says("alex", "!language klingon") == [
        t(bot, "language.unknown", languages=", ".join(available))
    ]
    assert (await client(bot, cid)).language is None
    assert await bot.says("alex", "!language en") == [t(bot, "language.done")]
    assert (await client(bot, cid)).language == "en"

    # Every language offered can really be chosen, and is then used.
    await bot.says("alex", "!language")
    offered = [c.id.split(".", 1)[1] for c in bot.last_with_choices("alex").choices]
    assert offered == [f"lang_{code}" for code in available]
    for key in offered:
        await bot.says("alex", "!language")
        choice = next(c for c in bot.last_with_choices("alex").choices if c.id.endswith(key))
        await bot.console.press("alex", choice.id)
        await bot.app.drain()
        code = key.removeprefix("lang_")
        [reply] = [m.text for m in bot.new_messages("alex")]
        assert reply == bot.app.catalog.t("language.done", code)
        assert (await client(bot, cid)).language == code


async def test_checkins_cadence(bot: Harness) -> None:
    _, cid = await setup(bot)
    replies = await bot.says("alex", "!checkins")
    assert t(bot, "schedule.checkins.ask") in replies[0]
    await bot.presses("alex", "Once a week")
    await bot.presses("alex", "Thursday")
    [done] = await bot.presses("alex", "18:00")
    assert done.startswith("Done. Check-ins now: every Thursday at 18:00 (Europe/London).")
    assert (await client(bot, cid)).checkin_cadence == "weekly"
    await bot.says("alex", "!checkins")
    await bot.says("alex", "No check-ins")
    assert (await client(bot, cid)).checkin_cadence == "off"


async def test_timezone_and_quiet_hours(bot: Harness) -> None:
    _, cid = await setup(bot)
    assert await bot.says("alex", "!timezone") == [
        t(bot, "settings.timezone_current", tz="Europe/London")
    ]
    assert await bot.says("alex", "!timezone America/New_York") == [
        t(bot, "settings.timezone_done", tz="America/New_York")
    ]
    assert (await client(bot, cid)).timezone == "America/New_York"
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "UTC+99"):
        assert await bot.says("alex", f"!timezone {bad}") == [
            t(bot, "settings.timezone_bad", tz=bad)
        ]
    assert (await client(bot, cid)).timezone == "America/New_York"
    assert await bot.says("alex", "!timezone") == [
        t(bot, "settings.timezone_current", tz="America/New_York")
    ]

    # Quiet hours.
    now = t(bot, "schedule.quiet.now", start="22:30", end="07:15", tz="America/New_York")
    assert await bot.says("alex", "!quiet 22:30 07:15") == ["Done. " + now]
    c = await client(bot, cid)
    assert (c.quiet_start, c.quiet_end) == ("22:30", "07:15")
    for bad in ("soon", "22:00", "25:00 07:00", "22:00 07:00 09:00", "9pm 7am"):
        assert await bot.says("alex", f"!quiet {bad}".strip()) == [
            now + "\n\n" + t(bot, "settings.quiet_bad")
        ]
    c = await client(bot, cid)
    assert (c.quiet_start, c.quiet_end) == ("22:30", "07:15")


async def test_notices_off_means_no_read_message(bot: Harness) -> None:
    pid, cid = await setup(bot)
    assert await bot.says("alex", "!notices off") == [t(bot, "settings.notices_off")]
    assert (await client(bot, cid)).loop_notices is False
    await share(bot, "alex", "no need to tell me")
    await bot.says("dr", "!digest")
    await bot.presses("dr", "I've read this")
    assert bot.new_messages("alex") == []

    assert await bot.says("alex", "!notices on") == [t(bot, "settings.notices_on")]
    await share(bot, "alex", "now tell me")
    await bot.says("dr", "!digest")
    await bot.presses("dr", "I've read this")
    await bot.presses("dr", "I've read it")
    assert [m.text for m in bot.new_messages("alex")] == [t(bot, "loop.read")]
    # No argument shows the setting, and changes nothing.
    assert await bot.says("alex", "!notices") == [
        t(bot, "schedule.notices.now_on") + "\n" + t(bot, "schedule.notices.how_on")
    ]


async def test_delete_takes_the_clients_words_out_of_undelivered_digests(bot: Harness) -> None:
    """A digest that could not be delivered kept an erased client's words in the outbox,
    where `outbox retry` could still send them."""
    pid, cid = await setup(bot)
    other = await bot.client("robin", pid)
    await share(bot, "alex", "erase me QZXerase", "Bring it into our next session")
    await share(bot, "robin", "Robin stays", "Bring it into our next session")
    bot.console.blocked.add("dr")  # Sam's chat is unreachable: the digest stays queued
    await bot.says("dr", "!digest")

    def queued_texts() -> list[str]:
        return [
            m.text + "".join(a.data.decode("utf-8", "replace") for a in m.attachments)
            for m in queued
        ]

    async with bot.app.sessions() as s:
        digest_rows = list(
            (
                await s.execute(select(OutboxMessage).where(OutboxMessage.digest_id.is_not(None)))
            ).scalars()
        )
        queued = [to_message(bot.app.vault, r) for r in digest_rows]
    assert digest_rows and any("QZXerase" in text for text in queued_texts())

    await bot.says("alex", "!delete")
    await bot.presses("alex", "Yes, delete everything")

    async with bot.app.sessions() as s:
        rows_left = list(
            (await s.execute(select(OutboxMessage).where(OutboxMessage.status != "sent"))).scalars()
        )
        queued = [to_message(bot.app.vault, r) for r in rows_left]
    assert not any("QZXerase" in text for text in queued_texts())
    # Robin's words were never read: they wait for Sam's next digest.
    [robin_item] = await items(bot, other)
    assert robin_item.digest_id is None
