"""``m.direct`` account data: which rooms are the bot's DMs with whom, as Element reads it.

Written when the bot opens a DM, when it joins a DM a person opened (``is_direct`` on the
invite), and pruned when it leaves one, so the bot account shows the right rooms as DMs.
It is cosmetic for the bot itself: a failure is logged and never stops a sync.
"""

from __future__ import annotations

import asyncio
import logging

from nio import AsyncClient

from . import rawapi
from .errors import NETWORK_ERRORS

log = logging.getLogger(__name__)

DIRECT = "m.direct"
_FAILURES: tuple[type[BaseException], ...] = (rawapi.MatrixHTTPError, *NETWORK_ERRORS)


class DirectRooms:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._lock = asyncio.Lock()  # read-modify-write of one account-data object

    async def add(self, user_id: str, room_id: str) -> None:
        await self._update(lambda d: _with_room(d, user_id, room_id))

    async def remove(self, room_id: str) -> None:
        await self._update(lambda d: _without_room(d, room_id))

    async def _update(self, change: object) -> None:
        assert callable(change)
        async with self._lock:
            try:
                current = await rawapi.get_account_data(self._client, DIRECT) or {}
                updated = change(current)
                if updated != current:
                    await rawapi.put_account_data(self._client, DIRECT, updated)
            except _FAILURES as exc:
                log.warning("Matrix: could not update m.direct (%s)", type(exc).__name__)


def _with_room(direct: dict[str, object], user_id: str, room_id: str) -> dict[str, object]:
    rooms = [r for r in _rooms(direct.get(user_id)) if r != room_id]
    return {**direct, user_id: [*rooms, room_id]}


def _without_room(direct: dict[str, object], room_id: str) -> dict[str, object]:
    result: dict[str, object] = {}
    for user_id, rooms in direct.items():
        kept = [r for r in _rooms(rooms) if r != room_id]
        if kept:
            result[user_id] = kept
    return result


def _rooms(value: object) -> list[str]:
    return [r for r in value if isinstance(r, str)] if isinstance(value, list) else []
