"""The appraisal policy: deny by default, one stable code per rule.

A :class:`Policy` says which verified claims are good enough to receive keys. It never sees
evidence, only :class:`~sealrun.core.attestation.claims.Claims` minted by a verifier, and
:meth:`Policy.appraise` returns a :class:`PolicyVerdict` or raises the code of the first rule
that fails, checked in this order:

1. ``ATTEST_POLICY_SIMULATED`` simulated claims, unless ``simulated`` is an allowed TEE type;
2. ``ATTEST_POLICY_TEE_TYPE`` the TEE type is not in ``allowed_tee_types``;
3. ``ATTEST_POLICY_DEBUG`` debug enclaves, always (no policy can allow them);
4. ``ATTEST_POLICY_MEASUREMENT`` the measurement is not one of ``measurements`` (when given),
   or an entry of ``registers`` differs from the claims' extra register of that name;
5. ``ATTEST_POLICY_SIGNER`` / ``ATTEST_POLICY_PRODUCT`` / ``ATTEST_POLICY_SVN`` (when ``signer``
   is given): the signer differs, the product id differs, or the svn is below ``min_svn``;
6. ``ATTEST_COLLATERAL_STALE`` the claims' collateral (DCAP: TCB info, QE identity, PCK CRL)
   was issued more than ``max_collateral_age`` seconds before the verification (default
   7 days, :data:`~sealrun.core.attestation.freshness.DEFAULT_MAX_COLLATERAL_AGE`); claims
   without dated collateral (SEV-SNP, Nitro, simulated) skip this rule;
7. ``ATTEST_POLICY_TCB_STATUS`` the TCB status is not in ``accepted_tcb_statuses``
   (default ``["UpToDate"]``);
8. ``ATTEST_POLICY_ADVISORY`` an advisory of the claims is in ``rejected_advisories``.

A policy must pin an identity: ``measurements``, or ``signer`` + ``product_id`` + ``min_svn``
(or both). Documents (TOML or JSON) carry ``version = 1``; unknown keys, bad values and unknown
TCB statuses are ``ATTEST_POLICY_INVALID``. ``Revoked`` can never be accepted.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypedDict

from sealrun.core.attestation.claims import TCB_UNAPPRAISED, TCB_UP_TO_DATE, Claims
from sealrun.core.attestation.codes import (
    ATTEST_COLLATERAL_STALE,
    ATTEST_POLICY_ADVISORY,
    ATTEST_POLICY_DEBUG,
    ATTEST_POLICY_INVALID,
    ATTEST_POLICY_MEASUREMENT,
    ATTEST_POLICY_PRODUCT,
    ATTEST_POLICY_SIGNER,
    ATTEST_POLICY_SIMULATED,
    ATTEST_POLICY_SVN,
    ATTEST_POLICY_TCB_STATUS,
    ATTEST_POLICY_TEE_TYPE,
)
from sealrun.core.attestation.evidence import EvidenceType
from sealrun.core.attestation.freshness import DEFAULT_MAX_COLLATERAL_AGE
from sealrun.errors import AttestationError

__all__ = ["KNOWN_TCB_STATUSES", "POLICY_VERSION", "Policy", "PolicyVerdict", "VerdictDocument"]

POLICY_VERSION = 1
KNOWN_TCB_STATUSES = frozenset(
    {
        TCB_UP_TO_DATE,
        "SWHardeningNeeded",
        "ConfigurationNeeded",
        "ConfigurationAndSWHardeningNeeded",
        "OutOfDate",
        "OutOfDateConfigurationNeeded",
        TCB_UNAPPRAISED,
    }
)
_KEYS = frozenset(
    {"version", "allowed_tee_types", "measurements", "registers", "signer", "product_id", "min_svn",
     "accepted_tcb_statuses", "rejected_advisories", "max_collateral_age"}
)  # fmt: skip
_HEX = re.compile(r"^(?:0x)?((?:[0-9a-fA-F]{2})+)$")


def _invalid(message: str) -> AttestationError:
    return AttestationError(f"policy: {message}", code=ATTEST_POLICY_INVALID)


def _hex(value: object, what: str) -> bytes:
    if isinstance(value, bytes) and value:
        return value
    match = _HEX.match(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid(f"{what} must be hex bytes")
    return bytes.fromhex(match.group(1))


def _uint(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise _invalid(f"{what} must be a non-negative integer")
    return value


def _strings(value: object, what: str) -> tuple[str, ...]:
    # Lists from documents, sets from code; a string or a mapping is never a list of names.
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise _invalid(f"{what} must be a list of strings")
    items = tuple(value)
    if not all(isinstance(item, str) and item for item in items):
        raise _invalid(f"{what} must be a list of non-empty strings")
    return items


class VerdictDocument(TypedDict):
    """:meth:`PolicyVerdict.to_dict`: the decision and the rules the claims passed."""

    decision: Literal["accept"]
    rules: list[str]


@dataclass(frozen=True)
class PolicyVerdict:
    """A successful appraisal: the claims and the rules they passed."""

    claims: Claims
    rules: tuple[str, ...]

    def to_dict(self) -> VerdictDocument:
        """A JSON-ready view of the verdict."""
        return {"decision": "accept", "rules": list(self.rules)}


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A deny-by-default appraisal policy (see the module docs for the rules and their order).

    Args:
        allowed_tee_types: TEE types to accept; ``simulated`` only when named.
        measurements: acceptable measurements (any of them).
        registers: extra registers that must equal these bytes (e.g. ``rtmr0``, ``pcr1``).
        signer: required signer (then ``product_id`` and ``min_svn`` are required too).
        product_id: required product id.
        min_svn: minimum security version number.
        accepted_tcb_statuses: TCB statuses to accept (default ``UpToDate`` only).
        rejected_advisories: advisory ids that refuse the evidence.
        max_collateral_age: seconds; older collateral is refused (default 7 days).

    Raises:
        AttestationError: ``ATTEST_POLICY_INVALID`` for an incoherent policy.
    """

    allowed_tee_types: frozenset[EvidenceType]
    measurements: frozenset[bytes] = frozenset()
    registers: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    signer: bytes | None = None
    product_id: int | None = None
    min_svn: int | None = None
    accepted_tcb_statuses: frozenset[str] = frozenset({TCB_UP_TO_DATE})
    rejected_advisories: frozenset[str] = frozenset()
    max_collateral_age: int = DEFAULT_MAX_COLLATERAL_AGE

    def __post_init__(self) -> None:
        try:
            types = frozenset(
                EvidenceType.parse(kind) for kind in _strings(self.allowed_tee_types, "allowed_tee_types")
            )
        except AttestationError as error:
            raise _invalid(error.message) from None
        object.__setattr__(self, "allowed_tee_types", types)
        object.__setattr__(self, "measurements", frozenset(_hex(m, "measurement") for m in self.measurements))
        registers = {
            str(name): _hex(value, f"register {name}") for name, value in dict(self.registers).items()
        }
        object.__setattr__(self, "registers", MappingProxyType(registers))
        statuses = frozenset(_strings(self.accepted_tcb_statuses, "accepted_tcb_statuses"))
        object.__setattr__(self, "accepted_tcb_statuses", statuses)
        object.__setattr__(
            self, "rejected_advisories", frozenset(_strings(self.rejected_advisories, "rejected_advisories"))
        )
        if not types:
            raise _invalid("allowed_tee_types is empty: nothing could ever pass")
        if unknown := statuses - KNOWN_TCB_STATUSES:
            raise _invalid(f"unknown TCB status(es) {sorted(unknown)} (Revoked can never be accepted)")
        if not statuses:
            raise _invalid("accepted_tcb_statuses is empty: nothing could ever pass")
        _uint(self.max_collateral_age, "max_collateral_age")
        identity = (self.signer, self.product_id, self.min_svn)
        if any(part is not None for part in identity):
            if any(part is None for part in identity):
                raise _invalid("signer, product_id and min_svn go together")
            object.__setattr__(self, "signer", _hex(self.signer, "signer"))
            _uint(self.product_id, "product_id")
            _uint(self.min_svn, "min_svn")
        elif not self.measurements:
            raise _invalid("pin an identity: measurements, or signer + product_id + min_svn")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from a parsed document (``version = 1``; unknown keys refused).

        Raises:
            AttestationError: ``ATTEST_POLICY_INVALID``.
        """
        if not isinstance(data, Mapping):
            raise _invalid("the document must be a table / object")
        if unknown := set(data) - _KEYS:
            raise _invalid(f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
        if data.get("version") != POLICY_VERSION or isinstance(data.get("version"), bool):
            raise _invalid(f"version must be {POLICY_VERSION}")
        if "allowed_tee_types" not in data:
            raise _invalid("allowed_tee_types is required")
        registers = data.get("registers", {})
        if not isinstance(registers, Mapping):
            raise _invalid("registers must be a table of name = hex")
        try:
            types = frozenset(
                EvidenceType.parse(kind) for kind in _strings(data["allowed_tee_types"], "allowed_tee_types")
            )
        except AttestationError as error:
            raise _invalid(error.message) from None
        return cls(
            allowed_tee_types=types,
            measurements=frozenset(
                _hex(m, "measurement") for m in _strings(data.get("measurements", ()), "measurements")
            ),
            registers=registers,
            signer=None if data.get("signer") is None else _hex(data["signer"], "signer"),
            product_id=None if data.get("product_id") is None else _uint(data["product_id"], "product_id"),
            min_svn=None if data.get("min_svn") is None else _uint(data["min_svn"], "min_svn"),
            accepted_tcb_statuses=frozenset(
                _strings(data.get("accepted_tcb_statuses", [TCB_UP_TO_DATE]), "accepted_tcb_statuses")
            ),
            rejected_advisories=frozenset(
                _strings(data.get("rejected_advisories", ()), "rejected_advisories")
            ),
            max_collateral_age=_uint(
                data.get("max_collateral_age", DEFAULT_MAX_COLLATERAL_AGE), "max_collateral_age"
            ),
        )

    @classmethod
    def from_toml(cls, text: str) -> Policy:
        """Parse a TOML policy document. Raises ``ATTEST_POLICY_INVALID``."""
        try:
            return cls.from_mapping(tomllib.loads(text))
        except tomllib.TOMLDecodeError as error:
            raise _invalid(f"not TOML: {error}") from None

    @classmethod
    def from_json(cls, text: str) -> Policy:
        """Parse a JSON policy document. Raises ``ATTEST_POLICY_INVALID``."""
        try:
            return cls.from_mapping(json.loads(text))
        except (ValueError, RecursionError) as error:
            raise _invalid(f"not JSON: {error}") from None

    @classmethod
    def from_text(cls, text: str) -> Policy:
        """Parse a document that is JSON (starts with ``{``) or else TOML."""
        return cls.from_json(text) if text.lstrip().startswith("{") else cls.from_toml(text)

    def appraise(self, claims: Claims) -> PolicyVerdict:
        """Appraise verified claims; return the verdict or raise the first failed rule's code.

        Raises:
            AttestationError: one ``ATTEST_POLICY_*`` code (see the module docs).
        """
        rules = ["simulated", "tee_type", "debug"]
        if claims.simulated and EvidenceType.SIMULATED not in self.allowed_tee_types:
            raise AttestationError("policy: simulated evidence is not allowed", code=ATTEST_POLICY_SIMULATED)
        if claims.tee not in self.allowed_tee_types:
            raise AttestationError(
                f"policy: TEE type {claims.tee.value} is not allowed", code=ATTEST_POLICY_TEE_TYPE
            )
        if claims.debug:
            raise AttestationError("policy: debug enclaves are never allowed", code=ATTEST_POLICY_DEBUG)
        rules += self._check_measurements(claims)
        rules += self._check_signer(claims)
        age = claims.extra.get("collateral_age")
        if isinstance(age, int) and not isinstance(age, bool):
            rules.append("collateral_age")
            if age > self.max_collateral_age:
                raise AttestationError(
                    f"policy: the collateral is {age // 3600} h old, more than the maximum "
                    f"collateral age of {self.max_collateral_age // 3600} h",
                    code=ATTEST_COLLATERAL_STALE,
                )
        rules.append("tcb_status")
        if claims.tcb_status not in self.accepted_tcb_statuses:
            raise AttestationError(
                f"policy: TCB status {claims.tcb_status} is not accepted", code=ATTEST_POLICY_TCB_STATUS
            )
        rules.append("advisories")
        if refused := sorted(set(claims.advisories) & self.rejected_advisories):
            raise AttestationError(
                f"policy: rejected advisory {', '.join(refused)}", code=ATTEST_POLICY_ADVISORY
            )
        return PolicyVerdict(claims=claims, rules=tuple(rules))

    def _check_measurements(self, claims: Claims) -> list[str]:
        rules = []
        if self.measurements:
            rules.append("measurement")
            if claims.measurement not in self.measurements:
                raise AttestationError(
                    f"policy: measurement {claims.measurement.hex()} is not an expected one",
                    code=ATTEST_POLICY_MEASUREMENT,
                )
        for name, expected in self.registers.items():
            rules.append(f"register:{name}")
            if claims.extra.get(name) != expected:
                raise AttestationError(f"policy: register {name} differs", code=ATTEST_POLICY_MEASUREMENT)
        return rules

    def _check_signer(self, claims: Claims) -> list[str]:
        if self.signer is None:
            return []
        if claims.signer != self.signer:
            raise AttestationError("policy: the enclave signer differs", code=ATTEST_POLICY_SIGNER)
        if claims.product_id != self.product_id:
            raise AttestationError(
                f"policy: product id {claims.product_id} is not {self.product_id}", code=ATTEST_POLICY_PRODUCT
            )
        if claims.svn is None or self.min_svn is None or claims.svn < self.min_svn:
            raise AttestationError(
                f"policy: svn {claims.svn} is below {self.min_svn}", code=ATTEST_POLICY_SVN
            )
        return ["signer", "product", "svn"]
