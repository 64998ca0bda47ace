"""The ``feedback-bot`` command as an admin or a script uses it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from feedback_bot.app.cli import app
from feedback_bot.privacy.crypto import generate_key

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings for a database nobody has created yet."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    values = {
        "FEEDBACK_BOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "FEEDBACK_BOT_ENCRYPTION_KEY": generate_key(),
        "FEEDBACK_BOT_PROMPTS_FILE": str(REPO / "config" / "prompts.yaml"),
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


@pytest.fixture
def env(fresh_env: dict[str, str]) -> dict[str, str]:
    """Settings for a database set up as an admin does: `db upgrade` first."""
    code, out = invoke("db", "upgrade")
    assert code == 0, out
    return fresh_env


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def invoke_json(*args: str) -> dict[str, object]:
    code, out = invoke(*args, "--json")
    assert code == 0, out
    parsed: dict[str, object] = json.loads(out)
    return parsed


def test_admin_commands_print_json_for_scripts(env: dict[str, str]) -> None:
    practice = invoke_json("practice", "add", "--name", "Oak House", "--timezone", "Europe/Berlin")
    pr = invoke_json(
        "practitioner", "add", "--practice", str(practice["practice_id"]), "--name", "Dana"
    )
    invite = invoke_json(
        "client", "invite", "--practitioner", str(pr["practitioner_id"]), "--alias", "Kim"
    )
    assert invite["alias"] == "Kim"
    code = str(invite["invite_code"])
    assert 16 <= len(code) <= 64 and all(c.isalnum() or c in "-_" for c in code)
    assert pr["link_code"] != code
    code_, out = invoke("audit", "--json")
    actions = [row["action"] for row in json.loads(out)]
    assert {"practice.created", "practitioner.added", "client.invited"} <= set(actions)
    # The audit trail is ids only: no alias, no name.
    assert "Kim" not in out and "Dana" not in out


def test_mistakes_get_one_clear_line(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = invoke("practice", "add", "--name", "X", "--timezone", "Mars/Olympus")
    assert code == 2 and "unknown time zone" in out and "Traceback" not in out
    monkeypatch.setenv("FEEDBACK_BOT_LOG_LEVEL", "LOUD")
    code, out = invoke("db", "upgrade")
    assert code == 2 and "FEEDBACK_BOT_LOG_LEVEL" in out and "Traceback" not in out


def test_a_second_invite_with_the_same_alias_is_refused(env: dict[str, str]) -> None:
    """Issue 11, point 2: it used to print the first client's id with a new code."""
    practice = invoke_json("practice", "add", "--name", "Oak House", "--timezone", "Europe/Berlin")
    pr = str(
        invoke_json(
            "practitioner", "add", "--practice", str(practice["practice_id"]), "--name", "D"
        )["practitioner_id"]
    )
    first = invoke_json("client", "invite", "--practitioner", pr, "--alias", "Kim")
    code, out = invoke("client", "invite", "--practitioner", pr, "--alias", "kim", "--json")
    assert code == 2
    assert json.loads(out) == {
        "error": {
            "code": "alias_taken",
            "message": f"practitioner {pr} already has a client called 'kim'; choose another alias",
        }
    }
    code, out = invoke("client", "invite", "--practitioner", pr, "--alias", "Kim")
    assert code == 2 and "already has a client called 'Kim'" in out and "Traceback" not in out
    assert str(first["invite_code"]) not in out
    other = invoke_json("client", "invite", "--practitioner", pr, "--alias", "Kim B")
    assert other["client_id"] != first["client_id"]


