"""How the market reads a signed order off the wire and indexes it.

On the wire an order is the JSON document of :mod:`sealrun.core.orders.codec` (its EIP-712
message plus ``sign``; ``type`` may be omitted since the body names the kind), read with the
market's codes (:data:`~sealrun.core.orders.codec.MARKET_CODES`) and a signature required.
Hashing and signer recovery are :mod:`sealrun.core.orders`' (exactly what the hub and
``eth_signTypedData_v4`` compute).

Numbers are ASCII digits (:mod:`sealrun.core.orders.numbers`), bounded to what the chain
and the book's columns hold: volume ≤ 2^63-1 (BIGINT), category ≤ 2^31-1 (INTEGER), a request
order's trust ≤ 1 (the hub's ``trust-unsupported``).

Errors (:class:`~sealrun.errors.OrderError`): ``ORDER_INVALID`` (a missing, unknown or
malformed field), ``ORDER_FIELD_INVALID`` (a value out of range, from the order models),
``ORDER_SIGNATURE_INVALID`` / ``ORDER_NOT_SIGNED`` (a signature that recovers nobody).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sealrun.core.orders.codec import MARKET_CODES, order_from_json, order_kind, order_to_json
from sealrun.core.orders.models import AppOrder, DatasetOrder, RequestOrder, WorkerpoolOrder
from sealrun.core.orders.numbers import SQL_BIGINT_MAX, SQL_INT_MAX, check_request_trust
from sealrun.core.orders.signing import recover_order_signer
from sealrun.core.orders.typed_data import Domain, order_hash
from sealrun.errors import OrderError

__all__ = ["BookEntry", "read_order"]

_MAX_VOLUME = SQL_BIGINT_MAX  # volume and remaining are BIGINT columns


@dataclass(frozen=True)
class BookEntry:
    """A parsed, signature-recovered order and the columns the book indexes it by.

    ``owner_of`` names what the signer must own on chain: ``("app", address)``,
    ``("dataset", ...)``, ``("workerpool", ...)`` or ``("request", requester)`` (the signer
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


def read_order(kind: str, raw: Mapping[str, Any], domain: Domain) -> BookEntry:
    """Validate an order of ``kind`` under ``domain`` and recover its signer.

    Raises:
        OrderError: see the module docstring.
    """
    order = order_from_json(raw, kind=kind, codes=MARKET_CODES, signed=True)
    if not 0 < order.volume <= _MAX_VOLUME:
        raise OrderError("order volume must be between 1 and 2^63-1", code="ORDER_INVALID")
    check_request_trust(order)
    signer = recover_order_signer(order, domain)
    if isinstance(order, AppOrder):
        columns = (order.app, order.datasetrestrict, order.workerpoolrestrict, order.requesterrestrict)
        owned = order.app
    elif isinstance(order, DatasetOrder):
        columns = (order.apprestrict, order.dataset, order.workerpoolrestrict, order.requesterrestrict)
        owned = order.dataset
    elif isinstance(order, WorkerpoolOrder):
        columns = (order.apprestrict, order.datasetrestrict, order.workerpool, order.requesterrestrict)
        owned = order.workerpool
    else:
        columns = (order.app, order.dataset, order.workerpool, order.requester)
        owned = order.requester
    category = order.category if isinstance(order, WorkerpoolOrder | RequestOrder) else None
    if category is not None and category > SQL_INT_MAX:
        # The book's category column is an INTEGER (32-bit on PostgreSQL); categories are
        # numbered from 0 on chain, so no real one comes near.
        raise OrderError(f"order category {category} is above 2^31-1", code="ORDER_FIELD_INVALID")
    return BookEntry(
        kind=kind,
        order_hash=order_hash(order, domain),
        signer=signer,
        owner_of=(kind, owned),
        app=columns[0],
        dataset=columns[1],
        workerpool=columns[2],
        requester=columns[3],
        category=category,
        tag=order.tag,
        price=getattr(order, order_kind(kind).price_field),
        volume=order.volume,
        order=order_to_json(order),
    )
