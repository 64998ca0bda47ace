"""Configuration checks, the saved device, and logging in with an access token."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.matrix import MatrixAdapter, MatrixConfigError
from adapters.matrix.session import Credentials, load_credentials, save_credentials
from adapters.matrix.settings import MatrixSettings
from feedback_bot.ports import OutgoingMessage
from tests.fakes.synapse import SynapseServer
from tests.matrix.conftest import AdapterRunner, unique
from tests.matrix.support import ClientUser, MemoryCursorStore, RecordingSink


def test_refuses_to_run_encryption_without_a_pickle_key(tmp_path: Path) -> None:
    settings = MatrixSettings(
        homeserver="http://127.0.0.1:1",
        user_id="@bot:example.org",
        password=SecretStr("hunter2"),
        store_path=tmp_path,
    )
    with pytest.raises(MatrixConfigError) as refused:
        MatrixAdapter(settings, MemoryCursorStore())
    assert "FEEDBACK_BOT_MATRIX__PICKLE_KEY" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_password_login_needs_the_user_id(tmp_path: Path) -> None:
    settings = MatrixSettings(
        homeserver="http://127.0.0.1:1",
        password=SecretStr("hunter2"),
        pickle_key=SecretStr("k"),
        store_path=tmp_path,
    )
    with pytest.raises(MatrixConfigError, match="FEEDBACK_BOT_MATRIX__USER_ID"):
        MatrixAdapter(settings, MemoryCursorStore())


def test_credentials_file_is_private_and_round_trips(tmp_path: Path) -> None:
    creds = Credentials("http://hs", "@bot:hs", "DEVICE", "secret-token")
    save_credentials(tmp_path, creds)
    assert (tmp_path / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert load_credentials(tmp_path) == creds
    (tmp_path / "credentials.json").write_text("{not json")
    assert load_credentials(tmp_path) is None


async def test_access_token_login_keeps_that_device(
    synapse: SynapseServer,
    client: ClientUser,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
    tmp_path: Path,
) -> None:
    account = synapse.register(unique("tokenbot"))
    settings = MatrixSettings(
        homeserver=synapse.base_url,
        access_token=SecretStr(account.access_token),
        store_path=tmp_path / "token-store",
        pickle_key=SecretStr("another pickle key"),
        allow_unsigned_devices=True,  # the nio test client has no cross-signing
    )
    bot = await adapters.start(settings, cursors, RecordingSink())
    assert bot.user_id == account.user_id
    assert load_credentials(settings.store_path) == Credentials(
        synapse.base_url, account.user_id, account.device_id, account.access_token
    )

    room_id = await client.create_dm(account.user_id)
    await client.wait_for_join(room_id, account.user_id)
    await bot.send(OutgoingMessage(1, "matrix", room_id, "hello from a token login"))
    [message] = await client.wait_for_messages(room_id, account.user_id, 1)
    assert message.body == "hello from a token login"
