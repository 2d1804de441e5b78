"""Client of the market (``sealrun.services.market``): publish, query and unpublish orders.

Orders travel in their wire form: the EIP-712 message of :mod:`sealrun.core.orders` plus
``sign`` (what :func:`order_wire` returns). Errors: :class:`~sealrun.errors.ServiceError`
``MARKET_UNREACHABLE``, or the market's own code (``ORDER_NOT_OWNER``, ...) as an
:class:`~sealrun.errors.OrderError` / :class:`~sealrun.errors.RequestError`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from sealrun.adapters.problems import raise_for_problem
from sealrun.adapters.web import request_action, signature_headers
from sealrun.core.orders.codec import order_to_json as order_wire
from sealrun.core.requests import RequestDomain, sign_request
from sealrun.errors import OrderError, RequestError, ServiceError

__all__ = ["MarketClient", "order_wire"]


class MarketClient:
    """Talks to one market over HTTP.

    Args:
        base_url: the market's root URL, e.g. ``http://127.0.0.1:8704``.
        http: an httpx client to use instead of a new one (tests pass an in-process client).
        timeout: seconds per request.
    """

    def __init__(self, base_url: str, *, http: httpx.Client | None = None, timeout: float = 30.0) -> None:
        self._client = http or httpx.Client(timeout=timeout)
        self._client.base_url = httpx.URL(base_url.rstrip("/"))

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TransportError as error:
            raise ServiceError(
                f"the market at {self._client.base_url} is unreachable: {error}", code="MARKET_UNREACHABLE"
            ) from error
        raise_for_problem(
            response,
            service="market",
            default=ServiceError,
            families={"ORDER_": OrderError, "REQUEST_": RequestError},
        )
        return response

    def publish(
        self, kind: str, order: Mapping[str, Any], *, chain_id: int, hub: str, expires_at: int | None = None
    ) -> dict[str, Any]:
        """Publish a signed order; returns the book's record of it (``order_hash``, ``remaining``...)."""
        body = {
            "kind": kind,
            "order": dict(order),
            "chain_id": chain_id,
            "hub": hub,
            "expires_at": expires_at,
        }
        result: dict[str, Any] = self._send("POST", "/v1/orders", json=body).json()
        return result

    def order(self, order_hash: str) -> dict[str, Any]:
        """One order by hash. Raises ``ORDER_NOT_FOUND``."""
        result: dict[str, Any] = self._send("GET", f"/v1/orders/{order_hash}").json()
        return result

    def orderbook(self, kind: str, **filters: object) -> list[dict[str, Any]]:
        """Open orders of ``kind``, cheapest first; filters: category, tag, app, dataset,
        workerpool, requester, min_volume, limit, offset (``None`` values are left out)."""
        params = {key: str(value) for key, value in filters.items() if value is not None}
        orders: list[dict[str, Any]] = self._send("GET", f"/v1/orderbook/{kind}", params=params).json()[
            "orders"
        ]
        return orders

    def unpublish(
        self, order_hash: str, *, key: bytes, domain: RequestDomain, clock: Callable[[], float] = time.time
    ) -> None:
        """Take an order off the book (signed by its signer's ``key``)."""
        path = f"/v1/orders/{order_hash}"
        signed = sign_request(
            key, domain, action=request_action("DELETE", path), body=b"", timestamp=int(clock()),
            nonce=secrets.token_bytes(32),
        )  # fmt: skip
        self._send("DELETE", path, headers=signature_headers(signed))
