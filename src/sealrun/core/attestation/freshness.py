"""How old collateral may be: the maximum collateral age and the cache's refetch decision (pure).

Collateral (Intel's TCB info, QE identity and CRLs; AMD's CRLs) says when it was issued
(``issueDate``, a CRL's ``thisUpdate``) and when its issuer promises the next one
(``nextUpdate``, about 30 days later for Intel). A TCB recovery reaches a verifier only through
fresh collateral, so the policy refuses collateral *issued* more than
:data:`DEFAULT_MAX_COLLATERAL_AGE` (7 days) before the verification, with
``ATTEST_COLLATERAL_STALE``; collateral past its ``nextUpdate`` is stale whatever its age.

The cache (``sealrun.adapters.collateral``) asks :func:`needs_refresh` whether to go to the
network and :func:`usable` whether what it holds may still be served when the network fails.
Nothing here reads a clock: ``now`` is always given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sealrun.core.attestation.codes import ATTEST_COLLATERAL, ATTEST_COLLATERAL_STALE
from sealrun.errors import AttestationError

__all__ = [
    "DEFAULT_MAX_COLLATERAL_AGE",
    "DEFAULT_REVALIDATE_AFTER",
    "CacheFacts",
    "cache_control_expiry",
    "check_collateral_age",
    "needs_refresh",
    "parse_utc",
    "usable",
]

DEFAULT_MAX_COLLATERAL_AGE = 7 * 24 * 3600
"""Seconds: collateral issued longer ago than this is refused (``ATTEST_COLLATERAL_STALE``)."""
DEFAULT_REVALIDATE_AFTER = 24 * 3600
"""Seconds: without a ``Cache-Control: max-age``, a cached answer is revalidated after a day."""
_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$")
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.I)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.I)


def parse_utc(value: object, what: str) -> int:
    """UNIX seconds of an Intel timestamp (``2025-06-19T10:56:11Z``).

    Raises:
        AttestationError: ``ATTEST_COLLATERAL`` if it is not such a timestamp.
    """
    if not isinstance(value, str) or not _UTC.match(value):
        raise AttestationError(f"{what} is not a UTC timestamp", code=ATTEST_COLLATERAL)
    try:
        moment = datetime(
            int(value[0:4]), int(value[5:7]), int(value[8:10]),
            int(value[11:13]), int(value[14:16]), int(value[17:19]), tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        raise AttestationError(f"{what} is not a valid date", code=ATTEST_COLLATERAL) from None
    return int(moment.timestamp())


def check_collateral_age(*, issued_at: int, next_update: int | None, now: int, max_age: int) -> int:
    """Refuse collateral issued more than ``max_age`` seconds before ``now`` or past ``nextUpdate``.

    Args:
        issued_at: the oldest issue time of the collateral's parts (UNIX seconds).
        next_update: the earliest ``nextUpdate`` of its parts, or None.
        now: the verification time.
        max_age: the maximum collateral age in seconds.

    Returns:
        The age in seconds (``now - issued_at``, negative if issued in the future).

    Raises:
        AttestationError: ``ATTEST_COLLATERAL_STALE``.
    """
    age = now - issued_at
    if age > max_age:
        raise AttestationError(
            f"the collateral was issued {age // 3600} h ago, more than the maximum collateral age "
            f"of {max_age // 3600} h",
            code=ATTEST_COLLATERAL_STALE,
        )
    if next_update is not None and now >= next_update:
        raise AttestationError("the collateral is past its nextUpdate", code=ATTEST_COLLATERAL_STALE)
    return age


def cache_control_expiry(header: str | None, now: int) -> int | None:
    """When an answer with this ``Cache-Control`` header must be revalidated.

    ``no-cache`` / ``no-store``: at once (``now``); ``max-age`` / ``s-maxage``: ``now + max-age``;
    no header or neither directive: None (the cache's default applies).
    """
    if not header:
        return None
    if _NO_CACHE.search(header):
        return now
    match = _MAX_AGE.search(header)
    return None if match is None else now + int(match.group(1))


@dataclass(frozen=True)
class CacheFacts:
    """What the cache knows of one stored answer (all times UNIX seconds).

    Attributes:
        fetched_at: when the answer was last fetched or revalidated (a 304).
        http_expires_at: from ``Cache-Control`` at that time, or None.
        issued_at: the content's issue time (``issueDate`` / ``thisUpdate``), or None (certificates).
        next_update: the content's ``nextUpdate``, or None.
    """

    fetched_at: int
    http_expires_at: int | None = None
    issued_at: int | None = None
    next_update: int | None = None


def usable(facts: CacheFacts, *, now: int, max_age: int) -> bool:
    """Whether the stored content may still be used at ``now`` (younger than ``max_age``,
    before its ``nextUpdate``)."""
    if facts.issued_at is not None and now - facts.issued_at > max_age:
        return False
    return facts.next_update is None or now < facts.next_update


def needs_refresh(
    facts: CacheFacts, *, now: int, max_age: int, revalidate_after: int = DEFAULT_REVALIDATE_AFTER
) -> bool:
    """Whether to ask the server again (a conditional GET when an ETag is known).

    Yes when the content is no longer :func:`usable`, when its ``Cache-Control`` lifetime is
    over, or (without one) when it was fetched more than ``revalidate_after`` seconds ago.
    """
    if not usable(facts, now=now, max_age=max_age):
        return True
    if facts.http_expires_at is not None:
        return now >= facts.http_expires_at
    return now - facts.fetched_at >= revalidate_after
