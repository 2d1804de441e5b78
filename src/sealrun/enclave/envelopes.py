"""Seal the enclave's outputs to the beneficiary and open the dataset, file to file.

Both stream in constant memory (:mod:`sealrun.core.sealing`) and write to a temporary name
renamed into place only on success: a wrong key, a tampered or truncated ciphertext never
leaves partial plaintext behind (``INPUT_OPEN_FAILED``).
"""

from __future__ import annotations

import os
from pathlib import Path

from sealrun.core.sealing import Identity, Recipient, open_stream, seal_stream
from sealrun.core.tasks import FailureCode
from sealrun.enclave.failure import TaskFailedError
from sealrun.errors import SealError

__all__ = ["open_file", "seal_file"]


def open_file(sealed: Path, target: Path, identity: str) -> int:
    """Open the age file ``sealed`` with ``identity`` into ``target``; return the plaintext size.

    Raises:
        TaskFailedError: ``INPUT_OPEN_FAILED`` (with the sealing error's code in the message).
    """
    partial = target.with_name(target.name + ".part")
    try:
        with sealed.open("rb") as source, partial.open("wb") as sink:
            info = open_stream(source, sink, [Identity.parse(identity)])
        os.replace(partial, target)
    except SealError as error:
        partial.unlink(missing_ok=True)
        raise TaskFailedError(
            FailureCode.INPUT_OPEN_FAILED, f"the dataset does not open: {error.code}"
        ) from error
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise TaskFailedError(FailureCode.INPUT_OPEN_FAILED, f"the dataset does not open: {error}") from error
    return info.plaintext_size


def seal_file(source: Path, target: Path, recipient: str) -> tuple[str, int]:
    """Seal ``source`` to ``recipient`` into ``target``.

    Returns:
        The ciphertext's checksum (``0x``-hex sha256) and size.

    Raises:
        SealError: ``SEAL_BAD_KEY`` for an unusable recipient.
    """
    partial = target.with_name(target.name + ".part")
    try:
        with source.open("rb") as plain, partial.open("wb") as sink:
            info = seal_stream(plain, sink, [Recipient.parse(recipient)])
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return info.checksum, info.ciphertext_size
