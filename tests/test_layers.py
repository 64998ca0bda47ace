"""The core's packages keep their places: the conversation sits on top of digests,
scheduling and delivery, which never reach back up into it (or into the app)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "feedback_bot"
BELOW_THE_CONVERSATION = [
    "catalog",
    "delivery",
    "digest",
    "people",
    "privacy",
    "safety",
    "scheduling",
    "storage",
    "ports",
    "services.py",
    "metrics.py",
]


def core_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("feedback_bot.")}


def modules(part: str) -> list[Path]:
    target = CORE / part
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


@pytest.mark.parametrize("part", BELOW_THE_CONVERSATION)
def test_lower_parts_never_import_the_conversation_or_the_app(part: str) -> None:
    offending = {
        f"{path.relative_to(CORE)} imports {name}"
        for path in modules(part)
        for name in core_imports(path)
        if name.startswith(("feedback_bot.conversation", "feedback_bot.app"))
    }
    assert not offending


def test_the_ports_depend_on_nothing_else_in_the_core() -> None:
    offending = {
        f"{path.relative_to(CORE)} imports {name}"
        for path in modules("ports")
        for name in core_imports(path)
        if not name.startswith("feedback_bot.ports")
    }
    assert not offending
