"""Settings per practice: each practice's clients read its own languages, crisis resources
and texts; a change counts from the next message, without a restart, and is audited by
setting path; every mistake in a settings file is reported at once, with its line, before
any client sees it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from feedback_bot.people.practice_settings import (
    SettingError,
    load_settings,
    save_settings,
    settings_document,
    validate_document,
)
from feedback_bot.people.settings_validation import parse_yaml
from feedback_bot.storage.models import AuditEvent, PracticeSettingsRecord
from tests.harness import REPO, Harness, t
from tests.test_cli import env, fresh_env, invoke, invoke_json  # noqa: F401 (fixtures)

SHIPPED = yaml.safe_load((REPO / "config" / "prompts.yaml").read_text(encoding="utf-8"))

# Every mistake the issue names, in one file (the line of each is checked below).
MISTAKES = """\
language: en
languages: [en, de, fr]
checkin:
  cadence: weekly
checkins:
  snooze_hour: 3
crisis_resources:
  en:
    emergency: [{name: Emergency, contact: "999"}]
    crisis_lines: [{name: Samaritans, contact: "116 123"}]
  de:
    emergency: [{name: Notruf, contact: "112"}]
alliance:
  items:
    - {key: heard, label: Felt heard, question: "Did you feel heard?"}
    - {key: heard, label: Goals, question: "Did we work on your goals?"}
texts:
  en:
    onboarding:
      welcome: "Welcome to {practise}!"
