"""The data owner's side: protect a file or folder as a dataset only chosen apps may read.

:meth:`DataOwner.protect` seals the data to a fresh dataset key (age), registers the dataset on
chain, uploads the sealed file to the store, gives the key and the file name to the SMS and
publishes a dataset order. The app finds a file under its own name in ``IEXEC_IN`` and a folder
as ``<name>.zip`` (``IEXEC_DATASET_FILENAME``, docs/apps.md); the name stays off chain.

Grants (docs/decisions/0070-dataset-grants.md): :meth:`DataOwner.grant` lets an app (and
optionally only one requester and one workerpool) use a dataset a number of times at a
price until an expiry, :meth:`DataOwner.grants` lists them and :meth:`DataOwner.revoke`
ends one at once (no new match, no further key release). A requester runs under a grant
with ``Requester.run(app, grant=...)``; :func:`granted_order` builds the dataset order that
references it.

Release policy (docs/decisions/0090-owner-release-policy.md): :meth:`DataOwner.set_policy`
gives the SMS the owner's rules for every release of a dataset's key (TEE types, minimum TCB
status, maximum collateral age, isolation mode, workerpools); :meth:`DataOwner.policy` reads
them back.

Error codes: ``TEE_INPUTS_MISSING``, ``DATASET_FILENAME_INVALID`` (:class:`~sealrun.errors.ConfigError`);
``ORDER_GRANT_TERMS_INVALID``, ``ORDER_GRANT_UNKNOWN``, ``ORDER_GRANT_REVOKED``,
``ORDER_GRANT_EXPIRED``, ``ORDER_GRANT_EXHAUSTED`` (:class:`~sealrun.errors.OrderError`); the
registry's revert codes (:class:`~sealrun.errors.ChainError`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from sealrun.adapters.sealedfiles import seal_path, write_identity
from sealrun.core.orders import ZERO_ADDRESS, DatasetOrder, Grant, grant_order, is_grant_id
from sealrun.core.releases import canonical_policy, parse_owner_policy
from sealrun.core.sealing import Identity
from sealrun.core.tasks.filenames import check_dataset_filename, folder_dataset_filename
from sealrun.errors import ConfigError, OrderError
from sealrun.requester.buying import TEE_TAG, publish_order
from sealrun.requester.connection import Connection
from sealrun.requester.layout import DATASETS
from sealrun.requester.smssecrets import dataset_policy, push_dataset_key, set_dataset_policy

if TYPE_CHECKING:
    from sealrun.api.sms import DatasetPolicyOut

__all__ = ["DataOwner", "ProtectedDataset", "ProtectedDatasetJson", "find_grant", "granted_order"]

_INACTIVE = {
    "revoked": "ORDER_GRANT_REVOKED",
    "expired": "ORDER_GRANT_EXPIRED",
    "exhausted": "ORDER_GRANT_EXHAUSTED",
}
#: At most this many uses per grant (the registry's bound is 2**64 - 1).
MAX_GRANT_USES = 2**64 - 1


def find_grant(connection: Connection, grant: bytes) -> Grant:
    """The grant ``grant`` with the uses this marketplace's hub counted.

    Raises:
        OrderError: ``ORDER_GRANT_UNKNOWN`` (not a grant id, or no such grant).
    """
    if not is_grant_id(grant):
        raise OrderError(f"0x{grant.hex()} is not a grant id", code="ORDER_GRANT_UNKNOWN")
    market = connection.market
    found = market.registry.get_grant(grant, hub=market.hub.address)
    if found is None:
        raise OrderError(f"no grant 0x{grant.hex()} on this marketplace", code="ORDER_GRANT_UNKNOWN")
    return found


def granted_order(connection: Connection, grant: bytes) -> DatasetOrder:
    """The dataset order that references ``grant`` (no owner signature needed: the grant is).

    Raises:
        OrderError: ``ORDER_GRANT_UNKNOWN``; ``ORDER_GRANT_REVOKED``, ``ORDER_GRANT_EXPIRED``,
            ``ORDER_GRANT_EXHAUSTED`` (matching would revert with the same code).
    """
    found = find_grant(connection, grant)
    status = found.status(connection.market.chain_time())
    if status != "active":
        raise OrderError(f"grant 0x{grant.hex()} is {status}", code=_INACTIVE[status])
    return grant_order(found)


class ProtectedDatasetJson(TypedDict):
    """:meth:`ProtectedDataset.to_json`."""

    dataset: str
    dataset_filename: str
    uri: str
    checksum: str
    sealed: str
    dataset_key: str
    datasetorder: str


@dataclass(frozen=True)
class ProtectedDataset:
    """A dataset sealed, registered, uploaded, its key in the SMS and an order published."""

    address: str
    filename: str
    uri: str
    checksum: str
    sealed: Path
    key_file: Path
    order_hash: str

    def to_json(self) -> ProtectedDatasetJson:
        """The JSON ``tee encryptedpush`` prints (before the requester's part)."""
        return {
            "dataset": self.address,
            "dataset_filename": self.filename,
            "uri": self.uri,
            "checksum": self.checksum,
            "sealed": str(self.sealed),
            "dataset_key": str(self.key_file),
            "datasetorder": self.order_hash,
        }


@dataclass
class DataOwner:
    """A wallet that owns datasets.

    Args:
        connection: the owner's wallet on the marketplace (:class:`~.connection.Connection`).
    """

    connection: Connection

    def protect(
        self, path: Path, *, app: str, requester: str | None = None, name: str | None = None
    ) -> ProtectedDataset:
        """Seal ``path`` (a file, or a non-empty folder) and offer it to ``app`` only, for
        ``requester`` only (default: this wallet).

        Raises:
            ConfigError: ``TEE_INPUTS_MISSING`` (missing, an empty folder, or not a file or
                folder), ``DATASET_FILENAME_INVALID`` (checked before anything is written);
                StorageError, ChainError, SecretError, OrderError.
        """
        connection = self.connection
        if not (path.is_file() or (path.is_dir() and any(path.iterdir()))):
            raise ConfigError(
                f"{path} is missing or empty: `sealrun tee init`, then put your private inputs "
                "there, or name one file with --inputs",
                code="TEE_INPUTS_MISSING",
            )
        filename = check_dataset_filename(path.name)
        folder = connection.root / DATASETS
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        identity = Identity.generate()
        stamp = time.strftime("%Y%m%dT%H%M%S")
        sealed = seal_path(path, folder / f"{path.name}-{stamp}.age", [identity.recipient], overwrite=True)
        # Register first, upload second: the store takes a signed upload only for a dataset the
        # signer owns whose checksum is the blob's, and the blob's URL is known in advance.
        store = connection.store()
        try:
            uri = store.blob_url(sealed.checksum)
        finally:
            store.close()
        dataset = connection.market.registry.create_dataset(
            name=name or f"{path.name}-{sealed.checksum[2:14]}",
            uri=uri,
            checksum=bytes.fromhex(sealed.checksum[2:]),
        )
        self.upload(sealed.path, asset=dataset.address)
        key_file = write_identity(folder / f"{dataset.address}.key", identity, overwrite=True)
        push_dataset_key(connection, dataset.address, str(identity), filename=filename)
        order = connection.market.sign(
            DatasetOrder(
                dataset=dataset.address,
                datasetprice=0,
                volume=1_000_000,
                tag=TEE_TAG,
                apprestrict=app,
                requesterrestrict=requester or connection.address,
                salt=secrets.token_bytes(32),
            )
        )
        return ProtectedDataset(
            address=dataset.address,
            filename=filename if path.is_file() else folder_dataset_filename(filename),
            uri=uri,
            checksum=sealed.checksum,
            sealed=sealed.path,
            key_file=key_file,
            order_hash=publish_order(connection, "dataset", order),
        )

    def upload(self, path: Path, *, asset: str) -> None:
        """Upload a sealed file to the store with a signed request, for the registered ``asset``.

        The store takes it only if this wallet owns ``asset`` on chain and its registered
        checksum is the file's: register first (at the store's blob URL), upload second.
        """
        connection = self.connection
        store = connection.store()
        try:
            with connection.progress(f"uploading {path.name}", path.stat().st_size) as advance:
                store.upload_dataset(path, signer=connection.signer(), asset=asset, progress=advance)
        finally:
            store.close()

    # -- release policy (decision 0090) ---------------------------------------------------
    def set_policy(self, dataset: str, policy: Mapping[str, object] | str) -> DatasetPolicyOut:
        """Set (or replace) ``dataset``'s release policy: the SMS then applies it at every
        release of its key (TEE types, minimum TCB status, maximum collateral age, isolation
        mode, workerpools; docs/decisions/0090-owner-release-policy.md).

        Args:
            dataset: a dataset this wallet owns.
            policy: the document (a mapping or JSON text), version 1.

        Returns:
            The stored policy: its canonical form and digest (what audit entries name).

        Raises:
            SecretError: ``SECRET_POLICY_INVALID`` (checked here first), ``SECRET_NOT_OWNER``,
                ``SECRET_ASSET_UNKNOWN``.
        """
        document = canonical_policy(parse_owner_policy(policy))
        return set_dataset_policy(self.connection, dataset, document)

    def policy(self, dataset: str) -> DatasetPolicyOut | None:
        """``dataset``'s release policy at the SMS, or ``None`` when its owner set none."""
        return dataset_policy(self.connection.service_url("sms"), dataset)

    # -- grants -----------------------------------------------------------------------------
    def grant(
        self,
        dataset: str,
        *,
        app: str,
        max_uses: int,
        expiry: int,
        price: int = 0,
        requester: str | None = None,
        workerpool: str | None = None,
        bulk: bool = False,
    ) -> Grant:
        """Grant ``app`` up to ``max_uses`` tasks on ``dataset`` at ``price`` each until
        ``expiry`` (unix seconds), for ``requester`` and ``workerpool`` only if given.

        Raises:
            OrderError: ``ORDER_GRANT_TERMS_INVALID`` (checked before any gas is spent); ChainError.
        """
        market = self.connection.market
        if not 0 < max_uses <= MAX_GRANT_USES:
            raise OrderError(f"max uses must be 1 to {MAX_GRANT_USES}", code="ORDER_GRANT_TERMS_INVALID")
        if not 0 <= price < 2**128:
            raise OrderError("the price must be 0 to 2**128 - 1", code="ORDER_GRANT_TERMS_INVALID")
        if expiry <= market.chain_time() or expiry >= 2**64:
            raise OrderError("the expiry must be in the future", code="ORDER_GRANT_TERMS_INVALID")
        grant = market.registry.grant(
            dataset=dataset, app=app, requester=requester or ZERO_ADDRESS,
            workerpool=workerpool or ZERO_ADDRESS, price=price, max_uses=max_uses, expiry=expiry, bulk=bulk,
        )  # fmt: skip
        return find_grant(self.connection, grant)

    def grants(self, dataset: str | None = None) -> list[Grant]:
        """The grants of ``dataset`` (default: of every dataset), newest first."""
        market = self.connection.market
        return market.registry.grants(hub=market.hub.address, dataset=dataset)

    def revoke(self, grant: bytes) -> Grant:
        """Revoke ``grant`` for good: no new deal, and the SMS releases no key under it.

        Raises:
            OrderError: ``ORDER_GRANT_UNKNOWN``; ChainError (``ORDER_GRANT_REVOKED`` if it already
                was, ``REGISTRY_NOT_OWNER`` if this wallet does not own the dataset).
        """
        find_grant(self.connection, grant)
        self.connection.market.registry.revoke_grant(grant)
        return find_grant(self.connection, grant)
