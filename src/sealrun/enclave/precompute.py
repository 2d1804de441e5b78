"""Pre-compute: fetch the sealed dataset and the input files, verify, open into ``IEXEC_IN``.

The dataset ciphertext is downloaded first and its sha256 compared with the checksum in the
secrets bundle *before* anything is decrypted (``INPUT_CHECKSUM_MISMATCH``); then it is
opened streaming into ``IEXEC_IN/<name>`` (``INPUT_OPEN_FAILED`` on a wrong key or a tampered
or truncated ciphertext, and nothing partial is left); a sealed *folder* (a sealrun
folder archive) is unpacked into the folder ``IEXEC_IN/<name>``, a sealed file stays a file.
Input files (``params.input_files``) are public URLs, as in iExec; they are copied into
``IEXEC_IN`` under their own names.

Every URL comes from someone who may be hostile (the dataset owner, the requester), so all of
them are fetched by one :class:`~sealrun.enclave.fetching.InputFetcher` under the worker's
:class:`~sealrun.core.netpolicy.FetchPolicy` and the task's input budget (the manifest's
``input_size_mb``, capped by the policy). Every URL's scheme and origin are checked before
the first byte is fetched, so a task naming ``file:///etc/shadow`` anywhere fetches nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sealrun.core.netpolicy import FetchPolicy
from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.enclave.envelopes import open_dataset
from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.fetching import InputFetcher, Resolver, disk_free_bytes, resolve_host, url_basename

__all__ = ["PreparedInputs", "prepare_inputs"]


@dataclass(frozen=True)
class PreparedInputs:
    """What pre-compute put in ``IEXEC_IN``: names the app is told, and bytes fetched."""

    dataset_filename: str | None
    input_files: tuple[str, ...]
    fetched_bytes: int


def _dataset_name(url: str) -> str:
    name = url_basename(url, "dataset")
    return name.removesuffix(".age") or "dataset"


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
            dataset_filename = _dataset_name(bundle.dataset.url)
            used.add(dataset_filename)
            open_dataset(sealed.path, input_dir / dataset_filename, bundle.dataset.key, max_bytes=limit)
            sealed.path.unlink()
        for index, url in enumerate(bundle.params.input_files, start=1):
            name = url_basename(url, f"input-{index}")
            if name in used:
                name = f"{index}-{name}"
            used.add(name)
            fetcher.fetch(url, input_dir / name)
            names.append(name)
        fetched = fetcher.fetched_bytes
    return PreparedInputs(dataset_filename=dataset_filename, input_files=tuple(names), fetched_bytes=fetched)
