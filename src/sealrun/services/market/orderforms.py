"""How the market reads a signed order: fields, EIP-712 hash and signer, book columns.

The order types are iExec PoCo v5's, as the hub defines them (``contracts/orders.vy``);
the EIP-712 payload is built here and hashed/recovered with eth-account, which produces
exactly what ``eth_signTypedData_v4`` signs. (When ``sealrun.core.orders`` lands, this module
delegates to it instead of describing the types itself.)

Errors (:class:`~sealrun.errors.OrderError`): ``ORDER_INVALID`` (a missing, unknown or
out-of-range field), ``ORDER_SIGNATURE_INVALID`` (a signature that recovers nobody).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import keccak, to_checksum_address

from sealrun.core.requests import RequestDomain
from sealrun.errors import OrderError

__all__ = ["KINDS", "ORDER_TYPES", "BookEntry", "read_order"]

_ADDRESS, _UINT, _BYTES32, _STRING = "address", "uint256", "bytes32", "string"

ORDER_TYPES: dict[str, list[tuple[str, str]]] = {
    "AppOrder": [
        ("app", _ADDRESS), ("appprice", _UINT), ("volume", _UINT), ("tag", _BYTES32),
        ("datasetrestrict", _ADDRESS), ("workerpoolrestrict", _ADDRESS), ("requesterrestrict", _ADDRESS),
        ("salt", _BYTES32),
    ],
    "DatasetOrder": [
        ("dataset", _ADDRESS), ("datasetprice", _UINT), ("volume", _UINT), ("tag", _BYTES32),
        ("apprestrict", _ADDRESS), ("workerpoolrestrict", _ADDRESS), ("requesterrestrict", _ADDRESS),
        ("salt", _BYTES32),
    ],
    "WorkerpoolOrder": [
        ("workerpool", _ADDRESS), ("workerpoolprice", _UINT), ("volume", _UINT), ("tag", _BYTES32),
        ("category", _UINT), ("trust", _UINT), ("apprestrict", _ADDRESS), ("datasetrestrict", _ADDRESS),
        ("requesterrestrict", _ADDRESS), ("salt", _BYTES32),
    ],
    "RequestOrder": [
        ("app", _ADDRESS), ("appmaxprice", _UINT), ("dataset", _ADDRESS), ("datasetmaxprice", _UINT),
        ("workerpool", _ADDRESS), ("workerpoolmaxprice", _UINT), ("requester", _ADDRESS), ("volume", _UINT),
        ("tag", _BYTES32), ("category", _UINT), ("trust", _UINT), ("beneficiary", _ADDRESS),
        ("callback", _ADDRESS), ("params", _STRING), ("salt", _BYTES32),
    ],
}  # fmt: skip

KINDS = {
    "app": "AppOrder",
    "dataset": "DatasetOrder",
    "workerpool": "WorkerpoolOrder",
    "request": "RequestOrder",
}
_PRICE = {
    "app": "appprice",
    "dataset": "datasetprice",
    "workerpool": "workerpoolprice",
    "request": "workerpoolmaxprice",
}
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_MAX_PARAMS = 4096
_MAX_VOLUME = 2**63 - 1


@dataclass(frozen=True)
class BookEntry:
    """A parsed, signature-recovered order and the columns the book indexes it by.

    ``owner_of`` names what the signer must own on chain: ``("app", address)``,
    ``("dataset", ...)``, ``("workerpool", ...)`` or ``("requester", address)`` (the signer
    must be the requester itself).
    """

    kind: str
    order_hash: bytes
    signer: str
    owner_of: tuple[str, str]
    app: str
    dataset: str
    workerpool: str
    requester: str
    category: int | None
    tag: bytes
    price: int
    volume: int
    order: Mapping[str, Any] = field(repr=False)


def _field(order: Mapping[str, Any], name: str, kind: str) -> Any:
    if name not in order:
        raise OrderError(f"order field {name!r} is missing", code="ORDER_INVALID")
    value = order[name]
    try:
        if kind == _ADDRESS:
            return to_checksum_address(value)
        if kind == _UINT:
            number = int(value, 0) if isinstance(value, str) else value
            if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**256:
                raise ValueError
            return number
        if kind == _BYTES32:
            if not isinstance(value, str) or not _HEX32.match(value):
                raise ValueError
            return "0x" + value[2:].lower()
        if not isinstance(value, str) or len(value.encode()) > _MAX_PARAMS:
            raise ValueError
        return value
    except (ValueError, TypeError):
        raise OrderError(f"order field {name!r} is not a valid {kind}", code="ORDER_INVALID") from None


def read_order(kind: str, raw: Mapping[str, Any], domain: RequestDomain) -> BookEntry:
    """Validate an order of ``kind`` under ``domain`` and recover its signer.

    Args:
        kind: ``app``, ``dataset``, ``workerpool`` or ``request``.
        raw: the order's fields plus ``sign`` (``0x`` + 65 bytes hex).
        domain: the deployment's chain id and hub.

    Returns:
        The book entry (the normalised order keeps ``sign``).

    Raises:
        OrderError: ``ORDER_INVALID`` or ``ORDER_SIGNATURE_INVALID``.
    """
    type_name = KINDS.get(kind)
    if type_name is None:
        raise OrderError(f"unknown order kind {kind!r}", code="ORDER_INVALID")
    fields = ORDER_TYPES[type_name]
    unknown = set(raw) - {name for name, _ in fields} - {"sign"}
    if unknown:
        raise OrderError(f"unknown order field(s): {', '.join(sorted(unknown))}", code="ORDER_INVALID")
    order = {name: _field(raw, name, solidity) for name, solidity in fields}
    sign = raw.get("sign")
    if not isinstance(sign, str) or not _SIGNATURE.match(sign):
        raise OrderError("order signature must be 0x + 65 bytes hex", code="ORDER_SIGNATURE_INVALID")
    if not 0 < order["volume"] <= _MAX_VOLUME:
        raise OrderError("order volume must be between 1 and 2^63-1", code="ORDER_INVALID")
    payload = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            type_name: [{"name": name, "type": solidity} for name, solidity in fields],
        },
        "primaryType": type_name,
        "domain": {
            "name": "sealrun", "version": "1", "chainId": domain.chain_id, "verifyingContract": domain.hub,
        },
        "message": order,
    }  # fmt: skip
    signable = encode_typed_data(full_message=payload)
    try:
        signer = to_checksum_address(Account.recover_message(signable, signature=bytes.fromhex(sign[2:])))
    except (ValueError, BadSignature, ValidationError):
        raise OrderError(
            "order signature does not recover a signer", code="ORDER_SIGNATURE_INVALID"
        ) from None
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    if kind == "app":
        columns = (
            order["app"],
            order["datasetrestrict"],
            order["workerpoolrestrict"],
            order["requesterrestrict"],
        )
    elif kind == "dataset":
        columns = (
            order["apprestrict"],
            order["dataset"],
            order["workerpoolrestrict"],
            order["requesterrestrict"],
        )
    elif kind == "workerpool":
        columns = (
            order["apprestrict"],
            order["datasetrestrict"],
            order["workerpool"],
            order["requesterrestrict"],
        )
    else:
        columns = (order["app"], order["dataset"], order["workerpool"], order["requester"])
    owner_of = (kind, order["requester"] if kind == "request" else order[kind])
    return BookEntry(
        kind=kind,
        order_hash=bytes(digest),
        signer=signer,
        owner_of=owner_of,
        app=columns[0],
        dataset=columns[1],
        workerpool=columns[2],
        requester=columns[3],
        category=order.get("category"),
        tag=bytes.fromhex(order["tag"][2:]),
        price=order[_PRICE[kind]],
        volume=order["volume"],
        order={**order, "sign": sign.lower()},
    )
