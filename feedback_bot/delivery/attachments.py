"""Building attachments the core sends (exports, digest files, charts)."""

from __future__ import annotations

import os
from pathlib import Path

from feedback_bot.ports import Attachment


def json_file(name: str, data: bytes) -> Attachment:
    return Attachment(filename=name, mime_type="application/json", data=data)


def html_file(name: str, html: str) -> Attachment:
    return Attachment(filename=name, mime_type="text/html", data=html.encode("utf-8"))


def png_image(name: str, data: bytes) -> Attachment:
    return Attachment(filename=name, mime_type="image/png", data=data, is_image=True)


def private_dir(path: Path) -> None:
    """A directory only its owner can enter (created so, or tightened if it exists)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def write_private(path: Path, data: bytes) -> Path:
    """Write a file that is owner-only from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), 0o600)  # an existing file keeps its old mode otherwise
        file.write(data)
    return path
