"""Fixtures for the blob store: settings, an in-process app and signing helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from sealrun.core.chainstate import ZERO_ADDRESS, DatasetRecord, DealRecord, TaskRecord, TaskStatus
from sealrun.services.store import StoreSettings, create_app
from sealrun.testing.chainstate import InMemoryChainReader

TOKEN_KEY = "k" * 32
HUB = "0x00000000000000000000000000000000000000aa"
CHAIN_ID = 31337
NOW = 1_800_000_000
#: The task whose upload token the tests use, and its beneficiary (the only one who reads it).
TASK = bytes(range(32))
BENEFICIARY_KEY = bytes.fromhex("11" * 32)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def settings(tmp_path: Path) -> StoreSettings:
    return StoreSettings(
        root=tmp_path / "store",
        upload_token_key=TOKEN_KEY,  # type: ignore[arg-type]
        chain_id=CHAIN_ID,
        hub=HUB,
        max_blob_bytes=1 << 20,
        quota_bytes=3 << 20,
    )


def register_task(chain: InMemoryChainReader, task_id: bytes, beneficiary: str) -> None:
    """Put ``task_id`` on chain in a deal whose beneficiary is ``beneficiary``."""
    deal_id = bytes(reversed(task_id))
    chain.add_deal(
        DealRecord(
            deal_id=deal_id,
            app="0x" + "01" * 20,
            dataset=ZERO_ADDRESS,
            workerpool="0x" + "02" * 20,
            requester=beneficiary,
            beneficiary=beneficiary,
            tag=bytes(32),
            params="{}",
            category_time=300,
        )
    )
    chain.add_task(
        TaskRecord(
            task_id=task_id, deal_id=deal_id, index=0, status=TaskStatus.ACTIVE, final_deadline=NOW + 900
        )
    )


@pytest.fixture
def chain() -> InMemoryChainReader:
    reader = InMemoryChainReader()
    register_task(reader, TASK, Account.from_key(BENEFICIARY_KEY).address)
    return reader


def register_dataset(chain: InMemoryChainReader, owner_key: bytes, data: bytes) -> str:
    """Register a dataset owned by ``owner_key`` whose checksum is ``data``'s; return its address."""
    address: str = Account.create().address
    owner = Account.from_key(owner_key).address
    chain.add_dataset(
        DatasetRecord(
            address=address,
            owner=owner,
            url=f"http://store/v1/blobs/{sha(data)}",
            checksum=bytes.fromhex(sha(data)),
        )
    )
    return address


@pytest.fixture
def client(settings: StoreSettings, chain: InMemoryChainReader) -> Iterator[TestClient]:
    app = create_app(settings, clock=lambda: NOW, chain=chain)
    with TestClient(app, base_url="http://store") as test_client:
        yield test_client


@pytest.fixture
def uploader() -> bytes:
    return bytes(Account.create().key)
