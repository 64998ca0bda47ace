"""The admin command line for a practice's people, as an admin or a script uses it:
listing, showing, changing, moving and deactivating, every command with ``--json``, and
the audit at 80 columns. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from typer.main import get_command
from typer.testing import CliRunner

from feedback_bot.app.cli import app
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.storage.database import create_engine
from feedback_bot.storage.models import AuditEvent
from tests.harness import Harness, make_harness

REPO = Path(__file__).resolve().parent.parent
BOT_USERNAME = "riverside_feedback_bot"


@pytest.fixture
async def env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    values = {
        "FEEDBACK_BOT_DATABASE_URL": database_url,
        "FEEDBACK_BOT_ENCRYPTION_KEY": generate_key(),
        "FEEDBACK_BOT_PROMPTS_FILE": str(REPO / "config" / "prompts.yaml"),
        "FEEDBACK_BOT_TELEGRAM__BOT_USERNAME": BOT_USERNAME,
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    code, out = await cli("db", "upgrade")
    assert code == 0, out
    yield values


def _invoke(args: tuple[str, ...]) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


async def cli(*args: str) -> tuple[int, str]:
    """The command line, as `feedback-bot ARGS` runs it (in a thread: it runs its own loop)."""
    return await asyncio.to_thread(_invoke, args)


async def cli_json(*args: str) -> Any:
    code, out = await cli(*args, "--json")
    assert code == 0, out
    return json.loads(out)


async def cli_error(*args: str) -> dict[str, Any]:
    """A refusal in --json mode: one error object and a non-zero exit."""
    code, out = await cli(*args, "--json")
    assert code != 0, out
    parsed = json.loads(out)
    assert set(parsed) == {"error"} and {"code", "message"} <= set(parsed["error"]), parsed
    error: dict[str, Any] = parsed["error"]
    return error


async def practice_with_two(name: str = "Riverside") -> tuple[str, str, str]:
    practice = str(
        (await cli_json("practice", "add", "--name", name, "--timezone", "Europe/London"))[
            "practice_id"
        ]
    )
    sam = str(
        (await cli_json("practitioner", "add", "--practice", practice, "--name", "Sam"))[
            "practitioner_id"
        ]
    )
    jo = str(
        (await cli_json("practitioner", "add", "--practice", practice, "--name", "Jo"))[
            "practitioner_id"
        ]
    )
    return practice, sam, jo


def test_every_command_takes_json() -> None:
    def leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
        subs = getattr(command, "commands", None)
        if not subs:
            return [(path, command)]
        found = []
        if getattr(command, "invoke_without_command", False) and path:
            found.append((path, command))  # `outbox` shows the queue itself
        for name, sub in subs.items():
            found += leaves(sub, (*path, name))
        return found

    commands = leaves(get_command(app))
    assert len(commands) > 30
    missing = [
        " ".join(path)
        for path, command in commands
        if not any("--json" in p.opts for p in command.params)
    ]
    assert missing == []


async def test_setting_up_a_practice_from_zero(env: dict[str, str], tmp_path: Path) -> None:
    practice, sam, jo = await practice_with_two()
    listed = await cli_json("practice", "list")
    assert [(p["id"], p["name"], p["practitioners"]) for p in listed["practices"]] == [
        (int(practice), "Riverside", 2)
    ]
    assert (
        await cli_json("practice", "set", "--practice", practice, "--timezone", "Europe/Berlin")
    )["changed"] == ["timezone"]
    shown = await cli_json("practice", "show", "--practice", practice)
    assert shown["timezone"] == "Europe/Berlin" and shown["active"] is True

    changed = await cli_json(
        "practitioner",
        "set",
        "--id",
        sam,
        "--digest-day",
        "friday",
        "--digest-time",
        "16:30",
        "--feedback-contact",
    )
    assert changed["changed"] == ["digest_day", "digest_time", "feedback_contact"]
    sam_shown = await cli_json("practitioner", "show", "--id", sam)
    assert (sam_shown["digest_day"], sam_shown["digest_time"]) == ("friday", "16:30")
    assert sam_shown["feedback_contact"] is True and sam_shown["timezone"] == "Europe/Berlin"
    # The schedule follows at once: next Friday 16:30 in Berlin.
    due = datetime.fromisoformat(sam_shown["next_digest_at"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert due.strftime("%A %H:%M") == "Friday 16:30"
    assert [
        p["name"]
        for p in (await cli_json("practitioner", "list", "--practice", practice))["practitioners"]
    ] == ["Sam", "Jo"]

    png = tmp_path / "kim.png"
    invite = await cli_json(
        "client", "invite", "--practitioner", sam, "--alias", "Kim", "--qr", str(png)
    )
    link = f"https://t.me/{BOT_USERNAME}?start={invite['invite_code']}"
    assert invite["telegram_link"] == link and invite["qr_encodes"] == "telegram_link"
    assert decode_qr(png.read_bytes()) == link
    svg = tmp_path / "lee.svg"
    lee = await cli_json(
        "client", "invite", "--practitioner", jo, "--alias", "Lee", "--qr", str(svg)
    )
    assert_svg_is_the_qr_of(
        svg.read_bytes(), f"https://t.me/{BOT_USERNAME}?start={lee['invite_code']}"
    )

    clients = (await cli_json("client", "list", "--practice", practice))["clients"]
    assert [(c["alias"], c["practitioner"], c["status"]) for c in clients] == [
        ("Kim", "Sam", "invited"),
        ("Lee", "Jo", "invited"),
    ]
    kim = str(invite["client_id"])
    assert (await cli_json("client", "set", "--id", kim, "--alias", "Kim R"))["changed"] == [
        "alias"
    ]
    moved = await cli_json("client", "move", "--id", kim, "--to", jo)
    assert moved["practitioner_id"] == int(jo)
    kim_shown = await cli_json("client", "show", "--id", kim)
    assert (kim_shown["alias"], kim_shown["practitioner"]) == ("Kim R", "Jo")
    assert set(kim_shown) >= {"status", "last_activity", "platforms"}
    # A client is shown by what the practice manages, never by what they wrote or where.
    assert not {"address", "text", "words", "platform_user"} & set(kim_shown)
    done = await cli_json("practitioner", "set", "--id", jo, "--feedback-contact")
    assert done["changed"] == ["feedback_contact"]
    await cli_json("practitioner", "deactivate", "--id", sam)
    await cli_json("client", "deactivate", "--id", str(lee["client_id"]))

    audit = await cli_json("audit", "--practice", practice)
    actions = [e["action"] for e in audit]
    for expected in (
        "practice.created",
        "practice.changed",
        "practitioner.changed",
        "client.invited",
        "client.changed",
        "client.moved",
        "practitioner.deactivated",
        "client.deactivated",
    ):
        assert expected in actions
    assert "Kim" not in json.dumps(audit) and "Sam" not in json.dumps(audit)
    # The human-readable forms of the same commands work too.
    for args in (
        ("practice", "list"),
        ("client", "list", "--practice", practice),
        ("client", "show", "--id", kim),
        ("practitioner", "list", "--practice", practice),
    ):
        code, out = await cli(*args)
        assert code == 0 and "Traceback" not in out, (args, out)


def decode_qr(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    [found] = zxingcpp.read_barcodes(image)
    return str(found.text)


def assert_svg_is_the_qr_of(svg: bytes, payload: str) -> None:
    """No SVG renderer here: the SVG is well formed, the size of segno's matrix for the
    payload (10 px a module, a 4-module quiet zone), and its PNG twin decodes to it."""
    from feedback_bot.people.invite_qr import BORDER, SCALE, invite_qr, qr_code

    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    size = (len(qr_code(payload).matrix) + 2 * BORDER) * SCALE
    assert (int(root.attrib["width"]), int(root.attrib["height"])) == (size, size)
    assert decode_qr(invite_qr(payload, "png")) == payload


async def test_unknown_ids_are_named_plainly(env: dict[str, str]) -> None:
    practice, sam, _ = await practice_with_two()
    for args, message in (
        (("practice", "show", "--practice", "999"), "no practice with id 999"),
        (("practice", "set", "--practice", "999", "--name", "X"), "no practice with id 999"),
        (("practice", "deactivate", "--practice", "999"), "no practice with id 999"),
        (("practitioner", "list", "--practice", "999"), "no practice with id 999"),
        (("practitioner", "show", "--id", "999"), "no practitioner with id 999"),
        (("practitioner", "set", "--id", "999", "--name", "X"), "no practitioner with id 999"),
        (("practitioner", "deactivate", "--id", "999"), "no practitioner with id 999"),
        (("practitioner", "unlink", "--id", "999"), "no practitioner with id 999"),
        (("client", "list", "--practice", "999"), "no practice with id 999"),
        (("client", "show", "--id", "999"), "no client with id 999"),
        (("client", "set", "--id", "999", "--alias", "X"), "no client with id 999"),
        (("client", "deactivate", "--id", "999"), "no client with id 999"),
        (("client", "move", "--id", "999", "--to", sam), "no client with id 999"),
        (("client", "invite", "--practitioner", "999"), "no practitioner with id 999"),
        (("audit", "--practice", "999"), "no practice with id 999"),
    ):
        error = await cli_error(*args)
        assert error == {"code": "not_found", "message": message}, args
        code, out = await cli(*args)
        assert code == 2 and out.strip() == f"error: {message}", (args, out)
    kim = str(
        (await cli_json("client", "invite", "--practitioner", sam, "--alias", "Kim"))["client_id"]
    )
    error = await cli_error("client", "move", "--id", kim, "--to", "999")
    assert error["message"] == "no practitioner with id 999"
    # A typo in the command line is an error object too in --json mode.
    error = await cli_error("client", "move", "--id", kim)
    assert error["code"] == "usage" and "--to" in error["message"]
    error = await cli_error("audit", "--since", "last tuesday")
    assert error["code"] == "usage"


async def test_deactivating_is_refused_while_people_depend_on_it(env: dict[str, str]) -> None:
    practice, sam, jo = await practice_with_two()
    kim = str(
        (await cli_json("client", "invite", "--practitioner", sam, "--alias", "Kim"))["client_id"]
    )
    await cli_json("client", "invite", "--practitioner", sam, "--alias", "Ash")
    error = await cli_error("practitioner", "deactivate", "--id", sam)
    assert error["code"] == "has_clients"
    assert error["message"] == (
        f"practitioner {sam} still has 2 clients: move them to another practitioner "
        "(or deactivate them) first"
    )
    code, out = await cli("practitioner", "deactivate", "--id", sam)
    assert code == 2 and "still has 2 clients" in out
    await cli_json("client", "move", "--id", kim, "--to", jo)
    other = await cli_json("practice", "add", "--name", "Elsewhere", "--timezone", "Europe/Paris")
    far = (
        await cli_json(
            "practitioner", "add", "--practice", str(other["practice_id"]), "--name", "Far"
        )
    )["practitioner_id"]
    error = await cli_error("client", "move", "--id", kim, "--to", str(far))
    assert error["code"] == "cross_practice"
    error = await cli_error("practitioner", "deactivate", "--id", sam)
    assert "still has 1 client:" in error["message"]
    await cli_json("client", "deactivate", "--id", str(int(kim) + 1))
    await cli_json("practitioner", "set", "--id", sam, "--feedback-contact")
    error = await cli_error("practitioner", "deactivate", "--id", sam)
    assert error["code"] == "feedback_contact"
    await cli_json("practitioner", "set", "--id", jo, "--feedback-contact")
    assert (await cli_json("practitioner", "deactivate", "--id", sam))["deactivated"] is True
    for args in (
        ("client", "move", "--id", kim, "--to", sam),
        ("client", "invite", "--practitioner", sam),
        ("practitioner", "unlink", "--id", sam),
    ):
        assert (await cli_error(*args))["code"] == "inactive", args
    ended = await cli_json("practice", "deactivate", "--practice", practice)
    assert ended["clients_ended"] == 1
    assert (await cli_error("practitioner", "add", "--practice", practice, "--name", "Late"))[
        "code"
    ] == "inactive"
    listed = (await cli_json("client", "list", "--practice", practice))["clients"]
    assert {c["status"] for c in listed} == {"deactivated"}


async def test_audit_reads_at_80_columns_and_filters_by_date_and_practice(
    env: dict[str, str],
) -> None:
    first, sam, _ = await practice_with_two("First")
    second, far, _ = await practice_with_two("Second")
    await cli_json("client", "invite", "--practitioner", sam, "--alias", "Kim")
    await cli_json("client", "invite", "--practitioner", far, "--alias", "Ash")
    long_action = "practitioner.feedback_contact_changed_by_console"  # 48, the column's size
    engine = create_engine(env["FEEDBACK_BOT_DATABASE_URL"])
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(AuditEvent)
                .where(AuditEvent.practice_id == int(first))
                .values(at=datetime(2026, 3, 2, 10, 15, tzinfo=UTC))
            )
            await conn.execute(
                AuditEvent.__table__.insert().values(  # type: ignore[attr-defined]
                    at=datetime(2026, 3, 3, 23, 59, tzinfo=UTC),
                    actor="practitioner:1234567890",
                    action=long_action,
                    subject_type="practitioner",
                    subject_id=int(sam),
                    practice_id=int(first),
                    details={"practitioner": 1234567890, "previous": 987654321, "clients": 12},
                )
            )
    finally:
        await engine.dispose()

    events = await cli_json("audit", "--practice", first)
    assert {e["practice_id"] for e in events} == {int(first)} and len(events) == 5
    march = await cli_json("audit", "--since", "2026-03-01", "--until", "2026-03-02")
    assert {e["practice_id"] for e in march} == {int(first)} and len(march) == 4
    assert await cli_json("audit", "--since", "2026-03-03", "--until", "2026-03-03") == [
        e for e in events if e["action"] == long_action
    ]
    today = datetime.now(UTC).date().isoformat()
    recent = await cli_json("audit", "--since", today)
    assert {e["practice_id"] for e in recent} == {int(second)}

    code, out = await cli("audit")
    assert code == 0
    lines = out.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= 80, out
    for action in {e["action"] for e in await cli_json("audit")}:
        assert any(action in line.split() for line in lines), action
    [start] = [i for i, line in enumerate(lines) if long_action in line]
    assert lines[start].startswith("2026-03-03 23:59  " + long_action)
    assert "clients=12" in "\n".join(lines[start : start + 3])


async def test_a_moved_clients_next_digest_goes_to_the_new_practitioner(
    env: dict[str, str], tmp_path: Path
) -> None:
    bot: Harness = await make_harness(
        env["FEEDBACK_BOT_DATABASE_URL"],
        tmp_path,
        datetime.now(UTC).replace(microsecond=0),
        encryption_key=env["FEEDBACK_BOT_ENCRYPTION_KEY"],
    )
    try:
        sam = await bot.practitioner("sam", "Sam")
        jo = await bot.practitioner("jo", "Jo")
        ada = await bot.client("ada", sam, alias="Ada")
        await share(bot, "ada", "Before the move.")
        moved = await cli_json("client", "move", "--id", str(ada), "--to", str(jo))
        assert moved["practitioner_id"] == jo
        bot.clock.advance(timedelta(minutes=5))  # past the command's own (real) clock
        await bot.app.drain()
        assert any("Jo is your practitioner" in m.text for m in bot.new_messages("ada"))
        await share(bot, "ada", "After the move.")
        jo_digest = "\n".join(await bot.says("jo", "!digest"))
        sam_digest = "\n".join(await bot.says("sam", "!digest"))
        assert "After the move." in jo_digest and "Before the move." not in jo_digest
        assert "After the move." not in sam_digest and "Before the move." not in sam_digest
        [event] = [e for e in await cli_json("audit") if e["action"] == "client.moved"]
        assert event["details"] == {"from": sam, "to": jo, "told": True}
    finally:
        await bot.close()


async def share(bot: Harness, who: str, text: str) -> None:
    await bot.says(who, text)
    await bot.presses(who, "Something felt good")
    await bot.presses(who, "Just so you know")
