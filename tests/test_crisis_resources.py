"""Crisis resources per language and per practice: a German-speaking client reads German
numbers in German, a practice's own resources replace the deployment's, and no language
can be offered without an emergency number and a crisis line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from feedback_bot.people.admin import AdminError
from feedback_bot.people.practice_config import (
    ConfigError,
    CrisisResources,
    Resource,
    load_crisis_resources,
    load_practice_config,
)
from feedback_bot.storage.models import PracticeSettingsRecord
from tests.harness import REPO, Harness

SHIPPED = REPO / "config" / "prompts.yaml"
TELEFONSEELSORGE = "0800 111 0 111"
FINDAHELPLINE = "findahelpline.com"
RISKY_DE = "Ich will nicht mehr leben."
FULL = "{emergency: [{name: E, contact: '1'}], crisis_lines: [{name: L, contact: '2'}]}"

# A practice in Berlin with its own numbers (made up for the tests).
BERLIN = {
    lang: CrisisResources(
        emergency=[Resource(name=name, contact="112")],
        crisis_lines=[Resource(name=line, contact=number)],
    )
    for lang, name, line, number in (
        ("en", "Emergency (Germany)", "Berlin crisis service (German)", "030 555 0101"),
        ("de", "Notruf", "Berliner Krisendienst der Praxis", "030 555 0102"),
        ("es", "Emergencias (Alemania)", "Servicio de crisis de Berlín (alemán)", "030 555 0103"),
    )
}


def write(tmp_path: Path, text: str, name: str = "prompts.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def german_client(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("alex", pid)
    assert await bot.says("alex", "!language de") == [bot.app.catalog.t("language.done", "de")]


# -- the deployment's configuration ------------------------------------------------------


def test_the_shipped_configuration_has_resources_in_every_language_it_offers() -> None:
    cfg = load_practice_config(SHIPPED)
    assert cfg.offered_languages == ["en", "de", "es"]
    assert set(cfg.crisis_resources) == {"en", "de", "es"}
    de, es = cfg.crisis_resources_for("de"), cfg.crisis_resources_for("es")
    assert [r.contact for r in de.emergency] == ["112"]
    assert any(TELEFONSEELSORGE in r.contact and "0800 111 0 222" in r.contact for r in de.all())
    assert "024" in [r.contact for r in es.crisis_lines]
    assert FINDAHELPLINE not in str(de) + str(es)
    # A language nobody configured falls back to the default language's resources.
    assert cfg.crisis_resources_for("fr") == cfg.crisis_resources_for("en")


def test_the_single_form_still_loads_and_serves_every_language(tmp_path: Path) -> None:
    cfg = load_practice_config(
        write(
            tmp_path,
            "language: de\nlanguages: [en, es]\ncrisis_resources:\n"
            "  emergency: [{name: Notruf, contact: '112'}]\n"
            "  crisis_lines: [{name: Lifeline, contact: '0800 1'}]\n",
        )
    )
    assert set(cfg.crisis_resources) == {"en", "es", "de"}
    for lang in ("en", "es", "de"):
        assert [r.contact for r in cfg.crisis_resources_for(lang).all()] == ["112", "0800 1"]


@pytest.mark.parametrize(
    ("resources", "problem"),
    [
        (  # German offered, but without an emergency number
            f"  en: {FULL}\n  de: {{crisis_lines: [{{name: L, contact: '2'}}]}}\n",
            "de: add at least one emergency number",
        ),
        (  # German without a crisis line
            f"  en: {FULL}\n  de: {{emergency: [{{name: E, contact: '1'}}], crisis_lines: []}}\n",
            "de: add at least one crisis line",
        ),
        (  # German not there at all
            f"  en: {FULL}\n",
            "de: no crisis resources for this language",
        ),
        (  # the two forms mixed
            "  emergency: [{name: E, contact: '1'}]\n"
            "  crisis_lines: [{name: L, contact: '2'}]\n"
            "  de: {emergency: [{name: E, contact: '1'}]}\n",
            "not both (found de beside emergency/crisis_lines)",
        ),
        (  # a language not offered (a typo, usually)
            f"  en: {FULL}\n  de: {FULL}\n  dee: {FULL}\n",
            "dee: not a language offered here (en, de)",
        ),
    ],
    ids=["no-emergency", "no-crisis-line", "no-language", "mixed-forms", "unknown-language"],
)
def test_validation_names_the_language_that_lacks_resources(
    tmp_path: Path, resources: str, problem: str
) -> None:
    path = write(tmp_path, "languages: [en, de]\ncrisis_resources:\n" + resources)
    with pytest.raises(ConfigError) as caught:
        load_practice_config(path)
    # file:line: path: message, the path down to the language (or its missing list)
    assert re.match(rf"{re.escape(str(path))}:\d+: crisis_resources\b", str(caught.value))
    assert problem in str(caught.value)
    # The same rules hold for a practice's own file.
    own = write(tmp_path, "".join(line[2:] + "\n" for line in resources.splitlines()), "own.yaml")
    with pytest.raises(ConfigError) as caught:
        load_crisis_resources(own, ["en", "de"])
    assert str(caught.value).startswith(f"{own}: ")
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_the_default_language_needs_resources_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"language: es\nlanguages: [en]\ncrisis_resources:\n  en: {FULL}\n",
    )
    with pytest.raises(ConfigError, match="es: no crisis resources"):
        load_practice_config(path)


def test_a_practice_file_may_be_copied_from_prompts_yaml(tmp_path: Path) -> None:
    """The crisis_resources block of prompts.yaml, key and all, is a valid practice file."""
    shipped = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["crisis_resources"]
    copied = write(tmp_path, yaml.safe_dump({"crisis_resources": shipped}), "copied.yaml")
    resources = load_crisis_resources(copied, ["en", "de", "es"])
    assert resources == load_practice_config(SHIPPED).crisis_resources
    bare = write(tmp_path, yaml.safe_dump(shipped), "bare.yaml")
    assert load_crisis_resources(bare, ["en", "de", "es"]) == resources
    with pytest.raises(ConfigError, match="expected crisis resources per language"):
        load_crisis_resources(write(tmp_path, "- 112\n", "list.yaml"), ["en"])


# -- what clients read ---------------------------------------------------------------------


async def test_a_german_speaking_client_gets_german_numbers_in_german(bot: Harness) -> None:
    await german_client(bot)
    [help_reply] = await bot.says("alex", "!help")
    footer = help_reply[help_reply.index(bot.app.catalog.t("common.not_monitored", "de")) :]
    assert bot.app.catalog.t("common.crisis_header", "de") in footer
    assert TELEFONSEELSORGE in footer and "• Notruf (Rettungsdienst): 112" in footer
    assert FINDAHELPLINE not in footer

    replies = await bot.says("alex", RISKY_DE)
    crisis = replies[0]
    assert crisis.startswith(bot.app.catalog.t("safety.reply", "de"))
    assert TELEFONSEELSORGE in crisis and FINDAHELPLINE not in crisis


async def test_a_practices_own_resources_replace_the_deployments(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.app.admin.set_crisis_resources(bot.practice_id, BERLIN)
    invite = await bot.app.admin.invite_client(pid, "Alex")
    consent = "\n".join(await bot.says("alex", f"!start {invite.code}"))
    assert "030 555 0101" in consent and FINDAHELPLINE not in consent
    await bot.presses("alex", "I agree")
    await bot.presses("alex", "No, thank you")

    [help_reply] = await bot.says("alex", "!help")
    assert "• Berlin crisis service (German): 030 555 0101" in help_reply
    assert FINDAHELPLINE not in help_reply

    await bot.says("alex", "!language de")
    [help_reply] = await bot.says("alex", "!help")
    assert "• Berliner Krisendienst der Praxis: 030 555 0102" in help_reply
    assert TELEFONSEELSORGE not in help_reply

    # Another practice on the same deployment keeps the deployment's.
    other = await bot.app.admin.create_practice("Elsewhere", "Europe/London")
    pr, code = await bot.app.admin.add_practitioner(other, "Kai")
    await bot.says("kai", f"!start {code}")
    await bot.client("blair", pr)
    [help_reply] = await bot.says("blair", "!help")
    assert FINDAHELPLINE in help_reply and "030 555" not in help_reply


async def test_the_crisis_reply_carries_the_practices_own_resources(bot: Harness) -> None:
    await german_client(bot)
    await bot.app.admin.set_crisis_resources(bot.practice_id, BERLIN)
    crisis = (await bot.says("alex", RISKY_DE))[0]
    assert crisis.startswith(bot.app.catalog.t("safety.reply", "de"))
    assert "030 555 0102" in crisis and TELEFONSEELSORGE not in crisis


async def test_the_crisis_reply_text_is_composed_with_the_practices_resources(
    bot: Harness,
) -> None:
    """What ``Turn.crisis_reply`` hands on: the practice's own numbers in the reader's
    language; a language the practice lacks falls back to its default-language set."""
    await bot.practitioner()
    await bot.app.admin.set_crisis_resources(bot.practice_id, BERLIN)
    async with bot.app.sessions() as s:
        deps = await bot.app.deps.for_practice_id(s, bot.practice_id)
    reply = deps.crisis_reply("de")
    assert reply.startswith(bot.app.catalog.t("safety.reply", "de"))
    assert "030 555 0102" in reply and TELEFONSEELSORGE not in reply
    assert TELEFONSEELSORGE in bot.app.deps.crisis_reply("de")  # no practice: the deployment's
    assert "030 555 0101" in deps.crisis_block("fr")  # not offered: the default language's

    # A stored row that no longer reads as settings never leaves a client without any.
    async with bot.app.sessions() as s, s.begin():
        row = await s.get(PracticeSettingsRecord, bot.practice_id)
        assert row is not None
        row.document = {**row.document, "crisis_resources": {"en": {"emergency": "112"}}}
    async with bot.app.sessions() as s:
        deps = await bot.app.deps.for_practice_id(s, bot.practice_id)
    assert FINDAHELPLINE in deps.crisis_block("en")


async def test_the_admin_refuses_resources_that_leave_a_language_without_help(
    bot: Harness,
) -> None:
    await bot.practitioner()
    without_spanish = {k: v for k, v in BERLIN.items() if k != "es"}
    with pytest.raises(AdminError, match="es: no crisis resources"):
        await bot.app.admin.set_crisis_resources(bot.practice_id, without_spanish)
    with pytest.raises(AdminError, match="no practice with id 999"):
        await bot.app.admin.set_crisis_resources(999, BERLIN)
    source, shown = await bot.app.admin.crisis_resources(bot.practice_id)
    assert source == "deployment" and TELEFONSEELSORGE in str(shown["de"])
