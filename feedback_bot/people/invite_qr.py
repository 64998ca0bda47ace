"""An invite as a QR code, to print or show on a screen in the practice. Drawn by segno
(a well-kept QR library), never by hand.

What it encodes: the Telegram deep link when the deployment has a Telegram bot (scanning
it opens the chat with the code filled in), otherwise the code itself, which the client
sends as ``start CODE``."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Literal

import segno

QrKind = Literal["png", "svg"]
KINDS: tuple[QrKind, ...] = ("png", "svg")
SCALE = 10  # pixels per module: about 4 cm across at 300 dpi for a deep link
BORDER = 4  # the quiet zone scanners need, in modules


def invite_payload(code: str, links: Mapping[str, str]) -> str:
    """A platform's deep link if there is one (``links``: platform → link; only Telegram
    makes them today), else the code itself."""
    return next((link for link in links.values() if link), code)


def qr_code(payload: str) -> segno.QRCode:
    # Medium error correction survives a crease or a smudge on paper; never a Micro QR,
    # which phone cameras do not all read.
    return segno.make_qr(payload, error="m", boost_error=False)


def invite_qr(payload: str, kind: QrKind) -> bytes:
    """PNG or SVG bytes of the QR code for ``payload``."""
    if kind not in KINDS:
        raise ValueError(f"a QR code is written as png or svg, not {kind!r}")
    buffer = io.BytesIO()
    qr_code(payload).save(buffer, kind=kind, scale=SCALE, border=BORDER)
    return buffer.getvalue()


def qr_kind_of(filename: str) -> QrKind | None:
    """png or svg from a file name's ending, or None."""
    ending = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return ending if ending in KINDS else None
