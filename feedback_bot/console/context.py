"""What every console page is handed: the app, the sign-in limiter and the templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from feedback_bot.console.ratelimit import SignInLimiter

if TYPE_CHECKING:
    from feedback_bot.app.bootstrap import App

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Console:
    app: App
    limiter: SignInLimiter
    templates: Environment

    @classmethod
    def for_app(cls, app: App) -> Console:
        settings = app.settings
        return cls(
            app=app,
            limiter=SignInLimiter(
                settings.console_signins_per_minute, settings.console_signins_per_minute_total
            ),
            # Autoescaped: everything shown is escaped unless a template says otherwise
            # (only the QR code's SVG, which the server drew).
            templates=Environment(
                loader=FileSystemLoader(TEMPLATES),
                autoescape=select_autoescape(["html"]),
                trim_blocks=True,
                lstrip_blocks=True,
            ),
        )

    def html(self, template: str, status: int = 200, **values: Any) -> web.Response:
        body = self.templates.get_template(template).render(**values)
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]
