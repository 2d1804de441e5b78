"""A dataset owner's release policy: the owner's own rules, checked by the SMS at each release.

The deployment's attestation policy (:mod:`sealrun.core.attestation.policy`) says which
enclaves the SMS trusts at all; a dataset owner may ask more of the enclaves that receive *her*
key (issue 21 item 2, decision 0090). The policy is a JSON document, version 1, every rule
optional (absent: no rule beyond the deployment's)::

    {"version": 1,
     "tee_types": ["sgx-dcap", "tdx-dcap"],   # evidence types allowed
     "min_tcb": "UpToDate",                   # or "SWHardeningNeeded" (also accepts that status)
     "max_collateral_age": 604800,            # seconds since the collateral was issued
     "isolation": "strict",                   # or "any" (the default)
     "workerpools": ["0x…"]}                  # workerpools allowed

Unknown keys, wrong types, unknown values, duplicates and empty lists are refused with
``SECRET_POLICY_INVALID`` (:class:`~sealrun.errors.SecretError`). :func:`canonical_policy`
writes the one canonical form (sorted keys and lists, lowercase addresses, absent rules as
``null``); its sha256 is the policy's :attr:`OwnerPolicy.digest`, recorded in the audit entry
of every release it applied to.

:func:`owner_policy_refusal` checks the rules in this order, the first that fails giving its
code: ``RELEASE_POLICY_TEE_TYPE``, ``RELEASE_POLICY_TCB_STATUS``,
``RELEASE_POLICY_COLLATERAL_AGE`` (claims without dated collateral, such as SEV-SNP, Nitro or
simulated evidence, cannot show its age and are refused: deny by default),
``RELEASE_POLICY_ISOLATION`` (``strict``: only a release whose isolation mode is ``strict``),
``RELEASE_POLICY_WORKERPOOL``. Pure: the time and the isolation mode are given.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from sealrun.core.attestation import Claims, EvidenceType
from sealrun.core.attestation.claims import TCB_UP_TO_DATE
from sealrun.errors import SecretError

__all__ = [
    "ISOLATION_MODES",
    "MAX_POLICY_BYTES",
    "MAX_POLICY_WORKERPOOLS",
    "MIN_TCB_LEVELS",
    "OWNER_POLICY_VERSION",
    "OwnerPolicy",
    "OwnerPolicyRefusal",
    "canonical_policy",
    "owner_policy_refusal",
    "parse_owner_policy",
]

OWNER_POLICY_VERSION: Final = 1
#: A policy document is at most this many bytes (UTF-8).
MAX_POLICY_BYTES: Final = 8192
#: At most this many workerpools in ``workerpools``.
MAX_POLICY_WORKERPOOLS: Final = 100
#: ``min_tcb`` → the TCB statuses it accepts.
MIN_TCB_LEVELS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        TCB_UP_TO_DATE: frozenset({TCB_UP_TO_DATE}),
        "SWHardeningNeeded": frozenset({TCB_UP_TO_DATE, "SWHardeningNeeded"}),
    }
)
#: ``isolation`` values: ``strict`` requires a strict release, ``any`` accepts every mode.
ISOLATION_MODES: Final = ("any", "strict")
_KEYS: Final = frozenset(
    {"version", "tee_types", "min_tcb", "max_collateral_age", "isolation", "workerpools"}
)
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_MAX_AGE: Final = 1 << 32


def _invalid(message: str) -> SecretError:
    return SecretError(f"release policy: {message}", code="SECRET_POLICY_INVALID")


@dataclass(frozen=True, kw_only=True)
class OwnerPolicy:
    """A parsed release policy (``None``/``"any"``: no rule). Build it with :func:`parse_owner_policy`."""

    tee_types: frozenset[EvidenceType] | None = None
    min_tcb: str | None = None
    max_collateral_age: int | None = None
    isolation: str = "any"
    workerpools: frozenset[str] | None = None

    @property
    def digest(self) -> str:
        """``0x`` + sha256 of :func:`canonical_policy`: what the audit log records."""
        return "0x" + hashlib.sha256(canonical_policy(self).encode()).hexdigest()


@dataclass(frozen=True)
class OwnerPolicyRefusal:
    """The first owner rule a release breaks: its stable code and a sentence."""

    code: str
    message: str


def parse_owner_policy(document: str | bytes | object) -> OwnerPolicy:
    """Read a policy document (JSON text or already-decoded JSON).

    Raises:
        SecretError: ``SECRET_POLICY_INVALID`` naming what is wrong.
    """
    data = _decode(document) if isinstance(document, (str, bytes)) else document
    if not isinstance(data, dict):
        raise _invalid("must be a JSON object")
    unknown = sorted(str(key) for key in data if key not in _KEYS)
    if unknown:
        raise _invalid(f"unknown keys {unknown}")
    version = data.get("version")
    if type(version) is not int or version != OWNER_POLICY_VERSION:
        raise _invalid(f"version must be {OWNER_POLICY_VERSION}")
    return OwnerPolicy(
        tee_types=_tee_types(data.get("tee_types")),
        min_tcb=_min_tcb(data.get("min_tcb")),
        max_collateral_age=_max_age(data.get("max_collateral_age")),
        isolation=_isolation(data.get("isolation", "any")),
        workerpools=_workerpools(data.get("workerpools")),
    )


def canonical_policy(policy: OwnerPolicy) -> str:
    """The one canonical JSON text of ``policy`` (sorted keys and lists, no spaces)."""
    document = {
        "version": OWNER_POLICY_VERSION,
        "tee_types": None if policy.tee_types is None else sorted(t.value for t in policy.tee_types),
        "min_tcb": policy.min_tcb,
        "max_collateral_age": policy.max_collateral_age,
        "isolation": policy.isolation,
        "workerpools": None if policy.workerpools is None else sorted(policy.workerpools),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def owner_policy_refusal(
    policy: OwnerPolicy, claims: Claims, *, workerpool: str, isolation: str, now: int
) -> OwnerPolicyRefusal | None:
    """The first rule of ``policy`` this release breaks, or ``None`` (order: module docstring).

    Args:
        policy: the dataset owner's policy.
        claims: the enclave's verified claims.
        workerpool: the deal's workerpool.
        isolation: the release's isolation mode (``strict`` unless the deal asks otherwise).
        now: the SMS's clock (UNIX seconds).
    """
    for rule in (_tee_rule, _tcb_rule, _age_rule, _isolation_rule, _pool_rule):
        broken = rule(policy, claims, workerpool=workerpool, isolation=isolation, now=now)
        if broken is not None:
            return broken
    return None


def _tee_rule(policy: OwnerPolicy, claims: Claims, **_: object) -> OwnerPolicyRefusal | None:
    if policy.tee_types is None or claims.tee in policy.tee_types:
        return None
    return OwnerPolicyRefusal(
        "RELEASE_POLICY_TEE_TYPE", f"the dataset owner does not allow {claims.tee.value} enclaves"
    )


def _tcb_rule(policy: OwnerPolicy, claims: Claims, **_: object) -> OwnerPolicyRefusal | None:
    if policy.min_tcb is None or claims.tcb_status in MIN_TCB_LEVELS[policy.min_tcb]:
        return None
    return OwnerPolicyRefusal(
        "RELEASE_POLICY_TCB_STATUS",
        f"the platform's TCB status {claims.tcb_status!r} is below the owner's minimum {policy.min_tcb!r}",
    )


def _age_rule(policy: OwnerPolicy, claims: Claims, *, now: int, **_: object) -> OwnerPolicyRefusal | None:
    if policy.max_collateral_age is None:
        return None
    issued = claims.extra.get("collateral_issued_at")
    if type(issued) is not int:
        return OwnerPolicyRefusal(
            "RELEASE_POLICY_COLLATERAL_AGE",
            "the evidence carries no dated collateral: it cannot meet the owner's maximum collateral age",
        )
    if now - issued <= policy.max_collateral_age:
        return None
    return OwnerPolicyRefusal(
        "RELEASE_POLICY_COLLATERAL_AGE",
        f"the collateral was issued {now - issued} s ago, "
        f"more than the owner's maximum of {policy.max_collateral_age} s",
    )


def _isolation_rule(
    policy: OwnerPolicy, _claims: Claims, *, isolation: str, **_: object
) -> OwnerPolicyRefusal | None:
    if policy.isolation != "strict" or isolation == "strict":
        return None
    return OwnerPolicyRefusal(
        "RELEASE_POLICY_ISOLATION", f"the dataset owner requires strict isolation, not {isolation!r}"
    )


def _pool_rule(
    policy: OwnerPolicy, _claims: Claims, *, workerpool: str, **_: object
) -> OwnerPolicyRefusal | None:
    if policy.workerpools is None or workerpool.lower() in policy.workerpools:
        return None
    return OwnerPolicyRefusal("RELEASE_POLICY_WORKERPOOL", "the dataset owner does not allow this workerpool")


def _decode(document: str | bytes) -> object:
    raw = document.encode() if isinstance(document, str) else document
    if len(raw) > MAX_POLICY_BYTES:
        raise _invalid(f"a policy is at most {MAX_POLICY_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise _invalid("not JSON") from error


def _names(value: object, what: str, limit: int) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > limit:
        raise _invalid(f"{what} must be a non-empty list of at most {limit} strings, or null")
    if not all(isinstance(item, str) for item in value):
        raise _invalid(f"{what} must be a list of strings")
    items: list[str] = value
    if len(set(items)) != len(items):
        raise _invalid(f"{what} lists a value twice")
    return items


def _tee_types(value: object) -> frozenset[EvidenceType] | None:
    names = _names(value, "tee_types", len(EvidenceType))
    if names is None:
        return None
    known = {t.value: t for t in EvidenceType}
    wrong = sorted(name for name in names if name not in known)
    if wrong:
        raise _invalid(f"unknown tee_types {wrong}; known: {sorted(known)}")
    return frozenset(known[name] for name in names)


def _min_tcb(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in MIN_TCB_LEVELS:
        raise _invalid(f"min_tcb must be one of {sorted(MIN_TCB_LEVELS)} or null")
    return value


def _max_age(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 < value < _MAX_AGE:
        raise _invalid(f"max_collateral_age must be 1 to {_MAX_AGE - 1} seconds, or null")
    return value


def _isolation(value: object) -> str:
    if not isinstance(value, str) or value not in ISOLATION_MODES:
        raise _invalid(f"isolation must be one of {list(ISOLATION_MODES)}")
    return value


def _workerpools(value: object) -> frozenset[str] | None:
    names = _names(value, "workerpools", MAX_POLICY_WORKERPOOLS)
    if names is None:
        return None
    if not all(_ADDRESS.match(name) for name in names):
        raise _invalid("workerpools must be 0x-prefixed 20-byte hex addresses")
    lowered = frozenset(name.lower() for name in names)
    if len(lowered) != len(names):
        raise _invalid("workerpools lists a value twice")
    return lowered
