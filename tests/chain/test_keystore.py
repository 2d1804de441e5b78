"""Wallets: encrypted V3 keystores, permissions, passwords, and keys never shown."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account

from sealrun.adapters.keystore import Keystore, PasswordSource
from sealrun.errors import WalletError

CHEAP = 2**10  # scrypt cost for tests; real wallets use 2**18


def test_a_created_wallet_unlocks_with_its_password_only(tmp_path: Path) -> None:
    store = Keystore(tmp_path / "keys", scrypt_n=CHEAP)
    info = store.create("alice", "correct horse")
    wallet = store.unlock("alice", "correct horse")
    assert wallet.address == info.address
    assert store.unlock(info.address.lower(), "correct horse").address == info.address
    with pytest.raises(WalletError) as caught:
        store.unlock("alice", "wrong")
    assert caught.value.code == "WALLET_BAD_PASSWORD"


def test_keystores_are_private_and_standard(tmp_path: Path) -> None:
    store = Keystore(tmp_path / "keys", scrypt_n=CHEAP)
    info = store.create("alice", "pw-pw-pw-pw")
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    document = json.loads(info.path.read_text())
    assert document["crypto"]["kdf"] == "scrypt"
    # eth-account (and so geth, MetaMask) opens it directly.
    key = Account.decrypt(document, "pw-pw-pw-pw")
    assert Account.from_key(key).address == info.address


def test_import_refuses_bad_keys_without_echoing_them(tmp_path: Path) -> None:
    store = Keystore(tmp_path, scrypt_n=CHEAP)
    secret = "0x" + "zz" * 32
    with pytest.raises(WalletError) as caught:
        store.import_key("bob", secret, "pw")
    assert caught.value.code == "WALLET_INVALID_KEY"
    assert secret not in caught.value.message
    account = Account.create()
    info = store.import_key("bob", account.key.hex(), "pw")
    assert info.address == account.address


def test_the_unlocked_wallet_never_shows_its_key(tmp_path: Path) -> None:
    store = Keystore(tmp_path, scrypt_n=CHEAP)
    account = Account.create()
    store.import_key("carol", account.key.hex(), "pw")
    wallet = store.unlock("carol", "pw")
    for text in (repr(wallet), str(wallet)):
        assert account.key.hex().removeprefix("0x") not in text
        assert wallet.address in text


def test_names_are_checked_and_never_overwritten(tmp_path: Path) -> None:
    store = Keystore(tmp_path, scrypt_n=CHEAP)
    store.create("dave", "pw")
    with pytest.raises(WalletError) as exists:
        store.create("dave", "pw")
    assert exists.value.code == "WALLET_EXISTS"
    with pytest.raises(WalletError) as bad:
        store.create("../escape", "pw")
    assert bad.value.code == "WALLET_INVALID_NAME"
    with pytest.raises(WalletError) as missing:
        store.find("nobody")
    assert missing.value.code == "WALLET_NOT_FOUND"
    assert [w.name for w in store.list()] == ["dave"]


def test_a_corrupt_keystore_is_reported(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(WalletError) as caught:
        Keystore(tmp_path).list()
    assert caught.value.code == "WALLET_CORRUPT"


def test_password_sources_in_order_file_env_prompt(tmp_path: Path) -> None:
    file = tmp_path / "pw"
    file.write_text("from-file\nignored\n")
    assert PasswordSource(file=file, env_value="env").get("x") == "from-file"
    assert PasswordSource(env_value="env", prompt=lambda _p, _c: "prompt").get("x") == "env"
    assert (
        PasswordSource(prompt=lambda _p, confirm: f"prompt:{confirm}").get("x", confirm=True) == "prompt:True"
    )
    with pytest.raises(WalletError) as caught:
        PasswordSource().get("unlock")
    assert caught.value.code == "WALLET_PASSWORD_REQUIRED"
    with pytest.raises(WalletError):
        PasswordSource(file=tmp_path / "missing").get("unlock")
