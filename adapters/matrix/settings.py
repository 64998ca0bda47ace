"""Matrix's settings: ``FEEDBACK_BOT_MATRIX__*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, SecretStr


class MatrixSettings(BaseModel):
    homeserver: str | None = None
    user_id: str | None = None
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_name: str = "feedback-bot"
    store_path: Path = Path("data/matrix-store")
    pickle_key: SecretStr | None = None
    # Room keys also to devices of users without cross-signing (servers whose clients don't
    # cross-sign); by default only devices their owner signed get them, as in today's Element.
    allow_unsigned_devices: bool = False
    per_room_per_second: float = 1.0
    overall_per_second: float = 10.0
