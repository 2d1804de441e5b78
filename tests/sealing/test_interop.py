"""Known answers against the age format: the `age` CLI opens ours, we open the CLI's."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sealrun.core.sealing import Identity, open_bytes, seal_bytes
from sealrun.core.sealing.hazmat.stream import CHUNK_SIZE
from sealrun.errors import SealError
from tests.sealing.conftest import run_age

SIZES = [0, 1, 100, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 7]


@pytest.mark.parametrize("size", SIZES)
def test_age_cli_opens_what_we_seal(
    tmp_path: Path, identity: Identity, identity_file: Path, size: int
) -> None:
    data = os.urandom(size)
    sealed = tmp_path / "x.age"
    sealed.write_bytes(seal_bytes(data, [identity.recipient]))
    assert run_age("-d", "-i", str(identity_file), str(sealed)).stdout == data


@pytest.mark.parametrize("size", SIZES)
def test_we_open_what_the_age_cli_seals(identity: Identity, size: int) -> None:
    data = os.urandom(size)
    sealed = run_age("-e", "-r", str(identity.recipient), data=data).stdout
    assert open_bytes(sealed, [identity]) == data


def test_many_recipients_both_ways(tmp_path: Path) -> None:
    keys = [Identity.generate() for _ in range(3)]
    data = os.urandom(70_000)
    args = [arg for key in keys for arg in ("-r", str(key.recipient))]
    theirs = run_age("-e", *args, data=data).stdout
    ours = seal_bytes(data, [key.recipient for key in keys])
    for key in keys:
        assert open_bytes(theirs, [key]) == data
        path = tmp_path / "k"
        path.write_text(str(key))
        sealed = tmp_path / "ours.age"
        sealed.write_bytes(ours)
        assert run_age("-d", "-i", str(path), str(sealed)).stdout == data


def test_the_right_key_among_several_is_found(identity: Identity) -> None:
    sealed = run_age("-e", "-r", str(identity.recipient), data=b"x").stdout
    assert open_bytes(sealed, [Identity.generate(), identity]) == b"x"


def test_deterministic_with_injected_randomness(
    tmp_path: Path, identity_file: Path, identity: Identity
) -> None:
    # A fixed rng gives a fixed ciphertext (our known answer), which the age CLI still opens.
    def rng(count: int, _state: list[int] = [0]) -> bytes:  # noqa: B006 - counter across calls
        _state[0] += 1
        return hashlib.sha256(b"kat" + bytes([_state[0]])).digest()[:count]

    fixed = Identity(hashlib.sha256(b"identity").digest())
    one = seal_bytes(b"hello age", [fixed.recipient], rng=rng)
    assert open_bytes(one, [fixed]) == b"hello age"
    assert one.startswith(b"age-encryption.org/v1\n-> X25519 ")
    key = tmp_path / "fixed.txt"
    key.write_text(str(fixed))
    sealed = tmp_path / "kat.age"
    sealed.write_bytes(one)
    assert run_age("-d", "-i", str(key), str(sealed)).stdout == b"hello age"


def test_passphrase_and_armored_files_are_refused_with_codes(identity: Identity) -> None:
    armored = run_age("-a", "-e", "-r", str(identity.recipient), data=b"x").stdout
    with pytest.raises(SealError) as caught:
        open_bytes(armored, [identity])
    assert caught.value.code == "SEAL_NOT_SEALED"
    other = run_age("-e", "-r", str(Identity.generate().recipient), data=b"x").stdout
    with pytest.raises(SealError) as caught:
        open_bytes(other, [identity])
    assert caught.value.code == "SEAL_WRONG_KEY"


def test_other_versions_and_non_age_input(identity: Identity) -> None:
    sealed = seal_bytes(b"x", [identity.recipient])
    for data, code in [
        (sealed.replace(b"/v1\n", b"/v2\n", 1), "SEAL_VERSION_UNSUPPORTED"),
        (b"PK\x03\x04 a zip file", "SEAL_NOT_SEALED"),
        (b"", "SEAL_NOT_SEALED"),
        (b"age-encryption.org/v", "SEAL_TRUNCATED"),
    ]:
        with pytest.raises(SealError) as caught:
            open_bytes(data, [identity])
        assert caught.value.code == code, data[:30]


def test_no_recipient_is_refused() -> None:
    with pytest.raises(SealError) as caught:
        seal_bytes(b"x", [])
    assert caught.value.code == "SEAL_NO_RECIPIENT"
