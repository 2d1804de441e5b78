"""The store's HTTP API in-process: uploads, downloads with ranges, limits and refusals."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.http.signing import SignedRequestAuth
from sealrun.adapters.http.store import StoreClient
from sealrun.api.signing import request_action, signature_headers
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.core.uploads import mint_upload_token
from sealrun.errors import StorageError
from sealrun.services.store import StoreSettings, create_app
from sealrun.services.store.usecases import ASSET_HEADER
from sealrun.testing.chainstate import InMemoryChainReader
from tests.store.conftest import (
    BENEFICIARY_KEY,
    CHAIN_ID,
    HUB,
    NOW,
    TASK,
    TOKEN_KEY,
    register_dataset,
    sha,
)


def bearer(expires_at: int = NOW + 60) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_upload_token(TOKEN_KEY.encode(), TASK, expires_at=expires_at)}


def signed(
    key: bytes,
    checksum: str,
    *,
    now: int = NOW,
    hub: str = HUB,
    chain_id: int = CHAIN_ID,
    asset: str | None = None,
    method: str = "PUT",
    path: str | None = None,
) -> dict[str, str]:
    action = request_action(method, path or f"/v1/blobs/{checksum}")
    signature = sign_request(
        key, RequestDomain(chain_id=chain_id, hub=hub), action=action, body=b"", timestamp=now,
        nonce=secrets.token_bytes(32),
    )  # fmt: skip
    headers = signature_headers(signature)
    if asset is not None:
        headers[ASSET_HEADER] = asset
    return headers


def reader(method: str = "GET", checksum: str = "", *, key: bytes = BENEFICIARY_KEY) -> dict[str, str]:
    """Signature headers of the task's beneficiary (or ``key``) reading blob ``checksum``."""
    return signed(key, checksum, method=method, path=f"/v1/blobs/{checksum}")


def test_token_upload_then_the_beneficiarys_download(client: TestClient) -> None:
    data = b"sealed result bytes" * 100
    response = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"checksum": "0x" + sha(data), "size": len(data), "url": body["url"], "created": True}
    assert body["url"].endswith(f"/v1/blobs/{sha(data)}")
    got = client.get(f"/v1/blobs/0x{sha(data)}", headers=reader("GET", f"0x{sha(data)}"))
    assert got.status_code == 200
    assert got.headers["cache-control"] == "private, no-store"
    assert got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"] == f'attachment; filename="{sha(data)}"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["etag"] == f'"{sha(data)}"'


def test_head_and_ranges(client: TestClient) -> None:
    data = bytes(range(256)) * 4
    client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer()).raise_for_status()
    head = client.head(f"/v1/blobs/{sha(data)}", headers=reader("HEAD", sha(data)))
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(data))
    assert head.headers["accept-ranges"] == "bytes"
    assert head.content == b""
    part = client.get(f"/v1/blobs/{sha(data)}", headers={"range": "bytes=10-19", **reader("GET", sha(data))})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = client.get(f"/v1/blobs/{sha(data)}", headers={"range": "bytes=-5", **reader("GET", sha(data))})
    assert tail.content == data[-5:]
    beyond = client.get(
        f"/v1/blobs/{sha(data)}", headers={"range": f"bytes={len(data)}-", **reader("GET", sha(data))}
    )
    assert beyond.status_code == 416
    assert beyond.json()["code"] == "STORAGE_RANGE_NOT_SATISFIABLE"
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_upload_is_idempotent(client: TestClient) -> None:
    data = b"same"
    first = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer()).json()
    second = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer()).json()
    assert first["created"] is True
    assert second["created"] is False


def test_bytes_that_do_not_match_the_name_are_refused_and_leave_nothing(
    client: TestClient, settings: StoreSettings
) -> None:
    data = b"the real content"
    wrong = sha(b"other")
    response = client.put(f"/v1/blobs/{wrong}", content=data, headers=bearer())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "STORAGE_CHECKSUM_MISMATCH"
    assert client.get(f"/v1/blobs/{wrong}").json()["code"] == "STORAGE_NOT_FOUND"
    assert list((settings.root / "incoming").iterdir()) == []
    assert client.get("/v1/status").json()["used_bytes"] == 0


