"""``sealrun attestation collateral``: fetch, show and bundle TEE collateral for offline verification.

``fetch`` reads from the evidence what it needs (DCAP: FMSPC and PCK CA; SEV-SNP: chip id and
TCB) and gets it from Intel's PCS / a PCCS (``--pcs-url``) or AMD's KDS (``--kds-url``) through
the on-disk cache (``--cache-dir``, default ``~/.cache/sealrun/collateral``); ``--out`` writes
the collateral ``verify --collateral`` takes. ``show`` lists the cache and each entry's age.
``bundle`` writes one file with the collateral of every evidence given, for
``verify --bundle``. ``--at`` replaces the clock (UNIX seconds), read here at the edge only.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import typer

from sealrun.adapters.collateral import (
    AMD_KDS_URL,
    INTEL_PCS_URL,
    CollateralCache,
    CollateralFetcher,
    default_cache_dir,
)
from sealrun.cli.output import JSON_OPTION, Output
from sealrun.core.attestation import EvidenceType, decode_evidence_text
from sealrun.core.attestation.bundle import BundleEntry, collateral_request, dump_bundle
from sealrun.core.attestation.codes import ATTEST_COLLATERAL
from sealrun.core.attestation.freshness import DEFAULT_MAX_COLLATERAL_AGE, usable
from sealrun.errors import AttestationError, ConfigError

__all__ = ["collateral_app"]

collateral_app = typer.Typer(
    name="collateral", help="Fetch, cache and bundle TEE collateral (Intel PCS/PCCS, AMD KDS)."
)

_EVIDENCE = typer.Option(..., "--evidence", help="Evidence file (raw, hex or base64); repeatable for bundle.")
_TYPE = typer.Option(..., "--type", help="Evidence type: sgx-dcap, tdx-dcap or sev-snp.")
_PCS = typer.Option(INTEL_PCS_URL, "--pcs-url", help="Intel PCS API root, or a PCCS-compatible cache.")
_KDS = typer.Option(AMD_KDS_URL, "--kds-url", help="AMD KDS root.")
_ROOT_CRL = typer.Option(None, "--root-crl-url", help="Intel SGX Root CA CRL URL (default: by --pcs-url).")
_CACHE = typer.Option(None, "--cache-dir", help="Cache folder (default ~/.cache/sealrun/collateral).")
_MAX_AGE = typer.Option(
    DEFAULT_MAX_COLLATERAL_AGE, "--max-age", help="Maximum collateral age, seconds (default 7 days)."
)
_AT = typer.Option(None, "--at", help="Use this UNIX time instead of the clock.")
_PRODUCT = typer.Option(None, "--product", help="SEV-SNP: Milan, Genoa or Turin (v3 reports name it).")
_OUT = typer.Option(None, "--out", help="Write the collateral here (what verify --collateral takes).")
_BUNDLE_OUT = typer.Argument(..., help="The bundle file to write.")


def _clock(at: int | None) -> int:
    if at is not None and at < 0:
        raise ConfigError("--at must be a non-negative UNIX time", code="CONFIG_INVALID")
    return int(time.time()) if at is None else at


def _fetcher(
    pcs: str, kds: str, root_crl: str | None, cache_dir: Path | None, max_age: int, now: int
) -> CollateralFetcher:
    if max_age < 0:
        raise ConfigError("--max-age must be non-negative", code="CONFIG_INVALID")
    cache = CollateralCache(cache_dir or default_cache_dir())
    return CollateralFetcher(
        cache=cache, pcs_url=pcs, kds_url=kds, root_crl_url=root_crl, clock=lambda: now, max_age=max_age
    )


def _write(path: Path, data: bytes) -> None:
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.resolve().parent, prefix=".collateral-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}", code="CONFIG_INVALID") from None


def _read(path: Path) -> bytes:
    try:
        return decode_evidence_text(path.read_bytes())
    except OSError as error:
        raise ConfigError(
            f"cannot read the evidence {path}: {error.strerror}", code="CONFIG_INVALID"
        ) from None


def _fetch_one(
    fetcher: CollateralFetcher, kind: EvidenceType, payload: bytes, product: str | None
) -> tuple[BundleEntry, dict[str, object]]:
    request = collateral_request(kind, payload)
    if request.tee is not None and request.fmspc is not None and request.ca is not None:
        dcap = fetcher.intel(tee="tdx" if request.tee == "tdx" else "sgx", fmspc=request.fmspc, ca=request.ca)
        entry = BundleEntry(kind, request.key, dcap.collateral, dcap.issued_at, dcap.next_update)
        return entry, {"type": kind.value, "fmspc": dcap.fmspc, "ca": dcap.ca, "issued_at": dcap.issued_at,
                       "next_update": dcap.next_update, "sources": dict(dcap.sources)}  # fmt: skip
    chosen = request.product or product
    if chosen is None or request.hwid is None or request.tcb is None:
        raise AttestationError(
            "this SEV-SNP report does not name its product: pass --product", code=ATTEST_COLLATERAL
        )
    snp = fetcher.amd(product=chosen, hwid=request.hwid, tcb=request.tcb)
    entry = BundleEntry(kind, request.key, snp.collateral)
    return entry, {"type": kind.value, "product": chosen, "hwid": request.key, "tcb": dict(request.tcb),
                   "sources": dict(snp.sources)}  # fmt: skip


@collateral_app.command("fetch")
def fetch(
    evidence: Path = _EVIDENCE,
    evidence_type: str = _TYPE,
    product: str | None = _PRODUCT,
    out_file: Path | None = _OUT,
    pcs_url: str = _PCS,
    kds_url: str = _KDS,
    root_crl_url: str | None = _ROOT_CRL,
    cache_dir: Path | None = _CACHE,
    max_age: int = _MAX_AGE,
    at: int | None = _AT,
    json_out: bool = JSON_OPTION,
) -> None:
    """Fetch (or take from the cache) the collateral an evidence needs."""
    out = Output(json_out)
    now = _clock(at)
    fetcher = _fetcher(pcs_url, kds_url, root_crl_url, cache_dir, max_age, now)
    try:
        entry, result = _fetch_one(fetcher, EvidenceType.parse(evidence_type), _read(evidence), product)
    finally:
        fetcher.close()
    if out_file is not None:
        _write(out_file, entry.collateral)
        result["written"] = str(out_file)
    out.result(result | {"fetched_at": now})


@collateral_app.command("show")
def show(
    cache_dir: Path | None = _CACHE,
    max_age: int = _MAX_AGE,
    at: int | None = _AT,
    json_out: bool = JSON_OPTION,
) -> None:
    """List the cached answers: URL, when fetched, issued, next update, and whether still usable."""
    out = Output(json_out)
    now = _clock(at)
    entries = CollateralCache(cache_dir or default_cache_dir()).entries()
    rows = [
        {
            "url": entry.url,
            "etag": entry.etag,
            "fetched_at": entry.facts.fetched_at,
            "issued_at": entry.facts.issued_at,
            "next_update": entry.facts.next_update,
            "age": None if entry.facts.issued_at is None else now - entry.facts.issued_at,
            "usable": usable(entry.facts, now=now, max_age=max_age),
        }
        for entry in entries
    ]
    out.result({"cache_dir": str(cache_dir or default_cache_dir()), "at": now, "entries": rows})


@collateral_app.command("bundle")
def bundle(
    out_file: Path = _BUNDLE_OUT,
    evidence: list[Path] = _EVIDENCE,
    evidence_type: list[str] = _TYPE,
    product: str | None = _PRODUCT,
    pcs_url: str = _PCS,
    kds_url: str = _KDS,
    root_crl_url: str | None = _ROOT_CRL,
    cache_dir: Path | None = _CACHE,
    max_age: int = _MAX_AGE,
    at: int | None = _AT,
    json_out: bool = JSON_OPTION,
) -> None:
    """Write one offline bundle with the collateral of each --evidence (one --type each, or one for all)."""
    out = Output(json_out)
    if len(evidence_type) not in (1, len(evidence)):
        raise ConfigError("give one --type, or one --type per --evidence", code="CONFIG_INVALID")
    types = evidence_type * len(evidence) if len(evidence_type) == 1 else evidence_type
    now = _clock(at)
    fetcher = _fetcher(pcs_url, kds_url, root_crl_url, cache_dir, max_age, now)
    entries, results = [], []
    try:
        for path, kind in zip(evidence, types, strict=True):
            entry, result = _fetch_one(fetcher, EvidenceType.parse(kind), _read(path), product)
            entries.append(entry)
            results.append(result | {"evidence": str(path)})
    finally:
        fetcher.close()
    _write(out_file, dump_bundle(entries, created_at=now))
    out.result({"bundle": str(out_file), "created_at": now, "entries": results})
