"""Opening verifies an expected checksum (sha256 of the ciphertext) in the same pass."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from sealrun.adapters.sealedfiles import open_path, seal_path
from sealrun.core.sealing import Identity, open_stream, seal_bytes
from sealrun.core.sealing.hazmat.stream import CHUNK_SIZE
from sealrun.core.sealing.streams import BATCH_CHUNKS
from sealrun.errors import SealError

KEY = Identity.generate()


@pytest.mark.parametrize("size", [10, 3 * BATCH_CHUNKS * CHUNK_SIZE + 7])  # one batch; threaded
def test_the_expected_checksum_opens_and_any_other_is_refused(size: int) -> None:
    data = os.urandom(size)
    sealed = seal_bytes(data, [KEY.recipient])
    digest = "0x" + hashlib.sha256(sealed).hexdigest()
    for given in (digest, digest.upper().replace("0X", "0x"), digest[2:]):
        out = io.BytesIO()
        info = open_stream(io.BytesIO(sealed), out, [KEY], expected_checksum=given)
        assert out.getvalue() == data
        assert info.checksum == digest
    # The same plaintext sealed again to the same key: every chunk authenticates, still refused.
    again = seal_bytes(data, [KEY.recipient])
    with pytest.raises(SealError) as caught:
        open_stream(io.BytesIO(again), io.BytesIO(), [KEY], expected_checksum=digest)
    assert caught.value.code == "SEAL_CHECKSUM_MISMATCH"


def test_an_expected_checksum_is_checked_even_with_checksum_off() -> None:
    sealed = seal_bytes(b"x" * 1000, [KEY.recipient])
    with pytest.raises(SealError) as caught:
        open_stream(
            io.BytesIO(sealed), io.BytesIO(), [KEY], checksum=False, expected_checksum="0x" + "0" * 64
        )
    assert caught.value.code == "SEAL_CHECKSUM_MISMATCH"


@pytest.mark.parametrize("text", ["", "0x", "0x" + "g" * 64, "0x" + "a" * 63, "a" * 65])
def test_a_malformed_expected_checksum_is_refused_before_reading(text: str) -> None:
    src = io.BytesIO(seal_bytes(b"x", [KEY.recipient]))
    with pytest.raises(SealError) as caught:
        open_stream(src, io.BytesIO(), [KEY], expected_checksum=text)
    assert caught.value.code == "SEAL_CHECKSUM_INVALID"
    assert src.tell() == 0


def test_open_path_with_a_wrong_checksum_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "plain.bin"
    source.write_bytes(os.urandom(2 * BATCH_CHUNKS * CHUNK_SIZE + 1))
    sealed = seal_path(source, tmp_path / "plain.age", [KEY.recipient])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(SealError) as caught:
        open_path(sealed.path, out_dir / "plain", [KEY], expected_checksum="0x" + "ab" * 32)
    assert caught.value.code == "SEAL_CHECKSUM_MISMATCH"
    assert list(out_dir.iterdir()) == []
    opened = open_path(sealed.path, out_dir / "plain", [KEY], expected_checksum=sealed.checksum)
    assert opened.checksum == sealed.checksum
    assert (out_dir / "plain").read_bytes() == source.read_bytes()