@pytest.mark.parametrize(
    "name", ["..%2F..%2Fetc%2Fpasswd", "report.pdf", "0x" + "g" * 64, "a" * 63, "A" * 65]
)
def test_names_other_than_a_sha256_are_refused(client: TestClient, name: str) -> None:
    response = client.put(f"/v1/blobs/{name}", content=b"x", headers=bearer())
    assert response.status_code in (400, 404)
    assert client.get(f"/v1/blobs/{name}").status_code in (400, 404)


def test_upper_case_and_0x_names_are_the_same_blob(client: TestClient) -> None:
    data = b"case"
    client.put(f"/v1/blobs/0x{sha(data).upper()}", content=data, headers=bearer()).raise_for_status()
    assert client.get(f"/v1/blobs/{sha(data)}", headers=reader("GET", sha(data))).content == data


def test_size_limit(client: TestClient) -> None:
    data = b"x" * ((1 << 20) + 1)
    response = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer())
    assert response.status_code == 413
    assert response.json()["code"] == "STORAGE_TOO_LARGE"


def test_chunked_upload_over_the_limit_is_cut_off(client: TestClient, settings: StoreSettings) -> None:
    data = b"y" * ((1 << 20) + 10)
    response = client.put(
        f"/v1/blobs/{sha(data)}", content=iter([data[:600_000], data[600_000:]]), headers=bearer()
    )
    assert response.json()["code"] == "STORAGE_TOO_LARGE"
    assert list((settings.root / "incoming").iterdir()) == []


def test_quota(client: TestClient) -> None:
    for index in range(3):
        data = bytes([index]) * (1 << 20)
        client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer()).raise_for_status()
    data = b"one more"
    response = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer())
    assert response.status_code == 507
    assert response.json()["code"] == "STORAGE_QUOTA_EXCEEDED"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "REQUEST_UNSIGNED"),
        ({"authorization": "Bearer nonsense"}, "UPLOAD_TOKEN_INVALID"),
        (bearer(expires_at=NOW), "UPLOAD_TOKEN_EXPIRED"),
        (
            {"authorization": "Bearer " + mint_upload_token(b"z" * 32, TASK, expires_at=NOW + 9)},
            "UPLOAD_TOKEN_INVALID",
        ),
    ],
)
def test_uploads_without_a_valid_credential_are_refused(
    client: TestClient, headers: dict[str, str], code: str
) -> None:
    data = b"payload"
    response = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == code


def test_signed_dataset_upload(client: TestClient, uploader: bytes, chain: InMemoryChainReader) -> None:
    data = b"sealed dataset"
    headers = signed(uploader, sha(data), asset=register_dataset(chain, uploader, data))
    assert client.put(f"/v1/blobs/{sha(data)}", content=data, headers=headers).status_code == 200
    replay = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=headers)
    assert replay.json()["code"] == "REQUEST_REPLAYED"


def test_stale_signed_upload_is_refused(client: TestClient, uploader: bytes) -> None:
    data = b"sealed dataset 2"
    response = client.put(
        f"/v1/blobs/{sha(data)}", content=data, headers=signed(uploader, sha(data), now=NOW - 3600)
    )
    assert response.status_code == 401
    assert response.json()["code"] == "REQUEST_EXPIRED"


