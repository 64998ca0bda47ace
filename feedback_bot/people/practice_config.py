"""What a practice admin configures in ``config/prompts.yaml``: cadences, digest timing,
languages, crisis resources, alliance items and text overrides. Validated on load, so a
practice can never run without a way to get urgent help, in any language it offers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Strict(BaseModel):
    """A typo'd key (``checkin:``, ``snooze_hour``) is an error, never a silent default."""

    model_config = ConfigDict(extra="forbid")


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("use 24-hour HH:MM, e.g. 08:30")
    return value


class CheckinDefaults(Strict):
    cadence: str = Field(default="after_session", pattern="^(after_session|weekly|off)$")
    after_session_hours: int = Field(default=20, ge=1, le=168)
    weekly_day: str = "thursday"
    weekly_time: str = "18:00"
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    snooze_hours: int = Field(default=4, ge=1, le=48)
    expire_hours: int = Field(default=48, ge=1, le=336)

    _t = field_validator("weekly_time", "quiet_start", "quiet_end")(_hhmm)

    @field_validator("weekly_day")
    @classmethod
    def _day(cls, v: str) -> str:
        if v.lower() not in WEEKDAYS:
            raise ValueError(f"weekday must be one of {', '.join(WEEKDAYS)}")
        return v.lower()


class DigestDefaults(Strict):
    weekly_day: str = "monday"
    weekly_time: str = "08:00"
    pre_session_hours: int = Field(default=24, ge=1, le=168)
    reflective_prompt: str = (
        "You might open the session by asking how the last one felt, before anything else."
    )
    unanswered_weeks: int = Field(default=3, ge=1)

    _t = field_validator("weekly_time")(_hhmm)
    _d = field_validator("weekly_day")(CheckinDefaults._day.__func__)  # type: ignore[attr-defined]


class Resource(Strict):
    name: str = Field(min_length=1)
    contact: str = Field(min_length=1)  # a number, a URL, or "text HOME to 741741"


class CrisisResources(Strict):
    """One language's resources: where to call in an emergency, and crisis lines. That each
    list has an entry is checked per language (``crisis_resource_problems``), so the error
    can name the language."""

    emergency: list[Resource] = Field(default_factory=list)
    crisis_lines: list[Resource] = Field(default_factory=list)

    def all(self) -> list[Resource]:
        return self.emergency + self.crisis_lines


CrisisResourcesByLanguage = dict[str, CrisisResources]
BY_LANGUAGE: TypeAdapter[CrisisResourcesByLanguage] = TypeAdapter(CrisisResourcesByLanguage)
_SINGLE_FORM = frozenset({"emergency", "crisis_lines"})


def per_language(raw: object, languages: Sequence[str]) -> object:
    """``crisis_resources`` as given per language (``{en: {emergency: …}, de: …}``), or the
    single form (``emergency`` and ``crisis_lines`` at the top) applied to every language."""
    if not isinstance(raw, dict) or not _SINGLE_FORM & raw.keys():
        return raw
    if others := sorted(str(k) for k in raw.keys() - _SINGLE_FORM):
        raise ValueError(
            "give the resources either per language (en: {emergency: …, crisis_lines: …}, …) "
            "or as one emergency and crisis_lines list for every language, not both "
            f"(found {', '.join(others)} beside emergency/crisis_lines)"
        )
    return {lang: raw for lang in languages}


def crisis_resource_errors(
    resources: CrisisResourcesByLanguage, languages: Sequence[str]
) -> list[tuple[tuple[str, ...], str]]:
    """What keeps these resources from serving every language offered: where (language,
    then the missing list) and what, one entry each."""
    problems: list[tuple[tuple[str, ...], str]] = []
    for lang in languages:
        res = resources.get(lang)
        if res is None:
            problems.append(
                (
                    (lang,),
                    f"{lang}: no crisis resources for this language; add {lang}: with at least "
                    "one emergency number (emergency) and one crisis line (crisis_lines)",
                )
            )
            continue
        if not res.emergency:
            problems.append(
                (
                    (lang, "emergency"),
                    f"{lang}: add at least one emergency number under {lang}.emergency",
                )
            )
        if not res.crisis_lines:
            problems.append(
                (
                    (lang, "crisis_lines"),
                    f"{lang}: add at least one crisis line under {lang}.crisis_lines",
                )
            )
    for lang in sorted(resources.keys() - set(languages)):
        problems.append(
            (
                (lang,),
                f"{lang}: not a language offered here ({', '.join(languages)}); "
                "remove it, or add it to languages in the practice configuration",
            )
        )
    return problems


def crisis_resource_problems(
    resources: CrisisResourcesByLanguage, languages: Sequence[str]
) -> list[str]:
    """What keeps these resources from serving every language offered, one line each."""
    return [message for _where, message in crisis_resource_errors(resources, languages)]


class AllianceItem(Strict):
    key: str = Field(pattern=r"^[a-z_]{1,24}$")
    question: str
    label: str


