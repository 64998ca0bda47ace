"""Charts and digests reach the client as m.image / m.file it can download and decrypt."""

from __future__ import annotations

import struct
import zlib

import pytest
from nio import MemoryDownloadResponse, RoomEncryptedMedia, RoomMessageMedia
from nio.crypto import decrypt_attachment

from adapters.matrix.settings import MatrixSettings
from feedback_bot.ports import Attachment, OutgoingMessage
from tests.matrix.conftest import AdapterRunner
from tests.matrix.support import ClientUser, MemoryCursorStore, RecordingSink


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
async def test_image_and_file_arrive_intact(
    encrypted: bool,
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    bot = await adapters.start(bot_settings, cursors, RecordingSink())
    assert bot.user_id is not None
    room_id = await client.create_dm(bot.user_id, encrypted=encrypted)
    await client.wait_for_join(room_id, bot.user_id)
    chart = Attachment("mood.png", "image/png", tiny_png(), is_image=True)
    digest = Attachment("digest.csv", "text/csv", b"date,mood\n2024-05-01,4\n")

    await bot.send(
        OutgoingMessage(11, "matrix", room_id, "Your weekly digest", attachments=(chart, digest))
    )

    text, image, file = await client.wait_for_messages(room_id, bot.user_id, 3)
    assert text.body == "Your weekly digest"
    assert image.source["content"]["msgtype"] == "m.image"
    assert image.source["content"]["info"]["w"] == 3
    assert file.source["content"]["msgtype"] == "m.file"
    assert [image.body, file.body] == ["mood.png", "digest.csv"]
    assert await _download(client, image) == chart.data
    assert await _download(client, file) == digest.data


async def _download(client: ClientUser, event: object) -> bytes:
    assert isinstance(event, RoomEncryptedMedia | RoomMessageMedia)
    response = await client.nio.download(event.url)
    assert isinstance(response, MemoryDownloadResponse), response
    if isinstance(event, RoomEncryptedMedia):
        return bytes(
            decrypt_attachment(response.body, event.key["k"], event.hashes["sha256"], event.iv)
        )
    return bytes(response.body)
