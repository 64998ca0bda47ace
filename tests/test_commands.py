"""The conversation declared once: every command in the table has its texts in every
language and its place in the menus, a new command needs nothing beyond its row, handler
and texts, and every button id the core puts out reads back through the one decoder."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from feedback_bot.catalog import CATALOG_DIR, FALLBACK, Catalog, _flatten
from feedback_bot.conversation.commands import (
    ANSWERS,
    CHOSEN_ONLY,
    COMMANDS,
    HELP_INTRO,
    Command,
    CommandTable,
    Role,
)
from feedback_bot.conversation.digest_commands import digest_hooks
from feedback_bot.conversation.router import Router
from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.delivery import choice_ids
from feedback_bot.delivery.choice_ids import ChoiceKind, decode
from feedback_bot.ports.menus import CommandMenuEntry
from tests.harness import Harness, t

LANGUAGES = sorted({p.name.split(".", 1)[0] for p in CATALOG_DIR.glob("*.yaml")})
# Commands people type but that no menu offers: "start" comes with the invite link,
# "edit N" and "withdraw N" need a number from "mine".
TYPED_ONLY = {Role.CLIENT: {"start", "edit", "withdraw"}, Role.PRACTITIONER: {"start"}}
# Commands that are not a line of the help: the help itself, and "start".
NOT_IN_HELP = {"help", "start"}


def own_texts(lang: str) -> dict[str, str]:
    """One language's own files, without the English fallback."""
    out: dict[str, str] = {}
    for path in sorted(CATALOG_DIR.glob(f"{lang}*.yaml")):
        if path.name.split(".", 1)[0] == lang:
            _flatten("", yaml.safe_load(path.read_text(encoding="utf-8")) or {}, out)
    return out


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("role", list(Role))
def test_every_command_has_its_help_line_and_menu_text_in_every_language(
    lang: str, role: Role
) -> None:
    texts = own_texts(lang)
    missing = [
        f"{c.name}: {key}"
        for c in COMMANDS.of(role)
        for key in (c.help, c.menu)
        if key is not None and key not in texts
    ]
    intro = HELP_INTRO[role]
    if intro is not None and intro not in texts:
        missing.append(f"help intro: {intro}")
    assert not missing, f"{lang} lacks texts for {role} commands: {missing}"


@pytest.mark.parametrize("role", list(Role))
def test_every_command_is_in_the_help_and_the_menu(role: Role) -> None:
    """A new command without a help line or a menu entry fails here, not in front of users."""
    commands = COMMANDS.of(role)
    assert {c.name for c in commands if c.help is None} == NOT_IN_HELP & {c.name for c in commands}
    assert {c.name for c in commands if c.menu is None} == TYPED_ONLY[role]
    names = [c.name for c in commands]
    assert len(names) == len(set(names)), "a command is declared twice"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_help_lines_name_their_commands(lang: str) -> None:
    """Each help line names the command that brings it in ("mine" also covers edit and
    withdraw, which it explains)."""
    catalog = Catalog.load()
    for role in Role:
        first: dict[str, str] = {}
        for command in COMMANDS.of(role):
            if command.help is not None:
                first.setdefault(command.help, command.name)
        for key, name in first.items():
            assert f"!{name}" in catalog.t(key, lang, p="!"), name


@pytest.mark.parametrize("lang", LANGUAGES)
def test_menus_offer_what_the_table_declares_in_each_language(lang: str) -> None:
    catalog = Catalog.load()
    menus = COMMANDS.menus(catalog, LANGUAGES, FALLBACK)
    assert set(menus.languages) == set(LANGUAGES)
    for role, menu in (
        (Role.CLIENT, menus.client[lang]),
        (Role.PRACTITIONER, menus.practitioner[lang]),
    ):
        assert [e.name for e in menu] == [c.name for c in COMMANDS.of(role) if c.menu]
        assert all(1 <= len(e.description) <= 256 for e in menu)  # Telegram's limits


def test_menus_fall_back_to_english_for_a_language_without_texts() -> None:
    menus = COMMANDS.menus(Catalog.load(), ["xx"], "xx")
    assert menus.default_language == FALLBACK
    assert menus.languages == [FALLBACK]


def test_help_is_the_intro_then_one_line_per_command_in_table_order() -> None:
    catalog = Catalog.load()
    lines = COMMANDS.help_text(catalog, "en", Role.CLIENT, p="/").split("\n")
    assert lines[0] == catalog.t("help.intro.client", "en")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "/feedback", "/mine", "/checkins", "/timezone", "/quiet", "/notices",
        "/pause / /resume", "/stop", "/export", "/delete", "/language", "/urgent",
    ]  # fmt: skip
    practitioner = COMMANDS.help_text(catalog, "en", Role.PRACTITIONER, p="!").split("\n")
    assert [line.split()[0].rstrip(":") for line in practitioner] == [
        "!invite", "!clients", "!session", "!digest", "!ack", "!reply",
    ]  # fmt: skip


def test_router_sets_come_from_the_table() -> None:
    before_consent = {c.name for c in COMMANDS.client if c.before_consent}
    assert before_consent == {"delete", "language", "help", "start", "export", "urgent"}
    assert {c.name for c in COMMANDS.client if c.stores_words} == {"feedback", "edit"}
    assert not set(CHOSEN_ONLY) & set(ANSWERS)


# -- adding a command -----------------------------------------------------------------------

