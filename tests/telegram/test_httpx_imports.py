"""httpcore asks for sniffio on every lock it takes; without it installed, each request
made several failed imports, each a fresh search of sys.path (a tenth of a worker's CPU)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

import pytest
from httpcore._synchronization import current_async_library

import adapters.telegram.adapter  # noqa: F401  (what a worker imports)


class CountingFinder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(
        self, fullname: str, path: object = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        self.asked.append(fullname)
        return None


@pytest.mark.skipif(sys.modules.get("sniffio") is not None, reason="sniffio is installed")
def test_httpcore_does_not_search_for_the_missing_sniffio_on_every_request() -> None:
    finder = CountingFinder()
    sys.meta_path.insert(0, finder)
    try:
        for _ in range(10):
            assert current_async_library() == "asyncio"
    finally:
        sys.meta_path.remove(finder)
    assert "sniffio" not in finder.asked
