"""Building attachments the core sends (exports, digest files, charts)."""

from __future__ import annotations

from feedback_bot.ports import Attachment


def json_file(name: str, data: bytes) -> Attachment:
    return Attachment(filename=name, mime_type="application/json", data=data)


def html_file(name: str, html: str) -> Attachment:
    return Attachment(filename=name, mime_type="text/html", data=html.encode("utf-8"))


def png_image(name: str, data: bytes) -> Attachment:
    return Attachment(filename=name, mime_type="image/png", data=data, is_image=True)
