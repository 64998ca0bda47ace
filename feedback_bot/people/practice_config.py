"""What a practice admin configures in ``config/prompts.yaml``: cadences, digest timing,
languages, crisis resources, alliance items and text overrides. Validated on load, so a
practice can never run without a way to get urgent help."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("use 24-hour HH:MM, e.g. 08:30")
    return value


class CheckinDefaults(BaseModel):
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


class DigestDefaults(BaseModel):
    weekly_day: str = "monday"
    weekly_time: str = "08:00"
    pre_session_hours: int = Field(default=24, ge=1, le=168)
    reflective_prompt: str = (
        "You might open the session by asking how the last one felt, before anything else."
    )
    unanswered_weeks: int = Field(default=3, ge=1)

    _t = field_validator("weekly_time")(_hhmm)
    _d = field_validator("weekly_day")(CheckinDefaults._day.__func__)  # type: ignore[attr-defined]


class Resource(BaseModel):
    name: str = Field(min_length=1)
    contact: str = Field(min_length=1)  # a number, a URL, or "text HOME to 741741"


class CrisisResources(BaseModel):
    emergency: list[Resource]
    crisis_lines: list[Resource]

    @model_validator(mode="after")
    def _at_least_one_each(self) -> CrisisResources:
        if not self.emergency:
            raise ValueError("add at least one emergency number under crisis_resources.emergency")
        if not self.crisis_lines:
            raise ValueError("add at least one crisis line under crisis_resources.crisis_lines")
        return self


class AllianceItem(BaseModel):
    key: str = Field(pattern=r"^[a-z_]{1,24}$")
    question: str
    label: str


class Alliance(BaseModel):
    enabled: bool = False
    items: list[AllianceItem] = Field(default_factory=list)
    low_cutoff: int = Field(default=4, ge=0, le=10)
    drop: int = Field(default=3, ge=1, le=10)


class PracticeConfig(BaseModel):
    language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    consent_version: str = "2026-11"
    checkins: CheckinDefaults = Field(default_factory=CheckinDefaults)
    digest: DigestDefaults = Field(default_factory=DigestDefaults)
    crisis_resources: CrisisResources
    alliance: Alliance = Field(default_factory=Alliance)
    texts: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-language overrides
    safety_phrases: dict[str, dict[str, list[str]]] = Field(default_factory=dict)


class ConfigError(Exception):
    pass


def load_practice_config(path: Path) -> PracticeConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (FEEDBACK_BOT_PROMPTS_FILE)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    try:
        return PracticeConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"{path}: " + ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors()
        ]
        raise ConfigError("\n".join(lines)) from None