def test_run_refuses_to_start_without_a_key(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDBACK_BOT_ENCRYPTION_KEY")
    code, out = invoke("run")
    assert code == 2
    assert "FEEDBACK_BOT_ENCRYPTION_KEY" in out and "keys generate" in out


def test_run_without_a_platform_says_how_to_configure_one(env: dict[str, str]) -> None:
    code, out = invoke("run")
    assert code == 2 and "FEEDBACK_BOT_TELEGRAM__TOKEN" in out and "demo" in out


def test_prompts_validate_refuses_a_practice_without_crisis_resources(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert invoke("prompts", "validate")[0] == 0
    broken = tmp_path / "prompts.yaml"
    broken.write_text("crisis_resources:\n  emergency: []\n  crisis_lines: []\n")
    code, out = invoke("prompts", "validate", str(broken))
    assert code == 2 and "emergency" in out


def test_keys_generate_gives_a_256_bit_key(env: dict[str, str]) -> None:
    from feedback_bot.privacy.crypto import _decode_key

    code, out = invoke("keys", "generate")
    assert code == 0 and len(_decode_key(out.strip())) == 32


def test_outbox_shows_dead_letters_and_retry_requeues(env: dict[str, str]) -> None:
    import asyncio

    from sqlalchemy import update

    from feedback_bot.storage.models import OutboxMessage
    from tests.harness import make_harness

    async def seed() -> None:
        from datetime import UTC, datetime

        h = await make_harness(
            env["FEEDBACK_BOT_DATABASE_URL"],
            Path("."),
            datetime(2026, 11, 16, 9, tzinfo=UTC),
            encryption_key=env["FEEDBACK_BOT_ENCRYPTION_KEY"],
        )
        await h.practitioner()
        async with h.app.sessions() as s, s.begin():
            await s.execute(
                update(OutboxMessage).values(status="dead", attempts=8, last_error="network")
            )
        await h.close()

    asyncio.run(seed())
    code, out = invoke("outbox")
    assert code == 0 and "Dead letters" in out and "network" in out
    code, out = invoke("outbox", "retry", "1")
    assert code == 0 and "queued again" in out
    code, out = invoke("outbox", "retry", "1")
    assert code == 2


def test_digest_render_writes_files_without_marking_anything_seen(
    env: dict[str, str], tmp_path: Path
) -> None:
    import asyncio
    from datetime import UTC, datetime

    from sqlalchemy import select

    from feedback_bot.storage.models import FeedbackItem
    from tests.harness import make_harness

    async def seed() -> int:
        h = await make_harness(
            env["FEEDBACK_BOT_DATABASE_URL"],
            tmp_path,
            datetime(2026, 11, 16, 9, tzinfo=UTC),
            encryption_key=env["FEEDBACK_BOT_ENCRYPTION_KEY"],
        )
        pid = await h.practitioner()
        await h.client("a", pid, alias="Ada")
        await h.says("a", "The pacing felt right today")
        await h.presses("a", "Something felt good")
        await h.presses("a", "Just so you know")
        await h.close()
        return pid

    pid = asyncio.run(seed())
    out_dir = tmp_path / "out"
    out_dir.mkdir(mode=0o755)  # an existing folder others can read is tightened first
    code, out = invoke("digest", "render", "--practitioner", str(pid), "--out", str(out_dir))
    assert code == 0, out
    assert "clients' own words" in out and "audit log" in out
    _, audit_out = invoke("audit", "--json")
    rendered = [r for r in json.loads(audit_out) if r["action"] == "digest.rendered"]
    assert [r["subject"] for r in rendered] == [f"practitioner:{pid}"]
    html = (out_dir / "digest.html").read_text()
    assert "The pacing felt right today" in html
    assert (out_dir / "digest.md").stat().st_mode & 0o077 == 0, "owner-only file"
    assert out_dir.stat().st_mode & 0o777 == 0o700, "owner-only directory"

    async def seen() -> list[int | None]:
        h = await make_harness(
            env["FEEDBACK_BOT_DATABASE_URL"],
            tmp_path,
            datetime(2026, 11, 16, 9, tzinfo=UTC),
            encryption_key=env["FEEDBACK_BOT_ENCRYPTION_KEY"],
        )
        async with h.app.sessions() as s:
            ids = list((await s.execute(select(FeedbackItem.digest_id))).scalars())
        await h.close()
        return ids

    assert asyncio.run(seen()) == [None]


def test_chat_lets_you_try_the_bot_as_a_client_in_the_terminal(env: dict[str, str]) -> None:
    import os
    import subprocess
    import sys

    # A real process with piped input: the terminal reader runs in a thread.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from feedback_bot.app.cli import main; main()",
            "chat",
            "--as",
            "client",
        ],
        input="1\n!quit\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    assert "Is that okay with you?" in done.stdout  # linked with a fresh invite
    assert "One more thing" in done.stdout  # "1" chose "I agree"


def test_unlinking_a_practitioner_removes_their_chats_and_gives_a_new_code(
    env: dict[str, str],
) -> None:
    import asyncio
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from feedback_bot.storage.models import Identity
    from tests.harness import make_harness

    async def linked_chats(link: bool) -> int:
        h = await make_harness(
            env["FEEDBACK_BOT_DATABASE_URL"],
            Path("."),
            datetime(2026, 11, 16, 9, tzinfo=UTC),
            encryption_key=env["FEEDBACK_BOT_ENCRYPTION_KEY"],
        )
        if link:
            await h.practitioner()
        async with h.app.sessions() as s:
            n = await s.scalar(select(func.count()).select_from(Identity))
        await h.close()
        return int(n or 0)

    assert asyncio.run(linked_chats(link=True)) == 1
    data = invoke_json("practitioner", "unlink", "--id", "1")
    assert data["new_link_code"]
    assert asyncio.run(linked_chats(link=False)) == 0
    _, out = invoke("audit", "--json")
    assert "practitioner.unlinked" in [row["action"] for row in json.loads(out)]


def _tables(database_url: str) -> list[str]:
    import sqlite3

    from sqlalchemy.engine import make_url

    path = make_url(database_url).database
    assert path is not None
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def test_admin_commands_ask_for_db_upgrade_instead_of_migrating(
    fresh_env: dict[str, str],
) -> None:
    from alembic.script import ScriptDirectory

    from feedback_bot.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    behind = (
        f"The database schema is behind (at none, needs {head}). "
        "Run `feedback-bot db upgrade` first."
    )
    code, out = invoke("practice", "add", "--name", "Oak House", "--timezone", "Europe/Berlin")
    assert code != 0 and behind in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out
    code, out = invoke("audit", "--json")
    assert code != 0 and json.loads(out) == {
        "error": {
            "code": "schema",
            "message": behind,
            "schema_current": None,
            "schema_head": head,
        }
    }
    for args in (("outbox",), ("keys", "rotate"), ("digest", "send", "--practitioner", "1")):
        code, out = invoke(*args)
        assert code != 0 and behind in out, (args, out)
    code, out = invoke("db", "status", "--json")
    assert code == 1 and json.loads(out)["up_to_date"] is False
    assert _tables(fresh_env["FEEDBACK_BOT_DATABASE_URL"]) == [], "nothing was migrated"

    assert invoke("db", "upgrade")[0] == 0
    status = invoke_json("db", "status")
    assert status["current"] == status["head"] == head and status["up_to_date"] is True
    practice = invoke_json("practice", "add", "--name", "Oak House", "--timezone", "Europe/Berlin")
    assert practice["practice_id"] == 1


def test_a_database_one_migration_behind_names_both_revisions(fresh_env: dict[str, str]) -> None:
    import asyncio

    from alembic.script import ScriptDirectory

    from feedback_bot.storage.database import create_engine
    from feedback_bot.storage.migrate import alembic_config, upgrade

    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    previous = head.down_revision

    async def migrate_to_previous() -> None:
        engine = create_engine(fresh_env["FEEDBACK_BOT_DATABASE_URL"])
        try:
            await upgrade(engine, previous)
        finally:
            await engine.dispose()

    asyncio.run(migrate_to_previous())
    code, out = invoke("practice", "add", "--name", "Oak House", "--timezone", "Europe/Berlin")
    assert code != 0
    assert f"(at {previous}, needs {head.revision})" in out and "db upgrade" in out
    code, out = invoke("db", "status")
    assert code == 1 and previous in out
    assert invoke("db", "upgrade")[0] == 0
    assert invoke("db", "status")[0] == 0


def test_platform_and_safety_commands_hang_off_the_main_command(tmp_path: Path) -> None:
    corpus = tmp_path / "mini.tsv"
    corpus.write_text(
        "# label\tlang\ttext\n1\ten\tI want to kill myself\n0\ten\tThe session felt rushed\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["safety", "evaluate", str(corpus), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["recall"] == 1.0
    # Registered by the Matrix platform entry; without settings it says what is missing.
    result = CliRunner().invoke(app, ["matrix", "identity", "--json"])
    assert result.exit_code == 2
    assert "FEEDBACK_BOT_MATRIX__HOMESERVER" in json.loads(result.output)["error"]["message"]


def test_prompts_validate_names_the_language_without_crisis_resources(
    env: dict[str, str], tmp_path: Path
) -> None:
    code, out = invoke("prompts", "validate")
    assert code == 0 and "de 1 emergency + 1 crisis line(s)" in out
    broken = tmp_path / "prompts.yaml"
    broken.write_text(
        "languages: [en, de]\ncrisis_resources:\n"
        "  en: {emergency: [{name: E, contact: '1'}], crisis_lines: [{name: L, contact: '2'}]}\n"
        "  de: {emergency: [{name: Notruf, contact: '112'}]}\n"
    )
    code, out = invoke("prompts", "validate", str(broken))
    assert code == 2 and "de: add at least one crisis line" in out and "Traceback" not in out


BERLIN_YAML = """\
en:
  emergency: [{name: Emergency (Germany), contact: "112"}]
  crisis_lines: [{name: Berlin crisis service, contact: "030 555 0101"}]
de:
  emergency: [{name: Notruf, contact: "112"}]
  crisis_lines: [{name: Berliner Krisendienst, contact: "030 555 0102"}]
es:
  emergency: [{name: Emergencias, contact: "112"}]
  crisis_lines: [{name: Servicio de crisis de Berlín, contact: "030 555 0103"}]
"""


def test_practice_crisis_resources_round_trip(env: dict[str, str], tmp_path: Path) -> None:
    practice = invoke_json(
        "practice", "add", "--name", "Praxis Mitte", "--timezone", "Europe/Berlin"
    )
    pid = str(practice["practice_id"])
    shown = invoke_json("practice", "crisis-resources", "--practice", pid)
    assert shown["source"] == "deployment" and shown["stored"] is False
    assert "0800 111 0 111" in json.dumps(shown, ensure_ascii=False)

    own = tmp_path / "berlin.yaml"
    own.write_text(BERLIN_YAML, encoding="utf-8")
    stored = invoke_json("practice", "crisis-resources", "--practice", pid, str(own))
    assert stored["source"] == "practice" and stored["stored"] is True
    resources = stored["crisis_resources"]
    assert isinstance(resources, dict)
    assert resources["de"]["crisis_lines"] == [
        {"name": "Berliner Krisendienst", "contact": "030 555 0102"}
    ]
    assert resources["es"]["crisis_lines"][0]["name"] == "Servicio de crisis de Berlín"

    # Shown again, in a table: the practice's own.
    code, out = invoke("practice", "crisis-resources", "--practice", pid)
    assert code == 0 and "030 555 0102" in out and "its own" in out and "0800 111" not in out

    # The audit names the practice and the setting, never the numbers.
    code, out = invoke("audit", "--json")
    changed = [r for r in json.loads(out) if r["action"] == "practice.setting_changed"]
    assert changed and {r["subject"] for r in changed} == {f"practice:{pid}"}
    # Each changed setting by its path (Spain's emergency number was already 112).
    assert {r["details"]["setting"] for r in changed} == {
        "crisis_resources.en.emergency",
        "crisis_resources.en.crisis_lines",
        "crisis_resources.de.emergency",
        "crisis_resources.de.crisis_lines",
        "crisis_resources.es.crisis_lines",
    }
    assert "030 555" not in out and "Krisendienst" not in out

    # Back to the deployment's.
    cleared = invoke_json("practice", "crisis-resources", "--practice", pid, "--clear")
    assert cleared["source"] == "deployment"
    code, out = invoke("audit", "--json")
    assert "practice.setting_reset" in [r["action"] for r in json.loads(out)]


def test_practice_crisis_resources_refuses_a_language_without_help(
    env: dict[str, str], tmp_path: Path
) -> None:
    practice = invoke_json(
        "practice", "add", "--name", "Praxis Mitte", "--timezone", "Europe/Berlin"
    )
    pid = str(practice["practice_id"])
    partial = tmp_path / "partial.yaml"
    partial.write_text(BERLIN_YAML.split("\nes:\n")[0], encoding="utf-8")  # no Spanish
    code, out = invoke("practice", "crisis-resources", "--practice", pid, str(partial))
    assert code == 2 and "Traceback" not in out
    assert "es: no crisis resources for this language" in out and str(partial) in out

    code, out = invoke("practice", "crisis-resources", "--practice", pid, str(partial), "--json")
    assert code == 2 and "es: no crisis resources" in json.loads(out)["error"]["message"]

    no_line = tmp_path / "no_line.yaml"
    without = '  crisis_lines: [{name: Berliner Krisendienst, contact: "030 555 0102"}]\n'
    assert without in BERLIN_YAML
    no_line.write_text(BERLIN_YAML.replace(without, ""), encoding="utf-8")
    code, out = invoke("practice", "crisis-resources", "--practice", pid, str(no_line))
    assert code == 2 and "de: add at least one crisis line" in out

    good = tmp_path / "good.yaml"
    good.write_text(BERLIN_YAML, encoding="utf-8")
    code, out = invoke("practice", "crisis-resources", "--practice", "999", str(good), "--json")
    assert code == 2 and json.loads(out) == {
        "error": {"code": "not_found", "message": "no practice with id 999"}
    }
    # Nothing was stored by any of these, and nothing audited.
    assert invoke_json("practice", "crisis-resources", "--practice", pid)["source"] == "deployment"
    code, out = invoke("audit", "--json")
    assert "practice.setting_changed" not in [r["action"] for r in json.loads(out)]


def test_practice_crisis_resources_does_not_migrate(fresh_env: dict[str, str]) -> None:
    code, out = invoke("practice", "crisis-resources", "--practice", "1", "--json")
    assert code == 2 and "schema_head" in json.loads(out)["error"]


DIGEST_START = datetime(2026, 11, 16, 9, tzinfo=UTC)


async def _digest_harness(env: dict[str, str], tmp_path: Path) -> Any:
    from tests.harness import make_harness

    return await make_harness(
        env["FEEDBACK_BOT_DATABASE_URL"],
        tmp_path,
        DIGEST_START,
        encryption_key=env["FEEDBACK_BOT_ENCRYPTION_KEY"],
    )


def _seed_shared_words(
    env: dict[str, str], tmp_path: Path, names: list[tuple[str, str, str]]
) -> None:
    """Each (practitioner, name, client) with one client who shared words "just so you know"."""

    async def seed() -> None:
        h = await _digest_harness(env, tmp_path)
        for who, name, client in names:
            pid = await h.practitioner(who, name=name)
            await h.client(client.lower(), pid, alias=client)
            await h.says(client.lower(), f"words from {client}")
            await h.presses(client.lower(), "Something felt good")
            await h.presses(client.lower(), "Just so you know")
        await h.close()

    asyncio.run(seed())


def _digest_chats(env: dict[str, str], tmp_path: Path) -> list[str]:
    """The chat of every queued digest, one entry per digest."""
    from sqlalchemy import select

    from feedback_bot.storage.models import OutboxMessage

    async def read() -> list[str]:
        h = await _digest_harness(env, tmp_path)
        async with h.app.sessions() as s:
            rows = await s.execute(
                select(OutboxMessage.address).where(OutboxMessage.kind == "digest")
            )
            found = [str(a) for a in rows.scalars()]
        await h.close()
        return found

    return asyncio.run(read())


def test_digest_send_all_queues_one_digest_per_practitioner_with_a_progress_bar(
    env: dict[str, str], tmp_path: Path
) -> None:
    _seed_shared_words(env, tmp_path, [("dr1", "Sam", "Ada"), ("dr2", "Lee", "Kim")])
    assert invoke("digest", "send")[0] == 2  # neither a practitioner nor --all
    result = CliRunner().invoke(app, ["digest", "send", "--all", "--progress"])
    assert result.exit_code == 0, result.output
    assert "2 digest(s) queued" in result.output
    assert "2/2" in result.output  # the bar (stderr, mixed in by the runner): counts only
    assert "Ada" not in result.output and "Sam" not in result.output
    assert len(_digest_chats(env, tmp_path)) == 2


def test_digest_send_all_in_two_processes_sends_each_digest_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    """``--jobs 2`` splits the practitioners between two processes: together they queue
    one digest for each, and the bar counts the whole run."""
    names = [("dr1", "Sam", "Ada"), ("dr2", "Lee", "Kim"), ("dr3", "Noa", "Bo")]
    _seed_shared_words(env, tmp_path, names)
    assert invoke("digest", "send", "--practitioner", "1", "--jobs", "2")[0] == 2
    result = CliRunner().invoke(app, ["digest", "send", "--all", "--jobs", "2", "--progress"])
    assert result.exit_code == 0, result.output
    assert "3 digest(s) queued" in result.output
    assert "3/3" in result.output
    chats = _digest_chats(env, tmp_path)
    assert len(chats) == 3 and len(set(chats)) == 3  # one each, nobody twice