def test_allow_list_refuses_other_signers_forged_and_foreign_domain_signatures(
    settings: StoreSettings, uploader: bytes, chain: InMemoryChainReader
) -> None:
    from eth_account import Account

    allowed = Account.from_key(uploader).address
    restricted = settings.model_copy(update={"allowed_uploaders": [allowed]})
    with TestClient(create_app(restricted, clock=lambda: NOW, chain=chain)) as client:
        data = b"allowed"
        asset = register_dataset(chain, uploader, data)
        response = client.put(
            f"/v1/blobs/{sha(data)}", content=data, headers=signed(uploader, sha(data), asset=asset)
        )
        assert response.status_code == 200
        stranger = bytes(Account.create().key)
        stranger_data = b"the stranger's own dataset"
        stranger_asset = register_dataset(chain, stranger, stranger_data)
        response = client.put(
            f"/v1/blobs/{sha(stranger_data)}",
            content=stranger_data,
            headers=signed(stranger, sha(stranger_data), asset=stranger_asset),
        )
        assert response.status_code == 403
        assert response.json()["code"] == "STORAGE_FORBIDDEN"
        other = b"for another blob"
        forged = signed(uploader, sha(b"something else"), asset=asset)
        response = client.put(f"/v1/blobs/{sha(other)}", content=other, headers=forged)
        assert response.json()["code"] == "STORAGE_FORBIDDEN"
        for kwargs in ({"chain_id": 1}, {"hub": "0x00000000000000000000000000000000000000bb"}):
            wrong_domain = signed(uploader, sha(other), asset=asset, **kwargs)
            assert (
                client.put(f"/v1/blobs/{sha(other)}", content=other, headers=wrong_domain).status_code == 403
            )


def test_random_bytes_are_not_a_signature(
    client: TestClient, chain: InMemoryChainReader, uploader: bytes
) -> None:
    """65 random bytes used to recover some address and pass; now they are refused."""
    data = b"no signature at all"
    asset = register_dataset(chain, uploader, data)
    headers = signed(uploader, sha(data), asset=asset)
    # Random bytes with an arbitrary v (here 0x5b): eth_account read v as EIP-155 and recovered.
    headers["Sealrun-Signature"] = "0x" + bytes.fromhex("8f" * 32 + "3c" * 32 + "5b").hex()
    response = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "REQUEST_SIGNATURE_INVALID")
    # A high s (the malleable twin of a valid signature) is refused the same way.
    high_s = "0x" + ("11" * 32) + ("ff" * 32) + "1b"
    response = client.put(
        f"/v1/blobs/{sha(data)}", content=data, headers={**headers, "Sealrun-Signature": high_s}
    )
    assert (response.status_code, response.json()["code"]) == (401, "REQUEST_SIGNATURE_INVALID")
    # Random bytes of canonical shape recover an address nobody holds: it owns nothing.
    canonical = (
        "0x" + ("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798") + ("22" * 32) + "1b"
    )
    response = client.put(
        f"/v1/blobs/{sha(data)}", content=data, headers={**headers, "Sealrun-Signature": canonical}
    )
    assert (response.status_code, response.json()["code"]) == (403, "STORAGE_FORBIDDEN")
    assert client.head(f"/v1/blobs/{sha(data)}").status_code == 404


def test_a_signer_must_own_the_dataset_that_names_the_blob(
    client: TestClient, chain: InMemoryChainReader, uploader: bytes
) -> None:
    from eth_account import Account

    data = b"bytes nobody registered"
    url = f"/v1/blobs/{sha(data)}"
    no_asset = client.put(url, content=data, headers=signed(uploader, sha(data)))
    assert (no_asset.status_code, no_asset.json()["code"]) == (400, "STORAGE_ASSET_INVALID")
    unknown = client.put(url, content=data, headers=signed(uploader, sha(data), asset="0x" + "ab" * 20))
    assert (unknown.status_code, unknown.json()["code"]) == (403, "STORAGE_FORBIDDEN")
    someone_elses = register_dataset(chain, bytes(Account.create().key), data)
    theirs = client.put(url, content=data, headers=signed(uploader, sha(data), asset=someone_elses))
    assert (theirs.status_code, theirs.json()["code"]) == (403, "STORAGE_FORBIDDEN")
    mine_for_other_bytes = register_dataset(chain, uploader, b"other bytes")
    other = client.put(url, content=data, headers=signed(uploader, sha(data), asset=mine_for_other_bytes))
    assert (other.status_code, other.json()["code"]) == (403, "STORAGE_FORBIDDEN")
    assert client.head(url).status_code == 404
    mine = register_dataset(chain, uploader, data)
    accepted = client.put(url, content=data, headers=signed(uploader, sha(data), asset=mine))
    assert accepted.status_code == 200, accepted.text
    assert client.get(url).content == data


