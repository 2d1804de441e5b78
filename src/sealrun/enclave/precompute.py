"""Pre-compute: fetch the sealed dataset and the input files, verify, open into ``IEXEC_IN``.

The dataset ciphertext is downloaded first and its sha256 compared with the checksum in the
secrets bundle *before* anything is decrypted (``INPUT_CHECKSUM_MISMATCH``); then it is
opened streaming (``INPUT_OPEN_FAILED`` on a wrong key or a tampered or truncated ciphertext,
or a hostile folder archive, and nothing partial is left) and delivered as iExec's
pre-compute delivers a dataset, as **one file** in ``IEXEC_IN`` named by
``IEXEC_DATASET_FILENAME`` (docs/apps.md):

- a sealed *file* arrives as that file under the name its owner pushed with its key (the
  bundle's ``dataset.filename``, by default the pushed file's own name), or under the
  dataset's address when she pushed none (what iExec's worker does);
- a sealed *folder* (a sealrun folder archive) arrives as a ZIP of its contents, named
  ``<name>.zip``: the form iExec apps read a multi-file dataset in (a DataProtector protected
  data is such a ZIP, read at ``IEXEC_IN/IEXEC_DATASET_FILENAME`` by the iApp templates'
  deserializer), so an app never finds a folder where iExec would give it a file.

Input files (``params.input_files``) are public URLs, as in iExec; they are copied into
``IEXEC_IN`` under their own names (``<index>-<name>`` when a name is taken).

Every URL comes from someone who may be hostile (the dataset owner, the requester), so all of
them are fetched by one :class:`~sealrun.enclave.fetching.InputFetcher` under the worker's
:class:`~sealrun.core.netpolicy.FetchPolicy` and the task's input budget (the manifest's
``input_size_mb``, capped by the policy). Every URL's scheme and origin are checked before
the first byte is fetched, so a task naming ``file:///etc/shadow`` anywhere fetches nothing.
"""

from __future__ import annotations

import hmac
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sealrun.core.netpolicy import FetchPolicy
from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.core.tasks.filenames import check_dataset_filename, folder_dataset_filename
from sealrun.core.tasks.secretsbundle import DatasetSecret
from sealrun.enclave.envelopes import open_dataset
from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.fetching import InputFetcher, Resolver, disk_free_bytes, resolve_host, url_basename
from sealrun.errors import ConfigError

__all__ = ["PreparedInputs", "prepare_inputs", "zip_folder"]


@dataclass(frozen=True)
class PreparedInputs:
    """What pre-compute put in ``IEXEC_IN``: names the app is told, and bytes fetched."""

    dataset_filename: str | None
    input_files: tuple[str, ...]
    fetched_bytes: int


# 1980-01-01, the earliest time a ZIP entry can hold: every delivery of a folder is the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _deliver_dataset(dataset: DatasetSecret, opened: Path, input_dir: Path) -> str:
    """Move the opened dataset into ``input_dir`` under its file name; return the name."""
    try:
        # The bundle's parser checked the name already; check again where it becomes a path.
        base = check_dataset_filename(dataset.filename or dataset.address)
        name = folder_dataset_filename(base) if opened.is_dir() else base
    except ConfigError as error:
        raise TaskFailedError(FailureCode.INPUT_OPEN_FAILED, error.message) from error
    if not opened.is_dir():
        shutil.move(opened, input_dir / name)
        return name
    zip_folder(opened, input_dir / name)
    shutil.rmtree(opened)
    return name


def zip_folder(folder: Path, target: Path) -> None:
    """Write the contents of ``folder`` as a deterministic ZIP (stored, sorted, fixed times).

    Member names are the paths relative to ``folder`` (no top-level folder), as in a
    DataProtector protected data; folders get their own ``name/`` entry so empty ones survive.
    The folder was unpacked by the safe unpacker: regular files and folders only.
    """
    members: list[tuple[str, Path]] = []
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in dirs:
            members.append(((Path(top) / name).relative_to(folder).as_posix() + "/", Path(top) / name))
        for name in files:
            members.append(((Path(top) / name).relative_to(folder).as_posix(), Path(top) / name))
    members.sort(key=lambda member: member[0].encode())
    with zipfile.ZipFile(target, "x", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for arcname, path in members:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
            if arcname.endswith("/"):
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
                continue
            info.external_attr = 0o100644 << 16
            size = path.stat().st_size
            with path.open("rb") as source, archive.open(info, "w", force_zip64=size >= 1 << 31) as sink:
                shutil.copyfileobj(source, sink, 1 << 20)


def prepare_inputs(
    bundle: SecretsBundle,
    *,
    input_dir: Path,
    fetch_dir: Path,
    fetch: FetchPolicy,
    requested_bytes: int | None = None,
    free_space: Callable[[Path], int] = disk_free_bytes,
    resolve: Resolver = resolve_host,
) -> PreparedInputs:
    """Fill ``input_dir`` with the task's dataset (opened) and input files.

    Args:
        bundle: the task's secrets bundle (dataset URL, checksum and key; input file URLs).
        input_dir: the app's ``IEXEC_IN`` on the host.
        fetch_dir: scratch folder for the ciphertext (deleted by the caller).
        fetch: the worker's fetch policy (where from, how much).
        requested_bytes: the app manifest's input budget in bytes, or None.
        free_space: bytes free on a folder's file system (tests inject it).
        resolve: the host resolver (tests inject it).

    Returns:
        The :class:`PreparedInputs`.

    Raises:
        TaskFailedError: ``INPUT_FETCH_FAILED`` (including every refused URL, address or
            size), ``INPUT_CHECKSUM_MISMATCH`` or ``INPUT_OPEN_FAILED``.
    """
    dataset_filename = None
    used: set[str] = set()
    names: list[str] = []
    with InputFetcher(
        fetch, requested_bytes=requested_bytes, free_space=free_space, resolve=resolve
    ) as fetcher:
        # Refuse a bad URL before fetching anything: nothing is downloaded for a task that
        # names a forbidden one, wherever it is in the list.
        if bundle.dataset is not None:
            fetcher.check(bundle.dataset.url)
        for url in bundle.params.input_files:
            fetcher.check(url)
        if bundle.dataset is not None:
            limit = fetcher.limit()
            sealed = fetcher.fetch(bundle.dataset.url, fetch_dir / "dataset.age")
            expected = bundle.dataset.checksum
            if not hmac.compare_digest("0x" + sealed.sha256.hex(), expected):
                raise TaskFailedError(
                    FailureCode.INPUT_CHECKSUM_MISMATCH,
                    f"the dataset's sha256 is 0x{sealed.sha256.hex()}, the order says {expected}",
                )
            opened = fetch_dir / "dataset"
            open_dataset(sealed.path, opened, bundle.dataset.key, max_bytes=limit)
            sealed.path.unlink()
            dataset_filename = _deliver_dataset(bundle.dataset, opened, input_dir)
            used.add(dataset_filename)
        for index, url in enumerate(bundle.params.input_files, start=1):
            name = url_basename(url, f"input-{index}")
            if name in used:
                name = f"{index}-{name}"
            used.add(name)
            fetcher.fetch(url, input_dir / name)
            names.append(name)
        fetched = fetcher.fetched_bytes
    return PreparedInputs(dataset_filename=dataset_filename, input_files=tuple(names), fetched_bytes=fetched)
