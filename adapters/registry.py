"""Every chat platform the app knows: one line each.

A platform is a package under ``adapters/`` whose ``platform`` module (or the module
itself) has a ``PLATFORM`` entry (:class:`feedback_bot.app.platforms.Platform`). Entries
are imported by name, and an entry imports its platform library only when it builds the
adapter, so the core runs without the libraries of platforms that are not configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module

from feedback_bot.app.platforms import Platforms

PLATFORM_MODULES: tuple[str, ...] = (
    "adapters.telegram.platform",
    "adapters.matrix.platform",
    "adapters.console",  # the terminal chat and test backend: never started by `run`
)


def platforms(modules: Iterable[str] | None = None) -> Platforms:
    names = PLATFORM_MODULES if modules is None else modules
    return tuple(import_module(name).PLATFORM for name in names)
