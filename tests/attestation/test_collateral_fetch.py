"""Collateral fetched from a local PCS/KDS serving the vectors' recorded real answers, cached, aged out.

Measure: ``uv run --frozen pytest -q tests/attestation/test_collateral_fetch.py``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sealrun.adapters.collateral import CollateralCache, CollateralFetcher
from sealrun.core.attestation import (
    Evidence,
    EvidenceType,
    SevSnpVerifier,
    SgxDcapVerifier,
    TdxDcapVerifier,
    decode_evidence_text,
)
from sealrun.core.attestation.bundle import BundleEntry, dump_bundle, parse_bundle, select_collateral
from sealrun.errors import AttestationError
from tests.attestation.collateral_server import (
    Recorded,
    Route,
    amd_routes,
    intel_routes,
    load_collateral,
    serve,
)

SGX_COLLATERAL = "sgx/dcap-qvl/sgx_quote_collateral.json"
FMSPC = "00A067110000"
TCB_ISSUED = 1750330571  # the recorded TCB info's issueDate (the latest part)
OLDEST = 1750327278  # the recorded QE identity's issueDate (the oldest part)
NOW = TCB_ISSUED + 3600
DAY = 24 * 3600
TCB_PATH = f"/sgx/certification/v4/tcb?fmspc={FMSPC}"


class Clock:
    """An injected clock (UNIX seconds), moved by the tests; never a sleep."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture
def recorded(vectors_dir: Path) -> Iterator[Recorded]:
    with serve(
        intel_routes(load_collateral(vectors_dir, SGX_COLLATERAL), tee="sgx", fmspc=FMSPC, ca="processor")
    ) as server:
        yield server


def _fetcher(url: str, folder: Path, clock: Clock) -> CollateralFetcher:
    return CollateralFetcher(cache=CollateralCache(folder), pcs_url=url, clock=clock)


def _intel(fetcher: CollateralFetcher, fmspc: str = FMSPC):  # type: ignore[no-untyped-def]
    return fetcher.intel(tee="sgx", fmspc=fmspc, ca="processor")


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(AttestationError) as caught:
        call()
    return caught.value.code


def test_fetch_rebuilds_the_recorded_collateral_and_it_verifies(
    recorded: Recorded, tmp_path: Path, vectors_dir: Path
) -> None:
    folder = tmp_path / "cache"
    got = _intel(_fetcher(recorded.url, folder, Clock(NOW)))
    assert json.loads(got.collateral) == load_collateral(vectors_dir, SGX_COLLATERAL)
    assert set(got.sources.values()) == {"network"}
    assert (got.issued_at, got.fmspc) == (OLDEST, FMSPC)
    quote = (vectors_dir / "sgx/dcap-qvl/sgx_quote").read_bytes()
    claims = SgxDcapVerifier().verify(
        Evidence(type=EvidenceType.SGX_DCAP, payload=quote, collateral=got.collateral), now=NOW
    )
    assert claims.extra["fmspc"] == FMSPC
    assert claims.extra["collateral_age"] == NOW - OLDEST
    # the cache folder is private, its files too
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert len(files) == 4
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_a_second_fetch_is_a_cache_hit(recorded: Recorded, tmp_path: Path) -> None:
    clock = Clock(NOW)
    _intel(_fetcher(recorded.url, tmp_path / "c", clock))
    asked = len(recorded.log)
    clock.now += 3600
    again = _intel(_fetcher(recorded.url, tmp_path / "c", clock))
    assert set(again.sources.values()) == {"cache"}
    assert len(recorded.log) == asked


def test_an_expired_answer_is_revalidated_with_its_etag_and_304(recorded: Recorded, tmp_path: Path) -> None:
    route = recorded.routes[TCB_PATH]
    recorded.routes[TCB_PATH] = replace(
        route, etag='"tcb-17"', headers={**route.headers, "Cache-Control": "max-age=60"}
    )
    clock = Clock(NOW)
    first = _intel(_fetcher(recorded.url, tmp_path / "c", clock))
    clock.now += 120
    second = _intel(_fetcher(recorded.url, tmp_path / "c", clock))
    assert second.sources["tcb_info"] == "revalidated"
    assert recorded.log[-1] == (TCB_PATH, '"tcb-17"')  # only the expired answer was asked for
    assert second.collateral == first.collateral


