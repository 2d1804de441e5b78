"""One codec per identifier kind: task id, deal id, order hash (the bytes32 family) and address.

An identifier changes form on its way through the processes: raw bytes on chain and in
hashes, ``0x``-hex in JSON bodies, a path segment in a URL, a key in a database. Each kind
has one ``parse_*`` that takes any accepted outside form and returns the one canonical typed
value, and one ``*_hex`` that writes the wire form; nothing else converts them.

============  =====================  =====================================================
kind          canonical value        wire form (JSON, path segment, DB key)
============  =====================  =====================================================
task id       ``TaskId`` (32 bytes)  ``0x`` + 64 lower-case hex digits (:func:`task_id_hex`)
deal id       ``DealId`` (32 bytes)  the same (:func:`deal_id_hex`)
order hash    ``OrderHash``          the same (:func:`order_hash_hex`)
any bytes32   ``bytes`` (32)         the same (:func:`bytes32_hex`)
address       ``Address`` (str)      EIP-55 checksummed ``0x`` + 40 hex (:func:`parse_address`);
                                     :func:`address_key` is its lower-case database key
============  =====================  =====================================================

Accepted forms of a bytes32: 32 raw bytes, or text of 64 hex digits with or without a
``0x``/``0X`` prefix, in any case, with surrounding whitespace (what users paste). Accepted
forms of an address: 20 raw bytes, or 40 hex digits (``0x`` optional, surrounding
whitespace ignored), all lower, all upper or mixed case with a valid EIP-55 checksum (a
mistyped checksum is refused, as wallets do).

Errors: :class:`~sealrun.errors.ConfigError` ``INVALID_BYTES32`` and ``INVALID_ADDRESS``
(the codes the CLI and :mod:`sealrun.core.tasks.hashing` always raised); a boundary with a
code of its own (the store's ``STORAGE_BAD_TASK_ID``) translates them. This module is light
on purpose (no eth-utils, no pydantic): the enclave imports it; the pydantic field types
are in :mod:`sealrun.api.fields`.
"""

from __future__ import annotations

from typing import NewType

from sealrun.core.tasks.keccak import checksum_address
from sealrun.errors import ConfigError

__all__ = [
    "Address",
    "DealId",
    "OrderHash",
    "TaskId",
    "address_bytes",
    "address_key",
    "bytes32_hex",
    "deal_id_hex",
    "order_hash_hex",
    "parse_address",
    "parse_bytes32",
    "parse_deal_id",
    "parse_order_hash",
    "parse_task_id",
    "task_id_hex",
]

#: A task's id on the hub: keccak256(deal id ‖ index), 32 bytes.
TaskId = NewType("TaskId", bytes)
#: A deal's id: the hash of the ``Deal`` the hub emits in ``OrdersMatched``, 32 bytes.
DealId = NewType("DealId", bytes)
#: An order's EIP-712 hash under the hub's domain, 32 bytes.
OrderHash = NewType("OrderHash", bytes)
#: An Ethereum address in its EIP-55 checksummed form.
Address = NewType("Address", str)

_HEX = frozenset("0123456789abcdefABCDEF")
_WHITESPACE = " \t\r\n"


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 90 else text[:87] + "..."


def parse_bytes32(value: object, what: str = "value") -> bytes:
    """Return 32 bytes from raw bytes or (``0x``-)hex text.

    Raises:
        ConfigError: ``INVALID_BYTES32`` naming ``what``.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) == 32:
            return raw
    elif isinstance(value, str):
        text = value.strip(_WHITESPACE)
        digits = text[2:] if text[:2] in ("0x", "0X") else text
        if len(digits) == 64 and set(digits) <= _HEX:
            return bytes.fromhex(digits)
    raise ConfigError(
        f"{what} must be 32 bytes of 0x-hex (64 hex digits): {_describe(value)}", code="INVALID_BYTES32"
    )


def bytes32_hex(value: bytes) -> str:
    """The wire form of 32 bytes: ``0x`` + 64 lower-case hex digits.

    Raises:
        ConfigError: ``INVALID_BYTES32`` if ``value`` is not 32 bytes.
    """
    return "0x" + parse_bytes32(value).hex()


def parse_task_id(value: object) -> TaskId:
    """A task id from any accepted form (see the module docstring). Raises ``INVALID_BYTES32``."""
    return TaskId(parse_bytes32(value, "a task id"))


def task_id_hex(task_id: bytes) -> str:
    """A task id's wire form: JSON field, URL path segment and database key alike."""
    return "0x" + parse_bytes32(task_id, "a task id").hex()


def parse_deal_id(value: object) -> DealId:
    """A deal id from any accepted form. Raises ``INVALID_BYTES32``."""
    return DealId(parse_bytes32(value, "a deal id"))


def deal_id_hex(deal_id: bytes) -> str:
    """A deal id's wire form (``0x`` + 64 lower-case hex)."""
    return "0x" + parse_bytes32(deal_id, "a deal id").hex()


def parse_order_hash(value: object) -> OrderHash:
    """An order hash from any accepted form. Raises ``INVALID_BYTES32``."""
    return OrderHash(parse_bytes32(value, "an order hash"))


def order_hash_hex(order_hash: bytes) -> str:
    """An order hash's wire form (``0x`` + 64 lower-case hex): the market's key of the order."""
    return "0x" + parse_bytes32(order_hash, "an order hash").hex()


def parse_address(value: object, what: str = "address") -> Address:
    """The checksummed address of 20 raw bytes or 40 hex digits (``0x`` optional).

    Mixed-case text must carry a valid EIP-55 checksum; all-lower and all-upper text are
    taken as they are.

    Raises:
        ConfigError: ``INVALID_ADDRESS`` naming ``what``.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) == 20:
            return Address(checksum_address(raw))
    elif isinstance(value, str):
        text = value.strip(_WHITESPACE)
        digits = text[2:] if text[:2] in ("0x", "0X") else text
        if len(digits) == 40 and set(digits) <= _HEX:
            canonical = checksum_address(bytes.fromhex(digits))
            if digits in (digits.lower(), digits.upper()) or digits == canonical[2:]:
                return Address(canonical)
            raise ConfigError(
                f"{what} has a wrong EIP-55 checksum (mistyped?): {_describe(value)}", code="INVALID_ADDRESS"
            )
    raise ConfigError(f"{what} is not an Ethereum address: {_describe(value)}", code="INVALID_ADDRESS")


def address_key(value: object) -> str:
    """An address's database key and case-insensitive comparison form: lower-case ``0x`` hex.

    Raises:
        ConfigError: ``INVALID_ADDRESS``.
    """
    return parse_address(value).lower()


def address_bytes(value: object) -> bytes:
    """An address's 20 raw bytes (what the hub hashes). Raises ``INVALID_ADDRESS``."""
    return bytes.fromhex(parse_address(value)[2:])
