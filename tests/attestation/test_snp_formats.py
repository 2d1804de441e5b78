"""SEV-SNP report versions 2, 3, 5 and newer; VCEK and VLEK; Milan, Genoa and Turin.

AMD's signatures cannot be re-made, so each case takes the real Milan report's bytes, sets the
fields a version or product line defines, and re-signs them with a chain made here whose ARK is
named as AMD names its product roots (``ARK-Milan``...), pinned by its own fingerprint.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from sealrun.core.attestation import Evidence, EvidenceType
from sealrun.core.attestation.claims import Claims
from sealrun.core.attestation.snp import report_product
from sealrun.errors import AttestationError
from tests.attestation.test_snp_binding import CHIP_OFFSET, NOW, TCB_OFFSET, SnpChain, _real

KEY_INFO = 0x48
CPUID = {"Milan": (0x19, 0x01), "Genoa": (0x19, 0x11), "Turin": (0x1A, 0x02)}
TURIN_TCB = {"fmc": 0, "bootloader": 1, "tee": 2, "snp": 3, "microcode": 7}
CLASSIC_TCB = {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7}


@pytest.fixture(scope="module")
def chains() -> dict[str, SnpChain]:
    return {product: SnpChain.make(product) for product in ("Milan", "Genoa", "Turin")}


@pytest.fixture
def template(vectors_dir: Path) -> bytes:
    report, _leaf = _real(vectors_dir, "snp-virtee-milan")
    return report


def _report(template: bytes, version: int, product: str | None = None, *, vlek: bool = False) -> bytes:
    raw = bytearray(template)
    struct.pack_into("<I", raw, 0, version)
    if product is not None:
        raw[0x188], raw[0x189] = CPUID[product]
        raw[0x18A] = 1
    if vlek:
        key_info = (struct.unpack_from("<I", raw, KEY_INFO)[0] & ~0x1C) | (1 << 2)
        struct.pack_into("<I", raw, KEY_INFO, key_info)
    return bytes(raw)


def _tcb(report: bytes, product: str | None) -> dict[str, int]:
    layout = TURIN_TCB if product == "Turin" else CLASSIC_TCB
    return {name: report[TCB_OFFSET + index] for name, index in layout.items()}


def _verify(
    chain: SnpChain, report: bytes, tcb: dict[str, int] | None = None, chip: bytes | None = None
) -> Claims:
    certified = tcb if tcb is not None else _tcb(report, None)
    vcek = chain.vcek(certified, chip if chip is not None else report[CHIP_OFFSET : CHIP_OFFSET + 64])
    return chain.verifier().verify(Evidence(EvidenceType.SEV_SNP, chain.signed(report), vcek), now=NOW)


@pytest.mark.parametrize("version", [2, 3, 4, 5, 6, 9])
def test_every_version_from_2_verifies(chains: dict[str, SnpChain], template: bytes, version: int) -> None:
    product = "Milan" if version >= 3 else None
    claims = _verify(chains["Milan"], _report(template, version, product))
    assert claims.extra["report_version"] == version
    assert claims.extra["product"] == "Milan"
    if version >= 3:
        assert (claims.extra["cpuid_family"], claims.extra["cpuid_model"]) == CPUID["Milan"]
    else:
        assert "cpuid_family" not in claims.extra
    assert ("launch_mit_vector" in claims.extra) == (version >= 5)


@pytest.mark.parametrize("version", [0, 1])
def test_versions_before_2_are_malformed(chains: dict[str, SnpChain], template: bytes, version: int) -> None:
    with pytest.raises(AttestationError) as caught:
        _verify(chains["Milan"], _report(template, version))
    assert caught.value.code == "ATTEST_MALFORMED"


@pytest.mark.parametrize("product", ["Milan", "Genoa", "Turin"])
def test_each_product_line_verifies_under_its_own_ark(
    chains: dict[str, SnpChain], template: bytes, product: str
) -> None:
    report = _report(template, 3, product)
    claims = _verify(chains[product], report, _tcb(report, product))
    assert claims.extra["product"] == product
    assert claims.extra["reported_tcb"] == _tcb(report, product)


@pytest.mark.parametrize(("named", "chained"), [("Genoa", "Milan"), ("Milan", "Turin"), ("Turin", "Genoa")])
def test_a_report_under_another_products_ark_is_refused(
    chains: dict[str, SnpChain], template: bytes, named: str, chained: str
) -> None:
    report = _report(template, 3, named)
    with pytest.raises(AttestationError) as caught:
        _verify(chains[chained], report, _tcb(report, named))
    assert caught.value.code == "ATTEST_UNTRUSTED_ROOT"


def test_turin_binds_the_fmc_and_its_own_tcb_layout(chains: dict[str, SnpChain], template: bytes) -> None:
    report = _report(template, 3, "Turin")
    tcb = _tcb(report, "Turin")
    with pytest.raises(AttestationError) as caught:
        _verify(chains["Turin"], report, {**tcb, "fmc": (tcb["fmc"] + 1) % 128})
    assert caught.value.code == "ATTEST_TCB_MISMATCH"
    assert "fmc SPL" in caught.value.message
    # Milan/Genoa-layout values in a Turin VCEK do not match a Turin report.
    classic = _tcb(report, None)
    if classic != {name: tcb[name] for name in classic}:
        with pytest.raises(AttestationError) as caught:
            _verify(chains["Turin"], report, classic)
        assert caught.value.code == "ATTEST_TCB_MISMATCH"


def test_a_vlek_signed_report_verifies_without_a_chip_id(
    chains: dict[str, SnpChain], template: bytes
) -> None:
    report = _report(template, 3, "Genoa", vlek=True)
    claims = _verify(chains["Genoa"], report, _tcb(report, "Genoa"), chip=b"\x00" * 64)
    assert claims.extra["signing_key"] == "vlek"
    with pytest.raises(AttestationError) as caught:  # the TCB still binds a VLEK
        _verify(chains["Genoa"], report, {**_tcb(report, "Genoa"), "snp": 99})
    assert caught.value.code == "ATTEST_TCB_MISMATCH"


def test_product_lines_from_cpuid() -> None:
    assert [report_product(*CPUID[name]) for name in ("Milan", "Genoa", "Turin")] == [
        "Milan",
        "Genoa",
        "Turin",
    ]
    assert report_product(0x19, 0xA1) == "Genoa"  # Bergamo / Siena
    assert report_product(0x17, 0x31) is None
