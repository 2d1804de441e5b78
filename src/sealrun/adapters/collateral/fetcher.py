"""Fetches collateral from Intel's PCS API v4 (or any PCCS) and AMD's KDS, through the cache.

Every answer goes through one path, :meth:`CollateralFetcher._get`:

1. a cached answer that is checked again (``sealrun.core.attestation.collateral``) and needs no
   refresh (:func:`~sealrun.core.attestation.freshness.needs_refresh`) is served as is;
2. otherwise a ``GET`` (``If-None-Match`` with the cached ETag): ``304`` refreshes the cached
   entry's lifetime; ``200`` must have an expected content type, at most
   :data:`~sealrun.core.attestation.collateral.MAX_COLLATERAL_BYTES` (read streamed, cut off
   beyond), and pass the core checks *before* it is stored; a 4xx is ``ATTEST_COLLATERAL``;
3. the server is unreachable (or answers 5xx/429): the cached answer is served if still
   usable (younger than the maximum collateral age, before ``nextUpdate``), else
   ``ATTEST_COLLATERAL_STALE``; with nothing cached, ``ATTEST_COLLATERAL_UNAVAILABLE``.

Freshly fetched collateral that is already stale is refused (``ATTEST_COLLATERAL_STALE``) and not
stored. Redirects are not followed.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from sealrun.adapters.collateral.cache import CachedAnswer, CollateralCache
from sealrun.core.attestation.codes import (
    ATTEST_COLLATERAL,
    ATTEST_COLLATERAL_STALE,
    ATTEST_COLLATERAL_UNAVAILABLE,
)
from sealrun.core.attestation.collateral import (
    MAX_COLLATERAL_BYTES,
    Crl,
    SignedJson,
    Tee,
    assemble_dcap_collateral,
    parse_amd_chain,
    parse_crl,
    parse_intel_issuer_chain,
    parse_qe_identity,
    parse_tcb_info,
    parse_vcek,
)
from sealrun.core.attestation.freshness import (
    DEFAULT_MAX_COLLATERAL_AGE,
    CacheFacts,
    cache_control_expiry,
    needs_refresh,
    usable,
)
from sealrun.core.attestation.roots import INTEL_SGX_ROOT_CA
from sealrun.errors import AttestationError

__all__ = ["AMD_KDS_URL", "INTEL_PCS_URL", "CollateralFetcher", "DcapCollateral", "SnpCollateral", "Source"]

INTEL_PCS_URL = "https://api.trustedservices.intel.com"
AMD_KDS_URL = "https://kdsintf.amd.com"
_INTEL_ROOT_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
Source = Literal["network", "revalidated", "cache", "cache-offline"]
_JSON = frozenset({"application/json"})
_CRL = frozenset(
    {
        "application/pkix-crl",
        "application/x-pkcs7-crl",
        "application/x-pem-file",
        "application/octet-stream",
        "text/plain",
    }
)
_CERT = frozenset({"application/pkix-cert", "application/x-x509-ca-cert", "application/octet-stream"})
_PEM = frozenset(
    {"application/x-pem-file", "application/pem-certificate-chain", "application/octet-stream", "text/plain"}
)
_KEPT_HEADERS = (
    "tcb-info-issuer-chain",
    "sgx-tcb-info-issuer-chain",
    "sgx-enclave-identity-issuer-chain",
    "sgx-pck-crl-issuer-chain",
)
# check(body, headers, now) -> (issued_at, next_update): raises a code, or dates the content.
_Check = Callable[[bytes, Mapping[str, str], int], tuple[int | None, int | None]]


@dataclass(frozen=True)
class _Answer:
    body: bytes
    headers: Mapping[str, str]
    facts: CacheFacts
    source: Source


@dataclass
class _IntelParts:
    tcb_info: SignedJson | None = None
    qe_identity: SignedJson | None = None
    pck_crl: Crl | None = None
    pck_crl_issuer_chain: str | None = None
    root_ca_crl: Crl | None = None


@dataclass(frozen=True)
class DcapCollateral:
    """Intel collateral for one platform: the ``QuoteCollateralV3`` JSON and where each part came from."""

    tee: Tee
    fmspc: str
    ca: str
    collateral: bytes
    issued_at: int
    next_update: int
    sources: Mapping[str, Source] = field(default_factory=dict)


@dataclass(frozen=True)
class SnpCollateral:
    """AMD collateral for one chip and TCB: VCEK + ASK + ARK (PEM), as the SEV-SNP verifier takes it."""

    product: str
    hwid: bytes
    tcb: Mapping[str, int]
    collateral: bytes
    sources: Mapping[str, Source] = field(default_factory=dict)


class CollateralFetcher:
    """Intel PCS/PCCS and AMD KDS client with an on-disk cache (see the module docs).

    Args:
        cache: the cache (None: always ask the network, keep nothing).
        pcs_url: Intel PCS API root, or a PCCS (``https://pccs.example:8081``).
        kds_url: AMD KDS root.
        root_crl_url: where the Intel SGX Root CA CRL is (default: Intel's distribution point
            for Intel's PCS, ``{pcs_url}/sgx/certification/v4/rootcacrl`` for a PCCS).
        http: the httpx client (default: a new one, 30 s timeout, no redirects).
        clock: UNIX seconds (injected in tests).
        max_age: the maximum collateral age, seconds.
    """

    def __init__(
        self,
        *,
        cache: CollateralCache | None,
        pcs_url: str = INTEL_PCS_URL,
        kds_url: str = AMD_KDS_URL,
        root_crl_url: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        max_age: int = DEFAULT_MAX_COLLATERAL_AGE,
    ) -> None:
        self.pcs_url = pcs_url.rstrip("/")
        self.kds_url = kds_url.rstrip("/")
        if root_crl_url is None:
            intel = urllib.parse.urlsplit(self.pcs_url).hostname == "api.trustedservices.intel.com"
            root_crl_url = _INTEL_ROOT_CRL_URL if intel else f"{self.pcs_url}/sgx/certification/v4/rootcacrl"
        self.root_crl_url = root_crl_url
        self._cache = cache
        self._http = http or httpx.Client(timeout=30.0, follow_redirects=False)
        self._clock = clock
        self.max_age = max_age

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def intel(self, *, tee: Tee, fmspc: str, ca: str) -> DcapCollateral:
        """TCB info, QE identity, PCK CRL (``ca``: ``processor`` or ``platform``) and root CA CRL.

        Raises:
            AttestationError: ``ATTEST_COLLATERAL``, ``ATTEST_UNTRUSTED_ROOT``, ``ATTEST_SIGNATURE``,
                ``ATTEST_EXPIRED``, ``ATTEST_COLLATERAL_STALE`` or ``ATTEST_COLLATERAL_UNAVAILABLE``.
        """
        if tee not in ("sgx", "tdx") or ca not in ("processor", "platform"):
            raise AttestationError(f"unknown TEE {tee!r} or PCK CA {ca!r}", code=ATTEST_COLLATERAL)
        fmspc = fmspc.upper()
        base = f"{self.pcs_url}/{tee}/certification/v4"
        sources: dict[str, Source] = {}
        parts = _IntelParts()

        def signed(kind: str, parse: Callable[[bytes, str | None, int], SignedJson], *headers: str) -> _Check:
            def check(
                body: bytes, answer_headers: Mapping[str, str], now: int
            ) -> tuple[int | None, int | None]:
                chain = next((answer_headers[name] for name in headers if name in answer_headers), None)
                part = parse(body, chain, now)
                setattr(parts, kind, part)
                return part.issued_at, part.next_update

            return check

        def crl(kind: str) -> _Check:
            def check(
                body: bytes, answer_headers: Mapping[str, str], now: int
            ) -> tuple[int | None, int | None]:
                if kind == "root_ca_crl":
                    issuer = INTEL_SGX_ROOT_CA.certificate
                else:
                    header = answer_headers.get("sgx-pck-crl-issuer-chain")
                    issuer, parts.pck_crl_issuer_chain = parse_intel_issuer_chain(
                        header, now=now, what="PCK CRL"
                    )
                part = parse_crl(body, issuer=issuer, what=kind.replace("_", " "))
                setattr(parts, kind, part)
                # the root CA CRL is issued about yearly: only its nextUpdate counts
                return (None if kind == "root_ca_crl" else part.issued_at), part.next_update

            return check

        requests: list[tuple[str, str, frozenset[str], _Check]] = [
            ("tcb_info", f"{base}/tcb?fmspc={urllib.parse.quote(fmspc)}", _JSON, signed(
                "tcb_info", lambda b, h, n: parse_tcb_info(b, h, tee=tee, fmspc=fmspc, now=n),
                "tcb-info-issuer-chain", "sgx-tcb-info-issuer-chain")),
            ("qe_identity", f"{base}/qe/identity", _JSON, signed(
                "qe_identity", lambda b, h, n: parse_qe_identity(b, h, tee=tee, now=n),
                "sgx-enclave-identity-issuer-chain")),
            ("pck_crl", f"{self.pcs_url}/sgx/certification/v4/pckcrl?ca={ca}&encoding=der", _CRL,
             crl("pck_crl")),
            ("root_ca_crl", self.root_crl_url, _CRL, crl("root_ca_crl")),
        ]  # fmt: skip
        for kind, url, types, check in requests:
            sources[kind] = self._get(url, types, check).source
        tcb_info, qe_identity, pck_crl = parts.tcb_info, parts.qe_identity, parts.pck_crl
        root_crl, chain = parts.root_ca_crl, parts.pck_crl_issuer_chain
        if tcb_info is None or qe_identity is None or pck_crl is None or root_crl is None or chain is None:
            raise AttestationError(
                "the Intel collateral is incomplete", code=ATTEST_COLLATERAL
            )  # unreachable
        updates = [tcb_info.next_update, qe_identity.next_update] + [
            update for update in (pck_crl.next_update, root_crl.next_update) if update is not None
        ]
        return DcapCollateral(
            tee=tee,
            fmspc=fmspc,
            ca=ca,
            collateral=assemble_dcap_collateral(
                tcb_info=tcb_info,
                qe_identity=qe_identity,
                pck_crl=pck_crl,
                pck_crl_issuer_chain=chain,
                root_ca_crl=root_crl,
            ),
            issued_at=min(tcb_info.issued_at, qe_identity.issued_at, pck_crl.issued_at),
            next_update=min(updates),
            sources=sources,
        )

    def amd(self, *, product: str, hwid: bytes, tcb: Mapping[str, int]) -> SnpCollateral:
        """The VCEK for ``hwid`` at ``tcb`` (SPLs by name) and the product's ASK+ARK chain.

        Raises:
            AttestationError: as :meth:`intel`, and ``ATTEST_TCB_MISMATCH`` for a VCEK of another chip or TCB.
        """
        if len(hwid) != 64:
            raise AttestationError("an AMD chip id (hwID) is 64 bytes", code=ATTEST_COLLATERAL)
        names = {
            "bootloader": "blSPL",
            "tee": "teeSPL",
            "snp": "snpSPL",
            "microcode": "ucodeSPL",
            "fmc": "fmcSPL",
        }
        if not set(tcb) <= set(names) or not all(0 <= value <= 255 for value in tcb.values()):
            raise AttestationError(
                "the TCB SPLs must be bootloader/tee/snp/microcode/fmc in 0..255", code=ATTEST_COLLATERAL
            )
        base = f"{self.kds_url}/vcek/v1/{urllib.parse.quote(product)}"
        holder: dict[str, object] = {}

        def check_chain(body: bytes, _: Mapping[str, str], now: int) -> tuple[int | None, int | None]:
            holder["chain"] = parse_amd_chain(body, product=product, now=now)
            return None, None

        chain_answer = self._get(f"{base}/cert_chain", _PEM, check_chain)
        chain = holder["chain"]

        def check_vcek(body: bytes, _: Mapping[str, str], now: int) -> tuple[int | None, int | None]:
            holder["vcek"] = parse_vcek(body, chain=chain, hwid=hwid, tcb=tcb, now=now)  # type: ignore[arg-type]
            return None, None

        query = "&".join(f"{names[name]}={value}" for name, value in tcb.items())
        vcek_answer = self._get(f"{base}/{hwid.hex()}?{query}", _CERT, check_vcek)
        vcek = holder["vcek"].public_bytes(Encoding.PEM)  # type: ignore[attr-defined]
        return SnpCollateral(
            product=product,
            hwid=hwid,
            tcb=dict(tcb),
            collateral=vcek + chain.pem(),  # type: ignore[attr-defined]
            sources={"cert_chain": chain_answer.source, "vcek": vcek_answer.source},
        )

    def amd_crl(self, *, product: str) -> Crl:
        """The product's CRL from KDS (signed by its pinned ARK), cached like the rest."""
        holder: dict[str, Crl] = {}
        base = f"{self.kds_url}/vcek/v1/{urllib.parse.quote(product)}"
        chain_holder: dict[str, object] = {}

        def check_chain(body: bytes, _: Mapping[str, str], now: int) -> tuple[int | None, int | None]:
            chain_holder["chain"] = parse_amd_chain(body, product=product, now=now)
            return None, None

        self._get(f"{base}/cert_chain", _PEM, check_chain)

        def check(body: bytes, _: Mapping[str, str], now: int) -> tuple[int | None, int | None]:  # noqa: ARG001
            holder["crl"] = crl = parse_crl(body, issuer=chain_holder["chain"].ark, what="AMD CRL")  # type: ignore[attr-defined]
            return crl.issued_at, crl.next_update

        self._get(f"{base}/crl", _CRL, check)
        return holder["crl"]

    def _get(self, url: str, types: frozenset[str], check: _Check) -> _Answer:
        now = int(self._clock())
        cached = self._cache.load(url) if self._cache is not None else None
        if cached is not None:
            try:
                check(cached.body, cached.headers, now)
            except AttestationError:
                cached = None  # tampered, or its certificates expired: a miss
        if cached is not None and not needs_refresh(cached.facts, now=now, max_age=self.max_age):
            return _Answer(cached.body, cached.headers, cached.facts, "cache")
        headers = {"If-None-Match": cached.etag} if cached is not None and cached.etag else {}
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and cached is not None:
                    return self._revalidated(cached, response, now)
                if response.status_code >= 500 or response.status_code == 429:
                    return self._offline(url, cached, now, f"answered {response.status_code}")
                if response.status_code != 200:
                    raise AttestationError(f"{url} answered {response.status_code}", code=ATTEST_COLLATERAL)
                body = self._read(url, response, types)
                kept = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
                etag = response.headers.get("etag")
                expires = cache_control_expiry(response.headers.get("cache-control"), now)
        except httpx.HTTPError as error:
            return self._offline(url, cached, now, str(error) or type(error).__name__)
        issued_at, next_update = check(body, kept, now)
        facts = CacheFacts(
            fetched_at=now, http_expires_at=expires, issued_at=issued_at, next_update=next_update
        )
        if not usable(facts, now=now, max_age=self.max_age):
            raise AttestationError(f"{url} serves stale collateral", code=ATTEST_COLLATERAL_STALE)
        if self._cache is not None:
            self._cache.store(CachedAnswer(url=url, body=body, headers=kept, etag=etag, facts=facts))
        return _Answer(body, kept, facts, "network")

    @staticmethod
    def _read(url: str, response: httpx.Response, types: frozenset[str]) -> bytes:
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in types:
            raise AttestationError(f"{url} answered content type {kind!r}", code=ATTEST_COLLATERAL)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_COLLATERAL_BYTES:
            raise AttestationError(f"{url} answered {declared} bytes, too many", code=ATTEST_COLLATERAL)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_COLLATERAL_BYTES:
                raise AttestationError(
                    f"{url} answered more than {MAX_COLLATERAL_BYTES} bytes", code=ATTEST_COLLATERAL
                )
        return bytes(body)

    def _revalidated(self, cached: CachedAnswer, response: httpx.Response, now: int) -> _Answer:
        expires = cache_control_expiry(response.headers.get("cache-control"), now)
        facts = replace(cached.facts, fetched_at=now, http_expires_at=expires)
        if not usable(facts, now=now, max_age=self.max_age):
            raise AttestationError(f"{cached.url} is not modified but stale", code=ATTEST_COLLATERAL_STALE)
        etag = response.headers.get("etag") or cached.etag
        if self._cache is not None:
            self._cache.store(replace(cached, facts=facts, etag=etag))
        return _Answer(cached.body, cached.headers, facts, "revalidated")

    def _offline(self, url: str, cached: CachedAnswer | None, now: int, reason: str) -> _Answer:
        if cached is None:
            raise AttestationError(
                f"{url} is unreachable ({reason}) and nothing is cached", code=ATTEST_COLLATERAL_UNAVAILABLE
            )
        if not usable(cached.facts, now=now, max_age=self.max_age):
            raise AttestationError(
                f"{url} is unreachable ({reason}) and the cached collateral is stale",
                code=ATTEST_COLLATERAL_STALE,
            )
        return _Answer(cached.body, cached.headers, cached.facts, "cache-offline")
