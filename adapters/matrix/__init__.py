"""Matrix adapter: matrix-nio with end-to-end encryption (see docs/architecture.md)."""

from .adapter import MatrixAdapter
from .session import MatrixConfigError

__all__ = ["MatrixAdapter", "MatrixConfigError"]