"""
EXPECTED = [  # (line, path, words in the message)
    (2, "languages.2", "fr: the bot has no texts in this language"),
    (3, "checkin", "unknown setting; did you mean checkins?"),
    (6, "checkins.snooze_hour", "unknown setting; did you mean snooze_hours?"),
    (7, "crisis_resources.fr", "fr: no crisis resources for this language"),
    (11, "crisis_resources.de.crisis_lines", "add at least one crisis line"),
    (16, "alliance.items.1.key", "heard is also the key of item 0"),
    (20, "texts.en.onboarding.welcome", "{practise} is not something this message provides"),
]
SYNTAX = "language: en\ncheckins:\n  cadence: [weekly\n"


def check_all_reported(errors: list[SettingError]) -> None:
    found = [(e.line, e.path) for e in errors]
    assert found == [(line, path) for line, path, _ in EXPECTED]
    for error, (_, _, words) in zip(errors, EXPECTED, strict=True):
        assert words in error.message


# -- validation, without a database ----------------------------------------------------


def test_every_mistake_is_reported_at_once_with_its_line() -> None:
    parsed = parse_yaml(MISTAKES)
    check_all_reported(validate_document(parsed.document, marks=parsed.marks))
    # The placeholder check offers what the message does provide.
    [placeholder] = [e for e in validate_document(parsed.document) if e.path.startswith("texts")]
    assert "did you mean {practice}?" in placeholder.message and placeholder.line is None


def test_a_yaml_syntax_error_names_its_line_and_column() -> None:
    parsed = parse_yaml(SYNTAX)
    assert parsed.document is None
    [error] = parsed.errors
    assert (error.line, error.column) == (4, 1)
    assert "it began at line 3, column 12" in error.message
    assert error.format("berlin.yaml").startswith("berlin.yaml:4:1: not valid YAML: ")


def test_what_the_shipped_file_gives_a_practice_validates() -> None:
    assert validate_document(SHIPPED) == []
    # A language is offered once every text is there, for example the practice's own.
    english_help = SHIPPED["crisis_resources"]["en"]
    french = dict(SHIPPED, languages=["en", "fr"], language="en")
    french["crisis_resources"] = {"en": english_help, "fr": english_help}
    [refused] = [e for e in validate_document(french) if e.path == "languages.1"]
    assert "fr: the bot has no texts" in refused.message
    from feedback_bot.people.settings_validation import shipped_catalog

    english = shipped_catalog().own_texts("en")
    french["texts"] = {"fr": dict(english)}
    assert validate_document(french) == []


# -- the engine reads the practice's settings, fresh for each message -------------------

BERLIN = {
    "language": "de",
    "languages": ["de"],
    "crisis_resources": {
        "de": {
            "emergency": [{"name": "Notruf", "contact": "112"}],
            "crisis_lines": [{"name": "Berliner Krisendienst", "contact": "030 555 0102"}],
        }
    },
}
LONDON = {
    "language": "en",
    "languages": ["en"],
    "crisis_resources": {
        "en": {
            "emergency": [{"name": "Emergency services (UK)", "contact": "999"}],
            "crisis_lines": [{"name": "Samaritans", "contact": "116 123"}],
        }
    },
}


async def change(bot: Harness, practice_id: int, actor: str, **changes: Any) -> list[SettingError]:
    """What the web console does: load, change, save (validated, audited)."""
    async with bot.app.sessions() as s, s.begin():
        doc = settings_document(await load_settings(s, practice_id))
        doc.update(changes)
        return await save_settings(s, practice_id, doc, actor=actor, now=bot.clock.now())


async def share(bot: Harness, who: str, words: str, lang: str) -> str:
    """Share something as a client in ``lang`` and return the acknowledgement."""
    cat = bot.app.catalog
    await bot.says(who, words)
    await bot.presses(who, cat.t("choices.not_right", lang))
    [ack] = await bot.presses(who, cat.t("choices.session", lang))
    return ack


async def join(bot: Harness, who: str, practitioner_id: int, lang: str) -> str:
    """Redeem an invite and consent, pressing the buttons in ``lang``; the consent text."""
    cat = bot.app.catalog
    invite = await bot.app.admin.invite_client(practitioner_id, who.title())
    consent = "\n".join(await bot.says(who, f"!start {invite.code}"))
    await bot.presses(who, cat.t("choices.agree", lang))
    await bot.presses(who, cat.t("choices.no_alert", lang))
    return consent


async def test_two_practices_each_see_only_their_own_resources_and_language(
    bot: Harness,
) -> None:
    cat = bot.app.catalog
    berlin = await bot.app.admin.create_practice("Praxis Mitte", "Europe/Berlin")
    london = await bot.app.admin.create_practice("Riverside", "Europe/London")
    assert await change(bot, berlin, "admin", **BERLIN) == []
    assert await change(bot, london, "admin", **LONDON) == []
    anna, code = await bot.app.admin.add_practitioner(berlin, "Anna")
    await bot.says("anna", f"!start {code}")
    sam, code = await bot.app.admin.add_practitioner(london, "Sam")
    await bot.says("sam", f"!start {code}")

    consent = await join(bot, "alex", anna, "de")
    assert cat.t("onboarding.ask", "de") in consent and "030 555 0102" in consent
    assert "116 123" not in consent and "999" not in consent
    consent = await join(bot, "blair", sam, "en")
    assert cat.t("onboarding.ask", "en") in consent and "116 123" in consent
    assert "030 555" not in consent and "Notruf" not in consent

    # Acknowledgements end with the practice's own top emergency number.
    ack = await share(bot, "alex", "Die Stunde endete zu abrupt.", "de")
    assert cat.t("common.urgent_line", "de", emergency="112", p="!") in ack
    ack = await share(bot, "blair", "The session ended too abruptly.", "en")
    assert cat.t("common.urgent_line", "en", emergency="999", p="!") in ack

    # The crisis reply: each in their practice's language, with its numbers only.
    [crisis, *_] = await bot.says("alex", "Ich will nicht mehr leben.")
    assert crisis.startswith(cat.t("safety.reply", "de"))
    assert "• Berliner Krisendienst: 030 555 0102" in crisis
    assert "116 123" not in crisis and "Samaritans" not in crisis
    [crisis, *_] = await bot.says("blair", "I don't see the point anymore")
    assert crisis.startswith(cat.t("safety.reply", "en"))
    assert "• Samaritans: 116 123" in crisis and "• Emergency services (UK): 999" in crisis
    assert "030 555" not in crisis and "Krisendienst" not in crisis

    # The feedback contact is one of the practice's own practitioners.
    [error] = await change(bot, berlin, "admin", feedback_contact=sam)
    assert error.path == "feedback_contact" and f"practice {berlin}" in error.message
    assert await change(bot, berlin, "admin", feedback_contact=anna) == []
    async with bot.app.sessions() as s:
        assert (await load_settings(s, berlin)).feedback_contact == anna
        assert (await load_settings(s, london)).feedback_contact is None

    # A language the practice does not offer is not offered to its clients.
    assert await bot.says("blair", "!language de") == [
        cat.t("language.unknown", "en", languages="en")
    ]


async def test_a_change_counts_from_the_next_message_and_is_audited(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("alex", pid)
    ack = await share(bot, "alex", "It felt rushed.", "en")
    assert t(bot, "common.urgent_line", emergency="112") in ack

    # A placeholder typo is refused, so no client ever meets a broken text.
    texts = {"en": {"onboarding": {"welcome": "Welcome to {practise}, {practitioner}."}}}
    [error] = await change(bot, bot.practice_id, "admin:7", texts=texts)
    assert error.path == "texts.en.onboarding.welcome" and "{practise}" in error.message
    texts["en"]["onboarding"]["welcome"] = "Welcome to {practice}, invited by {practitioner}."
    texts["en"]["common"] = {"crisis_header": "Help, right now:"}
    uk = LONDON["crisis_resources"]["en"]
    resources = {lang: uk for lang in ("en", "de", "es")}
    changed_at = bot.clock.now()
    assert (
        await change(bot, bot.practice_id, "admin:7", texts=texts, crisis_resources=resources) == []
    )

    # The same running bot: the next acknowledgement and help carry the new settings.
    ack = await share(bot, "alex", "It still felt rushed.", "en")
    assert t(bot, "common.urgent_line", emergency="999") in ack
    [urgent] = await bot.says("alex", "!urgent")
    assert "Help, right now:\n• Emergency services (UK): 999" in urgent
    consent = await bot.says("blair", f"!start {(await bot.app.admin.invite_client(pid)).code}")
    assert "Welcome to Riverside Practice, invited by Sam." in "\n".join(consent)

    # Audited: who, which setting, when; never the numbers or the words.
    async with bot.app.sessions() as s:
        rows = list(
            (
                await s.execute(
                    select(AuditEvent).where(AuditEvent.action == "practice.setting_changed")
                )
            ).scalars()
        )
        stored = await s.get(PracticeSettingsRecord, bot.practice_id)
    assert {(r.actor, r.subject_id, r.details["setting"]) for r in rows} == {
        ("admin:7", bot.practice_id, path)
        for path in (
            "texts.en",
            "crisis_resources.en.emergency",
            "crisis_resources.en.crisis_lines",
            "crisis_resources.de.emergency",
            "crisis_resources.de.crisis_lines",
            "crisis_resources.es.emergency",
            "crisis_resources.es.crisis_lines",
        )
    }
    assert all(r.at == changed_at for r in rows)
    assert "999" not in repr([r.details for r in rows]) and "Help" not in repr(
        [r.details for r in rows]
    )
    assert stored is not None and stored.version == 2


# -- the command line: export, import, validate ----------------------------------------


def test_export_and_import_round_trip_a_practices_settings(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    pid = str(
        invoke_json("practice", "add", "--name", "Praxis", "--timezone", "Europe/Berlin")[
            "practice_id"
        ]
    )
    exported = tmp_path / "praxis.yaml"
    assert (
        invoke_json("practice", "config", "export", "--practice", pid, str(exported))["version"]
        == 1
    )
    doc = yaml.safe_load(exported.read_text(encoding="utf-8"))
    assert doc["crisis_resources"]["de"]["crisis_lines"][0]["contact"].startswith("0800 111")
    assert doc["checkins"]["snooze_hours"] == 4

    doc["checkins"]["snooze_hours"] = 6
    doc["crisis_resources"]["de"]["crisis_lines"] = [
        {"name": "Berliner Krisendienst", "contact": "030 555 0102"}
    ]
    exported.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    imported = invoke_json("practice", "config", "import", "--practice", pid, str(exported))
    assert imported["version"] == 2 and imported["stored"] is True

    again = tmp_path / "again.yaml"
    invoke_json("practice", "config", "export", "--practice", pid, str(again))
    assert yaml.safe_load(again.read_text(encoding="utf-8")) == doc
    # The same file again changes nothing and audits nothing new.
    assert (
        invoke_json("practice", "config", "import", "--practice", pid, str(again))["version"] == 2
    )
    code, out = invoke("audit", "--json")
    changed = [r for r in json.loads(out) if r["action"] == "practice.setting_changed"]
    assert sorted(r["details"]["setting"] for r in changed) == [
        "checkins.snooze_hours",
        "crisis_resources.de.crisis_lines",
    ]
    assert "030 555" not in out

    # Every mistake at once, file:line: path: message; nothing stored.
    broken = tmp_path / "broken.yaml"
    broken.write_text(MISTAKES, encoding="utf-8")
    code, out = invoke("practice", "config", "import", "--practice", pid, str(broken))
    assert code == 2 and "Traceback" not in out
    for line, path, words in EXPECTED:
        assert f"{broken}:{line}: {path}: " in out and words in out
    code, out = invoke("practice", "config", "import", "--practice", pid, str(broken), "--json")
    assert code == 2
    report = json.loads(out)
    assert [(e["line"], e["path"]) for e in report["errors"]] == [(n, p) for n, p, _ in EXPECTED]
    assert {e["file"] for e in report["errors"]} == {str(broken)}

    bad_yaml = tmp_path / "syntax.yaml"
    bad_yaml.write_text(SYNTAX, encoding="utf-8")
    code, out = invoke("practice", "config", "import", "--practice", pid, str(bad_yaml))
    assert code == 2 and f"{bad_yaml}:4:1: not valid YAML" in out

    code, out = invoke("practice", "config", "import", "--practice", "999", str(again), "--json")
    assert code == 2 and json.loads(out)["error"]["message"] == "no practice with id 999"
    assert (
        invoke_json("practice", "config", "export", "--practice", pid, str(again))["version"] == 2
    )


def test_prompts_validate_uses_the_same_rules(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    broken = tmp_path / "prompts.yaml"
    broken.write_text(MISTAKES, encoding="utf-8")
    code, out = invoke("prompts", "validate", str(broken))
    assert code == 2
    for line, path, _ in EXPECTED:
        assert f"{broken}:{line}: {path}: " in out
    code, out = invoke("prompts", "validate", str(broken), "--json")
    assert code == 2 and len(json.loads(out)["errors"]) == len(EXPECTED)
    code, out = invoke("prompts", "validate", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


@pytest.mark.parametrize("typo", ["checkin", "snooze_hour"])
def test_a_typo_is_never_a_silent_default(typo: str) -> None:
    doc = json.loads(json.dumps(SHIPPED))
    if typo == "checkin":
        doc["checkin"] = doc.pop("checkins")
    else:
        doc["checkins"]["snooze_hour"] = doc["checkins"].pop("snooze_hours")
    [error] = validate_document(doc)
    assert error.message.startswith("unknown setting; did you mean")
