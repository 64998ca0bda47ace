"""Room keys go only to devices their owner vouches for (cross-signed), as Element does.

nio shares a room key with every device that is not blacklisted when sending with
``ignore_unverified_devices=True``. Before a send we check, from /keys/query, each member's
cross-signing chain (master key → self-signing key → device) and mark the devices in nio's
store: signed ones allowed, the others blacklisted. Changing a mark makes nio start a new
megolm session for the rooms involved, so a device that loses its signature gets no later
key, and one that gains it gets the next.

A user without a cross-signing identity has no signed devices. Their devices get keys only
when ``allow_unsigned`` is set (homeservers whose clients do not cross-sign); the default
is Element's "exclude insecure devices".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from nio import AsyncClient

from . import rawapi
from .cross_signing import single_key, verify

log = logging.getLogger(__name__)


def signed_devices(answer: dict[str, Any], user_id: str) -> dict[str, str] | None:
    """device id → its ed25519 key, for devices the user's identity signed;
    None if the user has no (valid) cross-signing identity."""
    master_obj = (answer.get("master_keys") or {}).get(user_id)
    ssk_obj = (answer.get("self_signing_keys") or {}).get(user_id)
    master, ssk = single_key(master_obj), single_key(ssk_obj)
    if not master or not ssk or not verify(ssk_obj or {}, user_id, master, master):
        return None
    result: dict[str, str] = {}
    for device_id, keys in ((answer.get("device_keys") or {}).get(user_id) or {}).items():
        ed25519 = (keys.get("keys") or {}).get(f"ed25519:{device_id}")
        if (
            isinstance(ed25519, str)
            and keys.get("user_id") == user_id
            and keys.get("device_id") == device_id
            and verify(keys, user_id, ssk, ssk)
        ):
            result[device_id] = ed25519
    return result


class DeviceTrust:
    def __init__(self, client: AsyncClient, allow_unsigned: bool) -> None:
        self._client = client
        self._allow_unsigned = allow_unsigned
        self._checked: dict[str, frozenset[str]] = {}  # user → device ids checked
        self._warned: set[str] = set()
        if allow_unsigned:
            log.warning(
                "Matrix: FEEDBACK_BOT_MATRIX__ALLOW_UNSIGNED_DEVICES is on: devices of users "
                "without cross-signing get room keys too, including ones nobody vouches for"
            )

    def forget(self, users: Iterable[str]) -> None:
        """Their devices or signatures changed (sync's device_lists.changed)."""
        for user in users:
            self._checked.pop(user, None)

    async def apply(self, users: Iterable[str]) -> None:
        client = self._client
        stale = [user for user in users if self._checked.get(user) != self._devices_of(user)]
        if not stale:
            return
        answer = await rawapi.keys_query(client, stale)
        for user in stale:
            signed = signed_devices(answer, user)
            if signed is None and not self._allow_unsigned and user not in self._warned:
                self._warned.add(user)
                log.warning(
                    "Matrix: a chat partner has no cross-signing identity; their devices get no "
                    "room keys until they set it up (or set "
                    "FEEDBACK_BOT_MATRIX__ALLOW_UNSIGNED_DEVICES=true)"
                )
            for device in client.device_store.active_user_devices(user):
                if user == client.user_id and device.id == client.device_id:
                    continue
                if signed is None:
                    allowed = self._allow_unsigned
                else:
                    allowed = signed.get(device.id) == device.ed25519
                if allowed and device.blacklisted:
                    client.unblacklist_device(device)
                elif not allowed and not device.blacklisted:
                    client.blacklist_device(device)
            self._checked[user] = self._devices_of(user)

    def _devices_of(self, user: str) -> frozenset[str]:
        return frozenset(d.id for d in self._client.device_store.active_user_devices(user))

    def is_allowed(self, user: str, device_id: str) -> bool:
        device = self._client.device_store[user].get(device_id)
        return device is not None and not device.blacklisted
