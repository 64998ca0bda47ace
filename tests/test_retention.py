"""What the daily purge leaves of a client who stopped longer than the retention period
ago: every table of the schema, listed after the purge. Only the audit log keeps anything,
and only ids and counts; a table added later without a rule here makes this fail."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from feedback_bot.people.console_admins import add_admin, issue_login_link, redeem_login_link
from feedback_bot.storage.models import Base, Cursor, Identity
from tests.harness import Harness

ADA_CHAT = "ada-chat-5521"
ADA_ALIAS = "Adalind Q"
ADA_WORDS = "the clock on the wall made me anxious"
NIA_ALIAS = "Nia never joined"
REPO = Path(__file__).resolve().parent.parent
ID_WORD = re.compile(r"[a-z_]{1,24}")

# What is left, per table, of the rows that existed before the retention period passed.
KEPT_ALL = "every row"
KEPT_PRACTITIONERS = "the practitioner's rows only"
KEPT_NONE = "nothing"
OLD_ROWS_LEFT = {
    "practice": KEPT_ALL,
    "practice_settings": KEPT_ALL,
    "practitioner": KEPT_ALL,
    "cursor": KEPT_ALL,
    "key_material": KEPT_ALL,
    "platform_pace": KEPT_ALL,  # send tokens: no personal data
    "audit_event": KEPT_ALL,  # ids and counts only: checked below
    "console_admin": KEPT_ALL,
    "console_login_link": KEPT_NONE,
    "console_session": KEPT_NONE,
    "identity": KEPT_PRACTITIONERS,
    "conversation": KEPT_PRACTITIONERS,
    "client": KEPT_NONE,
    "invite_code": KEPT_NONE,
    "consent_record": KEPT_NONE,
    "feedback_item": KEPT_NONE,
    "practitioner_message": KEPT_NONE,
    "appointment": KEPT_NONE,
    "checkin": KEPT_NONE,
    "alliance_score": KEPT_NONE,
    "safety_event": KEPT_NONE,
    "digest": KEPT_NONE,
    "inbox": KEPT_NONE,
    "outbox": KEPT_NONE,
    "chat_pace": KEPT_NONE,
}


async def all_rows(bot: Harness) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row of every table the models declare, by primary key."""
    out: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    async with bot.app.sessions() as s:
        for table in Base.metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            result = await s.execute(select(table))
            out[table.name] = {
                tuple(row[k] for k in pk): dict(row) for row in result.mappings().all()
            }
    return out


async def share(bot: Harness, who: str, words: str) -> None:
    await bot.says(who, words)
    await bot.presses(who, "Something didn't feel right")
    await bot.presses(who, "Bring it into our next session")


async def ada_uses_everything_then_stops(bot: Harness, sam: int) -> None:
    """Rows in every table: consent, a session, a check-in with alliance scores, feedback,
    a crisis moment, a digest, queues, conversation state, audit, then ``stop``."""
    await bot.client(ADA_CHAT, sam, alias=ADA_ALIAS, alerts=True)
    await bot.app.admin.invite_client(sam, NIA_ALIAS)  # an invitation nobody takes up
    await bot.says("dr", f"!session {ADA_ALIAS} 2026-11-17 10:00")
    await share(bot, ADA_CHAT, ADA_WORDS)
    for _ in range(72):  # until the after-session check-in arrives (Wed after 08:00)
        if any("gentle check-in" in m.text for m in bot.console.sent[ADA_CHAT]):
            break
        await bot.tick(hours=1)
    await bot.presses(ADA_CHAT, "Nothing today")
    await bot.says(ADA_CHAT, "3")
    await bot.says(ADA_CHAT, "4")
    await bot.says(ADA_CHAT, "everyone would be better off without me")
    await bot.says("dr", "!digest")
    await bot.presses("dr", "I've read this")
    await bot.says("dr", f"!reply {ADA_ALIAS} Thank you for telling me")  # Sam's own words
    await bot.says(ADA_CHAT, "an unfinished thought")  # a draft, and a question waiting
    await bot.says(ADA_CHAT, "!stop")
    async with bot.app.sessions() as s, s.begin():
        s.add(Cursor(name="console:position", value="42", updated_at=bot.clock.now()))
    # A console admin who signed in once (a link used, a session) and asked for another.
    async with bot.app.sessions() as s, s.begin():
        admin_id, _code = await add_admin(s, bot.practice_id, "Robin", bot.clock.now(), 7)
        token = await issue_login_link(s, admin_id, bot.clock.now(), 10, by="admin")
        assert await redeem_login_link(s, token, bot.clock.now(), 8) is not None
        await issue_login_link(s, admin_id, bot.clock.now(), 10, by="admin")


