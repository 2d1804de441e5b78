"""The hashes that bind a task's result, authorization and failure receipt on chain.

Every function mirrors one ``keccak256(abi.encodePacked(...))`` of the hub contract, so
the SDK, the enclave and the contract agree byte for byte:

- ``task_id``                 keccak256(bytes32 dealid ‖ uint256 index)
- ``result_hash``             keccak256(bytes32 taskid ‖ bytes32 digest)
- ``result_seal``             keccak256(address worker ‖ bytes32 taskid ‖ bytes32 digest)
- ``authorization_digest``    keccak256(address worker ‖ bytes32 taskid ‖ address enclave)
- ``result_signature_digest`` keccak256(bytes32 resultHash ‖ bytes32 resultSeal ‖ bytes32 receiptDigest)
- ``failure_digest``          keccak256(bytes32 taskid ‖ uint256 failureCode ‖ bytes32 logDigest
                              ‖ bytes32 receiptDigest)

``receiptDigest`` is the digest of the task receipt (:mod:`sealrun.core.receipts`): the
enclave's one signature covers both the settlement and the receipt.

The last three are signed with EIP-191 ``personal_sign`` (see :mod:`.signatures`).
"""

from __future__ import annotations

from sealrun.core.tasks.keccak import canonical_address
from sealrun.core.tasks.keccak import keccak256 as keccak
from sealrun.errors import ConfigError

__all__ = [
    "authorization_digest",
    "failure_digest",
    "result_hash",
    "result_seal",
    "result_signature_digest",
    "task_id",
]

_UINT256_MAX = 2**256 - 1


def _bytes32(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ConfigError(f"{what} must be 32 bytes", code="INVALID_BYTES32")
    return bytes(value)


def _address(value: str | bytes, what: str) -> bytes:
    return canonical_address(value, what)


def _uint256(value: int, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT256_MAX:
        raise ConfigError(f"{what} must be an unsigned 256-bit integer", code="INVALID_UINT256")
    return value.to_bytes(32, "big")


def task_id(deal_id: bytes, index: int) -> bytes:
    """Return the id of task ``index`` of deal ``deal_id``.

    Raises:
        ConfigError: if ``deal_id`` is not 32 bytes or ``index`` is not a uint256.
    """
    return keccak(_bytes32(deal_id, "deal id") + _uint256(index, "task index"))


def result_hash(task: bytes, digest: bytes) -> bytes:
    """Return ``resultHash``: binds the result digest to the task."""
    return keccak(_bytes32(task, "task id") + _bytes32(digest, "result digest"))


def result_seal(worker: str | bytes, task: bytes, digest: bytes) -> bytes:
    """Return ``resultSeal``: binds the result digest to the worker that computed it."""
    return keccak(_address(worker, "worker") + _bytes32(task, "task id") + _bytes32(digest, "result digest"))


def authorization_digest(worker: str | bytes, task: bytes, enclave: str | bytes) -> bytes:
    """Return the digest the scheduler signs to authorize ``worker`` to run ``task`` in ``enclave``."""
    return keccak(_address(worker, "worker") + _bytes32(task, "task id") + _address(enclave, "enclave"))


def result_signature_digest(result_hash_: bytes, result_seal_: bytes, receipt_digest: bytes) -> bytes:
    """Return the digest the enclave signs over a successful result and its receipt."""
    return keccak(
        _bytes32(result_hash_, "result hash")
        + _bytes32(result_seal_, "result seal")
        + _bytes32(receipt_digest, "receipt digest")
    )


def failure_digest(task: bytes, failure_code: int, log_digest: bytes, receipt_digest: bytes) -> bytes:
    """Return the digest the enclave signs over an attested failure receipt.

    Raises:
        ConfigError: if ``failure_code`` is 0 (never a valid failure) or out of range.
    """
    if failure_code == 0:
        raise ConfigError("failure code 0 is not a failure", code="INVALID_FAILURE_CODE")
    return keccak(
        _bytes32(task, "task id")
        + _uint256(failure_code, "failure code")
        + _bytes32(log_digest, "log digest")
        + _bytes32(receipt_digest, "receipt digest")
    )
