"""Typed binding of the registry: apps, datasets and workerpools, each identified by an address.

An asset's address is derived from its creator and name (``appId(creator, name)``), so
registering the same name twice from one account reverts with ``asset-exists``. The hub
reads owners from this registry when it matches orders.
"""

from __future__ import annotations

from eth_utils import to_checksum_address

from sealrun.adapters.chain.binding import BoundContract, is_zero
from sealrun.adapters.chain.models import App, Dataset, Workerpool
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import Receipt, TransactionSender

__all__ = ["RegistryClient"]


class RegistryClient(BoundContract):
    """The registry at ``address``.

    Args:
        rpc: the connection.
        address: the registry contract (``HubClient.registry_address()``).
        sender: signs the writes (``None`` for a read-only client).
    """

    def __init__(self, rpc: Rpc, address: str, sender: TransactionSender | None = None) -> None:
        super().__init__(rpc, address, "Registry", sender)

    def app(self, address: str) -> App | None:
        """The app registered at ``address`` (``None`` if unknown)."""
        address = to_checksum_address(address)
        row = self.call(f"read app {address}", "apps", address)
        owner, name, uri, checksum, fingerprint, tech = row
        if is_zero(owner):
            return None
        return App(
            address, to_checksum_address(owner), name, uri, bytes(checksum), bytes(fingerprint), bytes(tech)
        )

    def dataset(self, address: str) -> Dataset | None:
        """The dataset registered at ``address`` (``None`` if unknown)."""
        address = to_checksum_address(address)
        owner, name, uri, checksum = self.call(f"read dataset {address}", "datasets", address)
        if is_zero(owner):
            return None
        return Dataset(address, to_checksum_address(owner), name, uri, bytes(checksum))

    def workerpool(self, address: str) -> Workerpool | None:
        """The workerpool registered at ``address`` (``None`` if unknown)."""
        address = to_checksum_address(address)
        owner, description, stake, reward = self.call(f"read workerpool {address}", "workerpools", address)
        if is_zero(owner):
            return None
        return Workerpool(address, to_checksum_address(owner), description, int(stake), int(reward))

    def create_app(
        self, *, name: str, bundle_uri: str, checksum: bytes, fingerprint: bytes, tee_technology: bytes
    ) -> App:
        """Register an app owned by the sender; returns it."""
        receipt = self.send(
            "createApp", [name, bundle_uri, checksum, fingerprint, tee_technology], f"register app {name!r}"
        )
        created = self.event(receipt, "AppCreated")
        return App(
            to_checksum_address(created["app"]),
            to_checksum_address(created["owner"]),
            name,
            bundle_uri,
            checksum,
            fingerprint,
            tee_technology,
        )

    def create_dataset(self, *, name: str, uri: str, checksum: bytes) -> Dataset:
        """Register a dataset owned by the sender; returns it."""
        receipt = self.send("createDataset", [name, uri, checksum], f"register dataset {name!r}")
        created = self.event(receipt, "DatasetCreated")
        return Dataset(
            to_checksum_address(created["dataset"]),
            to_checksum_address(created["owner"]),
            name,
            uri,
            checksum,
        )

    def create_workerpool(
        self, *, description: str, worker_stake_ratio: int, scheduler_reward_ratio: int
    ) -> Workerpool:
        """Register a workerpool owned by the sender; returns it."""
        receipt = self.send(
            "createWorkerpool",
            [description, worker_stake_ratio, scheduler_reward_ratio],
            f"register workerpool {description!r}",
        )
        created = self.event(receipt, "WorkerpoolCreated")
        return Workerpool(
            to_checksum_address(created["workerpool"]),
            to_checksum_address(created["owner"]),
            description,
            worker_stake_ratio,
            scheduler_reward_ratio,
        )

    def transfer(self, kind: str, asset: str, owner: str) -> Receipt:
        """Give an app, dataset or workerpool (``kind``) to ``owner``."""
        function = {"app": "transferApp", "dataset": "transferDataset", "workerpool": "transferWorkerpool"}[
            kind
        ]
        return self.send(function, [asset, owner], f"transfer {kind} {asset} to {owner}")