async def test_a_stopped_client_past_retention_leaves_only_ids_in_the_audit(
    bot: Harness,
) -> None:
    sam = await bot.practitioner("dr", "Sam")
    await ada_uses_everything_then_stops(bot, sam)
    before = await all_rows(bot)
    tables = set(before)
    assert tables == set(OLD_ROWS_LEFT), "every table needs a retention rule (docs/retention.md)"
    empty = sorted(name for name, rows in before.items() if not rows)
    assert empty == [], f"the set-up left these tables empty: {empty}"

    bot.clock.advance(timedelta(days=bot.app.settings.retention_days + 1))
    # Ben is recent: nothing of his may go.
    await bot.client("ben-chat", sam, alias="Ben")
    await share(bot, "ben-chat", "ben's recent words")
    recent = await all_rows(bot)

    await bot.app.purge()  # what the clock job runs every night
    after = await all_rows(bot)

    async with bot.app.sessions() as s:
        sams_chats = set(
            (await s.execute(select(Identity.id).where(Identity.practitioner_id == sam)))
            .scalars()
            .all()
        )

    def expected(name: str, rule: str) -> set[tuple[Any, ...]]:
        rows = before[name]
        if rule == KEPT_ALL:
            return set(rows)
        if rule == KEPT_PRACTITIONERS:
            key = "id" if name == "identity" else "identity_id"
            return {pk for pk, row in rows.items() if row[key] in sams_chats}
        return set()

    left: dict[str, str] = {}
    for name, rows in before.items():
        still = {pk for pk in rows if pk in after[name]}
        rule = OLD_ROWS_LEFT.get(name, KEPT_NONE)
        left[name] = rule if still == expected(name, rule) else f"{sorted(still)} of {len(rows)}"
    assert left == OLD_ROWS_LEFT

    # Nothing recent went, but for what Ada's erasure took from the queues.
    for name, rows in recent.items():
        gone = [pk for pk in rows if pk not in before[name] and pk not in after[name]]
        assert gone == [], f"{name}: recent rows purged: {gone}"

    # Nothing left anywhere names Ada, her chat or her words: the audit has ids only.
    for name, rows in after.items():
        for row in rows.values():
            flat = repr(row)
            for secret in (ADA_CHAT, ADA_ALIAS, ADA_WORDS, NIA_ALIAS):
                assert secret not in flat, f"{name} still holds {secret!r}: {row}"
    for row in after["audit_event"].values():
        for value in row["details"].values():
            # ids and counts, or a kind's or platform's name ("on_demand", "console")
            assert value is None or isinstance(value, int | bool) or ID_WORD.fullmatch(value), row


def test_every_table_has_a_documented_retention_rule() -> None:
    from feedback_bot.privacy.retention import RULES

    assert set(RULES) == set(Base.metadata.tables)
    doc = (REPO / "docs" / "retention.md").read_text(encoding="utf-8")
    missing = [name for name in Base.metadata.tables if f"`{name}`" not in doc]
    assert missing == [], f"docs/retention.md does not say how long these are kept: {missing}"
