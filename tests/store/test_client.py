"""``StoreClient`` against the real store app in process: a signed dataset upload the store
verifies (signer, ownership on chain, the signed path), typed answers and the store's codes."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.http.signing import SignedRequestAuth
from sealrun.adapters.http.store import StoreClient
from sealrun.api.store import BlobOut
from sealrun.core.requests import RequestDomain
from sealrun.errors import RequestError, StorageError
from sealrun.testing.chainstate import InMemoryChainReader
from tests.store.conftest import CHAIN_ID, HUB, NOW, register_dataset, sha

OWNER_KEY = bytes.fromhex("22" * 32)
STRANGER_KEY = bytes.fromhex("33" * 32)


def signer(key: bytes, now: int = NOW) -> SignedRequestAuth:
    return SignedRequestAuth(key, RequestDomain(chain_id=CHAIN_ID, hub=HUB), clock=lambda: now)


def test_a_signed_dataset_upload_through_the_client(
    client: TestClient, chain: InMemoryChainReader, tmp_path: Path
) -> None:
    data = secrets.token_bytes(50_000)
    source = tmp_path / "dataset.age"
    source.write_bytes(data)
    asset = register_dataset(chain, OWNER_KEY, data)
    store = StoreClient("http://store", http=client)
    with pytest.raises(StorageError) as stranger:
        store.upload_dataset(source, signer=signer(STRANGER_KEY), asset=asset)
    assert stranger.value.code == "STORAGE_FORBIDDEN"
    with pytest.raises(RequestError) as stale:
        store.upload_dataset(source, signer=signer(OWNER_KEY, NOW - 3600), asset=asset)
    assert stale.value.code == "REQUEST_EXPIRED"
    blob = store.upload_dataset(source, signer=signer(OWNER_KEY), asset=asset)
    assert isinstance(blob, BlobOut)
    assert (blob.checksum, blob.size) == ("0x" + sha(data), len(data))
    assert blob.url.endswith(store.blob_url(blob.checksum).removeprefix(store.base_url))
    assert store.head(blob.checksum) == len(data)
    assert store.download(blob.checksum, tmp_path / "copy").read_bytes() == data
