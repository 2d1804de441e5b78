"""The data owner's side: protect a file or folder as a dataset only chosen apps may read.

:meth:`DataOwner.protect` seals the data to a fresh dataset key (age), registers the dataset on
chain, uploads the sealed file to the store, gives the key and the file name to the SMS and
publishes a dataset order. The app finds a file under its own name in ``IEXEC_IN`` and a folder
as ``<name>.zip`` (``IEXEC_DATASET_FILENAME``, docs/apps.md); the name stays off chain.

Error codes: ``TEE_INPUTS_MISSING``, ``DATASET_FILENAME_INVALID`` (:class:`~sealrun.errors.ConfigError`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealrun.adapters.sealedfiles import seal_path, write_identity
from sealrun.core.orders import DatasetOrder
from sealrun.core.sealing import Identity
from sealrun.core.tasks.filenames import check_dataset_filename, folder_dataset_filename
from sealrun.errors import ConfigError
from sealrun.requester.buying import TEE_TAG, publish_order
from sealrun.requester.connection import Connection
from sealrun.requester.layout import DATASETS
from sealrun.requester.smssecrets import push_dataset_key

__all__ = ["DataOwner", "ProtectedDataset"]


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

    def to_json(self) -> dict[str, Any]:
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
