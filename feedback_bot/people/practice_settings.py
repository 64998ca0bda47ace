"""Each practice's own settings, stored in the database (``practice_settings``, one
validated document per practice) and read fresh for every message: a change takes effect
for the next one, without a restart. The deployment's ``config/prompts.yaml`` only gives
a new practice its first settings. Every change is audited by setting path, never by
content."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.practice_config import PracticeSettings
from feedback_bot.people.settings_validation import (
    SettingError,
    YamlMarks,
    parse_yaml,
    read_yaml,
    validate_document,
)
from feedback_bot.privacy.audit import record
from feedback_bot.storage.models import Practice, PracticeSettingsRecord, Practitioner

__all__ = [
    "SettingError",
    "YamlMarks",
    "load_settings",
    "parse_yaml",
    "read_yaml",
    "save_settings",
    "settings_document",
    "use_deployment_defaults",
    "validate_document",
]

log = logging.getLogger(__name__)

_deployment: list[PracticeSettings] = []


def use_deployment_defaults(settings: PracticeSettings) -> None:
    """What a practice without a stored row follows (set once by the app at start)."""
    _deployment[:] = [settings]


def _defaults(given: PracticeSettings | None) -> PracticeSettings:
    if given is not None:
        return given
    if not _deployment:
        raise LookupError("no deployment settings loaded (config/prompts.yaml)")
    return _deployment[0]


def settings_document(settings: PracticeSettings) -> dict[str, Any]:
    """The settings as a plain dict, as exported to YAML and stored (plus the contact)."""
    return PracticeSettings.model_validate(
        settings.model_dump(exclude={"safety_phrases"})
    ).model_dump(mode="json")


async def load_settings(
    session: AsyncSession, practice_id: int, *, defaults: PracticeSettings | None = None
) -> PracticeSettings:
    """The practice's settings as stored now. A practice with no row yet (created before
    settings were stored, or by hand) follows ``defaults``, the deployment's file."""
    row = await session.get(PracticeSettingsRecord, practice_id)
    practice = await session.get(Practice, practice_id)
    contact = practice.feedback_contact_id if practice is not None else None
    if row is not None:
        try:
            stored = PracticeSettings.model_validate(row.document)
        except ValidationError as exc:
            # Validated when saved; a stricter later version may disagree. Clients still
            # get a working practice (with every language's crisis resources).
            log.error(
                "practice %s: stored settings no longer valid (%d problem(s)); using the "
                "deployment's until they are saved again",
                practice_id,
                exc.error_count(),
            )
        else:
            return stored.model_copy(update={"feedback_contact": contact})
    base = _defaults(defaults)
    return PracticeSettings.model_validate({**settings_document(base), "feedback_contact": contact})


async def save_settings(
    session: AsyncSession,
    practice_id: int,
    doc: dict[str, Any],
    *,
    actor: str,
    now: datetime | None = None,
    marks: YamlMarks | None = None,
    action: str = "practice.setting_changed",
) -> list[SettingError]:
    """Validate ``doc`` and, only if there is no error, store it and audit each changed
    setting path (who, which, when). Returns every error otherwise; nothing is changed."""
    errors = validate_document(doc, marks=marks)
    practice = await session.get(Practice, practice_id)
    if practice is None:
        return [SettingError("", f"no practice with id {practice_id}")]
    contact = doc.get("feedback_contact") if isinstance(doc, dict) else None
    if isinstance(contact, str) and contact.strip().isdigit():
        contact = int(contact)  # as a form sends it; the model reads it the same way
    changed_contact = contact != practice.feedback_contact_id  # an old one may stay as is
    if isinstance(contact, int) and not isinstance(contact, bool) and changed_contact:
        pr = await session.get(Practitioner, contact)
        if pr is None or pr.practice_id != practice_id or not pr.active:
            errors.append(
                SettingError(
                    "feedback_contact",
                    f"no active practitioner {contact} in practice {practice_id}",
                    marks.line_of(("feedback_contact",)) if marks else None,
                )
            )
    if errors:
        return errors
    when = now or datetime.now(UTC)
    new = settings_document(PracticeSettings.model_validate(doc))
    row = await session.get(PracticeSettingsRecord, practice_id)
    if row is not None:
        old = {**row.document, "feedback_contact": practice.feedback_contact_id}
    else:
        base = _deployment[0] if _deployment else None
        old = (
            {**settings_document(base), "feedback_contact": practice.feedback_contact_id}
            if base
            else {}
        )
    changed = changed_paths(old, new)
    if row is not None and not changed:
        return []
    stored = {k: v for k, v in new.items() if k != "feedback_contact"}
    if row is None:
        session.add(
            PracticeSettingsRecord(
                practice_id=practice_id, document=stored, version=1, updated_at=when
            )
        )
    else:
        row.document = stored
        row.version += 1
        row.updated_at = when
    practice.feedback_contact_id = new["feedback_contact"]
    practice.language = new["language"]
    for path in changed:
        await record(session, when, actor, action, "practice", practice_id, setting=path)
    await session.flush()
    return []


async def create_settings(
    session: AsyncSession, practice_id: int, defaults: PracticeSettings, now: datetime
) -> None:
    """A new practice's first settings: the deployment's (no audit of its own: the
    practice's creation is)."""
    doc = settings_document(defaults)
    doc.pop("feedback_contact", None)
    session.add(
        PracticeSettingsRecord(practice_id=practice_id, document=doc, version=1, updated_at=now)
    )


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted paths where two documents differ, down to the changed setting (a list
    counts as one setting)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(old.keys() | new.keys(), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                out.append(path)
            else:
                out += changed_paths(old[key], new[key], path)
        return out
    return [] if old == new else [prefix]
