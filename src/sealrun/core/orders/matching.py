"""The hub's matchOrders rules, in Python, so the SDK explains a mismatch before spending gas.

:func:`check_match` runs the same checks in the same order as ``Hub.matchOrders`` and
raises :class:`~sealrun.errors.OrderError` whose ``code`` is the one the contract's revert
reason maps to in :mod:`sealrun.core.orders.reasons` (``ORDER_CATEGORY_MISMATCH``, ...).
What only the chain knows (owners, consumed volumes, pre-signatures, balances) comes in a
:class:`MatchContext`; the result is the :class:`MatchPlan` the contract would execute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sealrun.core.orders.grants import Grant, is_grant_id
from sealrun.core.orders.models import (
    ZERO_ADDRESS,
    AppOrder,
    DatasetOrder,
    Order,
    RequestOrder,
    WorkerpoolOrder,
)
from sealrun.core.orders.reasons import REVERT_REASONS
from sealrun.core.orders.signing import recover_order_signer
from sealrun.core.orders.tags import TagBit, tag_value
from sealrun.core.orders.typed_data import Domain, order_hash
from sealrun.errors import OrderError


def to_checksum_address(address: str) -> str:
    # eth-utils costs a third of a CPU second to import: only matching pays it, not `--help`.
    from eth_utils import to_checksum_address as checksum

    return checksum(address)


__all__ = ["CLOSED", "WORKERPOOL_STAKE_RATIO", "MatchContext", "MatchPlan", "check_match"]

#: ``consumed`` value of an order closed by its signer.
CLOSED = 2**256 - 1
#: Percent of the pool price the pool owner stakes per task (as the hub).
WORKERPOOL_STAKE_RATIO = 30
_EMPTY: Mapping[bytes, object] = MappingProxyType({})


def _mismatch(reason: str, detail: str = "") -> OrderError:
    entry = REVERT_REASONS[reason]
    sentence = entry.sentence + (f" ({detail})" if detail else "")
    return OrderError(sentence, code=entry.code)


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchContext:
    """What the hub knows that the orders do not.

    Attributes:
        domain: the hub's EIP-712 domain.
        category_count: how many categories the hub has.
        app_owner / dataset_owner / workerpool_owner: current owners (zero address if unknown).
        scheduler_reward_ratio: the pool's scheduler reward ratio (percent).
        consumed: order digest -> consumed volume (``CLOSED`` once closed); missing means 0.
        presigned: order digest -> the address that pre-signed it on chain.
        requester_free / workerpool_owner_free: free balances, or None to skip those checks.
        grant: the registry grant a grant-referencing dataset order names (``None``: unknown),
            with the uses this hub counted.
        now: the chain's time, for the grant's expiry.
    """

    domain: Domain
    category_count: int
    app_owner: str = ZERO_ADDRESS
    dataset_owner: str = ZERO_ADDRESS
    workerpool_owner: str = ZERO_ADDRESS
    scheduler_reward_ratio: int = 0
    consumed: Mapping[bytes, int] = field(default_factory=lambda: MappingProxyType({}))
    presigned: Mapping[bytes, str] = field(default_factory=lambda: MappingProxyType({}))
    requester_free: int | None = None
    workerpool_owner_free: int | None = None
    grant: Grant | None = None
    now: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchPlan:
    """What ``matchOrders`` would do: the deal's volume, prices and the orders' digests."""

    volume: int
    price: int
    stake: int
    tag: bytes
    app_hash: bytes
    dataset_hash: bytes
    workerpool_hash: bytes
    request_hash: bytes

    @property
    def total_price(self) -> int:
        """What the requester has locked: price x volume."""
        return self.price * self.volume

    @property
    def total_stake(self) -> int:
        """What the pool owner has locked: stake x volume."""
        return self.stake * self.volume


def _allowed(restrict: str, actual: str) -> bool:
    return restrict in (ZERO_ADDRESS, actual)


def _signed_by(order: Order, digest: bytes, signer: str, context: MatchContext) -> bool:
    if signer == ZERO_ADDRESS:
        return False
    if not order.sign:
        presigner = context.presigned.get(digest)
        return presigner is not None and to_checksum_address(presigner) == signer
    try:
        return recover_order_signer(order, context.domain) == signer
    except OrderError:
        return False


def _remaining(consumed: int, volume: int) -> int:
    return 0 if consumed >= volume else volume - consumed


# One branch per contract check, kept in the contract's order so the first failure is the same.
def _check_compatibility(  # noqa: PLR0912
    a: AppOrder, d: DatasetOrder, w: WorkerpoolOrder, r: RequestOrder, context: MatchContext
) -> int:
    if r.category != w.category:
        raise _mismatch("category-mismatch", f"request {r.category}, workerpool {w.category}")
    if r.category >= context.category_count:
        raise _mismatch("category-unknown", f"category {r.category}, the hub has {context.category_count}")
    if r.trust > 1:
        raise _mismatch("trust-unsupported", f"trust {r.trust}")
    if r.trust > w.trust:
        raise _mismatch("trust-mismatch", f"request {r.trust}, workerpool {w.trust}")
    if a.appprice > r.appmaxprice:
        raise _mismatch("app-price", f"{a.appprice} > {r.appmaxprice}")
    has_dataset = d.dataset != ZERO_ADDRESS
    dataset_price = d.datasetprice if has_dataset else 0
    tag = tag_value(a.tag) | tag_value(r.tag) | (tag_value(d.tag) if has_dataset else 0)
    if dataset_price > r.datasetmaxprice:
        raise _mismatch("dataset-price", f"{dataset_price} > {r.datasetmaxprice}")
    if w.workerpoolprice > r.workerpoolmaxprice:
        raise _mismatch("workerpool-price", f"{w.workerpoolprice} > {r.workerpoolmaxprice}")
    if not tag >> TagBit.TEE & 1:
        raise _mismatch("tee-required")
    if tag & ~tag_value(w.tag):
        raise _mismatch("tag-coverage", f"missing bits {hex(tag & ~tag_value(w.tag))}")
    if r.app != a.app:
        raise _mismatch("app-mismatch", f"request {r.app}, app order {a.app}")
    if r.dataset != d.dataset:
        raise _mismatch("dataset-mismatch", f"request {r.dataset}, dataset order {d.dataset}")
    if not _allowed(r.workerpool, w.workerpool):
        raise _mismatch("workerpool-mismatch", f"request {r.workerpool}, workerpool order {w.workerpool}")
    restrictions = [
        ("app-dataset-restrict", a.datasetrestrict, d.dataset),
        ("app-workerpool-restrict", a.workerpoolrestrict, w.workerpool),
        ("app-requester-restrict", a.requesterrestrict, r.requester),
    ]
    if has_dataset:
        restrictions += [
            ("dataset-app-restrict", d.apprestrict, a.app),
            ("dataset-workerpool-restrict", d.workerpoolrestrict, w.workerpool),
            ("dataset-requester-restrict", d.requesterrestrict, r.requester),
        ]
    restrictions += [
        ("workerpool-app-restrict", w.apprestrict, a.app),
        ("workerpool-dataset-restrict", w.datasetrestrict, d.dataset),
        ("workerpool-requester-restrict", w.requesterrestrict, r.requester),
    ]
    for reason, restrict, actual in restrictions:
        if not _allowed(restrict, actual):
            raise _mismatch(reason, f"restricted to {restrict}, got {actual}")
    return tag


def _use_grant(
    d: DatasetOrder, a: AppOrder, w: WorkerpoolOrder, r: RequestOrder, context: MatchContext, volume: int
) -> int:
    """``Registry.useGrant``'s checks, in its order; the deal's volume under the grant."""
    g = context.grant
    if g is None or g.grant_id != d.salt or to_checksum_address(g.dataset) != d.dataset:
        raise _mismatch("grant-unknown", "0x" + d.salt.hex())
    if to_checksum_address(g.owner) != to_checksum_address(context.dataset_owner):
        raise _mismatch("grant-owner")
    if g.revoked:
        raise _mismatch("grant-revoked")
    if context.now >= g.expiry:
        raise _mismatch("grant-expired")
    rules = (("grant-app", g.app, a.app), ("grant-requester", g.requester, r.requester))
    for reason, restrict, actual in (*rules, ("grant-workerpool", g.workerpool, w.workerpool)):
        allowed = to_checksum_address(restrict)
        if (reason == "grant-app" or allowed != ZERO_ADDRESS) and allowed != actual:
            raise _mismatch(reason, f"granted to {allowed}, got {actual}")
    if g.price != d.datasetprice:
        raise _mismatch("grant-price", f"grant {g.price}, order {d.datasetprice}")
    if g.uses_left == 0:
        raise _mismatch("grant-exhausted", f"{g.uses} of {g.max_uses} used")
    return min(volume, g.uses_left)


def check_match(  # noqa: PLR0912 (one branch per contract check, in the contract's order)
    app: AppOrder,
    dataset: DatasetOrder | None,
    workerpool: WorkerpoolOrder,
    request: RequestOrder,
    context: MatchContext,
) -> MatchPlan:
    """Check the four orders as ``Hub.matchOrders`` does and return what the deal would be.

    Args:
        app, dataset, workerpool, request: the orders (``dataset=None`` for no dataset).
        context: owners, consumption, pre-signatures and balances read from the chain.

    Returns:
        The plan: volume, per-task price and stake, the deal tag and the four order digests.

    Raises:
        OrderError: with the code of the first check the contract would revert on.
    """
    d = dataset if dataset is not None else DatasetOrder.none()
    tag = _check_compatibility(app, d, workerpool, request, context)
    has_dataset = d.dataset != ZERO_ADDRESS
    owners = {
        "app": to_checksum_address(context.app_owner),
        "dataset": to_checksum_address(context.dataset_owner),
        "workerpool": to_checksum_address(context.workerpool_owner),
    }
    if owners["app"] == ZERO_ADDRESS:
        raise _mismatch("app-unknown", app.app)
    if has_dataset and owners["dataset"] == ZERO_ADDRESS:
        raise _mismatch("dataset-unknown", d.dataset)
    if owners["workerpool"] == ZERO_ADDRESS:
        raise _mismatch("workerpool-unknown", workerpool.workerpool)

    domain = context.domain
    app_hash = order_hash(app, domain)
    if not _signed_by(app, app_hash, owners["app"], context):
        raise _mismatch("app-signature")
    dataset_hash = bytes(32)
    # A dataset order whose salt is a grant id: the grant stands for signature and volume.
    granted = has_dataset and is_grant_id(d.salt)
    if has_dataset and not granted:
        dataset_hash = order_hash(d, domain)
        if not _signed_by(d, dataset_hash, owners["dataset"], context):
            raise _mismatch("dataset-signature")
    pool_hash = order_hash(workerpool, domain)
    if not _signed_by(workerpool, pool_hash, owners["workerpool"], context):
        raise _mismatch("workerpool-signature")
    request_hash = order_hash(request, domain)
    if not _signed_by(request, request_hash, request.requester, context):
        raise _mismatch("request-signature")

    checks = [("app", app_hash, app.volume)]
    if has_dataset and not granted:
        checks.append(("dataset", dataset_hash, d.volume))
    checks += [("workerpool", pool_hash, workerpool.volume), ("request", request_hash, request.volume)]
    volume = CLOSED
    for kind, digest, order_volume in checks:
        consumed = context.consumed.get(digest, 0)
        if consumed == CLOSED:
            raise _mismatch(f"{kind}-closed")
        left = _remaining(consumed, order_volume)
        if left == 0:
            raise _mismatch(f"{kind}-volume", f"consumed {consumed} of {order_volume}")
        volume = min(volume, left)
    if granted:
        volume = _use_grant(d, app, workerpool, request, context, volume)

    price = app.appprice + (d.datasetprice if has_dataset else 0) + workerpool.workerpoolprice
    stake = workerpool.workerpoolprice * WORKERPOOL_STAKE_RATIO // 100
    if context.requester_free is not None and context.requester_free < price * volume:
        raise _mismatch("requester-balance", f"free {context.requester_free} < {price * volume}")
    if context.workerpool_owner_free is not None and context.workerpool_owner_free < stake * volume:
        raise _mismatch("workerpool-stake", f"free {context.workerpool_owner_free} < {stake * volume}")
    return MatchPlan(
        volume=volume,
        price=price,
        stake=stake,
        tag=tag.to_bytes(32, "big"),
        app_hash=app_hash,
        dataset_hash=dataset_hash,
        workerpool_hash=pool_hash,
        request_hash=request_hash,
    )
