"""Matrix adapter: matrix-nio with end-to-end encryption (see docs/architecture.md).

Its settings and registry entry (``settings``, ``platform``) import without nio; the
adapter itself is loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import MatrixAdapter
    from .session import MatrixConfigError

__all__ = ["MatrixAdapter", "MatrixConfigError"]

_HOME = {"MatrixAdapter": ".adapter", "MatrixConfigError": ".session"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
