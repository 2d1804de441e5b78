"""EIP-712 signed requests: known structure, MetaMask compatibility, verifier refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.core.requests import (
    RequestDomain,
    RequestSignature,
    RequestVerifier,
    recover_request_signer,
    request_typed_data,
    sign_request,
)
from sealrun.core.requests.signing import body_hash
from sealrun.errors import ConfigError, RequestError

DOMAIN = RequestDomain(chain_id=1337, hub="0x" + "11" * 20)
KEY = b"\x05" * 32
SIGNER = Account.from_key(KEY).address


class Ledger:
    def __init__(self) -> None:
        self.used: set[tuple[str, bytes]] = set()

    def consume(self, signer: str, nonce: bytes, *, expires_at: int) -> None:
        if (signer, nonce) in self.used:
            raise RequestError("used", code="REQUEST_REPLAYED")
        self.used.add((signer, nonce))


def _sign(
    action: str = "PUT /v1/x", body: bytes = b"{}", timestamp: int = 1000, nonce: bytes = b"\x01" * 32
) -> RequestSignature:
    return sign_request(KEY, DOMAIN, action=action, body=body, timestamp=timestamp, nonce=nonce)


def test_verify_returns_the_signer_and_consumes_the_nonce() -> None:
    verifier = RequestVerifier(DOMAIN, Ledger(), window=60)
    signed = _sign()
    verified = verifier.verify(action="PUT /v1/x", body=b"{}", signed=signed, now=1030)
    assert verified.signer == SIGNER
    with pytest.raises(RequestError) as caught:
        verifier.verify(action="PUT /v1/x", body=b"{}", signed=signed, now=1030)
    assert caught.value.code == "REQUEST_REPLAYED"


@pytest.mark.parametrize("now", [939, 1061])
def test_timestamps_outside_the_window_are_refused(now: int) -> None:
    verifier = RequestVerifier(DOMAIN, Ledger(), window=60)
    with pytest.raises(RequestError) as caught:
        verifier.verify(action="PUT /v1/x", body=b"{}", signed=_sign(), now=now)
    assert caught.value.code == "REQUEST_EXPIRED"


def test_a_forged_request_does_not_burn_the_real_signers_nonce() -> None:
    ledger = Ledger()
    verifier = RequestVerifier(DOMAIN, ledger, window=60)
    bad = RequestSignature(timestamp=1000, nonce=b"\x01" * 32, signature=b"\x00" * 65)
    with pytest.raises(RequestError) as caught:
        verifier.verify(action="PUT /v1/x", body=b"{}", signed=bad, now=1000)
    assert caught.value.code == "REQUEST_SIGNATURE_INVALID"
    assert ledger.used == set()


@given(body=st.binary(max_size=64), other=st.binary(max_size=64))
@settings(max_examples=25, deadline=None)
def test_any_change_of_body_changes_the_signer(body: bytes, other: bytes) -> None:
    signed = _sign(body=body)
    assert recover_request_signer(DOMAIN, action="PUT /v1/x", body=body, signed=signed) == SIGNER
    if other != body:
        assert recover_request_signer(DOMAIN, action="PUT /v1/x", body=other, signed=signed) != SIGNER


def test_malformed_inputs() -> None:
    with pytest.raises(RequestError):
        _sign(action="")
    with pytest.raises(RequestError):
        _sign(nonce=b"\x01")
    with pytest.raises(RequestError):
        _sign(timestamp=-1)
    with pytest.raises(ConfigError):
        RequestDomain(chain_id=0, hub="0x" + "11" * 20)
    with pytest.raises(ConfigError):
        RequestDomain(chain_id=1, hub="nope")


@pytest.mark.node
def test_metamask_eth_sig_util_produces_the_same_signature(repo_root: Path) -> None:
    node = shutil.which("node")
    modules = repo_root / "tools" / "node" / "node_modules"
    if node is None or not (modules / "@metamask" / "eth-sig-util").is_dir():
        pytest.fail("node and @metamask/eth-sig-util are required (scripts/setup.sh installs them)")
    payload = request_typed_data(DOMAIN, action="PUT /v1/x", body_digest=body_hash(b"{}"), timestamp=1000,
                                 nonce=b"\x01" * 32)  # fmt: skip
    message = dict(payload["message"])
    message["bodyHash"] = "0x" + message["bodyHash"].hex()
    message["nonce"] = "0x" + message["nonce"].hex()
    script = (
        "const u=require('@metamask/eth-sig-util');"
        "const d=JSON.parse(process.argv[1]);"
        "process.stdout.write(u.signTypedData({privateKey:Buffer.from(process.argv[2],'hex'),data:d,version:'V4'}));"
    )
    data = json.dumps({**payload, "message": message})
    out = subprocess.run([node, "-e", script, data, KEY.hex()], capture_output=True, text=True, check=True,
                         env={"NODE_PATH": str(modules)})  # fmt: skip
    assert bytes.fromhex(out.stdout[2:]) == _sign().signature


def test_request_fields_are_checked_at_their_boundaries() -> None:
    """Found by scripts/mutation.py: 512/513 characters, 2**64-1/2**64, chain id 1/0."""
    digest, nonce = b"\x01" * 32, b"\x02" * 32
    request_typed_data(DOMAIN, action="a" * 512, body_digest=digest, timestamp=2**64 - 1, nonce=nonce)
    for action, timestamp in (("a" * 513, 0), ("a", 2**64)):
        with pytest.raises(RequestError) as caught:
            request_typed_data(DOMAIN, action=action, body_digest=digest, timestamp=timestamp, nonce=nonce)
        assert caught.value.code == "REQUEST_MALFORMED"
    assert RequestDomain(chain_id=1, hub=DOMAIN.hub).chain_id == 1
    with pytest.raises(ConfigError) as refused:
        RequestDomain(chain_id=0, hub=DOMAIN.hub)
    assert refused.value.code == "INVALID_CHAIN_ID"
