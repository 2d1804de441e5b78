"""The blob URL grammar of ``sealrun.api.blobs``: build, parse, round trip, refusals."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.api.blobs import (
    BLOBS_PATH,
    blob_path,
    blob_url,
    collection_url,
    parse_blob_checksum,
    parse_blob_url,
    store_of_upload_url,
)
from sealrun.errors import StorageError

digests = st.binary(max_size=64).map(lambda data: hashlib.sha256(data).hexdigest())
stores = st.sampled_from(
    ["http://127.0.0.1:8701", "https://store.example", "https://example.org/store", "http://[::1]:9000/a/b"]
)


@given(
    store=stores, digest=digests, slash=st.booleans(), prefix=st.sampled_from(["", "0x"]), upper=st.booleans()
)
def test_a_built_url_parses_back(store: str, digest: str, slash: bool, prefix: str, upper: bool) -> None:
    given_checksum = prefix + (digest.upper() if upper else digest)
    url = blob_url(store + ("/" if slash else ""), given_checksum)
    assert url == f"{store}/v1/blobs/{digest}"
    parsed = parse_blob_url(url)
    assert (parsed.store, parsed.checksum, parsed.url) == (store, digest, url)
    assert blob_path(given_checksum) == f"{BLOBS_PATH}/{digest}"
    assert parse_blob_url(f"{store}/v1/blobs/0x{digest}").checksum == digest
    assert store_of_upload_url(collection_url(store)) == store
    assert store_of_upload_url(store + "/") == store


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://host/v1/blobs/" + "a" * 64,
        "file:///v1/blobs/" + "a" * 64,
        "http:///v1/blobs/" + "a" * 64,
        "http://host/v1/blob/" + "a" * 64,
        "http://host/v1/blobs/" + "a" * 63,
        "http://host/v1/blobs/" + "g" * 64,
        "http://host/v1/blobs/" + "a" * 64 + "?x=1",
        "http://host/v1/blobs/" + "a" * 64 + "#x",
        "http://host/v1/blobs/" + "a" * 64 + "/",
        "http://host/v1/blobs/",
    ],
)
def test_refused_urls_say_storage_uri_invalid(url: str) -> None:
    with pytest.raises(StorageError) as raised:
        parse_blob_url(url)
    assert raised.value.code == "STORAGE_URI_INVALID"


@pytest.mark.parametrize("name", ["", "0x", "a" * 63, "a" * 65, "z" * 64, "0x0x" + "a" * 62, "٣" * 64])
def test_refused_checksums_say_storage_bad_checksum(name: str) -> None:
    with pytest.raises(StorageError) as raised:
        parse_blob_checksum(name)
    assert raised.value.code == "STORAGE_BAD_CHECKSUM"
    with pytest.raises(StorageError):
        blob_path(name)


def test_a_non_http_upload_url_means_keep_it_local() -> None:
    assert store_of_upload_url("") is None
    assert store_of_upload_url("file:///tmp/out") is None