def test_a_changed_answer_is_fetched_again_after_expiry(recorded: Recorded, tmp_path: Path) -> None:
    route = recorded.routes[TCB_PATH]
    recorded.routes[TCB_PATH] = replace(
        route, etag='"v1"', headers={**route.headers, "Cache-Control": "max-age=60"}
    )
    clock = Clock(NOW)
    _intel(_fetcher(recorded.url, tmp_path / "c", clock))
    recorded.routes[TCB_PATH] = replace(recorded.routes[TCB_PATH], etag='"v2"')
    clock.now += 61
    again = _intel(_fetcher(recorded.url, tmp_path / "c", clock))
    assert again.sources["tcb_info"] == "network"
    entry = CollateralCache(tmp_path / "c").load(recorded.url + TCB_PATH)
    assert entry is not None
    assert entry.etag == '"v2"'
    assert entry.facts.fetched_at == clock.now


def test_server_down_serves_a_fresh_cache_and_refuses_a_stale_one(vectors_dir: Path, tmp_path: Path) -> None:
    routes = intel_routes(
        load_collateral(vectors_dir, SGX_COLLATERAL), tee="sgx", fmspc=FMSPC, ca="processor"
    )
    routes = {
        path: replace(route, headers={**route.headers, "Cache-Control": "max-age=60"})
        for path, route in routes.items()
    }
    clock = Clock(NOW)
    with serve(routes) as server:
        url = server.url
        _intel(_fetcher(url, tmp_path / "c", clock))
    clock.now = NOW + DAY  # the server is gone; the cache is past its max-age but younger than 7 days
    offline = _intel(_fetcher(url, tmp_path / "c", clock))
    assert set(offline.sources.values()) == {"cache-offline"}
    clock.now = OLDEST + 7 * DAY + 1
    assert _code(lambda: _intel(_fetcher(url, tmp_path / "c", clock))) == "ATTEST_COLLATERAL_STALE"
    assert _code(lambda: _intel(_fetcher(url, tmp_path / "empty", clock))) == "ATTEST_COLLATERAL_UNAVAILABLE"


def test_a_server_serving_stale_collateral_is_refused(recorded: Recorded, tmp_path: Path) -> None:
    clock = Clock(OLDEST + 8 * DAY)
    assert _code(lambda: _intel(_fetcher(recorded.url, tmp_path / "c", clock))) == "ATTEST_COLLATERAL_STALE"
    assert list((tmp_path / "c").iterdir()) == []


def test_collateral_for_another_fmspc_is_refused_and_not_cached(recorded: Recorded, tmp_path: Path) -> None:
    other = "B0C06F000000"
    recorded.routes[f"/sgx/certification/v4/tcb?fmspc={other}"] = recorded.routes[TCB_PATH]
    assert (
        _code(lambda: _intel(_fetcher(recorded.url, tmp_path / "c", Clock(NOW)), other))
        == "ATTEST_COLLATERAL"
    )
    assert list((tmp_path / "c").iterdir()) == []


def _tampered_chain(route: Route) -> Route:
    # the signing certificate alone: the chain no longer ends at the pinned Intel root
    chain = route.headers["TCB-Info-Issuer-Chain"]
    return replace(
        route, headers={"TCB-Info-Issuer-Chain": chain[: chain.index("-----END%20CERTIFICATE-----") + 28]}
    )