class Alliance(Strict):
    enabled: bool = False
    items: list[AllianceItem] = Field(default_factory=list)
    low_cutoff: int = Field(default=4, ge=0, le=10)
    drop: int = Field(default=3, ge=1, le=10)


class PracticeSettings(Strict):
    """Everything one practice configures, stored per practice (``people.practice_settings``).
    ``feedback_contact`` mirrors ``practice.feedback_contact_id``, a practitioner's id."""

    language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    consent_version: str = "2026-11"
    checkins: CheckinDefaults = Field(default_factory=CheckinDefaults)
    digest: DigestDefaults = Field(default_factory=DigestDefaults)
    # Per language; the single form (emergency/crisis_lines at the top) fills every language.
    crisis_resources: CrisisResourcesByLanguage
    alliance: Alliance = Field(default_factory=Alliance)
    texts: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-language overrides
    feedback_contact: int | None = None

    @property
    def offered_languages(self) -> list[str]:
        """Every language a client may read: ``languages`` and the default ``language``."""
        return list(dict.fromkeys([*self.languages, self.language]))

    def reader_language(self, *chosen: str | None) -> str:
        """The first language chosen (the client's, their chat's) that is offered here,
        else the default."""
        offered = self.offered_languages
        return next((lang for lang in chosen if lang in offered), self.language)

    def crisis_resources_for(self, lang: str) -> CrisisResources:
        """The resources in ``lang``, else in the default language."""
        return self.crisis_resources.get(lang) or self.crisis_resources[self.language]

    @field_validator("crisis_resources", mode="before")
    @classmethod
    def _per_language(cls, value: object, info: ValidationInfo) -> object:
        return per_language(value, _offered(info.data))

    @field_validator("crisis_resources")
    @classmethod
    def _every_language(
        cls, value: CrisisResourcesByLanguage, info: ValidationInfo
    ) -> CrisisResourcesByLanguage:
        if problems := crisis_resource_problems(value, _offered(info.data)):
            # Its own type: the settings validator reports these one per language instead.
            raise PydanticCustomError(INCOMPLETE_CRISIS_RESOURCES, "; ".join(problems))
        return value


INCOMPLETE_CRISIS_RESOURCES = "crisis_resources_incomplete"


class PracticeConfig(PracticeSettings):
    """The deployment's file (``config/prompts.yaml``): the settings every new practice
    starts with, and the crisis phrases the detector adds (deployment-wide: the screen
    runs before anyone is known)."""

    safety_phrases: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_contact(self) -> PracticeConfig:
        if self.feedback_contact is not None:
            raise ValueError(
                "feedback_contact is set per practice (practice config import), not here"
            )
        return self

    def practice_defaults(self) -> PracticeSettings:
        """What a new practice starts with."""
        return PracticeSettings.model_validate(
            self.model_dump(exclude={"safety_phrases", "feedback_contact"})
        )


def _offered(data: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*data.get("languages", ["en"]), data.get("language", "en")]))


class ConfigError(Exception):
    def __init__(self, message: str, errors: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)  # settings_validation.SettingError, when there are some


def load_practice_config(path: Path) -> PracticeConfig:
    """The deployment's file, checked like a practice's settings: every problem at once,
    one ``file:line: path: message`` line each."""
    from feedback_bot.people.settings_validation import read_yaml, validate_document

    if not path.is_file():
        raise ConfigError(f"{path}: file not found (FEEDBACK_BOT_PROMPTS_FILE)")
    parsed = read_yaml(path)
    errors = parsed.errors
    if parsed.document is not None or not errors:
        errors = validate_document(
            parsed.document if parsed.document is not None else {},
            marks=parsed.marks,
            deployment=True,
        )
    if errors:
        raise ConfigError("\n".join(e.format(str(path)) for e in errors), errors)
    return PracticeConfig.model_validate(parsed.document)


def _lines(exc: ValidationError) -> list[str]:
    return [
        ".".join(str(p) for p in e["loc"]) + ": " + e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    ]


def load_crisis_resources(path: Path, languages: Sequence[str]) -> CrisisResourcesByLanguage:
    """A practice's own crisis resources from a YAML file: per language as in
    ``config/prompts.yaml`` (optionally under a ``crisis_resources:`` key), or the single
    form for every language. Every language in ``languages`` needs an emergency number and
    a crisis line. Raises ``ConfigError`` with one line, starting with the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError(f"{path}: file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if isinstance(raw, dict) and raw.keys() == {"crisis_resources"}:
        raw = raw["crisis_resources"]
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected crisis resources per language, e.g. "
            "de: {emergency: [{name: Notruf, contact: '112'}], crisis_lines: […]}"
        )
    try:
        resources = BY_LANGUAGE.validate_python(per_language(raw, languages))
    except ValueError as exc:  # ValidationError is one
        lines = _lines(exc) if isinstance(exc, ValidationError) else [str(exc)]
        raise ConfigError(f"{path}: " + "; ".join(lines)) from None
    if problems := crisis_resource_problems(resources, languages):
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return resources
