"""Upload the sealed result to the blob store named in the secrets bundle.

``result_upload.url`` is the store's blob collection (``http(s)://host/v1/blobs``) or its
root; the upload is ``PUT /v1/blobs/{sha256}`` with the per-task bearer token (see
:mod:`sealrun.adapters.http.store`). A ``file:`` URL or an empty one means "keep it
local" (the developer loop): nothing is uploaded and the report carries no upload URL.
A failed upload is ``RESULT_UPLOAD_FAILED`` (an infrastructure failure the pool retries).
The store unreachable or failing (an infrastructure code,
:func:`~sealrun.core.tasks.classify_failure`) is tried again in place first, twice, after
1 s and 2 s: the upload is a ``PUT`` of content-addressed bytes, so a second one after a lost
answer stores nothing twice.

The sealed logs go to the same store with the same token (:func:`upload_logs`), so a
requester can fetch them (the store records them as the task's ``logs``, served to its
beneficiary only, whether the task completed or failed); a failed log upload never
changes the task's outcome (the receipt stands, the logs stay with the worker).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sealrun.adapters.http.store import StoreClient
from sealrun.api.blobs import store_of_upload_url
from sealrun.core.tasks import FailureClass, FailureCode, SecretsBundle, classify_failure
from sealrun.enclave.failure import TaskFailedError
from sealrun.errors import StorageError

__all__ = ["upload_logs", "upload_result"]


#: Waits before the in-place retries of a result upload the store failed for its own reasons.
UPLOAD_RETRY_DELAYS = (1.0, 2.0)


def upload_result(
    sealed: Path,
    task: SecretsBundle,
    *,
    sleep: Callable[[float], None] = time.sleep,
    ca_file: Path | None = None,
) -> str | None:
    """Upload ``sealed`` as the task's result; return its URL, or ``None`` when kept local.

    Raises:
        TaskFailedError: ``RESULT_UPLOAD_FAILED``.
    """
    base = store_of_upload_url(task.result_upload.url)
    if base is None:
        return None
    store = StoreClient(base, ca_file=ca_file)
    try:
        for delay in (*UPLOAD_RETRY_DELAYS, None):
            try:
                return store.upload_with_token(sealed, task.result_upload.token).url
            except StorageError as error:
                if delay is None or classify_failure(error.code) is not FailureClass.INFRASTRUCTURE:
                    raise TaskFailedError(
                        FailureCode.RESULT_UPLOAD_FAILED, f"the result upload failed: {error.code}"
                    ) from error
                sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover  # the loop returns or raises
    finally:
        store.close()


def upload_logs(sealed: Path, task: SecretsBundle, *, ca_file: Path | None = None) -> str | None:
    """Upload the sealed logs like the result, best effort; return their URL or ``None``."""
    base = store_of_upload_url(task.result_upload.url)
    if base is None:
        return None
    store = StoreClient(base, ca_file=ca_file)
    try:
        return store.upload_with_token(sealed, task.result_upload.token, kind="logs").url
    except StorageError:
        return None
    finally:
        store.close()
