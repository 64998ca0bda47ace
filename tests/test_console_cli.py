"""``feedback-bot admin``: a practice's console admin, and a sign-in link for them."""

from __future__ import annotations

import pytest

from tests.test_cli import env, fresh_env, invoke, invoke_json

__all__ = ["env", "fresh_env"]  # the fixtures, shared with test_cli


def test_an_admin_is_added_and_gets_a_one_time_link(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    practice = invoke_json("practice", "add", "--name", "Oak House", "--timezone", "Europe/Berlin")
    added = invoke_json(
        "admin", "add", "--practice", str(practice["practice_id"]), "--name", "Robin"
    )
    assert len(str(added["link_code"])) >= 32
    code, out = invoke("admin", "login-link", "--admin", str(added["admin_id"]), "--json")
    assert code == 2 and "FEEDBACK_BOT_CONSOLE_ENABLED" in out  # the console is off

    monkeypatch.setenv("FEEDBACK_BOT_CONSOLE_ENABLED", "true")
    monkeypatch.setenv("FEEDBACK_BOT_CONSOLE_PUBLIC_URL", "https://bot.example.org")
    first = invoke_json("admin", "login-link", "--admin", str(added["admin_id"]))
    second = invoke_json("admin", "login-link", "--admin", str(added["admin_id"]))
    prefix = "https://bot.example.org/console/signin/"
    assert str(first["link"]).startswith(prefix) and first["valid_minutes"] == 10
    assert len(str(first["link"]).removeprefix(prefix)) >= 43  # 256 bits
    assert first["link"] != second["link"]
    code, out = invoke("admin", "login-link", "--admin", "99", "--json")
    assert code == 2 and "no active console admin" in out
    _, audit = invoke("audit", "--json")
    assert "Robin" not in audit and "console.link_issued" in audit
