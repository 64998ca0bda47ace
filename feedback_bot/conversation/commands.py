"""The commands of the conversation, declared once.

Each row says who may use a command (the client table or the practitioner table), what
handles it, whether it is allowed before consent, whether it takes in new words (refused
after "stop"), and the catalog keys of its help line and menu description. The router's
dispatch, the help texts and the platforms' command menus are all derived from here.

Adding a client command: a row in ``CLIENT``, its handler, and its catalog texts
(``help.line.<key>`` and ``menu.<name>`` in every language).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from feedback_bot.catalog import FALLBACK, Catalog
from feedback_bot.conversation import (
    checkin_answers,
    client_settings,
    closing_loop,
    feedback,
    my_items,
    practitioner,
)
from feedback_bot.conversation.onboarding import on_alerts, on_alerts_again, on_consent
from feedback_bot.conversation.turn import ClientTurn, PractitionerTurn, Turn
from feedback_bot.ports.menus import CommandMenu, CommandMenuEntry, CommandMenus

TurnT = TypeVar("TurnT", bound=Turn)


class Role(enum.StrEnum):
    CLIENT = "client"
    PRACTITIONER = "practitioner"


@dataclass(frozen=True, slots=True)
class Command(Generic[TurnT]):
    name: str  # what follows the prefix, lower-case
    # None: answered by the router itself ("help", and "start", which comes before anyone
    # is known) or by the service it is given ("digest", "ack": the digest service).
    handler: Callable[[TurnT], Awaitable[None]] | None
    help: str | None = None  # catalog key of its help line; commands explained together share one
    menu: str | None = None  # catalog key of its menu description; None: typed, not offered
    before_consent: bool = False  # a client may use it before agreeing to anything being stored
    stores_words: bool = False  # takes in new words: refused after "stop" until they resume
    # Its name in other languages, per language code: "hilfe", "ayuda". With the prefix any
    # language's alias works; without it, only the person's own language's (and the name).
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Arguments it takes when typed without the prefix (a full match), None: none. A
    # sentence that merely starts with a command word stays what it is: words.
    bare_args: str | None = None


HELP_LINE = "help.line."
UNIVERSAL = {"?": "help"}  # in every language
PREFIXES = ("/", "!")


def _aliases(command: Command[Any], lang: str | None) -> tuple[str, ...]:
    if lang is None:
        return tuple(a for names in command.aliases.values() for a in names)
    return command.aliases.get(lang, ())


HELP_INTRO = {Role.CLIENT: "help.intro.client", Role.PRACTITIONER: None}


@dataclass(frozen=True, slots=True)
class CommandTable:
    client: tuple[Command[ClientTurn], ...]
    practitioner: tuple[Command[PractitionerTurn], ...]

    def of(self, role: Role) -> Sequence[Command[Any]]:
        return self.client if role is Role.CLIENT else self.practitioner

    def help_text(self, catalog: Catalog, lang: str, role: Role, *, p: str) -> str:
        """The intro, then one line per help key, in table order."""
        keys = list(dict.fromkeys(c.help for c in self.of(role) if c.help is not None))
        intro = HELP_INTRO[role]
        lines = [catalog.t(key, lang, p=p) for key in ([intro] if intro else []) + keys]
        return "\n".join(lines)

    def named(self, role: Role, word: str, lang: str | None = None) -> Command[Any] | None:
        """The command a word names: its name, or an alias in ``lang`` (None: any language)."""
        word = word.casefold()
        for command in self.of(role):
            if word == command.name or word in _aliases(command, lang):
                return command
        return None

    def match_typed(self, role: Role, text: str, lang: str, prefix: str) -> tuple[str, str] | None:
        """A message that is exactly a command (with or without the prefix, by its name or
        its alias in the person's language), as (name, args); None for anything else."""
        said = " ".join(text.split())
        # Another platform's prefix counts, too: people move between apps ("/help" on Matrix).
        used = next((p for p in (prefix, *PREFIXES) if p and said.startswith(p)), "")
        prefixed = bool(used)
        said = said.removeprefix(used)
        if said in UNIVERSAL:
            return UNIVERSAL[said], ""
        word, _, args = said.partition(" ")
        command = self.named(role, word.rstrip(".!"), None if prefixed else lang)
        if command is None:
            return None
        if (
            args
            and not prefixed
            and (command.bare_args is None or re.fullmatch(command.bare_args, args, re.I) is None)
        ):
            return None
        return command.name, args

    def menu(self, catalog: Catalog, lang: str, role: Role) -> CommandMenu:
        return tuple(
            CommandMenuEntry(c.name, catalog.t(c.menu, lang))
            for c in self.of(role)
            if c.menu is not None
        )

    def menus(self, catalog: Catalog, languages: Sequence[str], default: str) -> CommandMenus:
        """Each role's menu in every language the catalog has (and the practice offers)."""
        if default not in catalog.languages:
            default = FALLBACK
        langs = [lang for lang in dict.fromkeys([default, *languages]) if lang in catalog.languages]
        return CommandMenus(
            default_language=default,
            client={lang: self.menu(catalog, lang, Role.CLIENT) for lang in langs},
            practitioner={lang: self.menu(catalog, lang, Role.PRACTITIONER) for lang in langs},
        )


def _help_line(name: str) -> str:
    return HELP_LINE + name


def _menu(name: str) -> str:
    return "menu." + name


NUMBER = r"\d{1,6}"

CLIENT: tuple[Command[ClientTurn], ...] = (
    Command(
        "help",
        None,
        menu=_menu("help"),
        before_consent=True,
        aliases={"de": ("hilfe",), "es": ("ayuda",)},
    ),
    Command("start", None, before_consent=True),
    Command(
        "feedback",
        # Looked up when called (tests replace it); words after the command are kept.
        lambda t: feedback.start(t, t.event.args or None),
        help=_help_line("feedback"),
        menu=_menu("feedback"),
        stores_words=True,
        aliases={"de": ("rückmeldung",), "es": ("comentario",)},
    ),
    Command(
        "mine",
        my_items.show_mine,
        help=_help_line("mine"),
        menu=_menu("mine"),
        aliases={"de": ("meine",), "es": ("míos", "mios")},
    ),
    Command(
        "edit",
        my_items.start_edit,
        help=_help_line("mine"),
        stores_words=True,
        aliases={"de": ("ändern", "bearbeiten"), "es": ("editar", "cambiar")},
        bare_args=NUMBER,
    ),
    Command(
        "withdraw",
        my_items.withdraw,
        help=_help_line("mine"),
        aliases={"de": ("zurückziehen",), "es": ("retirar",)},
        bare_args=NUMBER,
    ),
    Command(
        "checkins", client_settings.checkins, help=_help_line("checkins"), menu=_menu("checkins")
    ),
    Command(
        "timezone",
        client_settings.timezone,
        help=_help_line("timezone"),
        menu=_menu("timezone"),
        aliases={"de": ("zeitzone",), "es": ("zona",)},
        bare_args=r"[a-z][a-z0-9_+\-]*(/[a-z0-9_+\-]+)*",
    ),
    Command(
        "quiet",
        client_settings.quiet,
        help=_help_line("quiet"),
        menu=_menu("quiet"),
        aliases={"de": ("ruhezeiten",), "es": ("silencio",)},
        bare_args=r"\d{1,2}:\d{2} \d{1,2}:\d{2}|off",
    ),
    Command(
        "notices",
        client_settings.notices,
        help=_help_line("notices"),
        menu=_menu("notices"),
        aliases={"de": ("hinweise",), "es": ("avisos",)},
    ),
    Command(
        "pause",
        client_settings.pause,
        help=_help_line("pause"),
        menu=_menu("pause"),
        aliases={"es": ("pausa",)},
    ),
    Command(
        "resume",
        client_settings.resume,
        help=_help_line("pause"),
        menu=_menu("resume"),
        aliases={"de": ("fortsetzen",), "es": ("reanudar",)},
    ),
    Command(
        "stop",
        client_settings.stop,
        help=_help_line("stop"),
        menu=_menu("stop"),
        aliases={"de": ("stopp", "beenden"), "es": ("parar", "detener")},
    ),
    Command(
        "export",
        client_settings.export,
        help=_help_line("export"),
        menu=_menu("export"),
        before_consent=True,
        aliases={"de": ("exportieren",), "es": ("exportar",)},
    ),
    Command(
        "delete",
        client_settings.ask_delete,
        help=_help_line("delete"),
        menu=_menu("delete"),
        before_consent=True,
        aliases={"de": ("löschen",), "es": ("borrar", "eliminar")},
    ),
    Command(
        "language",
        client_settings.language,
        help=_help_line("language"),
        menu=_menu("language"),
        before_consent=True,
        aliases={"de": ("sprache",), "es": ("idioma",)},
        bare_args=r"[a-z]{2}|english|deutsch|español|espanol",
    ),
    Command(
        "urgent",
        client_settings.urgent,
        help=_help_line("urgent"),
        menu=_menu("urgent"),
        before_consent=True,
        aliases={"de": ("dringend",), "es": ("urgente",)},
    ),
)

ANY = r".+"  # a practitioner's messages are commands or nothing: arguments are unambiguous

PRACTITIONER: tuple[Command[PractitionerTurn], ...] = (
    Command("help", None, menu=_menu("help"), aliases={"de": ("hilfe",), "es": ("ayuda",)}),
    Command("start", None),
    Command(
        "invite",
        practitioner.invite,
        help=_help_line("invite"),
        menu=_menu("invite"),
        aliases={"de": ("einladen",), "es": ("invitar",)},
        bare_args=ANY,
    ),
    Command(
        "clients",
        practitioner.clients,
        help=_help_line("clients"),
        menu=_menu("clients"),
        aliases={"de": ("klienten",), "es": ("clientes",)},
    ),
    Command(
        "session",
        practitioner.set_session,
        help=_help_line("session"),
        menu=_menu("session"),
        aliases={"de": ("sitzung",), "es": ("sesión", "sesion")},
        bare_args=ANY,
    ),
    Command(
        "digest",
        None,
        help=_help_line("digest"),
        menu=_menu("digest"),
        aliases={"de": ("zusammenfassung",), "es": ("resumen",)},
        bare_args=ANY,
    ),
    Command("ack", None, help=_help_line("ack"), menu=_menu("ack"), bare_args=ANY),
    Command(
        "reply",
        closing_loop.on_reply_command,
        help=_help_line("reply"),
        menu=_menu("reply"),
        aliases={"de": ("antworten",), "es": ("responder",)},
        bare_args=ANY,
    ),
)

COMMANDS = CommandTable(client=CLIENT, practitioner=PRACTITIONER)

ChosenHandler = Callable[[ClientTurn, str], Awaitable[None]]
AnswerHandler = Callable[[ClientTurn, str | None], Awaitable[None]]

# The states a pending question can be in (``Turn.ask``), and what takes its answer.
# "Chosen only" states take a choice (a button, its number or its words), not free text;
# the others get the chosen key, or None for words typed instead.
CHOSEN_ONLY: dict[str, ChosenHandler] = {
    "consent": on_consent,
    "alerts": on_alerts,
    "alerts_again": on_alerts_again,
    "delete": client_settings.on_delete,
    "cadence": client_settings.on_cadence,
    "checkin_day": client_settings.on_day,
    "language": lambda t, k: client_settings.set_language(t, k.removeprefix("lang_")),
}


async def _on_routing(turn: ClientTurn, key: str | None) -> None:
    item = await feedback.on_routing(turn, key)
    if item is not None and item.checkin_id is not None:
        await checkin_answers.start_alliance(turn, item.checkin_id)


ANSWERS: dict[str, AnswerHandler] = {
    "valence": lambda t, k: feedback.on_valence(t, k),
    "words": lambda t, k: feedback.on_words(t, k),
    "routing": _on_routing,
    "edit": lambda t, k: my_items.on_edit(t, k),
    "alliance": lambda t, k: checkin_answers.on_alliance(t, k),
    "alliance_words": lambda t, k: checkin_answers.on_alliance_words(t, k),
    "belongs": lambda t, k: feedback.on_belongs(t, k),
    "checkin_time": client_settings.on_time,
}


PractitionerAnswer = Callable[[PractitionerTurn, str | None], Awaitable[None]]

# A practitioner's pending questions: what clients hear when they acknowledge, and the
# words of a reply. They get the chosen key, or None for words typed instead.
PRACTITIONER_ANSWERS: dict[str, PractitionerAnswer] = {
    "ack_how": closing_loop.on_how,
    "ack_words": closing_loop.on_ack_words,
    "reply_words": closing_loop.on_reply_words,
}


def help_text(catalog: Catalog, lang: str, role: Role, *, p: str) -> str:
    return COMMANDS.help_text(catalog, lang, role, p=p)


def command_menus(catalog: Catalog, languages: Sequence[str], default: str) -> CommandMenus:
    return COMMANDS.menus(catalog, languages, default)
