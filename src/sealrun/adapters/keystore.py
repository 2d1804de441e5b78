"""Encrypted wallets: Ethereum V3 JSON keystores (scrypt) in a key folder.

A wallet is one keystore file ``<name>.json`` in the key folder (mode 0700, files 0600),
in the format geth, MetaMask and eth-account read. The private key is only ever held by an
unlocked :class:`Wallet`, whose ``repr`` never shows it; nothing here prints or logs keys.

Passwords come from a :class:`PasswordSource`: a file, an environment variable, or an
interactive prompt (chosen at the composition root, i.e. the CLI).

Error codes (all :class:`~sealrun.errors.WalletError`):

- ``WALLET_NOT_FOUND``: no keystore with that name or address in the folder;
- ``WALLET_EXISTS``: refusing to overwrite a keystore;
- ``WALLET_BAD_PASSWORD``: the password does not open the keystore;
- ``WALLET_PASSWORD_REQUIRED``: no password source is available (non-interactive run);
- ``WALLET_INVALID_KEY``: an imported private key is not a valid secp256k1 key;
- ``WALLET_CORRUPT``: a keystore file is not a V3 keystore;
- ``WALLET_INVALID_NAME``: a wallet name with path characters.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from eth_utils import is_address, to_checksum_address

from sealrun.core.jsontypes import JsonObject
from sealrun.errors import WalletError

if TYPE_CHECKING:
    from eth_account import Account
    from eth_account.signers.local import LocalAccount


def _eth_account() -> type[Account]:
    """eth-account, loaded on first use: listing wallets (every `devnet up`, most commands) reads
    only their JSON, and the import costs over half a CPU second."""
    from eth_account import Account

    return Account


__all__ = [
    "DEFAULT_SCRYPT_N",
    "Keystore",
    "PasswordSource",
    "Wallet",
    "WalletInfo",
]

#: geth's "standard" scrypt cost; tests and throwaway devnet wallets may pass a lower one.
DEFAULT_SCRYPT_N = 2**18

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class WalletInfo:
    """What can be known about a wallet without its password."""

    name: str
    address: str
    path: Path


@dataclass(frozen=True)
class Wallet:
    """An unlocked wallet: an address and the account that signs for it.

    The key is reachable only through :attr:`account` (an eth-account ``LocalAccount``);
    ``repr`` and ``str`` show the name and address, never the key.
    """

    name: str
    address: str
    account: LocalAccount = field(repr=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


@dataclass(frozen=True)
class PasswordSource:
    """Where a keystore password comes from, tried in order: file, environment, prompt.

    Args:
        file: a file whose first line is the password.
        env_value: the value of an environment variable read by the caller.
        prompt: a callable asking the user (``confirm=True`` when creating a wallet).
    """

    file: Path | None = None
    env_value: str | None = None
    prompt: Callable[[str, bool], str] | None = field(default=None, repr=False)

    def get(self, purpose: str, *, confirm: bool = False) -> str:
        """Return the password.

        Raises:
            WalletError: ``WALLET_PASSWORD_REQUIRED`` if no source gives one.
        """
        if self.file is not None:
            try:
                lines = self.file.read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise WalletError(
                    f"cannot read the password file {self.file}: {error.strerror}",
                    code="WALLET_PASSWORD_REQUIRED",
                ) from error
            return lines[0] if lines else ""
        if self.env_value is not None:
            return self.env_value
        if self.prompt is not None:
            return self.prompt(purpose, confirm)
        raise WalletError(
            f"a password is needed to {purpose}: pass --password-file or set SEALRUN_WALLET_PASSWORD",
            code="WALLET_PASSWORD_REQUIRED",
        )


class Keystore:
    """A folder of encrypted wallets.

    Args:
        folder: the key folder; created with mode 0700 on first write.
        scrypt_n: the scrypt cost for new keystores (opening uses the file's own cost).
    """

    def __init__(self, folder: Path, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> None:
        self.folder = folder
        self.scrypt_n = scrypt_n

    def list(self) -> list[WalletInfo]:
        """Return the wallets in the folder, sorted by name."""
        if not self.folder.is_dir():
            return []
        return [self._info(path) for path in sorted(self.folder.glob("*.json"))]

    def find(self, name_or_address: str) -> WalletInfo:
        """Return the wallet with this name or address.

        Raises:
            WalletError: ``WALLET_NOT_FOUND``.
        """
        wanted = name_or_address.lower()
        for info in self.list():
            if info.name == name_or_address or (is_address(wanted) and info.address.lower() == wanted):
                return info
        raise WalletError(f"no wallet named {name_or_address!r} in {self.folder}", code="WALLET_NOT_FOUND")

    def create(self, name: str, password: str) -> WalletInfo:
        """Create a wallet with a fresh random key.

        Raises:
            WalletError: ``WALLET_EXISTS``, ``WALLET_INVALID_NAME``.
        """
        return self._store(name, _eth_account().create(), password)

    def import_key(self, name: str, private_key: str, password: str) -> WalletInfo:
        """Store an existing private key (hex) under ``name``.

        Raises:
            WalletError: ``WALLET_INVALID_KEY``, ``WALLET_EXISTS``, ``WALLET_INVALID_NAME``.
        """
        try:
            account = _eth_account().from_key(private_key.strip())
        except (ValueError, TypeError) as error:
            # The message of eth-keys may quote the input; ours never does.
            raise WalletError(
                "the private key is not a valid 32-byte hex key", code="WALLET_INVALID_KEY"
            ) from error
        return self._store(name, account, password)

    def unlock(self, name_or_address: str, password: str) -> Wallet:
        """Decrypt a wallet.

        Raises:
            WalletError: ``WALLET_NOT_FOUND``, ``WALLET_BAD_PASSWORD``, ``WALLET_CORRUPT``.
        """
        info = self.find(name_or_address)
        document = self._read(info.path)
        try:
            key = _eth_account().decrypt(document, password)
        except ValueError as error:
            raise WalletError(
                f"wrong password for wallet {info.name!r} ({info.address})", code="WALLET_BAD_PASSWORD"
            ) from error
        return Wallet(name=info.name, address=info.address, account=_eth_account().from_key(key))

    def _store(self, name: str, account: LocalAccount, password: str) -> WalletInfo:
        if not _NAME.match(name):
            raise WalletError(
                f"wallet name {name!r} must be 1-64 letters, digits, '.', '_' or '-'",
                code="WALLET_INVALID_NAME",
            )
        path = self.folder / f"{name}.json"
        if path.exists():
            raise WalletError(f"a wallet named {name!r} already exists at {path}", code="WALLET_EXISTS")
        document = _eth_account().encrypt(account.key, password, kdf="scrypt", iterations=self.scrypt_n)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            # link() refuses to replace an existing file, so two concurrent creates cannot clobber.
            os.link(tmp, path)
        except FileExistsError as error:
            raise WalletError(
                f"a wallet named {name!r} already exists at {path}", code="WALLET_EXISTS"
            ) from error
        finally:
            Path(tmp).unlink(missing_ok=True)
        return WalletInfo(name=name, address=account.address, path=path)

    def _read(self, path: Path) -> JsonObject:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise WalletError(f"{path} is not a readable keystore", code="WALLET_CORRUPT") from error
        if not isinstance(document, dict) or "crypto" not in {k.lower() for k in document}:
            raise WalletError(f"{path} is not a V3 keystore", code="WALLET_CORRUPT")
        return document

    def _info(self, path: Path) -> WalletInfo:
        document = self._read(path)
        address = document.get("address")
        if not isinstance(address, str) or not is_address(
            address if address.startswith("0x") else "0x" + address
        ):
            raise WalletError(f"{path} has no valid address", code="WALLET_CORRUPT")
        return WalletInfo(
            name=path.stem, address=to_checksum_address("0x" + address.removeprefix("0x")), path=path
        )
