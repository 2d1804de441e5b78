"""Round trips (hypothesis) around chunk and batch boundaries, and streaming behaviour."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.core.sealing import Identity, open_bytes, open_stream, seal_bytes, seal_stream
from sealrun.core.sealing.hazmat.stream import CHUNK_SIZE, SEALED_CHUNK_SIZE
from sealrun.core.sealing.streams import BATCH_CHUNKS
from sealrun.errors import SealError

KEY = Identity.generate()
NEAR_CHUNKS = st.sampled_from([1, 2, 3]).flatmap(
    lambda n: st.integers(min_value=n * CHUNK_SIZE - 40, max_value=n * CHUNK_SIZE + 40)
)


@given(st.binary(max_size=3000))
def test_small_payloads_round_trip(data: bytes) -> None:
    assert open_bytes(seal_bytes(data, [KEY.recipient]), [KEY]) == data


@settings(max_examples=40, deadline=None)
@given(NEAR_CHUNKS, st.binary(min_size=1, max_size=64))
def test_sizes_around_chunk_boundaries_round_trip(size: int, pattern: bytes) -> None:
    data = (pattern * (size // len(pattern) + 1))[:size]
    sealed = seal_bytes(data, [KEY.recipient])
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(sealed) - sealed.index(b"\n---") > chunks * 16  # one tag per chunk
    assert open_bytes(sealed, [KEY]) == data


class _Trickle(io.RawIOBase):
    """A reader that returns at most 1000 bytes per read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 1000) if size >= 0 else 1000)


@pytest.mark.parametrize("extra", [-1, 0, 1, CHUNK_SIZE + 5])
def test_batch_boundaries_and_short_reads(extra: int) -> None:
    # Crosses the batch boundary, so the threaded sink runs; short reads must not
    # shift chunk boundaries.
    data = os.urandom(BATCH_CHUNKS * CHUNK_SIZE + extra)
    sealed_out = io.BytesIO()
    seen: list[int] = []
    info = seal_stream(_Trickle(data), sealed_out, [KEY.recipient], progress=seen.append)
    sealed = sealed_out.getvalue()
    assert info.plaintext_size == len(data) == sum(seen)
    assert info.ciphertext_size == len(sealed)
    opened_out = io.BytesIO()
    opened = open_stream(_Trickle(sealed), opened_out, [KEY])
    assert opened_out.getvalue() == data
    assert opened.checksum == info.checksum
    assert opened.plaintext_size == len(data)
    assert opened.ciphertext_size == len(sealed)


def test_checksum_is_sha256_of_the_ciphertext() -> None:
    import hashlib

    out = io.BytesIO()
    info = seal_stream(io.BytesIO(b"abc" * 50_000), out, [KEY.recipient])
    assert info.checksum == "0x" + hashlib.sha256(out.getvalue()).hexdigest()
    assert len(out.getvalue()) % SEALED_CHUNK_SIZE != 0 or info.plaintext_size % CHUNK_SIZE == 0


def test_write_errors_surface_and_stop_the_thread() -> None:
    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        seal_stream(io.BytesIO(bytes(5 * 1024 * 1024)), Full(), [KEY.recipient])


def test_buffer_reuse_is_safe_when_the_writer_lags() -> None:
    # open_stream reads into a ring of reused buffers that the sink thread hashes later; a slow
    # writer fills the sink's queue, so any premature reuse would corrupt the checksum.
    import time

    class Slow(io.BytesIO):
        def write(self, data: object) -> int:
            time.sleep(0.003)
            return super().write(data)  # type: ignore[arg-type]

    data = os.urandom(12 * BATCH_CHUNKS * CHUNK_SIZE + 3)
    sealed = Slow()  # sealing joins chunks into a ring of reused output buffers: same hazard
    info = seal_stream(io.BufferedReader(io.BytesIO(data)), sealed, [KEY.recipient])  # type: ignore[arg-type]
    assert info.checksum == "0x" + hashlib.sha256(sealed.getvalue()).hexdigest()
    opened = Slow()
    result = open_stream(io.BufferedReader(io.BytesIO(sealed.getvalue())), opened, [KEY])  # type: ignore[arg-type]
    assert result.checksum == info.checksum
    assert opened.getvalue() == data


def test_small_payloads_allocate_no_streaming_buffers() -> None:
    # seal_bytes/open_bytes serve 1-2 KB secrets bundles: they must not allocate the
    # batch buffers of the streaming path (which made them ~20x slower than pyrage).
    import tracemalloc

    data = os.urandom(1500)
    tracemalloc.start()
    try:
        sealed = seal_bytes(data, [KEY.recipient])
        opened = open_bytes(sealed, [KEY])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert opened == data
    assert peak < 512 * 1024


@pytest.mark.parametrize("size", [10, 3 * BATCH_CHUNKS * CHUNK_SIZE + 7])
def test_opening_without_checksum_gives_the_same_plaintext(size: int) -> None:
    data = os.urandom(size)
    sealed = io.BytesIO()
    seal_stream(io.BytesIO(data), sealed, [KEY.recipient])
    out = io.BytesIO()
    info = open_stream(io.BytesIO(sealed.getvalue()), out, [KEY], checksum=False)
    assert info.checksum is None
    assert out.getvalue() == data
    assert info.ciphertext_size == len(sealed.getvalue())


def test_opening_without_checksum_still_rejects_tampering() -> None:
    sealed = bytearray(seal_bytes(os.urandom(3 * BATCH_CHUNKS * CHUNK_SIZE), [KEY.recipient]))
    sealed[-100] ^= 1
    with pytest.raises(SealError) as caught:
        open_stream(io.BytesIO(bytes(sealed)), io.BytesIO(), [KEY], checksum=False)
    assert caught.value.code == "SEAL_TAMPERED"