def test_without_a_chain_signed_uploads_are_refused(settings: StoreSettings, uploader: bytes) -> None:
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        data = b"cannot check"
        response = client.put(
            f"/v1/blobs/{sha(data)}",
            content=data,
            headers=signed(uploader, sha(data), asset="0x" + "ab" * 20),
        )
        assert (response.status_code, response.json()["code"]) == (401, "STORAGE_UNAUTHORIZED")
        assert client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer()).status_code == 200


@pytest.mark.parametrize(
    ("value", "status", "code"),
    [
        ("bytes=²-5", 400, "STORAGE_RANGE_INVALID"),
        ("bytes=٣-5", 400, "STORAGE_RANGE_INVALID"),
        ("bytes=" + "9" * 30 + "-", 400, "STORAGE_RANGE_INVALID"),
        ("bytes=5-2", 400, "STORAGE_RANGE_INVALID"),
        ("bytes=0-1,3-4", 400, "STORAGE_RANGE_INVALID"),
        ("items=0-1", 400, "STORAGE_RANGE_INVALID"),
        ("bytes=" + "9" * 19 + "-", 416, "STORAGE_RANGE_NOT_SATISFIABLE"),
    ],
)
def test_range_errors_carry_a_code(client: TestClient, value: str, status: int, code: str) -> None:
    data = bytes(range(100))
    client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer()).raise_for_status()
    headers = {key.encode(): item.encode() for key, item in reader("GET", sha(data)).items()}
    response = client.get(f"/v1/blobs/{sha(data)}", headers={b"range": value.encode(), **headers})
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.headers["content-type"] == "application/problem+json"


def test_restart_drops_interrupted_uploads_and_recounts(settings: StoreSettings) -> None:
    data = b"kept"
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer()).raise_for_status()
    (settings.root / "incoming" / "crashed.part").write_bytes(b"half an upload")
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        assert list((settings.root / "incoming").iterdir()) == []
        assert client.get("/v1/status").json()["used_bytes"] == len(data)


def test_store_client_round_trip(client: TestClient, tmp_path: Path) -> None:
    source = tmp_path / "result.age"
    source.write_bytes(secrets.token_bytes(300_000))
    store = StoreClient("http://store", http=client)
    token = mint_upload_token(TOKEN_KEY.encode(), TASK, expires_at=NOW + 60)
    info = store.upload_with_token(source, token)
    assert info.checksum == "0x" + sha(source.read_bytes())

    beneficiary = SignedRequestAuth(
        BENEFICIARY_KEY, RequestDomain(chain_id=CHAIN_ID, hub=HUB), clock=lambda: NOW
    )

    assert store.head(info.checksum, signer=beneficiary) == source.stat().st_size
    target = store.download(info.checksum, tmp_path / "copy", signer=beneficiary)
    assert target.read_bytes() == source.read_bytes()
    with pytest.raises(StorageError) as caught:
        store.download("0x" + "0" * 64, tmp_path / "none")
    assert caught.value.code == "STORAGE_NOT_FOUND"
    assert not (tmp_path / "none").exists()


def test_store_client_reports_progress_both_ways(client: TestClient, tmp_path: Path) -> None:
    source = tmp_path / "result.age"
    source.write_bytes(secrets.token_bytes(900_000))  # under the test store's 1 MiB cap
    store = StoreClient("http://store", http=client)
    token = mint_upload_token(TOKEN_KEY.encode(), TASK, expires_at=NOW + 60)
    sent: list[int] = []
    info = store.upload_file(
        source,
        headers={"authorization": f"Bearer {token}", "x-sealrun-blob-kind": "result"},
        progress=sent.append,
    )
    assert sum(sent) == source.stat().st_size

    beneficiary = SignedRequestAuth(
        BENEFICIARY_KEY, RequestDomain(chain_id=CHAIN_ID, hub=HUB), clock=lambda: NOW
    )

    received: list[int] = []
    store.download(info.checksum, tmp_path / "copy", signer=beneficiary, progress=received.append)
    assert sum(received) == source.stat().st_size
