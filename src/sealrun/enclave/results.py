"""Upload the sealed result to the blob store named in the secrets bundle.

``result_upload.url`` is the store's blob collection (``http(s)://host/v1/blobs``) or its
root; the upload is ``PUT /v1/blobs/{sha256}`` with the per-task bearer token (see
:mod:`sealrun.adapters.storeclient`). A ``file:`` URL or an empty one means "keep it
local" (the developer loop): nothing is uploaded and the report carries no upload URL.
A failed upload is ``RESULT_UPLOAD_FAILED``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from sealrun.adapters.storeclient import StoreClient
from sealrun.core.tasks import FailureCode, SecretsBundle
from sealrun.enclave.failure import TaskFailedError
from sealrun.errors import StorageError

__all__ = ["upload_result"]

_COLLECTION = "/v1/blobs"


def upload_result(sealed: Path, task: SecretsBundle) -> str | None:
    """Upload ``sealed`` as the task's result; return its URL, or ``None`` when kept local.

    Raises:
        TaskFailedError: ``RESULT_UPLOAD_FAILED``.
    """
    url = task.result_upload.url
    if urlparse(url).scheme not in ("http", "https"):
        return None
    store = StoreClient(url.rstrip("/").removesuffix(_COLLECTION))
    try:
        return store.upload_with_token(sealed, task.result_upload.token).url
    except StorageError as error:
        raise TaskFailedError(
            FailureCode.RESULT_UPLOAD_FAILED, f"the result upload failed: {error.code}"
        ) from error
    finally:
        store.close()
