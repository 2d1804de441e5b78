"""Intel SGX and TDX DCAP quotes, verified with ``dcap-qvl`` against the pinned Intel root.

``dcap_qvl.verify_with_root_ca`` checks the quote's signatures, the PCK chain and CRLs, the
collateral (TCB info, QE identity: signatures and validity at ``now``) and finds the matching
TCB level, always against the pinned Intel SGX Root CA DER (the fingerprint is checked first).
Plain ``dcap-qvl`` accepts every TCB status but ``Revoked`` and checks no measurement: the
status and advisories are reported in the claims and judged by the policy.

Debug: SGX ATTRIBUTES bit 1 and TDX TD_ATTRIBUTES bit 0. ``dcap-qvl`` 0.7.0 itself refuses
debug TDs, so ``allow_debug`` only takes effect for SGX enclaves.

``dcap-qvl`` reports every failure as one ``ValueError``; :func:`_classify` maps its message to
a stable code (the table is in ``docs/attestation.md``). The message text is the library's, not
a contract; an unrecognised message still fails closed (``ATTEST_SIGNATURE``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

import dcap_qvl

from sealrun.core.attestation.claims import Claims, ExtraValue, _mint_claims
from sealrun.core.attestation.codes import (
    ATTEST_COLLATERAL,
    ATTEST_DEBUG,
    ATTEST_EXPIRED,
    ATTEST_MALFORMED,
    ATTEST_NO_MATCHING_TCB,
    ATTEST_REVOKED,
    ATTEST_SIGNATURE,
    ATTEST_TYPE_MISMATCH,
    ATTEST_UNTRUSTED_ROOT,
)
from sealrun.core.attestation.collateral import collateral_times
from sealrun.core.attestation.dcap_quote import DcapQuote, parse_dcap_quote
from sealrun.core.attestation.evidence import Evidence, EvidenceType
from sealrun.core.attestation.freshness import check_collateral_age
from sealrun.core.attestation.roots import INTEL_SGX_ROOT_CA, PinnedCertificate
from sealrun.errors import AttestationError

__all__ = ["DcapVerifier", "SgxDcapVerifier", "TdxDcapVerifier"]

# (substrings that must all occur, code): the first matching row wins, so order matters.
_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("debug mode",), ATTEST_DEBUG),
    (("no matching tcb level",), ATTEST_NO_MATCHING_TCB),
    (("tcb level mismatch",), ATTEST_NO_MATCHING_TCB),
    (("root ca crl", "invalidcrlsignature"), ATTEST_UNTRUSTED_ROOT),
    (("unknownissuer",), ATTEST_UNTRUSTED_ROOT),
    (("badder",), ATTEST_COLLATERAL),
    (("root ca",), ATTEST_UNTRUSTED_ROOT),
    (("revoked",), ATTEST_REVOKED),
    (("expired",), ATTEST_EXPIRED),
    (("in the future",), ATTEST_EXPIRED),
    (("notvalidyet",), ATTEST_EXPIRED),
    (("not valid after",), ATTEST_EXPIRED),
    (("signature",), ATTEST_SIGNATURE),
    (("hash mismatch",), ATTEST_SIGNATURE),
    (("failed to decode quote",), ATTEST_MALFORMED),
    (("failed to extract pck",), ATTEST_MALFORMED),
    (("unsupported dcap",), ATTEST_MALFORMED),
    (("unsupported quote",), ATTEST_MALFORMED),
    (("collateral",), ATTEST_COLLATERAL),
    (("tcbinfo",), ATTEST_COLLATERAL),
    (("qe identity",), ATTEST_COLLATERAL),
    (("crl",), ATTEST_COLLATERAL),
    (("fmspc",), ATTEST_COLLATERAL),
)


def _classify(message: str) -> str:
    lowered = message.lower()
    for needles, code in _RULES:
        if all(needle in lowered for needle in needles):
            return code
    return ATTEST_SIGNATURE


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


class _QvlReport(TypedDict):
    """The part of dcap-qvl's verified report (``report.to_json()``) the claims take."""

    status: str
    advisory_ids: list[str]


