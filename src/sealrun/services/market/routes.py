"""HTTP routes of the market (``/v1``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from sealrun.adapters.web import SignedCall, problem_responses, read_signed_call
from sealrun.api.market import OrderKind, OrderOut, OrderPage, PublishIn, Routes, StatusOut
from sealrun.core.orders.numbers import SQL_BIGINT_MAX, SQL_INT_MAX
from sealrun.core.requests import RequestVerifier
from sealrun.errors import OrderError
from sealrun.services.market.book import BookFilter
from sealrun.services.market.models import BookOrder
from sealrun.services.market.usecases import MarketService

__all__ = ["router"]

router = APIRouter()


def _service(request: Request) -> MarketService:
    service: MarketService = request.app.state.service
    return service


def _order_out(row: BookOrder) -> OrderOut:
    """Render a stored order."""
    return OrderOut(
        order_hash=row.order_hash, kind=row.kind, signer=row.signer, status=row.status, price=row.price,
        volume=row.volume, remaining=row.remaining, category=row.category, tag=row.tag,
        published_at=row.published_at, expires_at=row.expires_at, order=json.loads(row.order_json),
    )  # fmt: skip


def _address(value: str | None, what: str) -> str | None:
    from eth_utils import to_checksum_address

    if value is None:
        return None
    try:
        return to_checksum_address(value)
    except (ValueError, TypeError):
        raise OrderError(f"{what} is not an address: {value!r}", code="ORDER_INVALID") from None


@router.post(Routes.ORDERS, response_model=OrderOut, status_code=201, responses=problem_responses(400, 409))
async def publish(body: PublishIn, request: Request) -> OrderOut:
    """Publish a signed order (checked against its signature and on-chain ownership)."""
    service = _service(request)
    row = await run_in_threadpool(
        service.publish,
        body.kind,
        body.order,
        chain_id=body.chain_id,
        hub=body.hub,
        expires_at=body.expires_at,
    )
    return _order_out(row)


@router.get(Routes.ORDER, response_model=OrderOut, responses=problem_responses(404))
async def get_order(order_hash: str, request: Request) -> OrderOut:
    """One order by its EIP-712 hash, in any status."""
    return _order_out(await run_in_threadpool(_service(request).get, order_hash))


@router.delete(Routes.ORDER, status_code=204, responses=problem_responses(401, 403, 404))
async def unpublish(
    order_hash: str, request: Request, call: Annotated[SignedCall, Depends(read_signed_call)]
) -> Response:
    """Take an order off the book; the request must be signed by the order's signer."""
    verifier: RequestVerifier = request.app.state.verifier
    now = int(request.app.state.clock())
    verified = await run_in_threadpool(
        verifier.verify, action=call.action, body=call.body, signed=call.signature, now=now
    )
    await run_in_threadpool(_service(request).unpublish, order_hash, signer=verified.signer)
    return Response(status_code=204)


@router.get(Routes.ORDERBOOK, response_model=OrderPage)
async def orderbook(
    kind: OrderKind,
    request: Request,
    category: Annotated[int | None, Query(ge=0, le=SQL_INT_MAX)] = None,
    tag: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{64}$")] = None,
    app: str | None = None,
    dataset: str | None = None,
    workerpool: str | None = None,
    requester: str | None = None,
    min_volume: Annotated[int, Query(ge=1, le=SQL_BIGINT_MAX)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=SQL_BIGINT_MAX)] = 0,
) -> OrderPage:
    """Open orders of one kind, cheapest first, filtered by category, tag, parties and volume."""
    query = BookFilter(
        kind=kind,
        category=category,
        tag=bytes.fromhex(tag[2:]) if tag else None,
        app=_address(app, "app"),
        dataset=_address(dataset, "dataset"),
        workerpool=_address(workerpool, "workerpool"),
        requester=_address(requester, "requester"),
        min_volume=min_volume,
        limit=limit,
        offset=offset,
    )
    rows = await run_in_threadpool(_service(request).search, query)
    return OrderPage(orders=[_order_out(row) for row in rows], count=len(rows))


@router.get(Routes.STATUS, response_model=StatusOut)
async def status(request: Request) -> StatusOut:
    """Liveness and the deployment this market serves."""
    domain = _service(request).domain
    return StatusOut(status="ok", chain_id=domain.chain_id, hub=domain.hub)
