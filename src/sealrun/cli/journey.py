"""The seed's confidential journey, step by step: what ``tee encryptedpush``, ``tee decrypt``,
``task logs`` and ``app run`` do, as functions the commands and ``sealrun demo`` share.

Files of a project (next to ``sealrun.toml``):

- ``tee/inputs`` (the private inputs), ``tee/encryptedOutputs`` (downloads), ``tee/outputs``
  (decrypted results): the seed's layout (``sealrun tee init``);
- ``keys/result.key``: the requester's result identity (age, 0600; ``sealrun tee init`` or
  ``sealrun result generate-keys`` make it, else it is created on first use); its recipient is
  registered with the SMS so enclaves seal results to it;
- ``.sealrun/datasets/``: sealed inputs and their dataset keys (0600), kept by their owner.

Error codes: ``TEE_INPUTS_MISSING``, ``DATASET_FILENAME_INVALID`` (:class:`~sealrun.errors.ConfigError`).
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.models import Deal
from sealrun.adapters.http.market import MarketClient, order_wire
from sealrun.adapters.http.signing import SignedRequestAuth
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.http.store import StoreClient
from sealrun.adapters.sealedfiles import open_path, read_identity, seal_path, write_identity
from sealrun.api.ids import order_hash_hex
from sealrun.api.market import OrderWire
from sealrun.api.store import BlobOut
from sealrun.cli import results
from sealrun.cli.order import KINDS, order_files, read_orders_file, write_orders_file
from sealrun.cli.result import RESULT_KEY
from sealrun.cli.session import Session
from sealrun.core.orders import (
    ZERO_ADDRESS,
    AppOrder,
    DatasetOrder,
    Order,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    make_tag,
    order_from_json,
    order_to_json,
)
from sealrun.core.requests import RequestDomain
from sealrun.core.sealing import Identity
from sealrun.core.tasks.filenames import check_dataset_filename, folder_dataset_filename
from sealrun.errors import ConfigError, OrderError, SealrunError

__all__ = [
    "Journey",
    "market_order",
    "open_result",
    "result_identity",
]

DATASETS = Path(".sealrun") / "datasets"
TEE_TAG = make_tag(TagBit.TEE)


def result_identity(project_root: Path, *, create: bool) -> tuple[Path, Identity]:
    """The requester's result identity (``keys/result.key``), created if ``create``.

    Raises:
        ConfigError: ``KEY_FILE_NOT_FOUND`` when missing and not ``create``.
    """
    path = project_root / RESULT_KEY
    if not path.exists() and create:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_identity(path, Identity.generate())
    return path, read_identity(path)


def open_result(sealed: Path, out_dir: Path, identity: Identity) -> tuple[Path, list[Path]]:
    """Open a sealed result (an archive of the app's ``IEXEC_OUT``) into ``out_dir/<name>``.

    Returns:
        The folder written and the files in it.

    Raises:
        SealError: wrong key, tampered, truncated (nothing is left on disk).
    """
    name = sealed.name.removesuffix(".age").removesuffix(".result")
    target = out_dir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    opened = open_path(sealed, target, [identity], overwrite=True)
    files = (
        sorted(p for p in opened.path.rglob("*") if p.is_file()) if opened.path.is_dir() else [opened.path]
    )
    return opened.path, files


def market_order(raw: OrderWire, kind: str) -> Order:
    """An order from the market's wire form (its EIP-712 message plus ``sign``)."""
    return order_from_json(raw, kind=kind)


ProgressBar = Callable[[str, "int | None"], AbstractContextManager[Callable[[int], None]]]


@contextmanager
def _silent_progress(_description: str, _total: int | None) -> Iterator[Callable[[int], None]]:
    yield lambda _n: None


@dataclass
class Journey:
    """One requester's view of the marketplace: chain, store, SMS and market clients.

    Args:
        session: the CLI session (config, profile, wallet options).
        progress: makes a byte progress bar ``progress(description, total)`` for uploads and
            downloads (the commands pass :meth:`Output.progress`; silent by default).
    """

    session: Session
    progress: ProgressBar = field(default=_silent_progress, repr=False)

    def __post_init__(self) -> None:
        self.market: Marketplace = self.session.market(wallet=True)
        sender = self.market.sender
        if sender is None or sender.account is None:  # session.market(wallet=True) always has one
            raise ConfigError("no wallet is unlocked", code="WALLET_REQUIRED")
        self.account: LocalAccount = sender.account
        profile = self.session.profile
        hub, _ = profile.deployed()
        self.domain = RequestDomain(chain_id=self.market.rpc.chain_id, hub=hub)
        self.root = self.session.config.path.parent

    @property
    def key(self) -> bytes:
        """The wallet's private key (signs requests to the services)."""
        return bytes(self.account.key)

    def store(self) -> StoreClient:
        """A client of the store."""
        return StoreClient(self.session.service_url("store"))

    def signer(self) -> SignedRequestAuth:
        """Signs store requests with this wallet (uploads of its datasets, reads of its tasks' output)."""
        return SignedRequestAuth(self.key, self.domain)

    def download_result(self, followed: results.FollowedTask) -> Path:
        """Download a COMPLETED task's sealed result into the project's downloads folder."""
        with self.progress(
            f"downloading the result of 0x{followed.task.task_id.hex()[:8]}…", None
        ) as advance:
            return results.download_result(
                followed, results.sealed_folder(self.root), self.signer(), progress=advance
            )

    def read_logs(
        self, followed: results.FollowedTask, identity: Identity | None = None, *, keep: bool = True
    ) -> dict[str, Any]:
        """Download and open a task's sealed logs (COMPLETED or FAILED) with the result key.

        With ``keep`` they are opened into ``tee/outputs/<task>.logs`` (or the current folder),
        replacing what an earlier read left there; without it, into a temporary folder that is
        removed once read.

        Returns:
            ``sealed_logs`` (the download), ``opened`` (the folder, with ``keep``), ``logs``
            (file name → text) and ``reason`` (the enclave's failure message, or ``None``).

        Raises:
            ConfigError: ``TASK_NO_LOGS``, ``KEY_FILE_NOT_FOUND``; StorageError; SealError.
        """
        with self.progress("downloading the sealed logs", None) as advance:
            sealed = results.download_logs(
                followed,
                self.session.service_url("store"),
                results.sealed_folder(self.root),
                self.signer(),
                progress=advance,
            )
        key = identity or result_identity(self.root, create=False)[1]
        opened_root = self.root / "tee" / "outputs"
        parent = opened_root if opened_root.is_dir() else Path.cwd()
        with tempfile.TemporaryDirectory(dir=parent, prefix=".logs-") as scratch:
            folder, files = open_result(sealed, Path(scratch), key)
            logs = {f.relative_to(folder).as_posix(): f.read_text("utf-8", "replace") for f in files}
            opened: str | None = None
            if keep:
                # The same sealed logs open to the same files: the newest read replaces the last.
                target = parent / folder.name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                folder.rename(target)
                opened = str(target)
        return {
            "sealed_logs": str(sealed),
            "opened": opened,
            "logs": logs,
            "reason": results.attested_reason(logs),
        }

    def sms(self) -> SmsClient:
        """A client of the SMS, bound to this deployment."""
        return SmsClient(self.session.service_url("sms"), domain=self.domain)

    def book(self) -> MarketClient:
        """A client of the market."""
        return MarketClient(self.session.service_url("market"))

    def upload(self, path: Path, *, asset: str) -> BlobOut:
        """Upload a sealed file to the store with a signed request, for the registered ``asset``.

        The store takes it only if this wallet owns ``asset`` on chain and its registered
        checksum is the file's: register first (at :meth:`StoreClient.blob_url`), upload second.
        """
        store = self.store()
        try:
            with self.progress(f"uploading {path.name}", path.stat().st_size) as advance:
                return store.upload_dataset(path, signer=self.signer(), asset=asset, progress=advance)
        finally:
            store.close()

    def explain_failure(self, followed: results.FollowedTask) -> dict[str, Any]:
        """The attested reason of a FAILED task, read from its sealed logs: ``{"reason": ...}``,
        or ``{"reason_error": {code, message}}`` when the logs cannot be read (the task's
        failure code and ``logs_command`` are in :func:`results.describe` either way)."""
        try:
            read = self.read_logs(followed, keep=False)
        except SealrunError as error:
            return {"reason": None, "reason_error": {"code": error.code, "message": error.message}}
        return {"reason": read["reason"], "sealed_logs": read["sealed_logs"]}

    def register_result_key(self) -> tuple[Path, str]:
        """Make sure the SMS seals this requester's results to its result key.

        Returns:
            The identity file and its recipient.
        """
        path, identity = result_identity(self.root, create=True)
        recipient = str(identity.recipient)
        sms = self.sms()
        try:
            if sms.result_recipient(self.account.address) != recipient:
                sms.set_result_recipient(self.key, recipient)
        finally:
            sms.close()
        return path, recipient

    def publish(self, kind: str, order: Order) -> str:
        """Publish a signed order on the market and keep it in signed-orders.json; returns its hash."""
        book = self.book()
        try:
            book.publish(kind, order_wire(order), chain_id=self.domain.chain_id, hub=self.domain.hub)
        finally:
            book.close()
        _, signed_path = order_files(self.session)
        signed = read_orders_file(signed_path)
        signed[KINDS[kind]] = order_to_json(order)
        write_orders_file(signed_path, signed)
        return order_hash_hex(self.market.order_hash(order))

    def encrypted_push(self, app: str, inputs: Path, *, name: str | None = None) -> dict[str, Any]:
        """Seal ``inputs`` (a file or a folder) to a fresh dataset key, upload it, register it, give
        its key and its file name to the SMS, and publish a dataset order that only ``app`` may
        use, for this requester.

        The app finds a file under its own name in ``IEXEC_IN`` and a folder as ``<name>.zip``
        (``IEXEC_DATASET_FILENAME``, docs/apps.md); the name stays off chain.

        Raises:
            ConfigError: ``TEE_INPUTS_MISSING`` (missing, an empty folder, or not a file or
                folder), ``DATASET_FILENAME_INVALID`` (checked before anything is written);
                StorageError, ChainError, SecretError, OrderError.
        """
        if not (inputs.is_file() or (inputs.is_dir() and any(inputs.iterdir()))):
            raise ConfigError(
                f"{inputs} is missing or empty: `sealrun tee init`, then put your private inputs "
                "there, or name one file with --inputs",
                code="TEE_INPUTS_MISSING",
            )
        filename = check_dataset_filename(inputs.name)
        folder = self.root / DATASETS
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        identity = Identity.generate()
        stamp = time.strftime("%Y%m%dT%H%M%S")
        sealed = seal_path(
            inputs, folder / f"{inputs.name}-{stamp}.age", [identity.recipient], overwrite=True
        )
        # Register first, upload second: the store takes a signed upload only for a dataset the
        # signer owns whose checksum is the blob's, and the blob's URL is known in advance.
        store = self.store()
        try:
            uri = store.blob_url(sealed.checksum)
        finally:
            store.close()
        dataset = self.market.registry.create_dataset(
            name=name or f"{inputs.name}-{sealed.checksum[2:14]}",
            uri=uri,
            checksum=bytes.fromhex(sealed.checksum[2:]),
        )
        self.upload(sealed.path, asset=dataset.address)
        key_file = write_identity(folder / f"{dataset.address}.key", identity, overwrite=True)
        sms = self.sms()
        try:
            sms.push_dataset_key(self.key, dataset.address, str(identity), filename=filename)
        finally:
            sms.close()
        result_key, recipient = self.register_result_key()
        order = self.market.sign(
            DatasetOrder(
                dataset=dataset.address,
                datasetprice=0,
                volume=1_000_000,
                tag=TEE_TAG,
                apprestrict=app,
                requesterrestrict=self.account.address,
                salt=secrets.token_bytes(32),
            )
        )
        order_hash = self.publish("dataset", order)
        params = {"iexec_args": ""}
        return {
            "dataset": dataset.address,
            "dataset_filename": filename if inputs.is_file() else folder_dataset_filename(filename),
            "uri": uri,
            "checksum": sealed.checksum,
            "sealed": str(sealed.path),
            "dataset_key": str(key_file),
            "datasetorder": order_hash,
            "result_key": str(result_key),
            "result_recipient": recipient,
            "params": params,
            "next": f"sealrun order init --buy --app {app} --dataset {dataset.address} "
            f"--params '{json.dumps(params)}'",
        }

    # -- buying a task ---------------------------------------------------------------------------
    def _cheapest(
        self,
        kind: str,
        *,
        app: str | None = None,
        dataset: str | None = None,
        workerpool: str | None = None,
        category: int | None = None,
        tag: str | None = None,
    ) -> Order | None:
        book = self.book()
        try:
            found = book.orderbook(
                kind, limit=1, app=app, dataset=dataset, workerpool=workerpool, category=category, tag=tag
            )
        finally:
            book.close()
        return market_order(found[0].order, kind) if found else None

    def _local(self, kind: str, field: str, value: str) -> Order | None:
        _, signed_path = order_files(self.session)
        raw = read_orders_file(signed_path).get(KINDS[kind])
        if raw is None:
            return None
        order = order_from_json(raw)
        return order if str(getattr(order, field, "")).lower() == value.lower() else None

    def find_orders(
        self, app: str, dataset: str | None, workerpool: str | None, category: int | None
    ) -> tuple[AppOrder, DatasetOrder | None, WorkerpoolOrder]:
        """The cheapest open app, dataset and workerpool orders on the market (or signed locally).

        Raises:
            OrderError: ``ORDER_MISSING`` naming what has no open order.
        """
        app_order = self._cheapest("app", app=app) or self._local("app", "app", app)
        if not isinstance(app_order, AppOrder):
            raise OrderError(f"no open app order for {app} on the market", code="ORDER_MISSING")
        dataset_order: DatasetOrder | None = None
        if dataset is not None:
            found = self._cheapest("dataset", dataset=dataset) or self._local("dataset", "dataset", dataset)
            if not isinstance(found, DatasetOrder):
                raise OrderError(f"no open dataset order for {dataset} on the market", code="ORDER_MISSING")
            dataset_order = found
        pool_order = self._cheapest(
            "workerpool", workerpool=workerpool, category=category, tag="0x" + TEE_TAG.hex()
        )
        if not isinstance(pool_order, WorkerpoolOrder):
            raise OrderError("no open TEE workerpool order on the market", code="ORDER_MISSING")
        return app_order, dataset_order, pool_order

    def request(
        self,
        app: AppOrder,
        dataset: DatasetOrder | None,
        pool: WorkerpoolOrder,
        *,
        args: str = "",
        input_files: tuple[str, ...] = (),
        secrets_by_index: dict[int, str] | None = None,
    ) -> RequestOrder:
        """Sign a request order for one task matching ``app``, ``dataset`` and ``pool``."""
        params: dict[str, Any] = {"iexec_args": args}
        if input_files:
            params["iexec_input_files"] = list(input_files)
        if secrets_by_index:
            params["iexec_secrets"] = {str(k): v for k, v in sorted(secrets_by_index.items())}
        order = RequestOrder(
            app=app.app,
            appmaxprice=app.appprice,
            dataset=dataset.dataset if dataset else ZERO_ADDRESS,
            datasetmaxprice=dataset.datasetprice if dataset else 0,
            workerpool=pool.workerpool,
            workerpoolmaxprice=pool.workerpoolprice,
            requester=self.account.address,
            volume=1,
            tag=TEE_TAG,
            category=pool.category,
            beneficiary=self.account.address,
            params=json.dumps(params, separators=(",", ":"), sort_keys=True),
            salt=secrets.token_bytes(32),
        )
        signed = self.market.sign(order)
        assert isinstance(signed, RequestOrder)
        return signed

    def fill(
        self, app: AppOrder, dataset: DatasetOrder | None, pool: WorkerpoolOrder, request: RequestOrder
    ) -> tuple[Deal, bytes, int]:
        """Deposit what the escrow lacks, match the orders; returns (deal, first task id, price).

        Raises:
            OrderError: the orders do not match (with the values); ChainError.
        """
        price = app.appprice + pool.workerpoolprice + (dataset.datasetprice if dataset else 0)
        total = price * request.volume
        free = self.market.hub.balance(self.account.address).free
        if free < total:
            self.market.deposit(total - free)
        self.market.plan(app, dataset, pool, request)  # explains a mismatch before any gas is spent
        deal = self.market.match(app, dataset, pool, request)
        return deal, self.market.tasks(deal)[0].task_id, total
