"""Pre-compute: fetch the sealed dataset and the input files, verify, open into ``IEXEC_IN``.

The dataset ciphertext is downloaded first and its sha256 compared with the checksum in the
secrets bundle *before* anything is decrypted (``INPUT_CHECKSUM_MISMATCH``); then it is
opened streaming into ``IEXEC_IN/<name>`` (``INPUT_OPEN_FAILED`` on a wrong key or a tampered
or truncated ciphertext, and nothing partial is left); a sealed *folder* (a sealrun
folder archive) is unpacked into the folder ``IEXEC_IN/<name>``, a sealed file stays a file.
Input files (``params.input_files``) are public URLs, as in iExec; they are copied into
``IEXEC_IN`` under their own names.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

import httpx

from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.enclave.envelopes import open_dataset
from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.fetching import fetch_url, url_basename

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
    max_bytes: int,
    client: httpx.Client | None = None,
) -> PreparedInputs:
    """Fill ``input_dir`` with the task's dataset (opened) and input files.

    Args:
        bundle: the task's secrets bundle (dataset URL, checksum and key; input file URLs).
        input_dir: the app's ``IEXEC_IN`` on the host.
        fetch_dir: scratch folder for the ciphertext (deleted by the caller).
        max_bytes: the largest input accepted.
        client: the HTTP client for http(s) URLs.

    Returns:
        The :class:`PreparedInputs`.

    Raises:
        TaskFailedError: ``INPUT_FETCH_FAILED``, ``INPUT_CHECKSUM_MISMATCH`` or ``INPUT_OPEN_FAILED``.
    """
    fetched = 0
    dataset_filename = None
    used: set[str] = set()
    if bundle.dataset is not None:
        sealed = fetch_url(bundle.dataset.url, fetch_dir / "dataset.age", max_bytes=max_bytes, client=client)
        fetched += sealed.size
        expected = bundle.dataset.checksum
        if not hmac.compare_digest("0x" + sealed.sha256.hex(), expected):
            raise TaskFailedError(
                FailureCode.INPUT_CHECKSUM_MISMATCH,
                f"the dataset's sha256 is 0x{sealed.sha256.hex()}, the order says {expected}",
            )
        dataset_filename = _dataset_name(bundle.dataset.url)
        used.add(dataset_filename)
        open_dataset(sealed.path, input_dir / dataset_filename, bundle.dataset.key, max_bytes=max_bytes)
        sealed.path.unlink()
    names: list[str] = []
    for index, url in enumerate(bundle.params.input_files, start=1):
        name = url_basename(url, f"input-{index}")
        if name in used:
            name = f"{index}-{name}"
        used.add(name)
        fetched += fetch_url(url, input_dir / name, max_bytes=max_bytes, client=client).size
        names.append(name)
    return PreparedInputs(dataset_filename=dataset_filename, input_files=tuple(names), fetched_bytes=fetched)
