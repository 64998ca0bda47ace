"""Outgoing event content. Pure functions: no nio, no I/O."""

from __future__ import annotations

import json
import struct
from typing import Any

from feedback_bot.ports import Attachment

MAX_TEXT_CHARS = 16_000
# Synapse rejects events over 65 536 bytes of JSON, and encryption inflates the payload by
# about 4/3 (base64). nio escapes non-ASCII, so one emoji can cost 12 bytes: we measure the
# encoded size, not the character count.
MAX_BODY_BYTES = 30_000


def encoded_size(text: str) -> int:
    return len(json.dumps(text)) - 2


def split_text(
    text: str, max_chars: int = MAX_TEXT_CHARS, max_bytes: int = MAX_BODY_BYTES
) -> list[str]:
    """Split on paragraphs, then lines, then words; cut hard only inside a giant word."""

    def fits(chunk: str) -> bool:
        return len(chunk) <= max_chars and encoded_size(chunk) <= max_bytes

    if fits(text):
        return [text] if text else []
    parts: list[str] = []
    for separator in ("\n\n", "\n", " "):
        pieces = text.split(separator)
        if len(pieces) > 1:
            current = ""
            for piece in pieces:
                candidate = f"{current}{separator}{piece}" if current else piece
                if fits(candidate):
                    current = candidate
                    continue
                if current:
                    parts.append(current)
                if fits(piece):
                    current = piece
                else:
                    parts.extend(split_text(piece, max_chars, max_bytes))
                    current = ""
            if current:
                parts.append(current)
            return parts
    return _hard_split(text, max_chars, max_bytes)


def _hard_split(text: str, max_chars: int, max_bytes: int) -> list[str]:
    parts: list[str] = []
    current = ""
    size = 0
    for char in text:
        cost = encoded_size(char)
        if current and (len(current) >= max_chars or size + cost > max_bytes):
            parts.append(current)
            current, size = "", 0
        current += char
        size += cost
    if current:
        parts.append(current)
    return parts


def text_content(body: str) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body}


def attachment_content(
    attachment: Attachment, content_uri: str, file_keys: dict[str, Any] | None
) -> dict[str, Any]:
    """``m.image``/``m.file``; ``file_keys`` from an encrypted upload go in ``file``."""
    info: dict[str, Any] = {"mimetype": attachment.mime_type, "size": len(attachment.data)}
    if attachment.is_image:
        size = png_size(attachment.data)
        if size is not None:
            info["w"], info["h"] = size
    content: dict[str, Any] = {
        "msgtype": "m.image" if attachment.is_image else "m.file",
        "body": attachment.filename,
        "filename": attachment.filename,
        "info": info,
    }
    if file_keys is None:
        content["url"] = content_uri
    else:
        content["file"] = {"url": content_uri, "mimetype": attachment.mime_type, **file_keys}
    return content


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG header, so clients can lay the image out before loading."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
