"""httpcore asks ``import sniffio`` on every lock it takes (several per request) to tell
asyncio from trio. Without sniffio installed that import fails, and a failed import is
not remembered: each one searches every ``sys.path`` entry again. Measured on a worker
sending 30 messages a second, that was about 7 failed imports per send and a tenth of its
CPU under the profiler. Recording the absence once makes the import fail at once, and
httpcore then assumes asyncio, as it does today."""

from __future__ import annotations

import importlib.util
import sys


def remember_missing_sniffio() -> None:
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # "not installed", cached
