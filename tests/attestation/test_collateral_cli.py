"""``sealrun attestation collateral fetch|show|bundle`` and ``verify --bundle`` against a local PCS.

Measure: ``uv run --frozen pytest -q tests/attestation/test_collateral_cli.py``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sealrun.core.attestation import decode_evidence_text
from tests.attestation.collateral_server import amd_routes, intel_routes, load_collateral, serve

NOW = 1750330571 + 3600
SGX_QUOTE = "sgx/dcap-qvl/sgx_quote"
SNP_REPORT = "snp/virtee-sev/report_milan.hex"
SNP_AT = 1790000000  # inside the SNP vector's validity window


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        ["sealrun", *args, "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def runs(
    vectors_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("collateral-cli")
    routes = intel_routes(load_collateral(vectors_dir, "sgx/dcap-qvl/sgx_quote_collateral.json"),
                          tee="sgx", fmspc="00A067110000", ca="processor")  # fmt: skip
    quote = str(vectors_dir / SGX_QUOTE)
    cache = ["--cache-dir", str(work / "cache")]
    with serve(routes) as server:
        pcs = ["--pcs-url", server.url]
        fetch = ["attestation", "collateral", "fetch", "--evidence", quote, "--type", "sgx-dcap"]
        results = {
            "fetch": _run(*fetch, "--out", str(work / "collateral.json"), *pcs, *cache, "--at", str(NOW)),
            "bundle": _run("attestation", "collateral", "bundle", str(work / "bundle.json"),
                           "--evidence", quote, "--type", "sgx-dcap", *pcs, *cache, "--at", str(NOW)),
        }  # fmt: skip
    later = str(NOW + 8 * 24 * 3600)
    results["show"] = _run("attestation", "collateral", "show", *cache, "--at", later)
    bundle = str(work / "bundle.json")
    results["verify"] = _run(
        "attestation", "verify", quote, "--type", "sgx-dcap", "--bundle", bundle, "--at", str(NOW)
    )
    results["offline-stale"] = _run(*fetch, "--pcs-url", server.url, *cache, "--at", later)
    results["written"] = (0, json.loads((work / "collateral.json").read_text()))
    report = str(vectors_dir / SNP_REPORT)
    hwid = decode_evidence_text((vectors_dir / SNP_REPORT).read_bytes())[0x1A0:0x1E0].hex()
    amd = amd_routes(vectors_dir, product="Milan", hwid=hwid, query="blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115")
    with serve(amd) as server:
        snp_fetch = ["attestation", "collateral", "fetch", "--evidence", report, "--type", "sev-snp"]
        results["snp-fetch"] = _run(*snp_fetch, "--product", "Milan", "--kds-url", server.url, *cache,
                                    "--out", str(work / "vcek.pem"), "--at", str(SNP_AT))  # fmt: skip
    results["snp-verify"] = _run("attestation", "verify", report, "--type", "sev-snp",
                                 "--collateral", str(work / "vcek.pem"), "--at", str(SNP_AT))  # fmt: skip
    return results


def test_sev_snp_collateral_is_fetched_from_kds_and_verifies(
    runs: dict[str, tuple[int, dict[str, Any]]],
) -> None:
    code, document = runs["snp-fetch"]
    assert code == 0, document
    assert document["product"] == "Milan"
    assert document["tcb"] == {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}
    code, verified = runs["snp-verify"]
    assert code == 0, verified
    assert verified["claims"]["tee"] == "sev-snp"


def test_fetch_prints_the_sources_and_writes_the_collateral(
    runs: dict[str, tuple[int, dict[str, Any]]], vectors_dir: Path
) -> None:
    code, document = runs["fetch"]
    assert code == 0, document
    assert document["fmspc"] == "00A067110000"
    assert document["ca"] == "processor"
    assert set(document["sources"].values()) == {"network"}
    assert runs["written"][1] == load_collateral(vectors_dir, "sgx/dcap-qvl/sgx_quote_collateral.json")


def test_bundle_then_verify_offline(runs: dict[str, tuple[int, dict[str, Any]]]) -> None:
    code, document = runs["bundle"]
    assert code == 0, document
    assert set(document["entries"][0]["sources"].values()) == {"cache"}
    code, verified = runs["verify"]
    assert code == 0, verified
    assert verified["claims"]["extra"]["fmspc"] == "00A067110000"
    assert verified["claims"]["extra"]["collateral_age"] == NOW - 1750327278


def test_show_lists_the_cache_and_what_has_aged_out(runs: dict[str, tuple[int, dict[str, Any]]]) -> None:
    code, document = runs["show"]
    assert code == 0
    rows = document["entries"]
    assert len(rows) == 4
    assert {row["usable"] for row in rows if row["issued_at"] is not None} == {False}


def test_a_stale_cache_with_the_server_down_is_refused(runs: dict[str, tuple[int, dict[str, Any]]]) -> None:
    code, document = runs["offline-stale"]
    assert code == 1
    assert document["error"]["code"] == "ATTEST_COLLATERAL_STALE"
