"""The store's HTTP API in-process: uploads, downloads with ranges, limits and refusals."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sealrun.adapters.storeclient import StoreClient, mint_upload_token
from sealrun.adapters.web.signing import request_action, signature_headers
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.errors import StorageError
from sealrun.services.store import StoreSettings, create_app
from tests.store.conftest import CHAIN_ID, HUB, NOW, TOKEN_KEY, sha

TASK = bytes(range(32))


def bearer(expires_at: int = NOW + 60) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_upload_token(TOKEN_KEY.encode(), TASK, expires_at=expires_at)}


def signed(
    key: bytes, checksum: str, *, now: int = NOW, hub: str = HUB, chain_id: int = CHAIN_ID
) -> dict[str, str]:
    action = request_action("PUT", f"/v1/blobs/{checksum}")
    signature = sign_request(
        key, RequestDomain(chain_id=chain_id, hub=hub), action=action, body=b"", timestamp=now,
        nonce=secrets.token_bytes(32),
    )  # fmt: skip
    return signature_headers(signature)


def test_token_upload_then_public_download(client: TestClient) -> None:
    data = b"sealed result bytes" * 100
    response = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"checksum": "0x" + sha(data), "size": len(data), "url": body["url"], "created": True}
    assert body["url"].endswith(f"/v1/blobs/{sha(data)}")
    got = client.get(f"/v1/blobs/0x{sha(data)}")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"] == f'attachment; filename="{sha(data)}"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["etag"] == f'"{sha(data)}"'


def test_head_and_ranges(client: TestClient) -> None:
    data = bytes(range(256)) * 4
    client.put(f"/v1/blobs/{sha(data)}", content=data, headers=bearer()).raise_for_status()
    head = client.head(f"/v1/blobs/{sha(data)}")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(data))
    assert head.headers["accept-ranges"] == "bytes"
    assert head.content == b""
    part = client.get(f"/v1/blobs/{sha(data)}", headers={"range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = client.get(f"/v1/blobs/{sha(data)}", headers={"range": "bytes=-5"})
    assert tail.content == data[-5:]
    beyond = client.get(f"/v1/blobs/{sha(data)}", headers={"range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416


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
    assert client.get(f"/v1/blobs/{sha(data)}").content == data


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


def test_signed_dataset_upload(client: TestClient, uploader: bytes) -> None:
    data = b"sealed dataset"
    headers = signed(uploader, sha(data))
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
    settings: StoreSettings, uploader: bytes
) -> None:
    from eth_account import Account

    allowed = Account.from_key(uploader).address
    restricted = settings.model_copy(update={"allowed_uploaders": [allowed]})
    with TestClient(create_app(restricted, clock=lambda: NOW)) as client:
        data = b"allowed"
        assert (
            client.put(
                f"/v1/blobs/{sha(data)}", content=data, headers=signed(uploader, sha(data))
            ).status_code
            == 200
        )
        stranger = bytes(Account.create().key)
        response = client.put(f"/v1/blobs/{sha(data)}", content=data, headers=signed(stranger, sha(data)))
        assert response.status_code == 403
        assert response.json()["code"] == "STORAGE_FORBIDDEN"
        other = b"for another blob"
        forged = signed(uploader, sha(b"something else"))
        response = client.put(f"/v1/blobs/{sha(other)}", content=other, headers=forged)
        assert response.json()["code"] == "STORAGE_FORBIDDEN"
        for kwargs in ({"chain_id": 1}, {"hub": "0x00000000000000000000000000000000000000bb"}):
            wrong_domain = signed(uploader, sha(other), **kwargs)  # type: ignore[arg-type]
            assert (
                client.put(f"/v1/blobs/{sha(other)}", content=other, headers=wrong_domain).status_code == 403
            )


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
    assert store.head(info.checksum) == source.stat().st_size
    target = store.download(info.checksum, tmp_path / "copy")
    assert target.read_bytes() == source.read_bytes()
    with pytest.raises(StorageError) as caught:
        store.download("0x" + "0" * 64, tmp_path / "none")
    assert caught.value.code == "STORAGE_NOT_FOUND"
    assert not (tmp_path / "none").exists()
