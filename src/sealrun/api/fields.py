"""The identifier codecs of :mod:`sealrun.api.ids` as pydantic field types.

A model field typed ``TaskIdField`` takes every form :func:`~sealrun.api.ids.parse_task_id`
accepts, holds the canonical ``TaskId`` (bytes) and serialises to the wire form
(``0x`` + 64 lower-case hex); the JSON schema says ``string`` with the pattern of the wire
form, so the OpenAPI documents are exact. A refused value is a pydantic validation error
whose ``type`` is the codec's stable code (``INVALID_BYTES32``, ``INVALID_ADDRESS``).

Kept apart from :mod:`.ids` so that the enclave, which parses ids, never loads pydantic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from sealrun.api import ids
from sealrun.errors import SealrunError

__all__ = [
    "ADDRESS_PATTERN",
    "HEX32_PATTERN",
    "AddressField",
    "Bytes32Field",
    "DealIdField",
    "OrderHashField",
    "TaskIdField",
]

#: The wire form of a bytes32 (what a field serialises to; parsing accepts more).
HEX32_PATTERN = r"^0x[0-9a-fA-F]{64}$"
#: The wire form of an address.
ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"


def _validator(parse: Callable[[Any], Any]) -> BeforeValidator:
    def validate(value: Any) -> Any:
        try:
            return parse(value)
        except SealrunError as error:
            # pydantic turns only ValueError-like errors into validation errors; the code
            # becomes the error's type, so a problem+json answer still names it.
            raise PydanticCustomError(error.code, error.message) from error

    return BeforeValidator(validate)


def _schema(pattern: str, example: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": [example]})


_HEX32_EXAMPLE = "0x" + "ab" * 32

#: Any 32-byte value (salt, nonce, checksum): bytes inside, ``0x`` + 64 hex on the wire.
Bytes32Field = Annotated[
    bytes,
    _validator(ids.parse_bytes32),
    PlainSerializer(ids.bytes32_hex, return_type=str),
    _schema(HEX32_PATTERN, _HEX32_EXAMPLE),
]
#: A task id (:data:`sealrun.api.ids.TaskId`).
TaskIdField = Annotated[
    ids.TaskId,
    _validator(ids.parse_task_id),
    PlainSerializer(ids.task_id_hex, return_type=str),
    _schema(HEX32_PATTERN, _HEX32_EXAMPLE),
]
#: A deal id (:data:`sealrun.api.ids.DealId`).
DealIdField = Annotated[
    ids.DealId,
    _validator(ids.parse_deal_id),
    PlainSerializer(ids.deal_id_hex, return_type=str),
    _schema(HEX32_PATTERN, _HEX32_EXAMPLE),
]
#: An order hash (:data:`sealrun.api.ids.OrderHash`).
OrderHashField = Annotated[
    ids.OrderHash,
    _validator(ids.parse_order_hash),
    PlainSerializer(ids.order_hash_hex, return_type=str),
    _schema(HEX32_PATTERN, _HEX32_EXAMPLE),
]
#: A checksummed address (:data:`sealrun.api.ids.Address`); serialised checksummed.
AddressField = Annotated[
    ids.Address,
    _validator(ids.parse_address),
    PlainSerializer(str, return_type=str),
    _schema(ADDRESS_PATTERN, "0x" + "ab" * 20),
]