class _Recent:
    """The last few results of a pure function of bytes (thread-safe, bounded, oldest out).

    A verifier sees the same collateral (one per platform model and day) and the same PCK
    chain (one per machine) over and over, each time in a new quote: parsing them once per
    value instead of once per quote is most of what separates us from dcap-qvl's own call.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()  # raises for bad input: nothing is kept then
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


_COLLATERALS = _Recent(32)
_FMSPCS = _Recent(256)
_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


def _load_collateral(collateral: bytes | None) -> Any:
    if collateral is None:
        raise AttestationError(
            "DCAP evidence needs its collateral (QuoteCollateralV3 JSON)", code=ATTEST_COLLATERAL
        )
    return _COLLATERALS.get(collateral, lambda: _parse_collateral(collateral))


def _parse_collateral(collateral: bytes) -> tuple[Any, tuple[int, int]]:
    """dcap-qvl's parsed collateral and its ``(issued_at, next_update)``."""
    try:
        parsed = dcap_qvl.QuoteCollateralV3.from_json(collateral.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, TypeError) as error:
        raise AttestationError(
            f"DCAP collateral does not parse: {_one_line(str(error))}", code=ATTEST_COLLATERAL
        ) from None
    except BaseException as error:
        _reraise_fatal(error)
        raise AttestationError("DCAP collateral does not parse", code=ATTEST_COLLATERAL) from None
    times = collateral_times(
        tcb_info=parsed.tcb_info,
        qe_identity=parsed.qe_identity,
        pck_crl=parsed.pck_crl,
        root_ca_crl=parsed.root_ca_crl,
    )
    return parsed, times


def _reraise_fatal(error: BaseException) -> None:
    # dcap-qvl surfaces Rust panics as pyo3's PanicException, a BaseException: translate those,
    # but never swallow an interpreter exit or a Ctrl-C.
    if isinstance(error, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)):
        raise error


@dataclass(frozen=True)
class DcapVerifier:
    """Common verifier of DCAP quotes; use :class:`SgxDcapVerifier` or :class:`TdxDcapVerifier`.

    Args:
        root: the pinned Intel SGX Root CA (replaceable only with another pinned certificate).
        allow_debug: return claims for debug SGX enclaves instead of raising ``ATTEST_DEBUG``.
        max_collateral_age: refuse collateral issued more than this many seconds before ``now``
            (``ATTEST_COLLATERAL_STALE``); None (default) only reports the age in the claims
            (``collateral_issued_at``, ``collateral_age``) and leaves it to the policy.
    """

    evidence_type: EvidenceType = field(init=False, default=EvidenceType.SGX_DCAP)
    root: PinnedCertificate = field(default=INTEL_SGX_ROOT_CA, kw_only=True)
    allow_debug: bool = field(default=False, kw_only=True)
    max_collateral_age: int | None = field(default=None, kw_only=True)

    def verify(self, evidence: Evidence, *, now: int) -> Claims:
        """Verify a quote and its collateral at ``now`` and mint the claims.

        Args:
            evidence: the quote (payload) and its ``QuoteCollateralV3`` JSON (collateral).
            now: UNIX seconds at which every certificate, CRL and collateral must be valid.

        Returns:
            The claims (TCB status and advisories as Intel reports them).

        Raises:
            AttestationError: ``ATTEST_TYPE_MISMATCH``, ``ATTEST_MALFORMED``, ``ATTEST_COLLATERAL``,
                ``ATTEST_UNTRUSTED_ROOT``, ``ATTEST_SIGNATURE``, ``ATTEST_EXPIRED``,
                ``ATTEST_REVOKED``, ``ATTEST_NO_MATCHING_TCB``, ``ATTEST_COLLATERAL_STALE``
                (with ``max_collateral_age``) or ``ATTEST_DEBUG``.
        """
        if evidence.type is not self.evidence_type:
            raise AttestationError(
                f"the {self.evidence_type.value} verifier does not take {evidence.type.value} evidence",
                code=ATTEST_TYPE_MISMATCH,
            )
        quote, fmspc = self._parse(evidence.payload)
        collateral, (issued_at, next_update) = _load_collateral(evidence.collateral)
        root_der = self.root.der  # raises ATTEST_UNTRUSTED_ROOT unless the fingerprint matches
        if isinstance(now, bool) or not isinstance(now, int) or not 0 <= now < 1 << 63:
            raise AttestationError("now must be UNIX seconds (a non-negative int)", code=ATTEST_MALFORMED)
        try:
            report = dcap_qvl.verify_with_root_ca(evidence.payload, collateral, root_der, now)
            verified: _QvlReport = json.loads(report.to_json())
        except ValueError as error:
            message = _one_line(str(error))
            raise AttestationError(
                f"{self.evidence_type.value}: {message}", code=_classify(message)
            ) from None
        except BaseException as error:
            _reraise_fatal(error)
            raise AttestationError(
                f"{self.evidence_type.value}: the verifier failed on this input", code=ATTEST_MALFORMED
            ) from None
        if self.max_collateral_age is not None:
            check_collateral_age(
                issued_at=issued_at, next_update=next_update, now=now, max_age=self.max_collateral_age
            )
        dated: dict[str, ExtraValue] = {"collateral_issued_at": issued_at, "collateral_age": now - issued_at}
        return self._claims(quote, fmspc, verified, dated)

    def _parse(self, payload: bytes) -> tuple[DcapQuote, str]:
        """Parse the layout (ours, strict), then the PCK chain's FMSPC (dcap-qvl's)."""
        quote = parse_dcap_quote(payload)
        if quote.is_tdx != (self.evidence_type is EvidenceType.TDX_DCAP):
            raise AttestationError(
                f"the quote is {'TDX' if quote.is_tdx else 'SGX'}, "
                f"not {self.evidence_type.value} as declared",
                code=ATTEST_TYPE_MISMATCH,
            )
        # The FMSPC is in the PCK certificate, in the chain that ends the quote: the bytes from
        # the first PEM marker to the end hold the whole chain, so they key its FMSPC.
        marker = payload.find(_PEM_BEGIN, 0, quote.size)
        key = payload[marker : quote.size] if marker >= 0 else payload[: quote.size]
        try:
            fmspc = str(_FMSPCS.get(key, lambda: dcap_qvl.parse_quote(payload).fmspc())).upper()
        except ValueError as error:
            raise AttestationError(
                f"not a DCAP quote: {_one_line(str(error))}", code=ATTEST_MALFORMED
            ) from None
        except BaseException as error:
            _reraise_fatal(error)
            raise AttestationError("not a DCAP quote", code=ATTEST_MALFORMED) from None
        return quote, fmspc

    def _claims(
        self, quote: DcapQuote, fmspc: str, verified: _QvlReport, dated: dict[str, ExtraValue] | None = None
    ) -> Claims:
        raise NotImplementedError  # pragma: no cover - the subclasses define it


