"""The practice's settings, a form per section with real fields; an error is shown next
to the field it is about."""

from __future__ import annotations

from aiohttp import web

from feedback_bot.console.auth import Page, admin_page, see_other
from feedback_bot.people.admin import AdminError
from feedback_bot.people.console_admins import actor
from feedback_bot.people.practice_config import CrisisResources, Resource

KINDS = (("emergency", "Emergency numbers"), ("crisis_lines", "Crisis lines"))
BLANK_ROWS = 1  # an empty row under each list, to add one more


def _rows(entries: list[dict[str, str]]) -> list[dict[str, str]]:
    return [*entries, *({"name": "", "contact": ""} for _ in range(BLANK_ROWS))]


async def _render(
    page: Page,
    status: int = 200,
    entered: dict[str, dict[str, list[dict[str, str]]]] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
) -> web.Response:
    app = page.console.app
    source, current = await app.admin.crisis_resources(page.practice_id)
    if entered is None:
        entered = {
            lang: {kind: [r.model_dump() for r in getattr(res, kind)] for kind, _ in KINDS}
            for lang, res in current.items()
        }
    crisis = {
        lang: {kind: _rows(entered.get(lang, {}).get(kind, [])) for kind, _ in KINDS}
        for lang in app.config.offered_languages
    }
    return page.html(
        "settings.html",
        status=status,
        title="Settings",
        section="settings",
        crisis=crisis,
        kinds=KINDS,
        source=source,
        errors=errors or {},
        done=done,
    )


@admin_page
async def show(request: web.Request, page: Page) -> web.StreamResponse:
    return await _render(page, done=request.query.get("done"))


def _posted(page: Page, languages: list[str]) -> dict[str, dict[str, list[dict[str, str]]]]:
    """The crisis form as typed: rows with a name or a contact, per language and kind."""
    entered: dict[str, dict[str, list[dict[str, str]]]] = {}
    for lang in languages:
        for kind, _ in KINDS:
            rows = []
            for i in range(50):
                prefix = f"crisis.{lang}.{kind}.{i}"
                name, contact = page.field(f"{prefix}.name"), page.field(f"{prefix}.contact")
                if page.form is None or f"{prefix}.name" not in page.form:
                    break
                if name or contact:
                    rows.append({"name": name, "contact": contact})
            entered.setdefault(lang, {})[kind] = rows
    return entered


def crisis_errors(entered: dict[str, dict[str, list[dict[str, str]]]]) -> dict[str, str]:
    """Per field: ``crisis.<lang>.<kind>.<row>.<name|contact>``, or per list."""
    errors = {}
    for lang, kinds in entered.items():
        for kind, label in KINDS:
            rows = kinds.get(kind, [])
            if not rows:
                errors[f"crisis.{lang}.{kind}"] = (
                    f"Add at least one {label.lower().rstrip('s')} for {lang}: clients reading "
                    f"{lang} are shown it whenever they may need help."
                )
            for i, row in enumerate(rows):
                for part in ("name", "contact"):
                    if not row[part]:
                        errors[f"crisis.{lang}.{kind}.{i}.{part}"] = f"Enter a {part} as well."
    return errors


@admin_page
async def save_crisis(request: web.Request, page: Page) -> web.StreamResponse:
    app = page.console.app
    entered = _posted(page, app.config.offered_languages)
    errors = crisis_errors(entered)
    if errors:
        return await _render(page, status=400, entered=entered, errors=errors)
    resources = {
        lang: CrisisResources(
            **{kind: [Resource(**row) for row in kinds[kind]] for kind, _ in KINDS}
        )
        for lang, kinds in entered.items()
    }
    try:
        await app.admin.set_crisis_resources(
            page.practice_id, resources, actor=actor(page.who.admin_id)
        )
    except AdminError as exc:
        return await _render(page, status=400, entered=entered, errors={"crisis": str(exc)})
    raise see_other(f"/console/{page.practice_id}/settings?done=crisis#crisis")
