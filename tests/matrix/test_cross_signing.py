"""The bot's own cross-signing identity, against the real Synapse."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.matrix import cross_signing, rawapi
from adapters.matrix.cross_signing import KEY_FILE, IdentityKeys, KeyFileError, verify
from adapters.matrix.identity import matrix_identity
from adapters.matrix.session import MatrixConfigError
from adapters.matrix.settings import MatrixSettings
from tests.fakes.synapse import MatrixUser, SynapseServer
from tests.matrix.conftest import AdapterRunner
from tests.matrix.support import MemoryCursorStore, RecordingSink


def published(synapse: SynapseServer, user: MatrixUser) -> dict[str, Any]:
    body = {"device_keys": {user.user_id: []}}
    return synapse.request("POST", "/_matrix/client/v3/keys/query", body, token=user.access_token)


def one_key(obj: dict[str, Any]) -> str:
    [key] = obj["keys"].values()
    return str(key)


def device_signed_by_identity(answer: dict[str, Any], user_id: str, device_id: str) -> bool:
    """The chain a client checks: master → self-signing key → device."""
    master = one_key(answer["master_keys"][user_id])
    ssk_obj = answer["self_signing_keys"][user_id]
    ssk = one_key(ssk_obj)
    device = answer["device_keys"][user_id][device_id]
    return verify(ssk_obj, user_id, master, master) and verify(device, user_id, ssk, ssk)


class Uploads:
    """Records every cross-signing write the bot makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real = rawapi.call

        async def spy(client: Any, method: str, path: str, body: Any = None) -> Any:
            if path.startswith(("/keys/device_signing", "/keys/signatures")):
                self.paths.append(path)
            return await real(client, method, path, body)

        monkeypatch.setattr(rawapi, "call", spy)


async def test_first_start_creates_and_signs_then_restarts_change_nothing(
    synapse: SynapseServer,
    bot_account: MatrixUser,
    bot_settings: MatrixSettings,
    adapters: AdapterRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uploads = Uploads(monkeypatch)
    adapter = await adapters.start(bot_settings, MemoryCursorStore(), RecordingSink())
    assert adapter._state.identity == "created"
    assert uploads.paths == ["/keys/device_signing/upload", "/keys/signatures/upload"]
    device_id = adapter._client.device_id  # type: ignore[union-attr]
    answer = published(synapse, bot_account)
    assert device_signed_by_identity(answer, bot_account.user_id, device_id)
    master = one_key(answer["master_keys"][bot_account.user_id])

    # Private keys are on disk only encrypted; the file opens with the pickle key alone.
    store = bot_settings.store_path
    text = (store / KEY_FILE).read_text()
    assert (store / KEY_FILE).stat().st_mode & 0o777 == 0o600
    pickle_key = "test pickle key"
    keys = cross_signing.load_keys(store, pickle_key, bot_account.user_id)
    assert keys is not None and keys.master_public == master
    for seed in keys.seeds().values():
        assert seed not in text
    with pytest.raises(KeyFileError):
        cross_signing.load_keys(store, "another key", bot_account.user_id)

    # Restart on the same store: already signed, nothing uploaded.
    await adapters.stop(adapter)
    uploads.paths.clear()
    adapter = await adapters.start(bot_settings, MemoryCursorStore(), RecordingSink())
    assert adapter._state.identity == "already_signed" and uploads.paths == []

    # A new device for the same account (its device store lost): only the device is signed.
    await adapters.stop(adapter)
    for item in store.iterdir():
        if item.name != KEY_FILE:
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    adapter = await adapters.start(bot_settings, MemoryCursorStore(), RecordingSink())
    new_device = adapter._client.device_id  # type: ignore[union-attr]
    assert new_device != device_id
    assert adapter._state.identity == "signed"
    assert uploads.paths == ["/keys/signatures/upload"]
    answer = published(synapse, bot_account)
    assert one_key(answer["master_keys"][bot_account.user_id]) == master
    assert device_signed_by_identity(answer, bot_account.user_id, new_device)


async def test_an_identity_the_bot_does_not_hold_is_reported_in_one_line_then_replaced(
    synapse: SynapseServer,
    bot_account: MatrixUser,
    bot_settings: MatrixSettings,
    adapters: AdapterRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Someone set up cross-signing on the bot account from another client first.
    foreign = IdentityKeys.generate()
    synapse.request(
        "POST",
        "/_matrix/client/v3/keys/device_signing/upload",
        foreign.upload_body(bot_account.user_id),
        token=bot_account.access_token,
    )
    with caplog.at_level(logging.ERROR, logger="adapters.matrix"):
        adapter = await adapters.start(bot_settings, MemoryCursorStore(), RecordingSink())
    assert adapter._state.identity == "error: ForeignIdentity"
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert foreign.master_public in line and "feedback-bot matrix identity --reset" in line
    assert not (bot_settings.store_path / KEY_FILE).exists()

    # The operator's explicit reset (password UIA) replaces it and signs the device.
    client = adapter._client
    assert client is not None
    outcome = await cross_signing.ensure_cross_signed(
        client,
        bot_settings.store_path,
        "test pickle key",
        bot_account.password,
        replace_foreign=True,
    )
    assert outcome is cross_signing.Outcome.CREATED
    answer = published(synapse, bot_account)
    master = one_key(answer["master_keys"][bot_account.user_id])
    assert master != foreign.master_public
    assert device_signed_by_identity(answer, bot_account.user_id, str(client.device_id))
    report = await cross_signing.identity_report(client, bot_settings.store_path)
    assert report["matches_store"] and report["device_cross_signed"]
    assert report["fingerprint"].replace(" ", "") == master


def test_key_file_is_bound_to_its_account(tmp_path: Path) -> None:
    keys = IdentityKeys.generate()
    cross_signing.save_keys(tmp_path, "pk", "@bot:example.org", keys)
    with pytest.raises(KeyFileError):
        cross_signing.load_keys(tmp_path, "pk", "@other:example.org")
    record = json.loads((tmp_path / KEY_FILE).read_text())
    record["user_id"] = "@other:example.org"  # relabelled: the AEAD binding refuses it
    (tmp_path / KEY_FILE).write_text(json.dumps(record))
    with pytest.raises(KeyFileError):
        cross_signing.load_keys(tmp_path, "pk", "@other:example.org")


async def test_identity_command_reports_the_fingerprint_a_practice_can_compare(
    synapse: SynapseServer,
    bot_account: MatrixUser,
    bot_settings: MatrixSettings,
    adapters: AdapterRunner,
) -> None:
    with pytest.raises(MatrixConfigError):
        await matrix_identity(bot_settings)  # nothing to report before the first start
    adapter = await adapters.start(bot_settings, MemoryCursorStore(), RecordingSink())

    report = await matrix_identity(bot_settings)  # beside the running bot

    master = one_key(published(synapse, bot_account)["master_keys"][bot_account.user_id])
    assert report["master_key"] == master and report["fingerprint"].replace(" ", "") == master
    assert report["matches_store"] and report["device_cross_signed"]
    assert report["device_id"] == adapter._client.device_id  # type: ignore[union-attr]
    assert (await matrix_identity(bot_settings, reset=True))["reset"] == "already_signed"
    assert published(synapse, bot_account)["master_keys"][bot_account.user_id]["keys"] == {
        f"ed25519:{master}": master
    }
