"""Every single-byte flip and every truncation of a small ciphertext is refused with its code;
the path API leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.adapters.sealedfiles import open_path
from sealrun.core.sealing import Identity, open_bytes, seal_bytes
from sealrun.core.sealing.hazmat.stream import CHUNK_SIZE, SEALED_CHUNK_SIZE
from sealrun.errors import SealError

KEY = Identity.generate()
PLAIN = os.urandom(100)
SEALED = seal_bytes(PLAIN, [KEY.recipient])
HEADER_END = SEALED.index(b"\n---") + 1  # start of the footer line
MAC_END = SEALED.index(b"\n", HEADER_END) + 1  # end of the header
VERSION_END = SEALED.index(b"\n") + 1
STANZA_END = HEADER_END


def _code(data: bytes) -> str:
    with pytest.raises(SealError) as caught:
        open_bytes(data, [KEY])
    return caught.value.code


def _expected_flip_codes(index: int) -> set[str]:
    if index < VERSION_END:
        return {"SEAL_NOT_SEALED", "SEAL_VERSION_UNSUPPORTED", "SEAL_TAMPERED"}
    if index < STANZA_END:
        # A damaged recipient stanza cannot be told from one for another key (by design).
        return {"SEAL_TAMPERED", "SEAL_WRONG_KEY"}
    return {"SEAL_TAMPERED"}  # footer/MAC, payload nonce, chunk


def test_every_single_byte_flip_is_refused() -> None:
    for index in range(len(SEALED)):
        for mask in (0x01, 0x80):
            damaged = bytearray(SEALED)
            damaged[index] ^= mask
            assert _code(bytes(damaged)) in _expected_flip_codes(index), (index, mask)


def test_every_truncation_is_refused() -> None:
    for length in range(len(SEALED)):
        code = _code(SEALED[:length])
        if length == 0:
            assert code == "SEAL_NOT_SEALED"
        elif length < MAC_END + 16 or length - (MAC_END + 16) < 16:
            assert code == "SEAL_TRUNCATED", length  # in the header, nonce, or inside the tag
        else:
            assert code == "SEAL_TAMPERED", length  # cut inside the last chunk: tag fails


def test_multi_chunk_truncation_at_a_boundary_and_appended_data() -> None:
    data = os.urandom(3 * CHUNK_SIZE + 10)
    sealed = seal_bytes(data, [KEY.recipient])
    payload = sealed.index(b"\n", sealed.index(b"\n---") + 1) + 1 + 16
    cut = sealed[: payload + 2 * SEALED_CHUNK_SIZE]
    assert _code(cut) == "SEAL_TRUNCATED"
    assert _code(sealed + b"x") == "SEAL_TAMPERED"
    assert _code(sealed + sealed[-26:]) == "SEAL_TAMPERED"
    swapped = (
        sealed[:payload]
        + sealed[payload + SEALED_CHUNK_SIZE : payload + 2 * SEALED_CHUNK_SIZE]
        + sealed[payload : payload + SEALED_CHUNK_SIZE]
        + sealed[payload + 2 * SEALED_CHUNK_SIZE :]
    )
    assert _code(swapped) == "SEAL_TAMPERED"
    assert _code(sealed[:payload]) == "SEAL_TRUNCATED"


def test_an_empty_final_chunk_after_data_is_refused() -> None:
    # age forbids an empty last chunk unless it is the only one; build one with the hazmat layer.
    from sealrun.core.sealing.hazmat.header import build_header
    from sealrun.core.sealing.hazmat.stream import ChunkCipher
    from sealrun.core.sealing.hazmat.x25519 import header_mac, wrap_file_key

    file_key, nonce = os.urandom(16), os.urandom(16)
    stanza = wrap_file_key(file_key, KEY.public_bytes, rng=os.urandom)
    header = build_header((stanza,), lambda m: header_mac(file_key, m))
    cipher = ChunkCipher(file_key, nonce)
    body = cipher.seal(bytes(CHUNK_SIZE), last=False) + cipher.seal(b"", last=True)
    assert _code(header + nonce + body) == "SEAL_TAMPERED"


def _leftovers(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def test_path_api_leaves_nothing_for_damaged_input(tmp_path: Path) -> None:
    sealed_file = tmp_path / "in" / "x.age"
    sealed_file.parent.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    big = seal_bytes(os.urandom(3 * CHUNK_SIZE), [KEY.recipient])
    cases = [SEALED[:n] for n in range(0, len(SEALED), 7)]
    cases += [SEALED[:i] + bytes([SEALED[i] ^ 1]) + SEALED[i + 1 :] for i in range(0, len(SEALED), 5)]
    cases += [big[:-1], big[: len(big) - SEALED_CHUNK_SIZE], big[:-100] + bytes(100)]
    for data in cases:
        sealed_file.write_bytes(data)
        with pytest.raises(SealError):
            open_path(sealed_file, out_dir / "plain", [KEY])
        assert _leftovers(out_dir) == []
    sealed_file.write_bytes(SEALED)
    with pytest.raises(SealError) as caught:
        open_path(sealed_file, out_dir / "plain", [Identity.generate()])
    assert caught.value.code == "SEAL_WRONG_KEY"
    assert _leftovers(out_dir) == []


def _split(sealed: bytes) -> tuple[bytes, list[bytes]]:
    """``header ‖ nonce`` and the sealed chunks of ``sealed``."""
    payload = sealed.index(b"\n", sealed.index(b"\n---") + 1) + 1 + 16
    body = sealed[payload:]
    return sealed[:payload], [body[i : i + SEALED_CHUNK_SIZE] for i in range(0, len(body), SEALED_CHUNK_SIZE)]


MULTI = seal_bytes(os.urandom(4 * CHUNK_SIZE + 3), [KEY.recipient])
MULTI_START, MULTI_CHUNKS = _split(MULTI)


def test_a_duplicated_chunk_and_a_header_from_another_file_are_refused() -> None:
    chunks = MULTI_CHUNKS
    assert _code(MULTI_START + b"".join([chunks[0], chunks[1], chunks[1], *chunks[2:]])) == "SEAL_TAMPERED"
    assert _code(MULTI_START + b"".join(chunks[:-1]) + chunks[-2]) == "SEAL_TAMPERED"  # replayed, no final
    other_start, _ = _split(seal_bytes(os.urandom(4 * CHUNK_SIZE + 3), [KEY.recipient]))
    assert _code(other_start + b"".join(chunks)) == "SEAL_TAMPERED"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(MULTI_CHUNKS) - 1), min_size=1, max_size=7))
def test_any_other_sequence_of_the_files_own_chunks_is_refused(order: list[int]) -> None:
    # Reordered, duplicated, dropped or cut at a chunk boundary: only the original order opens.
    if order == list(range(len(MULTI_CHUNKS))):
        assert open_bytes(MULTI, [KEY]) is not None
        return
    code = _code(MULTI_START + b"".join(MULTI_CHUNKS[i] for i in order))
    assert code in {"SEAL_TAMPERED", "SEAL_TRUNCATED"}, order
