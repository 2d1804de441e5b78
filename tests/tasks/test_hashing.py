"""Known-answer and adversarial tests for the task hashes and EIP-191 signatures."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.tasks import (
    authorization_digest,
    failure_digest,
    recover_signer,
    result_hash,
    result_seal,
    result_signature_digest,
    sign_digest,
    task_id,
)
from sealrun.errors import ConfigError, OrderError

DEAL = bytes.fromhex("11" * 32)
WORKER = "0x" + "ab" * 20
ENCLAVE = "0x" + "cd" * 20


def test_task_id_is_keccak_of_packed_deal_and_index() -> None:
    assert task_id(DEAL, 3) == keccak(DEAL + (3).to_bytes(32, "big"))
    assert task_id(DEAL, 0) != task_id(DEAL, 1)


def test_result_hash_and_seal_known_answers() -> None:
    task, digest = task_id(DEAL, 0), bytes(range(32))
    assert result_hash(task, digest) == keccak(task + digest)
    assert result_seal(WORKER, task, digest) == keccak(bytes.fromhex("ab" * 20) + task + digest)
    signed = result_signature_digest(b"\1" * 32, b"\2" * 32, b"\3" * 32)
    assert signed == keccak(b"\1" * 32 + b"\2" * 32 + b"\3" * 32)


def test_authorization_and_failure_digests() -> None:
    task = task_id(DEAL, 7)
    expected = keccak(bytes.fromhex("ab" * 20) + task + bytes.fromhex("cd" * 20))
    assert authorization_digest(WORKER, task, ENCLAVE) == expected
    receipt = b"\3" * 32
    expected = keccak(task + (2).to_bytes(32, "big") + b"\0" * 32 + receipt)
    assert failure_digest(task, 2, b"\0" * 32, receipt) == expected


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: task_id(b"short", 0), "INVALID_BYTES32"),
        (lambda: task_id(DEAL, -1), "INVALID_UINT256"),
        (lambda: task_id(DEAL, True), "INVALID_UINT256"),
        (lambda: result_seal("not-an-address", DEAL, DEAL), "INVALID_ADDRESS"),
        (lambda: failure_digest(DEAL, 0, DEAL, DEAL), "INVALID_FAILURE_CODE"),
    ],
)
def test_bad_inputs_raise_with_codes(call: object, code: str) -> None:
    with pytest.raises(ConfigError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code == code


@given(st.binary(min_size=32, max_size=32))
def test_sign_then_recover_round_trips(digest: bytes) -> None:
    account = Account.from_key(b"\x01" * 32)
    signature = sign_digest(bytes(account.key), digest)
    assert len(signature) == 65
    assert recover_signer(digest, signature) == account.address


def test_recover_rejects_malformed_signatures() -> None:
    with pytest.raises(OrderError) as caught:
        recover_signer(b"\0" * 32, b"\0" * 64)
    assert caught.value.code == "SIGNATURE_INVALID"
    with pytest.raises(OrderError):
        recover_signer(b"\0" * 32, b"\0" * 65)


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_signatures_match_eth_account_exactly(key: bytes, digest: bytes) -> None:
    from eth_account.messages import encode_defunct

    try:
        account = Account.from_key(key)
    except ValueError:
        return  # not a valid secp256k1 scalar
    ours = sign_digest(key, digest)
    theirs = Account.sign_message(encode_defunct(primitive=digest), private_key=key).signature
    assert ours == bytes(theirs)
    assert recover_signer(digest, ours) == account.address


def test_high_s_and_bad_v_are_refused() -> None:
    key = b"\x02" * 32
    signature = sign_digest(key, b"\x05" * 32)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = (n - int.from_bytes(signature[32:64], "big")).to_bytes(32, "big")
    flipped = signature[:32] + high_s + bytes([55 - signature[64]])
    for bad in (flipped, signature[:64] + b"\x00", signature[:64] + b"\x1d"):
        with pytest.raises(OrderError):
            recover_signer(b"\x05" * 32, bad)