HOSTILE = {
    "huge body": (lambda r: replace(r, body=b"{" + b" " * (2 << 20) + b"}"), "ATTEST_COLLATERAL"),
    "huge body, no length": (
        lambda r: replace(r, body=b"{" + b" " * (2 << 20) + b"}", declare_length=False),
        "ATTEST_COLLATERAL",
    ),
    "wrong content type": (lambda r: replace(r, content_type="text/html"), "ATTEST_COLLATERAL"),
    "malformed json": (lambda r: replace(r, body=r.body[:-5]), "ATTEST_COLLATERAL"),
    "not the PCS shape": (lambda r: replace(r, body=b'{"tcbInfo": []}'), "ATTEST_COLLATERAL"),
    "bad issuer chain": (_tampered_chain, "ATTEST_UNTRUSTED_ROOT"),
    "no issuer chain": (lambda r: replace(r, headers={}), "ATTEST_COLLATERAL"),
    "tampered tcb info": (
        lambda r: replace(r, body=r.body.replace(b'"tcbType":0', b'"tcbType":1')),
        "ATTEST_SIGNATURE",
    ),
    "not found": (lambda r: replace(r, status=404), "ATTEST_COLLATERAL"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_server_is_refused_with_a_code_and_nothing_cached(
    recorded: Recorded, tmp_path: Path, case: str
) -> None:
    change, code = HOSTILE[case]
    recorded.routes[TCB_PATH] = change(recorded.routes[TCB_PATH])
    assert _code(lambda: _intel(_fetcher(recorded.url, tmp_path / "c", Clock(NOW)))) == code
    assert list((tmp_path / "c").iterdir()) == []


def test_a_tampered_cache_entry_is_a_miss(recorded: Recorded, tmp_path: Path) -> None:
    clock = Clock(NOW)
    _intel(_fetcher(recorded.url, tmp_path / "c", clock))
    cache = CollateralCache(tmp_path / "c")
    entry = cache.load(recorded.url + TCB_PATH)
    assert entry is not None
    cache.store(replace(entry, body=entry.body.replace(b'"tcbType":0', b'"tcbType":1')))
    again = _intel(_fetcher(recorded.url, tmp_path / "c", clock))
    assert again.sources["tcb_info"] == "network"
    assert again.sources["qe_identity"] == "cache"


def test_an_unsafe_cache_folder_is_refused(recorded: Recorded, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert (
        _code(lambda: _intel(_fetcher(recorded.url, tmp_path / "link", Clock(NOW))))
        == "ATTEST_COLLATERAL_UNAVAILABLE"
    )
    (tmp_path / "open").mkdir()
    os.chmod(tmp_path / "open", 0o755)
    assert (
        _code(lambda: _intel(_fetcher(recorded.url, tmp_path / "open", Clock(NOW))))
        == "ATTEST_COLLATERAL_UNAVAILABLE"
    )
    assert list((tmp_path / "real").iterdir()) == []
    assert list((tmp_path / "open").iterdir()) == []


def test_a_planted_symlink_entry_is_not_followed(recorded: Recorded, tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir(mode=0o700)
    secret = tmp_path / "secret"
    secret.write_text("do not touch")
    name = CollateralCache._name(recorded.url + TCB_PATH)
    (folder / name).symlink_to(secret)
    got = _intel(_fetcher(recorded.url, folder, Clock(NOW)))
    assert got.sources["tcb_info"] == "network"
    assert secret.read_text() == "do not touch"
    assert not (folder / name).is_symlink()


def test_amd_vcek_and_chain_are_fetched_checked_and_verify(vectors_dir: Path, tmp_path: Path) -> None:
    report = decode_evidence_text((vectors_dir / "snp/virtee-sev/report_milan.hex").read_bytes())
    hwid = report[0x1A0:0x1E0]
    tcb = {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}
    query = "blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115"
    at = 1790000000  # inside the vector's validity window
    with serve(amd_routes(vectors_dir, product="Milan", hwid=hwid.hex(), query=query)) as server:
        fetcher = CollateralFetcher(
            cache=CollateralCache(tmp_path / "c"), kds_url=server.url, clock=Clock(at)
        )
        got = fetcher.amd(product="Milan", hwid=hwid, tcb=tcb)
        claims = SevSnpVerifier().verify(
            Evidence(type=EvidenceType.SEV_SNP, payload=report, collateral=got.collateral), now=at
        )
        assert claims.tee is EvidenceType.SEV_SNP
        other = bytes(64)
        server.routes[f"/vcek/v1/Milan/{other.hex()}?{query}"] = server.routes[
            f"/vcek/v1/Milan/{hwid.hex()}?{query}"
        ]
        assert _code(lambda: fetcher.amd(product="Milan", hwid=other, tcb=tcb)) == "ATTEST_TCB_MISMATCH"
        assert _code(lambda: fetcher.amd(product="Genoa", hwid=hwid, tcb=tcb)) == "ATTEST_COLLATERAL"  # 404


def test_a_bundle_round_trips_and_selects_by_fmspc(
    recorded: Recorded, tmp_path: Path, vectors_dir: Path
) -> None:
    got = _intel(_fetcher(recorded.url, tmp_path / "c", Clock(NOW)))
    data = dump_bundle(
        [BundleEntry(EvidenceType.SGX_DCAP, FMSPC, got.collateral, got.issued_at, got.next_update)],
        created_at=NOW,
    )
    quote = (vectors_dir / "sgx/dcap-qvl/sgx_quote").read_bytes()
    entries = parse_bundle(data)
    assert select_collateral(entries, Evidence(type=EvidenceType.SGX_DCAP, payload=quote)) == got.collateral
    tdx = (vectors_dir / "tdx/dcap-qvl/tdx_quote").read_bytes()
    assert (
        _code(lambda: select_collateral(entries, Evidence(type=EvidenceType.TDX_DCAP, payload=tdx)))
        == "ATTEST_COLLATERAL"
    )
    for bad in (b"{}", b"[", data.replace(b'"version": 1', b'"version": 2')):
        assert _code(lambda bad=bad: parse_bundle(bad)) == "ATTEST_COLLATERAL"


def test_an_amd_crl_not_signed_by_the_ark_is_refused(vectors_dir: Path, tmp_path: Path) -> None:
    # no real AMD CRL is recorded in the vectors: Intel's root CA CRL stands in as a foreign one
    routes = amd_routes(vectors_dir, product="Milan", hwid="00", query="")
    intel_crl = bytes.fromhex(load_collateral(vectors_dir, SGX_COLLATERAL)["root_ca_crl"])
    routes["/vcek/v1/Milan/crl"] = Route(intel_crl, "application/pkix-crl")
    with serve(routes) as server:
        fetcher = CollateralFetcher(
            cache=CollateralCache(tmp_path / "c"), kds_url=server.url, clock=Clock(1790000000)
        )
        assert _code(lambda: fetcher.amd_crl(product="Milan")) == "ATTEST_COLLATERAL"


def test_tdx_collateral_is_fetched_from_the_tdx_endpoints_and_verifies(
    vectors_dir: Path, tmp_path: Path
) -> None:
    recorded_json = load_collateral(vectors_dir, "tdx/dcap-qvl/tdx_quote_collateral.json")
    quote = (vectors_dir / "tdx/dcap-qvl/tdx_quote").read_bytes()
    now = 1750330347 + 3600  # an hour after the newest part (QE identity, 2025-06-19T10:32:27Z)
    with serve(intel_routes(recorded_json, tee="tdx", fmspc="B0C06F000000", ca="platform")) as server:
        fetcher = _fetcher(server.url, tmp_path / "c", Clock(now))
        got = fetcher.intel(tee="tdx", fmspc="B0C06F000000", ca="platform")
        assert {path.split("?")[0] for path, _ in server.log} == {
            "/tdx/certification/v4/tcb",
            "/tdx/certification/v4/qe/identity",
            "/sgx/certification/v4/pckcrl",
            "/sgx/certification/v4/rootcacrl",
        }
        # a TDX answer where SGX is asked for is refused (its id is TDX, not SGX)
        tdx_tcb = "/tdx/certification/v4/tcb?fmspc=B0C06F000000"
        server.routes[tdx_tcb.replace("/tdx/", "/sgx/")] = server.routes[tdx_tcb]
        assert (
            _code(lambda: fetcher.intel(tee="sgx", fmspc="B0C06F000000", ca="platform"))
            == "ATTEST_COLLATERAL"
        )
    assert json.loads(got.collateral) == recorded_json
    evidence = Evidence(type=EvidenceType.TDX_DCAP, payload=quote, collateral=got.collateral)
    assert TdxDcapVerifier().verify(evidence, now=now).extra["fmspc"] == "B0C06F000000"
