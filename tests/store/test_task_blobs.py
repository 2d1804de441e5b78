"""Only the requester downloads: a task's sealed result and logs go to its beneficiary alone.

Datasets stay public ciphertext; a blob uploaded with a task's upload token is the task's and
the store serves it only on a request signed by the beneficiary of the task's deal.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from sealrun.adapters.http.signing import SignedRequestAuth
from sealrun.adapters.http.store import StoreClient
from sealrun.api.signing import request_action, signature_headers
from sealrun.api.store import KIND_HEADER
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.core.uploads import mint_upload_token
from sealrun.errors import StorageError
from sealrun.services.store.usecases import ASSET_HEADER
from sealrun.testing.chainstate import InMemoryChainReader
from tests.store.conftest import BENEFICIARY_KEY, CHAIN_ID, HUB, NOW, TASK, TOKEN_KEY, register_dataset, sha

STRANGER_KEY = bytes.fromhex("22" * 32)


def token(task: bytes = TASK) -> str:
    return mint_upload_token(TOKEN_KEY.encode(), task, expires_at=NOW + 60)


def upload(client: TestClient, data: bytes, kind: str | None = None, task: bytes = TASK) -> None:
    headers = {"authorization": f"Bearer {token(task)}"}
    if kind is not None:
        headers[KIND_HEADER] = kind
    client.put(f"/v1/blobs/{sha(data)}", content=data, headers=headers).raise_for_status()


def signer_of(key: bytes) -> SignedRequestAuth:
    return SignedRequestAuth(key, RequestDomain(chain_id=CHAIN_ID, hub=HUB), clock=lambda: NOW)


def signed_get(key: bytes, path: str, method: str = "GET") -> dict[str, str]:
    signed = sign_request(
        key, RequestDomain(chain_id=CHAIN_ID, hub=HUB), action=request_action(method, path), body=b"",
        timestamp=NOW, nonce=secrets.token_bytes(32),
    )  # fmt: skip
    return signature_headers(signed)


def test_only_the_beneficiary_downloads_a_tasks_result(client: TestClient) -> None:
    data = secrets.token_bytes(1000)
    upload(client, data)
    path = f"/v1/blobs/{sha(data)}"
    unsigned = client.get(path)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "STORAGE_PRIVATE")
    stranger = client.get(path, headers=signed_get(STRANGER_KEY, path))
    assert (stranger.status_code, stranger.json()["code"]) == (403, "STORAGE_NOT_BENEFICIARY")
    assert Account.from_key(BENEFICIARY_KEY).address in stranger.json()["detail"]
    head = client.head(path, headers=signed_get(STRANGER_KEY, path, "HEAD"))
    assert head.status_code == 403
    beneficiary = client.get(path, headers=signed_get(BENEFICIARY_KEY, path))
    assert beneficiary.status_code == 200
    assert beneficiary.content == data
    # A signature is for one request: replaying the beneficiary's is refused.
    replay = signed_get(BENEFICIARY_KEY, path)
    assert client.get(path, headers=replay).status_code == 200
    replayed = client.get(path, headers=replay)
    assert (replayed.status_code, replayed.json()["code"]) == (401, "REQUEST_REPLAYED")
    # Signed for another blob: over this request it recovers someone else, not the beneficiary.
    other = client.get(path, headers=signed_get(BENEFICIARY_KEY, "/v1/blobs/" + "0" * 64))
    assert (other.status_code, other.json()["code"]) == (403, "STORAGE_NOT_BENEFICIARY")


def test_a_dataset_stays_public_ciphertext(client: TestClient, chain: InMemoryChainReader) -> None:
    owner = bytes(Account.create().key)
    data = b"sealed dataset"
    dataset = register_dataset(chain, owner, data)
    path = f"/v1/blobs/{sha(data)}"
    headers = {**signed_get(owner, path, "PUT"), ASSET_HEADER: dataset}
    client.put(path, content=data, headers=headers).raise_for_status()
    got = client.get(path)
    assert (got.status_code, got.content) == (200, data)
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_a_task_the_chain_does_not_know_is_nobodys_to_read(client: TestClient) -> None:
    data = b"orphan"
    upload(client, data, task=b"\x09" * 32)
    path = f"/v1/blobs/{sha(data)}"
    response = client.get(path, headers=signed_get(BENEFICIARY_KEY, path))
    assert (response.status_code, response.json()["code"]) == (403, "STORAGE_NOT_BENEFICIARY")


def test_the_beneficiary_lists_a_tasks_result_and_logs(client: TestClient, tmp_path: Path) -> None:
    result, logs = b"sealed result", b"sealed logs"
    upload(client, result, "result")
    upload(client, logs, "logs")
    path = f"/v1/tasks/0x{TASK.hex()}/blobs"
    stranger = client.get(path, headers=signed_get(STRANGER_KEY, path))
    assert (stranger.status_code, stranger.json()["code"]) == (403, "STORAGE_NOT_BENEFICIARY")
    unsigned = client.get(path)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "REQUEST_UNSIGNED")
    store = StoreClient("http://store", http=client)
    found = store.task_blobs(TASK, signer_of(BENEFICIARY_KEY))
    assert sorted((blob.kind, blob.checksum, blob.size) for blob in found) == [
        ("logs", "0x" + sha(logs), len(logs)),
        ("result", "0x" + sha(result), len(result)),
    ]
    assert all(blob.recorded_at == NOW for blob in found)
    copy = store.download(sha(logs), tmp_path / "logs.age", signer=signer_of(BENEFICIARY_KEY))
    assert copy.read_bytes() == logs
    bad = client.get("/v1/tasks/0x12/blobs")
    assert (bad.status_code, bad.json()["code"]) == (400, "STORAGE_BAD_TASK_ID")


def test_a_stranger_through_the_client_gets_the_code(client: TestClient, tmp_path: Path) -> None:
    data = b"not yours"
    upload(client, data)
    store = StoreClient("http://store", http=client)
    with pytest.raises(StorageError) as caught:
        store.download(sha(data), tmp_path / "copy", signer=signer_of(STRANGER_KEY))
    assert caught.value.code == "STORAGE_NOT_BENEFICIARY"
    assert not (tmp_path / "copy").exists()


def test_an_unknown_blob_kind_is_refused_and_nothing_is_stored(client: TestClient) -> None:
    data = b"what am I"
    headers = {"authorization": f"Bearer {token()}", KIND_HEADER: "secrets"}
    response = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "STORAGE_KIND_INVALID")
    assert client.get(f"/v1/blobs/{sha(data)}").json()["code"] == "STORAGE_NOT_FOUND"