@dataclass(frozen=True)
class SgxDcapVerifier(DcapVerifier):
    """Verifies ``sgx-dcap`` evidence (an SGX DCAP quote v3/v4 + QuoteCollateralV3 JSON)."""

    evidence_type: EvidenceType = field(init=False, default=EvidenceType.SGX_DCAP)

    def _claims(
        self, quote: DcapQuote, fmspc: str, verified: _QvlReport, dated: dict[str, ExtraValue] | None = None
    ) -> Claims:
        body = quote.body
        attributes = body.field("attributes")
        debug = bool(attributes[0] & 0x02)
        if debug and not self.allow_debug:
            raise AttestationError("sgx-dcap: the enclave runs in debug mode", code=ATTEST_DEBUG)
        extra: dict[str, ExtraValue] = {
            "fmspc": fmspc,
            "quote_version": quote.version,
            "attributes": attributes,
            "cpu_svn": body.field("cpu_svn"),
            "misc_select": body.number("misc_select"),
            "certification_types": ",".join(str(kind) for kind in quote.certification_types),
        }
        extra.update(dated or {})
        return _mint_claims(
            tee=EvidenceType.SGX_DCAP,
            measurement=body.field("mr_enclave"),
            signer=body.field("mr_signer"),
            product_id=body.number("isv_prod_id"),
            svn=body.number("isv_svn"),
            debug=debug,
            tcb_status=str(verified["status"]),
            advisories=[str(advisory) for advisory in verified["advisory_ids"]],
            report_data=body.field("report_data"),
            extra=extra,
            simulated=False,
        )


@dataclass(frozen=True)
class TdxDcapVerifier(DcapVerifier):
    """Verifies ``tdx-dcap`` evidence (a TDX DCAP quote v4/v5 + QuoteCollateralV3 JSON)."""

    evidence_type: EvidenceType = field(init=False, default=EvidenceType.TDX_DCAP)

    def _claims(
        self, quote: DcapQuote, fmspc: str, verified: _QvlReport, dated: dict[str, ExtraValue] | None = None
    ) -> Claims:
        body = quote.body
        td_attributes = body.field("td_attributes")
        debug = bool(td_attributes[0] & 0x01)
        if debug:  # dcap-qvl refuses these itself; kept so a future version cannot slip one through
            raise AttestationError("tdx-dcap: the TD runs in debug mode", code=ATTEST_DEBUG)
        extra: dict[str, ExtraValue] = {
            "fmspc": fmspc,
            "quote_version": quote.version,
            "td_report": body.kind,
            "certification_types": ",".join(str(kind) for kind in quote.certification_types),
        }
        extra.update(dated or {})
        for name in _TD_EXTRA:
            if name in body.names:  # TD 1.5 adds tee_tcb_svn2 and mr_service_td
                extra[name] = body.field(name)
        return _mint_claims(
            tee=EvidenceType.TDX_DCAP,
            measurement=body.field("mr_td"),
            signer=None,
            product_id=None,
            svn=None,
            debug=debug,
            tcb_status=str(verified["status"]),
            advisories=[str(advisory) for advisory in verified["advisory_ids"]],
            report_data=body.field("report_data"),
            extra=extra,
            simulated=False,
        )


_TD_EXTRA = (
    "td_attributes",
    "xfam",
    "tee_tcb_svn",
    "mr_seam",
    "mr_signer_seam",
    "seam_attributes",
    "mr_config_id",
    "mr_owner",
    "mr_owner_config",
    "rtmr0",
    "rtmr1",
    "rtmr2",
    "rtmr3",
    "tee_tcb_svn2",
    "mr_service_td",
)
