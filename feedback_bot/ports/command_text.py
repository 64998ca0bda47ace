"""Splitting "!command args" (or "/command@bot args") into its parts."""

from __future__ import annotations

import re

_COMMAND = re.compile(r"^(?P<cmd>[A-Za-z][A-Za-z0-9_]{0,31})(?:@\S+)?(?:\s+(?P<args>.*))?$", re.S)


def parse_command(text: str, prefix: str) -> tuple[str, str] | None:
    stripped = text.strip()
    if not stripped.startswith(prefix):
        return None
    m = _COMMAND.match(stripped[len(prefix) :])
    if m is None:
        return None
    return m["cmd"].lower(), (m["args"] or "").strip()
