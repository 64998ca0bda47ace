"""Client-server endpoints nio 0.26 has no method for, over nio's own HTTP session.

Cross-signing, /keys/query with the cross-signing sections, account data and raw to-device
messages. Errors come back as (status, body); network errors propagate (see errors.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from nio import AsyncClient

PREFIX = "/_matrix/client/v3"


class MatrixHTTPError(Exception):
    """The homeserver answered with an error we did not expect (no content in the message)."""

    def __init__(self, what: str, status: int, body: dict[str, Any]) -> None:
        errcode = body.get("errcode") if isinstance(body, dict) else None
        super().__init__(f"{what}: HTTP {status} {errcode or ''}".strip())
        self.status = status
        self.errcode = errcode


async def call(
    client: AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {client.access_token}"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    response = await client.send(method, PREFIX + path, data=data, headers=headers)
    async with response:
        try:
            parsed = await response.json(content_type=None)
        except ValueError:
            parsed = {}
    return response.status, parsed if isinstance(parsed, dict) else {}


async def ok(
    client: AsyncClient, what: str, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    status, parsed = await call(client, method, path, body)
    if status != 200:
        raise MatrixHTTPError(what, status, parsed)
    return parsed


async def keys_query(client: AsyncClient, users: list[str]) -> dict[str, Any]:
    return await ok(
        client, "keys/query", "POST", "/keys/query", {"device_keys": {u: [] for u in users}}
    )


async def get_account_data(client: AsyncClient, kind: str) -> dict[str, Any] | None:
    assert client.user_id
    path = f"/user/{quote(client.user_id, safe='')}/account_data/{quote(kind, safe='')}"
    status, parsed = await call(client, "GET", path)
    if status == 404:
        return None
    if status != 200:
        raise MatrixHTTPError(f"get {kind}", status, parsed)
    return parsed


async def put_account_data(client: AsyncClient, kind: str, content: dict[str, Any]) -> None:
    assert client.user_id
    path = f"/user/{quote(client.user_id, safe='')}/account_data/{quote(kind, safe='')}"
    await ok(client, f"put {kind}", "PUT", path, content)


async def send_to_device(
    client: AsyncClient, kind: str, messages: dict[str, dict[str, Any]], txn_id: str
) -> None:
    path = f"/sendToDevice/{quote(kind, safe='')}/{quote(txn_id, safe='')}"
    await ok(client, f"sendToDevice {kind}", "PUT", path, {"messages": messages})
