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
import struct
from dataclasses import dataclass, field
from typing import Any

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
from sealrun.core.attestation.evidence import Evidence, EvidenceType
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


def _load_collateral(collateral: bytes | None) -> Any:
    if collateral is None:
        raise AttestationError(
            "DCAP evidence needs its collateral (QuoteCollateralV3 JSON)", code=ATTEST_COLLATERAL
        )
    try:
        return dcap_qvl.QuoteCollateralV3.from_json(collateral.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, TypeError) as error:
        raise AttestationError(
            f"DCAP collateral does not parse: {_one_line(str(error))}", code=ATTEST_COLLATERAL
        ) from None
    except BaseException as error:
        _reraise_fatal(error)
        raise AttestationError("DCAP collateral does not parse", code=ATTEST_COLLATERAL) from None


def _check_trailing_bytes(payload: bytes) -> None:
    """Refuse anything but zero padding after the quote's own signature data.

    dcap-qvl reads the lengths inside the quote and ignores what follows; zero padding occurs in
    the wild (the upstream TDX sample carries 70 zero bytes), anything else is refused so that no
    unsigned data rides along with a verified quote.
    """
    try:
        version = struct.unpack_from("<H", payload, 0)[0]
        if version == 5:
            body_end = 54 + struct.unpack_from("<I", payload, 50)[0]
        else:
            tee_type = struct.unpack_from("<I", payload, 4)[0]
            body_end = 48 + (584 if tee_type == 0x81 else 384)
        end = body_end + 4 + struct.unpack_from("<I", payload, body_end)[0]
    except struct.error:
        return  # too short to hold its lengths: dcap-qvl reports the truncation
    if any(payload[end:]):
        raise AttestationError("DCAP quote: non-zero bytes follow the signature data", code=ATTEST_MALFORMED)


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
    """

    evidence_type: EvidenceType = field(init=False, default=EvidenceType.SGX_DCAP)
    root: PinnedCertificate = field(default=INTEL_SGX_ROOT_CA, kw_only=True)
    allow_debug: bool = field(default=False, kw_only=True)

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
                ``ATTEST_REVOKED``, ``ATTEST_NO_MATCHING_TCB`` or ``ATTEST_DEBUG``.
        """
        if evidence.type is not self.evidence_type:
            raise AttestationError(
                f"the {self.evidence_type.value} verifier does not take {evidence.type.value} evidence",
                code=ATTEST_TYPE_MISMATCH,
            )
        quote = self._parse(evidence.payload)
        collateral = _load_collateral(evidence.collateral)
        root_der = self.root.der  # raises ATTEST_UNTRUSTED_ROOT unless the fingerprint matches
        if isinstance(now, bool) or not isinstance(now, int) or not 0 <= now < 1 << 63:
            raise AttestationError("now must be UNIX seconds (a non-negative int)", code=ATTEST_MALFORMED)
        try:
            report = dcap_qvl.verify_with_root_ca(evidence.payload, collateral, root_der, now)
            verified = json.loads(report.to_json())
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
        return self._claims(quote, verified)

    def _parse(self, payload: bytes) -> Any:
        try:
            quote = dcap_qvl.parse_quote(payload)
            is_tdx = bool(quote.is_tdx())
        except ValueError as error:
            raise AttestationError(
                f"not a DCAP quote: {_one_line(str(error))}", code=ATTEST_MALFORMED
            ) from None
        except BaseException as error:
            _reraise_fatal(error)
            raise AttestationError("not a DCAP quote", code=ATTEST_MALFORMED) from None
        _check_trailing_bytes(payload)
        if is_tdx != (self.evidence_type is EvidenceType.TDX_DCAP):
            raise AttestationError(
                f"the quote is {'TDX' if is_tdx else 'SGX'}, not {self.evidence_type.value} as declared",
                code=ATTEST_TYPE_MISMATCH,
            )
        return quote

    def _claims(self, quote: Any, verified: dict[str, Any]) -> Claims:
        raise NotImplementedError  # pragma: no cover - the subclasses define it


@dataclass(frozen=True)
class SgxDcapVerifier(DcapVerifier):
    """Verifies ``sgx-dcap`` evidence (an SGX DCAP quote v3/v4 + QuoteCollateralV3 JSON)."""

    evidence_type: EvidenceType = field(init=False, default=EvidenceType.SGX_DCAP)

    def _claims(self, quote: Any, verified: dict[str, Any]) -> Claims:
        body = verified["report"]["SgxEnclave"]
        attributes = bytes.fromhex(body["attributes"])
        debug = bool(attributes[0] & 0x02)
        if debug and not self.allow_debug:
            raise AttestationError("sgx-dcap: the enclave runs in debug mode", code=ATTEST_DEBUG)
        extra: dict[str, ExtraValue] = {
            "fmspc": str(quote.fmspc()).upper(),
            "quote_version": int(quote.header.version),
            "attributes": attributes,
            "cpu_svn": bytes.fromhex(body["cpu_svn"]),
            "misc_select": int(body["misc_select"]),
        }
        return _mint_claims(
            tee=EvidenceType.SGX_DCAP,
            measurement=bytes.fromhex(body["mr_enclave"]),
            signer=bytes.fromhex(body["mr_signer"]),
            product_id=int(body["isv_prod_id"]),
            svn=int(body["isv_svn"]),
            debug=debug,
            tcb_status=str(verified["status"]),
            advisories=[str(advisory) for advisory in verified["advisory_ids"]],
            report_data=bytes.fromhex(body["report_data"]),
            extra=extra,
            simulated=False,
        )


@dataclass(frozen=True)
class TdxDcapVerifier(DcapVerifier):
    """Verifies ``tdx-dcap`` evidence (a TDX DCAP quote v4/v5 + QuoteCollateralV3 JSON)."""

    evidence_type: EvidenceType = field(init=False, default=EvidenceType.TDX_DCAP)

    def _claims(self, quote: Any, verified: dict[str, Any]) -> Claims:
        (kind, body), *_ = verified["report"].items()
        td_attributes = bytes.fromhex(body["td_attributes"])
        debug = bool(td_attributes[0] & 0x01)
        if debug:  # dcap-qvl refuses these itself; kept so a future version cannot slip one through
            raise AttestationError("tdx-dcap: the TD runs in debug mode", code=ATTEST_DEBUG)
        extra: dict[str, ExtraValue] = {
            "fmspc": str(quote.fmspc()).upper(),
            "quote_version": int(quote.header.version),
            "td_report": str(kind),
            "td_attributes": td_attributes,
            "xfam": bytes.fromhex(body["xfam"]),
            "tee_tcb_svn": bytes.fromhex(body["tee_tcb_svn"]),
            "mr_seam": bytes.fromhex(body["mr_seam"]),
            "mr_signer_seam": bytes.fromhex(body["mr_signer_seam"]),
            "mr_config_id": bytes.fromhex(body["mr_config_id"]),
            "mr_owner": bytes.fromhex(body["mr_owner"]),
            "mr_owner_config": bytes.fromhex(body["mr_owner_config"]),
        }
        for index in range(4):
            extra[f"rtmr{index}"] = bytes.fromhex(body[f"rt_mr{index}"])
        return _mint_claims(
            tee=EvidenceType.TDX_DCAP,
            measurement=bytes.fromhex(body["mr_td"]),
            signer=None,
            product_id=None,
            svn=None,
            debug=debug,
            tcb_status=str(verified["status"]),
            advisories=[str(advisory) for advisory in verified["advisory_ids"]],
            report_data=bytes.fromhex(body["report_data"]),
            extra=extra,
            simulated=False,
        )
