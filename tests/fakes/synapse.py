"""A real Synapse homeserver on loopback for adapter tests.

Nothing is installed at run time: ``matrix-synapse`` comes from the ``dev`` extra. When it
cannot be imported or started, tests are skipped, unless ``FEEDBACK_BOT_REQUIRE_SYNAPSE=1``
(set in CI), in which case they fail: a silently skipped Matrix suite would hide breakage.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

REQUIRE_ENV = "FEEDBACK_BOT_REQUIRE_SYNAPSE"
SERVER_NAME = "localhost"
STARTUP_TIMEOUT = 60.0

# Generous enough that the suite never trips them; the 429 test tightens one user instead.
_RELAXED = {"per_second": 1000, "burst_count": 1000}

_LOG_CONFIG = """\
version: 1
formatters:
  plain:
    format: '%(asctime)s %(name)s %(levelname)s %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: plain
    filename: {log_file}
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
"""


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when CI requires the homeserver."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"Synapse is required ({REQUIRE_ENV}=1) but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def homeserver_config(workdir: Path, port: int, shared_secret: str) -> dict[str, Any]:
    return {
        "server_name": SERVER_NAME,
        "pid_file": str(workdir / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(workdir / "homeserver.db")}},
        "log_config": str(workdir / "log.config"),
        "media_store_path": str(workdir / "media_store"),
        "signing_key_path": str(workdir / "signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "enable_metrics": False,
        "enable_registration": False,
        "url_preview_enabled": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        # Password hashing dominates user registration time; the default (12) costs ~0.3 s.
        "bcrypt_rounds": 4,
        "rc_message": _RELAXED,
        "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
        "rc_joins": {"local": _RELAXED, "remote": _RELAXED},
        "rc_joins_per_room": _RELAXED,
        "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
        "rc_registration": _RELAXED,
        "rc_admin_redaction": _RELAXED,
        "rc_key_requests": _RELAXED,
        "rc_media_create": _RELAXED,
        "rc_room_creation": _RELAXED,
        "rc_3pid_validation": _RELAXED,
    }


def write_signing_key(path: Path) -> None:
    # Generated in-process: `--generate-keys` would cost another interpreter start.
    import signedjson.key

    with path.open("w") as fh:
        signedjson.key.write_signing_keys(fh, [signedjson.key.generate_signing_key("a_1")])


@dataclass(frozen=True)
class MatrixUser:
    user_id: str
    password: str
    access_token: str
    device_id: str


class SynapseServer:
    """A Synapse subprocess; use :meth:`start` and :meth:`stop`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = secrets.token_hex(16)
        self.log_file = workdir / "homeserver.log"
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: MatrixUser | None = None

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "media_store").mkdir(exist_ok=True)
        (self.workdir / "log.config").write_text(_LOG_CONFIG.format(log_file=self.log_file))
        write_signing_key(self.workdir / "signing.key")
        config_path = self.workdir / "homeserver.yaml"
        # JSON is valid YAML; no need for a YAML writer here.
        config_path.write_text(
            json.dumps(homeserver_config(self.workdir, self.port, self.shared_secret))
        )
        return config_path

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        if importlib.util.find_spec("synapse") is None:
            unavailable("matrix-synapse is not installed (pip install -e '.[dev]')")
        config_path = self.write_config()
        began = time.monotonic()
        with (self.workdir / "stdout.log").open("wb") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config_path)],
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                unavailable(f"Synapse exited during startup:\n{self.diagnostics()}")
            if self._responds():
                self.startup_seconds = time.monotonic() - began
                return
            time.sleep(0.2)
        self.stop()
        unavailable(f"Synapse did not answer within {timeout:.0f} s:\n{self.diagnostics()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def diagnostics(self) -> str:
        parts = []
        for name in ("stdout.log", "homeserver.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {name} ---\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def _responds(self) -> bool:
        try:
            self.request("GET", "/_matrix/client/versions", timeout=1)
        except (OSError, urllib.error.URLError):
            return False
        return True

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        timeout: float = 10,
    ) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            result: dict[str, Any] = json.loads(resp.read() or b"{}")
            return result

    def register(
        self, localpart: str, password: str | None = None, admin: bool = False
    ) -> MatrixUser:
        """Create a user through the shared-secret admin API (works with registration off)."""
        password = password or secrets.token_hex(12)
        path = "/_synapse/admin/v1/register"
        nonce = self.request("GET", path)["nonce"]
        parts = (nonce, localpart, password, "admin" if admin else "notadmin")
        mac = hmac.new(
            self.shared_secret.encode(), "\x00".join(parts).encode(), digestmod=hashlib.sha1
        )
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        result = self.request("POST", path, body)
        return MatrixUser(result["user_id"], password, result["access_token"], result["device_id"])

    def limit_messages(self, user_id: str, per_second: int, burst_count: int) -> None:
        """Make Synapse answer 429 M_LIMIT_EXCEEDED once ``user_id`` exceeds the burst."""
        quoted = urllib.parse.quote(user_id)
        self.request(
            "POST",
            f"/_synapse/admin/v1/users/{quoted}/override_ratelimit",
            {"messages_per_second": per_second, "burst_count": burst_count},
            token=self._admin_user().access_token,
        )

    def _admin_user(self) -> MatrixUser:
        if self._admin is None:
            self._admin = self.register(f"admin-{secrets.token_hex(4)}", admin=True)
        return self._admin
