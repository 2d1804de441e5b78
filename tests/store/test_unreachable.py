"""A store that does not answer is named as such, and a failed download leaves no file behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealrun.adapters.http.store import StoreClient
from sealrun.adapters.localchain.anvil import free_port
from sealrun.errors import StorageError


def test_an_unreachable_store_is_named_and_leaves_nothing(tmp_path: Path) -> None:
    store = StoreClient(f"http://127.0.0.1:{free_port()}", timeout=5)
    checksum = "ab" * 32
    try:
        with pytest.raises(StorageError) as downloaded:
            store.download(checksum, tmp_path / "result.age")
        with pytest.raises(StorageError) as uploaded:
            store.upload_bytes(b"sealed", checksum, headers={})
    finally:
        store.close()
    assert downloaded.value.code == uploaded.value.code == "STORAGE_UNREACHABLE"
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial download
