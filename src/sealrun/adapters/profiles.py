"""The project configuration: chain profiles and the default wallet, in ``sealrun.toml``.

``sealrun init`` writes it; ``sealrun chain deploy`` records contract addresses in a
profile. A profile names a chain and how to reach it:

- ``embedded``: the in-process py-evm chain served by ``sealrun chain serve``;
- ``anvil``: a local anvil node (``sealrun chain anvil``);
- ``custom``: any Ethereum JSON-RPC URL.

Example::

    [project]
    profile = "embedded"
    wallet = "default"
    wallet_dir = "wallets"

    [profiles.embedded]
    kind = "embedded"
    rpc_url = "http://127.0.0.1:8545"
    hub = "0x..."
    token = "0x..."
    chain_id = 1337
    deploy_block = 1

The file is read and written atomically (temp file + rename). Error codes
(:class:`~sealrun.errors.ConfigError`): ``CONFIG_NOT_FOUND``, ``CONFIG_INVALID``,
``PROFILE_NOT_FOUND``, ``PROFILE_NOT_DEPLOYED``, ``CONFIG_EXISTS``.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

import tomli_w

from sealrun.errors import ConfigError

__all__ = ["CONFIG_FILE", "ChainProfile", "ProfileTable", "ProjectConfig", "default_config"]

CONFIG_FILE = "sealrun.toml"

ProfileKind = Literal["embedded", "anvil", "custom"]
_KINDS = ("embedded", "anvil", "custom")


class ProfileTable(TypedDict):
    """One ``[profiles.<name>]`` table as written (fields without a value are left out)."""

    kind: ProfileKind
    rpc_url: str
    deploy_block: int
    hub: NotRequired[str]
    token: NotRequired[str]
    chain_id: NotRequired[int]


@dataclass(frozen=True)
class ChainProfile:
    """How to reach one chain, and where the marketplace lives on it."""

    name: str
    kind: ProfileKind
    rpc_url: str
    hub: str | None = None
    token: str | None = None
    chain_id: int | None = None
    deploy_block: int = 0

    def deployed(self) -> tuple[str, str]:
        """Return ``(hub, token)``.

        Raises:
            ConfigError: ``PROFILE_NOT_DEPLOYED`` if the marketplace was not deployed there yet.
        """
        if self.hub is None or self.token is None:
            raise ConfigError(
                f"chain profile {self.name!r} has no marketplace yet: "
                f"run `sealrun chain deploy --chain {self.name}`",
                code="PROFILE_NOT_DEPLOYED",
            )
        return self.hub, self.token

    def to_toml(self) -> ProfileTable:
        """The profile's TOML table (absent fields omitted)."""
        table: ProfileTable = {
            "kind": self.kind,
            "rpc_url": self.rpc_url,
            "deploy_block": self.deploy_block,
        }
        if self.hub is not None:
            table["hub"] = self.hub
        if self.token is not None:
            table["token"] = self.token
        if self.chain_id is not None:
            table["chain_id"] = self.chain_id
        return table

    @classmethod
    def from_toml(cls, name: str, table: object) -> ChainProfile:
        """Parse and validate one profile table.

        Raises:
            ConfigError: ``CONFIG_INVALID`` naming the bad field.
        """
        if not isinstance(table, dict):
            raise ConfigError(f"profile {name!r} must be a table", code="CONFIG_INVALID")
        kind = table.get("kind")
        if kind not in _KINDS:
            raise ConfigError(
                f"profile {name!r}: kind must be one of {', '.join(_KINDS)}", code="CONFIG_INVALID"
            )
        url = table.get("rpc_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"profile {name!r}: rpc_url must be an http(s) URL", code="CONFIG_INVALID")
        from eth_utils import is_address, to_checksum_address  # a third of a CPU second: not at import

        addresses: dict[str, str | None] = {}
        for key in ("hub", "token"):
            value = table.get(key)
            if value is not None and (not isinstance(value, str) or not is_address(value)):
                raise ConfigError(f"profile {name!r}: {key} is not an address", code="CONFIG_INVALID")
            addresses[key] = to_checksum_address(value) if value else None
        chain_id = table.get("chain_id")
        block = table.get("deploy_block", 0)
        if chain_id is not None and (not isinstance(chain_id, int) or chain_id <= 0):
            raise ConfigError(f"profile {name!r}: chain_id must be a positive integer", code="CONFIG_INVALID")
        if not isinstance(block, int) or block < 0:
            raise ConfigError(f"profile {name!r}: deploy_block must be >= 0", code="CONFIG_INVALID")
        return cls(name, kind, url, addresses["hub"], addresses["token"], chain_id, block)


@dataclass(frozen=True)
class ProjectConfig:
    """The whole ``sealrun.toml``: profiles, the selected profile and the default wallet."""

    path: Path
    profile: str
    wallet: str
    wallet_dir: Path
    profiles: dict[str, ChainProfile] = field(default_factory=dict)

    def chain(self, name: str | None = None) -> ChainProfile:
        """Return the named profile (default: the selected one).

        Raises:
            ConfigError: ``PROFILE_NOT_FOUND``.
        """
        wanted = name or self.profile
        try:
            return self.profiles[wanted]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(
                f"no chain profile {wanted!r} in {self.path} (known: {known})", code="PROFILE_NOT_FOUND"
            ) from None

    def with_profile(self, profile: ChainProfile) -> ProjectConfig:
        """Return a copy with ``profile`` added or replaced."""
        return replace(self, profiles={**self.profiles, profile.name: profile})

    @classmethod
    def load(cls, path: Path) -> ProjectConfig:
        """Read and validate a config file.

        Raises:
            ConfigError: ``CONFIG_NOT_FOUND`` or ``CONFIG_INVALID``.
        """
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"no project config at {path}: run `sealrun init` first", code="CONFIG_NOT_FOUND"
            ) from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path} is not valid TOML: {error}", code="CONFIG_INVALID") from error
        project = data.get("project", {})
        profiles = data.get("profiles", {})
        if not isinstance(project, dict) or not isinstance(profiles, dict):
            raise ConfigError(f"{path}: [project] and [profiles] must be tables", code="CONFIG_INVALID")
        parsed = {name: ChainProfile.from_toml(name, table) for name, table in profiles.items()}
        wallet_dir = Path(str(project.get("wallet_dir", "wallets"))).expanduser()
        if not wallet_dir.is_absolute():
            wallet_dir = path.parent / wallet_dir
        config = cls(
            path=path,
            profile=str(project.get("profile", "embedded")),
            wallet=str(project.get("wallet", "default")),
            wallet_dir=wallet_dir,
            profiles=parsed,
        )
        config.chain()  # the selected profile must exist
        return config

    def save(self) -> None:
        """Write the config atomically (temp file in the same folder + rename)."""
        try:
            wallet_dir: str = str(self.wallet_dir.relative_to(self.path.parent))
        except ValueError:
            wallet_dir = str(self.wallet_dir)
        document = {
            "project": {"profile": self.profile, "wallet": self.wallet, "wallet_dir": wallet_dir},
            "profiles": {name: profile.to_toml() for name, profile in sorted(self.profiles.items())},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sealrun.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                tomli_w.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)


def default_config(
    path: Path, *, embedded_url: str, anvil_url: str, rpc_url: str | None = None
) -> ProjectConfig:
    """The config ``sealrun init`` writes: embedded and anvil profiles (+ ``custom`` if given)."""
    profiles = {
        "embedded": ChainProfile("embedded", "embedded", embedded_url),
        "anvil": ChainProfile("anvil", "anvil", anvil_url),
    }
    if rpc_url is not None:
        profiles["custom"] = ChainProfile("custom", "custom", rpc_url)
    selected = "custom" if rpc_url is not None else "embedded"
    return ProjectConfig(
        path=path, profile=selected, wallet="default", wallet_dir=path.parent / "wallets", profiles=profiles
    )
