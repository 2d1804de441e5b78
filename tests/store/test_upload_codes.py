"""Upload refusals with their exact codes: a name that is not a sha256, a body cut short."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sealrun.errors import StorageError
from sealrun.services.store.blobs import BlobRepository, parse_checksum
from tests.store.test_api import bearer


@pytest.mark.parametrize("name", ["notahash", "ab" * 31, "zz" * 32, "0x" + "ab" * 33])
def test_a_blob_name_that_is_not_a_sha256_is_refused(client: TestClient, name: str) -> None:
    answer = client.put(f"/v1/blobs/{name}", content=b"x", headers=bearer())
    assert (answer.status_code, answer.json()["code"]) == (400, "STORAGE_BAD_CHECKSUM")
    with pytest.raises(StorageError) as caught:
        parse_checksum(name)
    assert caught.value.code == "STORAGE_BAD_CHECKSUM"


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_an_upload_shorter_than_its_declared_length_is_truncated_and_leaves_nothing(tmp_path: Path) -> None:
    repository = BlobRepository(tmp_path, max_blob_bytes=1 << 20, quota_bytes=1 << 20)
    repository.open()
    data = b"the first half"
    checksum = hashlib.sha256(data + b" and the rest").hexdigest()
    with pytest.raises(StorageError) as caught:
        asyncio.run(repository.put(checksum, _chunks(data), declared_size=len(data) + 13))
    assert (caught.value.code, caught.value.message) == (
        "STORAGE_TRUNCATED",
        "the upload ended before its declared length",
    )
    # Nothing published, nothing left in incoming/, no quota held.
    assert not repository.path_of(checksum).exists()
    assert list((tmp_path / "incoming").iterdir()) == []
    assert repository.used_bytes == 0
    # The same bytes, complete, are accepted.
    stored = asyncio.run(
        repository.put(checksum, _chunks(data, b" and the rest"), declared_size=len(data) + 13)
    )
    assert stored.size == len(data) + 13
