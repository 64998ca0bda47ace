"""Sign-in attempts per minute, per address and in total: guessing a 256-bit token is
hopeless anyway; this keeps a flood from costing database work. In memory, per process."""

from __future__ import annotations

import time
from collections import OrderedDict, deque

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000  # bounded memory under a flood from many addresses


class SignInLimiter:
    def __init__(self, per_address: int, total: int) -> None:
        self._per_address = per_address
        self._total = total
        self._all: deque[float] = deque()
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def _prune(q: deque[float], now: float) -> deque[float]:
        while q and now - q[0] >= WINDOW_SECONDS:
            q.popleft()
        return q

    def allow(self, address: str, now: float | None = None) -> bool:
        """Counts the attempt; False when this address or everyone has had their minute."""
        now = time.monotonic() if now is None else now
        mine = self._prune(self._by_address.setdefault(address, deque()), now)
        self._by_address.move_to_end(address)
        everyone = self._prune(self._all, now)
        if len(mine) >= self._per_address or len(everyone) >= self._total:
            return False
        mine.append(now)
        everyone.append(now)
        while len(self._by_address) > MAX_ADDRESSES:
            self._by_address.popitem(last=False)
        return True
