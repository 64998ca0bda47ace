"""The practice's settings (everything a practice configures), a form per section with
real fields named by their place in the settings document (``checkins.weekly_time``,
``crisis_resources.de.emergency.0.contact``). Saving goes through the same validation as
``practice config import``; each error is shown next to the field its path names."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import yaml
from aiohttp import web

from feedback_bot.console.auth import Page, admin_page, not_found, see_other
from feedback_bot.people.console_admins import actor
from feedback_bot.people.practice_settings import load_settings, save_settings, settings_document
from feedback_bot.people.settings_validation import SettingError

SECTIONS = ("languages", "crisis_resources", "checkins", "digest", "alliance", "texts")
KINDS = (("emergency", "Emergency number"), ("crisis_lines", "Crisis line"))
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CHECKIN_NUMBERS = (
    ("after_session_hours", "Hours after a session before its check-in"),
    ("snooze_hours", '"Remind me later" asks again after (hours)'),
    ("expire_hours", "An unanswered check-in lapses after (hours)"),
)


async def _document(page: Page) -> dict[str, Any]:
    async with page.console.app.sessions() as session:
        return settings_document(await load_settings(session, page.practice_id))


async def _render(
    page: Page,
    doc: dict[str, Any],
    status: int = 200,
    errors: list[SettingError] | None = None,
    section: str | None = None,
    done: str | None = None,
    texts_raw: str | None = None,
) -> web.Response:
    by_path: dict[str, str] = {}
    for e in errors or []:
        by_path.setdefault(e.path, e.message)
    shown = _shown_paths(doc)
    # Errors about something without a field of its own go at the top of the section.
    loose = [(e.path, e.message) for e in errors or [] if e.path not in shown]
    return page.html(
        "settings.html",
        status=status,
        title="Settings",
        section="settings",
        doc=doc,
        crisis={
            lang: {
                kind: _rows(doc["crisis_resources"].get(lang, {}).get(kind, []))
                for kind, _ in KINDS
            }
            for lang in dict.fromkeys([*doc["languages"], doc["language"]])
        },
        alliance_items=_rows(
            doc["alliance"]["items"], blank={"key": "", "question": "", "label": ""}
        ),
        texts_yaml=texts_raw
        if texts_raw is not None
        else (
            yaml.safe_dump(doc["texts"], allow_unicode=True, sort_keys=True) if doc["texts"] else ""
        ),
        kinds=KINDS,
        weekdays=WEEKDAYS,
        checkin_numbers=CHECKIN_NUMBERS,
        available=page.console.app.catalog.languages,
        errors=by_path,
        loose=loose,
        posted=section,
        done=done,
    )


def _rows(entries: list[dict[str, Any]], blank: dict[str, str] | None = None) -> list[Any]:
    return [*entries, dict(blank or {"name": "", "contact": ""})]  # one empty row to add


def _shown_paths(doc: dict[str, Any]) -> set[str]:
    """Every path the page has a field (or a list) for: errors about them go beside it."""
    paths = {"language", "languages", "texts", "alliance.items", "alliance.enabled"}
    paths |= {f"checkins.{k}" for k in doc["checkins"]} | {f"digest.{k}" for k in doc["digest"]}
    paths |= {"alliance.low_cutoff", "alliance.drop"}
    for lang, lists in doc["crisis_resources"].items():
        paths.add(f"crisis_resources.{lang}")
        for kind, _ in KINDS:
            paths.add(f"crisis_resources.{lang}.{kind}")
            for i in range(len(lists.get(kind, [])) + 1):
                paths |= {f"crisis_resources.{lang}.{kind}.{i}.{p}" for p in ("name", "contact")}
    for i in range(len(doc["alliance"]["items"]) + 1):
        paths |= {f"alliance.items.{i}.{p}" for p in ("key", "question", "label")}
    return paths


@admin_page
async def show(request: web.Request, page: Page) -> web.StreamResponse:
    return await _render(page, await _document(page), done=request.query.get("done"))


def _number(value: str) -> int | str:
    return int(value) if value.isdigit() else value  # the validator names what is wrong


def _posted_rows(page: Page, prefix: str, parts: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for i in range(100):
        if page.form is None or f"{prefix}.{i}.{parts[0]}" not in page.form:
            break
        row = {p: page.field(f"{prefix}.{i}.{p}") for p in parts}
        if any(row.values()):
            rows.append(row)
    return rows


def apply(page: Page, section: str, doc: dict[str, Any]) -> list[SettingError]:
    """Put the posted section into ``doc``; what cannot even be read is an error."""
    if section == "languages":
        doc["language"] = page.field("language")
        offered = page.form.getall("languages", []) if page.form is not None else []
        doc["languages"] = [str(v) for v in offered]
    elif section == "crisis_resources":
        doc["crisis_resources"] = {
            lang: {
                kind: _posted_rows(page, f"crisis_resources.{lang}.{kind}", ("name", "contact"))
                for kind, _ in KINDS
            }
            for lang in dict.fromkeys([*doc["languages"], doc["language"]])
        }
    elif section == "checkins":
        c = doc["checkins"]
        c["cadence"] = page.field("checkins.cadence")
        c["weekly_day"] = page.field("checkins.weekly_day")
        for key in ("weekly_time", "quiet_start", "quiet_end"):
            c[key] = page.field(f"checkins.{key}")
        for key, _ in CHECKIN_NUMBERS:
            c[key] = _number(page.field(f"checkins.{key}"))
    elif section == "digest":
        d = doc["digest"]
        d["weekly_day"] = page.field("digest.weekly_day")
        d["weekly_time"] = page.field("digest.weekly_time")
        d["reflective_prompt"] = page.field("digest.reflective_prompt")
        for key in ("pre_session_hours", "unanswered_weeks"):
            d[key] = _number(page.field(f"digest.{key}"))
    elif section == "alliance":
        a = doc["alliance"]
        a["enabled"] = page.field("alliance.enabled") == "on"
        a["low_cutoff"] = _number(page.field("alliance.low_cutoff"))
        a["drop"] = _number(page.field("alliance.drop"))
        a["items"] = _posted_rows(page, "alliance.items", ("key", "question", "label"))
    elif section == "texts":
        raw = page.field("texts")
        try:
            texts = yaml.safe_load(raw) if raw else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            doc["texts"] = raw
            return [SettingError("texts", f"this is not valid YAML{where}")]
        doc["texts"] = texts if texts is not None else {}
    return []


@admin_page
async def save(request: web.Request, page: Page) -> web.StreamResponse:
    section = request.match_info["section"]
    if section not in SECTIONS:
        return not_found(page.console)
    current = await _document(page)
    doc = deepcopy(current)
    errors = apply(page, section, doc)
    if not errors:
        app = page.console.app
        async with app.sessions() as session, session.begin():
            errors = await save_settings(
                session, page.practice_id, doc, actor=actor(page.who.admin_id), now=app.clock.now()
            )
    if errors:
        typed = page.field("texts") if section == "texts" else None
        if not isinstance(doc["texts"], dict):
            doc["texts"] = {}  # the typed text is shown as it was
        return await _render(page, doc, status=400, errors=errors, section=section, texts_raw=typed)
    raise see_other(f"/console/{page.practice_id}/settings?done={section}#{section}")
