"""Typed binding of the registry: apps, datasets and workerpools, each identified by an address.

An asset's address is derived from its creator and name (``appId(creator, name)``), so
registering the same name twice from one account reverts with ``asset-exists``. The hub
reads owners from this registry when it matches orders.

Dataset grants (:mod:`sealrun.core.orders.grants`): :meth:`RegistryClient.grant`,
:meth:`~RegistryClient.revoke_grant`, :meth:`~RegistryClient.get_grant` (with the uses one
hub counted) and :meth:`~RegistryClient.grants` (every grant of a dataset).
"""

from __future__ import annotations

from eth_utils import to_checksum_address

from sealrun.adapters.chain.binding import ZERO_ADDRESS, BoundContract, is_zero
from sealrun.adapters.chain.models import App, Dataset, Workerpool
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import Receipt, TransactionSender
from sealrun.core.orders.grants import Grant, grant_id

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

    # -- dataset grants ------------------------------------------------------------------------
    def grant(
        self,
        *,
        dataset: str,
        app: str,
        requester: str = ZERO_ADDRESS,
        workerpool: str = ZERO_ADDRESS,
        price: int,
        max_uses: int,
        expiry: int,
        bulk: bool = False,
    ) -> bytes:
        """Grant ``app`` uses of ``dataset`` (the sender owns it); returns the grant id."""
        args = [
            to_checksum_address(dataset), to_checksum_address(app), to_checksum_address(requester),
            to_checksum_address(workerpool), price, max_uses, expiry, bulk,
        ]  # fmt: skip
        receipt = self.send("grant", args, f"grant dataset {dataset} to app {app}")
        return bytes(self.event(receipt, "GrantCreated")["grantId"])

    def revoke_grant(self, grant: bytes) -> Receipt:
        """Revoke a grant of a dataset the sender owns."""
        return self.send("revokeGrant", [grant], f"revoke grant 0x{grant.hex()}")

    def grant_count(self) -> int:
        """How many grants this registry has made."""
        return int(self.call("count grants", "grantCount"))

    def get_grant(self, grant: bytes, *, hub: str) -> Grant | None:
        """The grant ``grant`` with the uses ``hub`` counted (``None`` if unknown)."""
        row = self.call(f"read grant 0x{grant.hex()}", "grants", grant)
        dataset, owner, app, requester, workerpool, price, max_uses, expiry, bulk, revoked = row
        if is_zero(dataset):
            return None
        uses = int(self.call("read a grant's uses", "grantUses", to_checksum_address(hub), grant))
        return Grant(
            grant_id=bytes(grant), dataset=to_checksum_address(dataset), owner=to_checksum_address(owner),
            app=to_checksum_address(app), requester=to_checksum_address(requester),
            workerpool=to_checksum_address(workerpool), price=int(price), max_uses=int(max_uses),
            expiry=int(expiry), bulk=bool(bulk), revoked=bool(revoked), uses=uses,
        )  # fmt: skip

    def grants(self, *, hub: str, dataset: str | None = None, limit: int = 1000) -> list[Grant]:
        """The newest ``limit`` grants (of ``dataset`` only, if given), newest first."""
        found: list[Grant] = []
        for number in range(self.grant_count(), 0, -1):
            if len(found) >= limit:
                break
            grant = self.get_grant(grant_id(number), hub=hub)
            if grant is not None and (dataset is None or grant.dataset == to_checksum_address(dataset)):
                found.append(grant)
        return found
