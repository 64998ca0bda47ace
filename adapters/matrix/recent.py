"""A bounded, insertion-ordered map: remembers the most recent entries only."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(OrderedDict[str, V], Generic[V]):
    def __init__(self, limit: int = 2048) -> None:
        super().__init__()
        self._limit = limit

    def put(self, key: str, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self._limit:
            self.popitem(last=False)
