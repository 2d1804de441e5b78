"""Every collateral parser, given any bytes (or a real answer with bytes flipped), raises only a code.

Measure: ``uv run --frozen pytest -q tests/attestation/test_collateral_fuzz.py``
(``SEALRUN_FUZZ_EXAMPLES`` sets the examples per test, default 200).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealrun.core.attestation import codes
from sealrun.core.attestation.bundle import parse_bundle
from sealrun.core.attestation.collateral import (
    collateral_times,
    dcap_collateral_times,
    parse_amd_chain,
    parse_crl,
    parse_qe_identity,
    parse_tcb_info,
    raw_member,
)
from sealrun.core.attestation.roots import INTEL_SGX_ROOT_CA
from sealrun.errors import AttestationError
from tests.attestation.collateral_server import intel_routes, load_collateral
from tests.conftest import VECTORS

FUZZ = settings(
    max_examples=int(os.environ.get("SEALRUN_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DOCUMENTED = {getattr(codes, name) for name in codes.__all__}
NOW = 1750330571 + 3600
COLLATERAL = load_collateral(VECTORS, "sgx/dcap-qvl/sgx_quote_collateral.json")
ROUTES = intel_routes(COLLATERAL, tee="sgx", fmspc="00A067110000", ca="processor")
TCB = ROUTES["/sgx/certification/v4/tcb?fmspc=00A067110000"]
QE = ROUTES["/sgx/certification/v4/qe/identity"]
CHAIN_PEM = (VECTORS / "snp/virtee-sev/cert_chain_milan").read_bytes()
TCB_CHAIN = TCB.headers["TCB-Info-Issuer-Chain"]
QE_CHAIN = QE.headers["SGX-Enclave-Identity-Issuer-Chain"]
PARSERS: dict[str, Callable[[bytes], object]] = {
    "tcb_info": lambda b: parse_tcb_info(b, TCB_CHAIN, tee="sgx", fmspc="00A067110000", now=NOW),
    "qe_identity": lambda b: parse_qe_identity(b, QE_CHAIN, tee="sgx", now=NOW),
    "tcb_chain_header": lambda b: parse_tcb_info(
        TCB.body, urllib.parse.quote(b), tee="sgx", fmspc="00A067110000", now=NOW
    ),
    "crl": lambda b: parse_crl(b, issuer=INTEL_SGX_ROOT_CA.certificate, what="crl"),
    "amd_chain": lambda b: parse_amd_chain(b, product="Milan", now=1790000000),
    "raw_member": lambda b: raw_member(b.decode("utf-8", "replace"), "tcbInfo"),
    "dcap_times": dcap_collateral_times,
    "crl_dates": lambda b: collateral_times(
        tcb_info=COLLATERAL["tcb_info"], qe_identity=COLLATERAL["qe_identity"], pck_crl=b, root_ca_crl=b
    ),
    "bundle": parse_bundle,
}  # fmt: skip
SEEDS = {
    "tcb_info": TCB.body,
    "qe_identity": QE.body,
    "tcb_chain_header": COLLATERAL["tcb_info_issuer_chain"].encode(),
    "crl": bytes.fromhex(COLLATERAL["root_ca_crl"]),
    "amd_chain": CHAIN_PEM,
    "raw_member": TCB.body,
    "dcap_times": (VECTORS / "sgx/dcap-qvl/sgx_quote_collateral.json").read_bytes(),
    "crl_dates": bytes.fromhex(COLLATERAL["pck_crl"]),
    "bundle": b'{"version": 1, "kind": "sealrun-collateral-bundle", "created_at": 0, "entries": []}',
}


def _only_codes(name: str, data: bytes) -> None:
    code = None
    try:
        PARSERS[name](data)
    except AttestationError as error:
        code = error.code
    assert code is None or code in DOCUMENTED, code


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), data=st.binary(max_size=512))
def test_any_bytes_raise_only_a_code(name: str, data: bytes) -> None:
    _only_codes(name, data)


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), index=st.integers(min_value=0), value=st.integers(0, 255),
       cut=st.integers(min_value=0))  # fmt: skip
def test_a_real_answer_flipped_or_cut_raises_only_a_code(name: str, index: int, value: int, cut: int) -> None:
    seed = bytearray(SEEDS[name])
    seed[index % len(seed)] = value
    _only_codes(name, bytes(seed))
    _only_codes(name, SEEDS[name][: cut % (len(SEEDS[name]) + 1)])
