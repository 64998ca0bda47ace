"""Issue 16, point 18: `feedback-bot chat` in real processes. Two terminals on one database
each show only their own person's messages, choices print once, attachments are saved and
their path shown, square brackets stay text, and a practitioner terminal on an existing
database says how to link."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.test_cli import env, fresh_env  # noqa: F401  (fixtures)

CHAT = [sys.executable, "-c", "from feedback_bot.app.cli import main; main()", "chat"]


def _env(settings: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **settings, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


def client_chat(settings: dict[str, str], typed: str, files: Path) -> str:
    done = subprocess.run(
        [*CHAT, "--as", "client", "--files", str(files)],
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(settings),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def read_until(proc: subprocess.Popen[str], marker: str) -> str:
    """What the terminal printed up to and including the line with ``marker``."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never printed:\n{''.join(seen)}")


def test_two_terminals_on_one_database(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    files = tmp_path / "files"
    practitioner = subprocess.Popen(
        [*CHAT, "--as", "practitioner", "--files", str(files)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(env),
    )
    assert practitioner.stdin is not None
    try:
        practitioner.stdin.write("!help\n")
        practitioner.stdin.flush()
        # Rich markup no longer eats the square brackets of the practitioner help.
        helped = read_until(practitioner, "!digest [ALIAS]")
        assert "!invite [alias]" in helped

        said = client_chat(
            env,
            "1\n2\nI [really] liked the breathing exercise\n1\n1\n!export\n!quit\n",
            files,
        )
        # Each choice once (the core numbers them already), and no word lost to markup.
        assert said.count("1. I agree") == 1
        assert said.count("1. Something felt good") == 1
        export = files / "terminal-client-my-feedback-data.json"
        assert f"saved to {export}" in said
        assert "I [really] liked the breathing exercise" in export.read_text()
        assert oct(export.stat().st_mode & 0o777) == "0o600"

        practitioner.stdin.write("!digest\n")
        practitioner.stdin.flush()
        digest = read_until(practitioner, "saved to")
        assert "“I [really] liked the breathing exercise”" in digest
        saved = Path(digest.split("saved to ", 1)[1].split()[0])
        assert saved.parent == files and "I [really] liked" in saved.read_text()

        # The client erases their data: the practitioner is told, in their terminal only.
        erased = client_chat(env, "!delete\n1\n!quit\n", files)
        assert "Everything has been erased" in erased
        assert "asked for their data to be erased" not in erased
        practitioner.stdin.write("!clients\n!quit\n")
        practitioner.stdin.flush()
        rest, err = practitioner.communicate(timeout=120)
        assert practitioner.returncode == 0, err
        assert "Terminal client asked for their data to be erased, and it has been." in rest
    finally:
        if practitioner.poll() is None:
            practitioner.kill()
            practitioner.communicate()


def test_a_practitioner_terminal_on_an_existing_database_says_how_to_link(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    client_chat(env, "!quit\n", tmp_path)  # creates a practice and its practitioner
    done = subprocess.run(
        [*CHAT, "--as", "practitioner", "--files", str(tmp_path)],
        input="!quit\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(env),
    )
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "not linked to a practitioner yet" in out
    assert "Practitioner (id 1)" in out
    assert "feedback-bot practitioner unlink --id 1" in out
    assert "type !start CODE here" in out
