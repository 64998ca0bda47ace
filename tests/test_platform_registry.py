"""Adding a chat platform is a package under ``adapters/`` plus one registry line.

The "pigeon" platform below is all a fourth platform needs: a settings model, an
adapter inheriting :class:`BaseAdapter` (the optional part has defaults), and a
:class:`Platform` entry. Registered with one line, it gets its settings parsed from
``FEEDBACK_BOT_PIGEON__*``, is built and started by the runner, has its rate limit and
library loggers, its invite links and command prefix reach the core, and it is given
the command menus — without any change under ``feedback_bot/``.

The core itself names no platform and imports no platform library.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from adapters import registry
from feedback_bot.app.bootstrap import build_app
from feedback_bot.app.cli import app as cli
from feedback_bot.app.logging_setup import quiet_platform_loggers
from feedback_bot.app.platforms import Platform, settings_class
from feedback_bot.app.runner import adapter_factories
from feedback_bot.app.settings import SettingsError, load_settings
from feedback_bot.ports import (
    Adapter,
    BaseAdapter,
    CursorStore,
    EventKind,
    InboundSink,
    IncomingEvent,
    OutgoingMessage,
    RateLimit,
    SendReceipt,
)
from feedback_bot.ports.menus import CommandMenus
from feedback_bot.privacy.crypto import generate_key

REPO = Path(__file__).resolve().parent.parent


# --- the fourth platform: what would live in adapters/pigeon/ ---------------------------


class PigeonSettings(BaseModel):
    loft: str | None = None  # FEEDBACK_BOT_PIGEON__LOFT: set means configured
    per_chat_per_second: float = 2.0
    overall_per_second: float = 20.0


class PigeonAdapter(BaseAdapter):
    platform = "pigeon"
    capabilities: frozenset = frozenset()  # type: ignore[type-arg]
    max_text_length = 4096
    command_prefix = "?"

    def __init__(self, settings: PigeonSettings, cursors: CursorStore) -> None:
        self.settings, self.cursors = settings, cursors
        self.sink: InboundSink | None = None
        self.sent: list[OutgoingMessage] = []
        self.menus: CommandMenus | None = None
        self.delivered = asyncio.Event()

    @property
    def invite_link_template(self) -> str | None:
        return f"https://pigeon.example/{self.settings.loft}?start={{code}}" if self.sink else None

    async def start(self, sink: InboundSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        self.sink = None

    def is_connected(self) -> bool:
        return self.sink is not None

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        self.sent.append(message)
        self.delivered.set()
        return SendReceipt(str(message.outbox_id))

    def set_command_menus(self, menus: CommandMenus) -> None:
        self.menus = menus


def build(settings: PigeonSettings, cursors: CursorStore) -> Adapter:
    return PigeonAdapter(settings, cursors)


PLATFORM = Platform(
    name="pigeon",
    settings_model=PigeonSettings,
    is_configured=lambda s: s.loft is not None,
    build=build,
    rate_limit=lambda s: RateLimit(s.per_chat_per_second, s.overall_per_second),
    loggers=("pigeon.wire",),
    invite_link=lambda s: f"https://pigeon.example/{s.loft}?start={{code}}",
    setup_hint="FEEDBACK_BOT_PIGEON__LOFT",
)


@pytest.fixture
def pigeon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The one registry line, and an environment that configures only pigeons."""
    monkeypatch.setattr(registry, "PLATFORM_MODULES", (*registry.PLATFORM_MODULES, __name__))
    monkeypatch.chdir(tmp_path)  # no stray .env
    env = {
        "FEEDBACK_BOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pigeon.sqlite3'}",
        "FEEDBACK_BOT_ENCRYPTION_KEY": generate_key(),
        "FEEDBACK_BOT_PROMPTS_FILE": str(REPO / "config" / "prompts.yaml"),
        "FEEDBACK_BOT_PIGEON__LOFT": "rooftop",
        "FEEDBACK_BOT_PIGEON__PER_CHAT_PER_SECOND": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_its_settings_are_read_from_its_own_variables(
    pigeon: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = settings_class(registry.platforms())
    settings = load_settings(model)
    assert PLATFORM.settings_of(settings) == PigeonSettings(loft="rooftop", per_chat_per_second=3)
    assert PLATFORM.configured(settings)
    assert PLATFORM.rate_limit_for(settings) == RateLimit(3.0, 20.0)

    monkeypatch.setenv("FEEDBACK_BOT_PIGEON__OVERALL_PER_SECOND", "fast")
    with pytest.raises(SettingsError, match="FEEDBACK_BOT_PIGEON__OVERALL_PER_SECOND"):
        load_settings(model)


async def test_the_runner_builds_and_starts_it_and_the_core_uses_what_it_offers(
    pigeon: None,
) -> None:
    platforms = registry.platforms()
    settings = load_settings(settings_class(platforms))
    # Telegram and Matrix are not configured here: only the pigeon is built.
    factories = adapter_factories(settings, platforms)
    app = await build_app(settings, adapters=factories)
    try:
        adapter = app.adapters["pigeon"]
        assert isinstance(adapter, PigeonAdapter) and list(app.adapters) == ["pigeon"]
        assert app.dispatcher._pacers["pigeon"].limit == RateLimit(3.0, 20.0)

        await app.start()
        assert adapter.is_connected() and app.is_ready()
        assert adapter.menus == app.command_menus
        assert app.deps.invite_links == {"pigeon": "https://pigeon.example/rooftop?start={code}"}
        practice = await app.admin.create_practice("Loft", "Europe/London")
        practitioner, _ = await app.admin.add_practitioner(practice, "Sam")
        invite = await app.admin.invite_client(practitioner, "Alex")
        assert invite.links == {"pigeon": f"https://pigeon.example/rooftop?start={invite.code}"}

        # The core writes command hints with the pigeon's prefix.
        assert adapter.sink is not None
        await adapter.sink(IncomingEvent("pigeon", "m1", "coo", EventKind.TEXT, text="hello"))
        # The running app's own loop processes and sends it.
        await asyncio.wait_for(adapter.delivered.wait(), 10)
        [reply] = adapter.sent
        assert reply.text == app.catalog.t("unlinked", "en", p="?")
        assert '"?start"' in reply.text
    finally:
        await app.close()


def test_its_library_loggers_are_quieted_by_the_entry_points(pigeon: None) -> None:
    logging.getLogger("pigeon.wire").setLevel(logging.NOTSET)
    quiet_platform_loggers(registry.platforms())
    assert logging.getLogger("pigeon.wire").level == logging.WARNING


def test_the_cli_prints_its_invite_link(pigeon: None) -> None:
    def run(*args: str) -> dict[str, object]:
        result = CliRunner().invoke(cli, [*args, "--json"])
        assert result.exit_code == 0, result.output
        data: dict[str, object] = json.loads(result.output)
        return data

    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0  # admin commands never migrate
    practice = run("practice", "add", "--name", "Loft", "--timezone", "Europe/London")
    pr = run("practitioner", "add", "--practice", str(practice["practice_id"]), "--name", "Sam")
    invite = run("client", "invite", "--practitioner", str(pr["practitioner_id"]))
    assert invite["pigeon_link"] == f"https://pigeon.example/rooftop?start={invite['invite_code']}"


def test_nothing_configured_names_every_platforms_setting(
    pigeon: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDBACK_BOT_PIGEON__LOFT")
    platforms = registry.platforms()
    settings = load_settings(settings_class(platforms))
    with pytest.raises(Exception, match="FEEDBACK_BOT_PIGEON__LOFT"):
        adapter_factories(settings, platforms)


# --- the core names no platform ------------------------------------------------------------

CORE = REPO / "feedback_bot"
MIGRATIONS = CORE / "storage" / "migrations"
ADAPTER_MEMBERS = {n for n in dir(Adapter) if not n.startswith("_")} | set(Adapter.__annotations__)


def core_modules() -> list[Path]:
    return [p for p in CORE.rglob("*.py") if MIGRATIONS not in p.parents]


def test_the_core_probes_no_adapter_capability() -> None:
    """Everything the core asks of an adapter is a member of the Adapter protocol."""
    probes = []
    for path in core_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
            ):
                target = ast.unparse(node.args[0])
                attr = node.args[1]
                named = attr.value if isinstance(attr, ast.Constant) else None
                if "adapter" in target.lower() or named in ADAPTER_MEMBERS:
                    probes.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    assert probes == []


def test_the_core_imports_no_platform_library_and_names_no_platform() -> None:
    imports, names = [], []
    for path in core_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for module in modules:
                    if module.split(".")[0] in ("telegram", "nio") or module.startswith(
                        ("adapters.telegram", "adapters.matrix")
                    ):
                        imports.append(f"{path.relative_to(REPO)}:{node.lineno}: {module}")
            if isinstance(node, ast.Constant) and node.value in ("telegram", "matrix"):
                names.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert imports == []
    assert names == []


def test_loading_the_app_and_the_registry_loads_no_platform_library() -> None:
    code = (
        "import sys\n"
        "import feedback_bot.app.cli, feedback_bot.app.runner, feedback_bot.app.bootstrap\n"
        "from adapters.registry import platforms\n"
        "from feedback_bot.app.platforms import settings_class\n"
        "settings_class(platforms())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'nio')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"
