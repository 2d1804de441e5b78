"""Dataset grants: a dataset owner's on-chain permission for an app to use a dataset.

A grant (``Registry.grant``) names a dataset, an app, optionally one requester and one
workerpool (the zero address: anyone), a price per task, a maximum number of uses, an
expiry (unix seconds) and whether bulk tasks may use it; the owner may revoke it at any
time (``Registry.revokeGrant``). Decision record: docs/decisions/0070-dataset-grants.md.

A grant's id is ``GRANT_MARK << 160 | n`` (``n`` = 1, 2, ... in creation order). A dataset
order whose ``salt`` is a grant id *references* that grant: the hub then skips the dataset
order's signature and volume, and the registry checks the grant and counts its uses at
match (``useGrant``). :func:`grant_order` builds that order; the SMS re-checks the grant at
every release (:func:`grant_refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sealrun.core.orders.models import ZERO_ADDRESS, DatasetOrder

__all__ = [
    "GRANT_MARK",
    "Grant",
    "grant_id",
    "grant_order",
    "is_grant_id",
]

#: The top 96 bits of every grant id: ASCII "sealrungrant" (as in the contracts).
GRANT_MARK = int.from_bytes(b"sealrungrant", "big")
_LOW160 = (1 << 160) - 1


def grant_id(number: int) -> bytes:
    """The id of the ``number``-th grant of a registry (from 1)."""
    if not 0 < number <= _LOW160:
        raise ValueError(f"grant number {number} out of range")
    return ((GRANT_MARK << 160) | number).to_bytes(32, "big")


def is_grant_id(value: bytes) -> bool:
    """Whether ``value`` (32 bytes: a salt or an id) carries the grant mark, as the hub reads it."""
    return len(value) == 32 and int.from_bytes(value, "big") >> 160 == GRANT_MARK


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """A grant as the registry stores it, with the uses the hub has counted.

    Addresses are checksummed strings; ``requester`` and ``workerpool`` are the zero
    address when anyone may.
    """

    grant_id: bytes
    dataset: str
    owner: str
    app: str
    requester: str
    workerpool: str
    price: int
    max_uses: int
    expiry: int
    bulk: bool
    revoked: bool
    uses: int = 0

    @property
    def uses_left(self) -> int:
        """How many more tasks the grant allows."""
        return max(0, self.max_uses - self.uses)

    def status(self, now: int) -> str:
        """``revoked``, ``expired``, ``exhausted`` or ``active`` at ``now``."""
        if self.revoked:
            return "revoked"
        if now >= self.expiry:
            return "expired"
        if self.uses_left == 0:
            return "exhausted"
        return "active"

    def to_json(self, now: int) -> dict[str, object]:
        """What ``sealrun dataset grants --json`` prints."""
        return {
            "grant": "0x" + self.grant_id.hex(),
            "dataset": self.dataset,
            "owner": self.owner,
            "app": self.app,
            "requester": None if self.requester == ZERO_ADDRESS else self.requester,
            "workerpool": None if self.workerpool == ZERO_ADDRESS else self.workerpool,
            "price": self.price,
            "max_uses": self.max_uses,
            "uses": self.uses,
            "expiry": self.expiry,
            "bulk": self.bulk,
            "status": self.status(now),
        }


def grant_order(grant: Grant, *, tag: bytes = bytes(32)) -> DatasetOrder:
    """The (unsigned) dataset order that references ``grant``: the grant stands for the
    owner's signature, so a requester builds it from the grant alone."""
    return DatasetOrder(
        dataset=grant.dataset,
        datasetprice=grant.price,
        volume=grant.max_uses,
        tag=tag,
        apprestrict=grant.app,
        workerpoolrestrict=grant.workerpool,
        requesterrestrict=grant.requester,
        salt=grant.grant_id,
    )