HELLO_TEXTS = {
    lang: {
        "help": {"line": {"hello": "{p}hello: " + greeting}},
        "menu": {"hello": greeting.capitalize()},
        "hello": {"reply": greeting + "!"},
    }
    for lang, greeting in (("en", "say hello"), ("de", "hallo sagen"), ("es", "saludar"))
}


async def say_hello(turn: ClientTurn) -> None:
    turn.say(turn.t("hello.reply"))


def with_hello() -> CommandTable:
    """The real table plus one client command: a row, a handler, and its texts."""
    hello = Command("hello", say_hello, help="help.line.hello", menu="menu.hello")
    return dataclasses.replace(COMMANDS, client=(*COMMANDS.client, hello))


def test_a_new_command_reaches_help_and_menus_in_every_language() -> None:
    table, catalog = with_hello(), Catalog.load(overrides=HELLO_TEXTS)
    for lang in ("en", "de", "es"):
        help_text = table.help_text(catalog, lang, Role.CLIENT, p="!")
        assert help_text.endswith("\n" + catalog.t("help.line.hello", lang, p="!"))
        menu = table.menus(catalog, ["en", "de", "es"], "en").client[lang]
        assert menu[-1] == CommandMenuEntry("hello", catalog.t("menu.hello", lang))
        assert "hello" not in [e.name for e in table.menu(catalog, lang, Role.PRACTITIONER)]


async def test_a_new_command_is_dispatched_by_the_router(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = with_hello()
    monkeypatch.setattr(bot.app.deps, "catalog", Catalog.load(overrides=HELLO_TEXTS))
    # Each practice's texts are built on the bot's own (settings per practice).
    monkeypatch.setattr(bot.app.deps, "base_catalog", Catalog.load(overrides=HELLO_TEXTS))
    bot.app.processor.router = Router(digest_hooks(bot.app.digests), table)
    pid = await bot.practitioner()
    await bot.client("alex", pid)
    assert await bot.says("alex", "!hello") == ["say hello!"]
    [help_reply] = await bot.says("alex", "!help")
    assert "!hello: say hello" in help_reply
    # Not one of the practitioner's commands.
    [reply] = await bot.says("dr", "!hello")
    assert reply.startswith(t(bot, "unknown_command", command="hello"))


# -- choice ids -----------------------------------------------------------------------------


def test_every_kind_of_choice_id_round_trips() -> None:
    prompt = choice_ids.new_prompt_id()
    made = {
        choice_ids.prompt_choice(prompt, "not_right"): (ChoiceKind.PROMPT, prompt, "not_right"),
        choice_ids.prompt_choice(prompt, "10"): (ChoiceKind.PROMPT, prompt, "10"),
        choice_ids.checkin_choice(42, "later"): (ChoiceKind.CHECKIN, "c42", "later"),
        choice_ids.digest_ack(7): (ChoiceKind.DIGEST_ACK, "d7", "ack"),
    }
    for choice_id, (kind, head, option) in made.items():
        decoded = decode(choice_id)
        assert (decoded.kind, decoded.head, decoded.option) == (kind, head, option)
        assert len(choice_id.encode()) <= 64  # Telegram's callback data
    assert decode(choice_ids.checkin_choice(42, "good")).number == 42
    assert choice_ids.acked_digest(choice_ids.digest_ack(7)) == 7


@pytest.mark.parametrize("forged", [None, "", "x1.ack", "d.ack", "dx.ack", "d7.other", "d².ack"])
def test_ids_that_are_no_digest_ack_name_no_digest(forged: str | None) -> None:
    assert choice_ids.acked_digest(forged) is None


@pytest.mark.parametrize("foreign", [None, "", "x1.ack", "Q1.a", "1.2"])
def test_ids_that_are_none_of_ours_have_no_kind(foreign: str | None) -> None:
    assert decode(foreign).kind is None


async def test_every_choice_id_the_core_sends_reads_back(bot: Harness) -> None:
    """Questions, a check-in and a digest: each button's id decodes to one of our kinds."""
    pid = await bot.practitioner()
    await bot.client("alex", pid)
    await bot.says("alex", "the breathing exercise helped")
    await bot.presses("alex", "Something felt good")
    await bot.presses("alex", "Bring it into our next session")
    await bot.says("alex", "!language")
    await bot.says("alex", "!delete")
    await bot.presses("alex", "No, keep it")
    await bot.says("alex", "!checkins")
    await bot.presses("alex", "Once a week")
    await bot.presses("alex", "Thursday")
    await bot.presses("alex", "18:00")
    for _ in range(24 * 8):  # until the weekly check-in arrives
        if any(m.choices and decode(m.choices[0].id).kind is ChoiceKind.CHECKIN
               for m in bot.console.sent["alex"]):  # fmt: skip
            break
        await bot.tick(hours=1)
    await bot.says("dr", "!digest")
    seen: dict[ChoiceKind | None, int] = {}
    for who in ("alex", "dr"):
        for message in bot.console.sent[who]:
            for choice in message.choices:
                decoded = decode(choice.id)
                seen[decoded.kind] = seen.get(decoded.kind, 0) + 1
                assert decoded.kind is not None, choice.id
                assert f"{decoded.head}.{decoded.option}" == choice.id
                if decoded.kind is not ChoiceKind.PROMPT:
                    assert decoded.number is not None, choice.id
    assert set(seen) == set(ChoiceKind), seen
