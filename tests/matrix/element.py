"""A matrix-js-sdk client (Element's SDK, Rust crypto) in a node subprocess.

``tests/element/driver.mjs`` speaks JSON lines on stdin/stdout. Install it with
``npm ci --prefix tests/element``. Without node or the package these tests are skipped
locally and fail in CI (``CI=true``): a silently skipped Element suite would hide breakage.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from tests.fakes.synapse import MatrixUser, SynapseServer

DRIVER_DIR = Path(__file__).resolve().parents[1] / "element"
DRIVER = DRIVER_DIR / "driver.mjs"
INSTALL = "npm ci --prefix tests/element"


def require_node() -> str:
    """The node binary, or skip (fail in CI) saying what is missing."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node is not on PATH"
    elif not (DRIVER_DIR / "node_modules" / "matrix-js-sdk" / "package.json").exists():
        problem = f"matrix-js-sdk is not installed (run `{INSTALL}`)"
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"Element client tests need node + matrix-js-sdk in CI: {problem}")
        pytest.skip(problem)
    assert node
    return node


class DriverError(Exception):
    pass


class ElementClient:
    """One js-sdk device. Every call is one request/answer round trip."""

    def __init__(self, synapse: SynapseServer, user: MatrixUser, log_path: Path) -> None:
        self.synapse, self.user, self.log_path = synapse, user, log_path
        self.device_id = ""
        self._process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._log: BinaryIO | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def start(
        self,
        *,
        isolation: str = "default",
        bootstrap: bool = True,
        device_name: str = "Element (test)",
    ) -> dict[str, Any]:
        node = require_node()
        self._log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            node,
            str(DRIVER),
            cwd=DRIVER_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
            limit=64 * 1024 * 1024,  # answers can carry a downloaded file
        )
        result = await self.call(
            "login",
            homeserver=self.synapse.base_url,
            user_id=self.user.user_id,
            password=self.user.password,
            device_name=device_name,
            isolation=isolation,
            bootstrap=bootstrap,
            wait=90,
        )
        self.device_id = result["device_id"]
        return dict(result)

    async def call(self, cmd: str, wait: float = 60, **args: Any) -> Any:
        process = self._process
        assert process and process.stdin and process.stdout, "driver not started"
        request_id = next(self._ids)
        process.stdin.write((json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n").encode())
        await process.stdin.drain()
        async with asyncio.timeout(wait):
            line = await process.stdout.readline()
        if not line:
            raise DriverError(f"driver exited during {cmd}; see {self.log_path}")
        answer = json.loads(line)
        assert answer["id"] == request_id
        if not answer["ok"]:
            raise DriverError(f"{cmd}: {answer['error']}")
        return answer["result"]

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            try:
                process.stdin.write(b'{"id": 0, "cmd": "stop"}\n')  # type: ignore[union-attr]
                async with asyncio.timeout(5):
                    await process.wait()
            except (TimeoutError, ConnectionError):
                process.kill()
                await process.wait()
        if self._log:
            self._log.close()

    # --- conveniences ------------------------------------------------------------------

    async def create_dm(self, invitee: str) -> str:
        return str((await self.call("create_dm", invitee=invitee))["room_id"])

    async def say(self, room_id: str, body: str) -> str:
        return str((await self.call("send", room_id=room_id, body=body))["event_id"])

    async def messages(self, room_id: str, sender: str) -> list[dict[str, Any]]:
        return list(await self.call("messages", room_id=room_id, sender=sender))

    async def wait_messages(
        self,
        room_id: str,
        sender: str,
        *,
        count: int = 0,
        after: int = 0,
        contains: str | None = None,
        seconds: float = 30,
    ) -> list[dict[str, Any]]:
        result = await self.call(
            "wait_messages",
            room_id=room_id,
            sender=sender,
            count=count,
            after=after,
            contains=contains,
            timeout_ms=int(seconds * 1000),
            wait=seconds + 10,
        )
        return list(result)

    async def download(self, file: dict[str, Any]) -> bytes:
        result = await self.call("download", file=file)
        return base64.b64decode(result["base64"])
