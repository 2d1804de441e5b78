"""EIP-712: our hashes equal eth-account's and MetaMask's; the payload is eth_signTypedData_v4's."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.core.orders import (
    AppOrder,
    DatasetOrder,
    Domain,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    make_tag,
    order_hash,
    recover_order_signer,
    sign_order,
    signable_digest,
    signable_order,
    type_string,
    typed_data,
)
from sealrun.errors import OrderError
from tests.orders.metamask import metamask_sign
from tests.orders.strategies import orders

DOMAIN = Domain(31337, "0x" + "ab" * 20)
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


@settings(max_examples=60, deadline=None)
@given(order=orders, chain_id=st.integers(1, 2**64))
def test_our_hash_equals_eth_account(order: object, chain_id: int) -> None:
    domain = Domain(chain_id, DOMAIN.verifying_contract)
    assert order_hash(order, domain) == signable_digest(signable_order(order, domain))  # type: ignore[arg-type]


def test_known_answer() -> None:
    # Pinned so an accidental change of a type string or of the domain is caught here.
    order = AppOrder(app="0x" + "11" * 20, appprice=5, volume=10, tag=make_tag(TagBit.TEE))
    assert type_string(AppOrder) == (
        "AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,"
        "address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
    )
    assert order_hash(order, DOMAIN).hex() == KNOWN_APP_ORDER_HASH


KNOWN_APP_ORDER_HASH = "31cd243e21536f23451e5261e0ac3f3dbac06b355ef8969e4ca1fa58be0d503a"


def test_payload_is_json_and_names_the_domain() -> None:
    order = RequestOrder(
        app="0x" + "11" * 20,
        appmaxprice=2**255,
        dataset="0x" + "00" * 20,
        datasetmaxprice=0,
        workerpool="0x" + "00" * 20,
        workerpoolmaxprice=1,
        requester="0x" + "22" * 20,
        volume=1,
        tag=make_tag(TagBit.TEE),
        category=0,
        params='{"iexec_args":"a b"}',
    )
    payload = json.loads(json.dumps(typed_data(order, DOMAIN)))
    assert payload["primaryType"] == "RequestOrder"
    assert payload["domain"] == {
        "name": "sealrun",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": DOMAIN.verifying_contract,
    }
    assert payload["message"]["appmaxprice"] == str(2**255)  # no precision lost in JavaScript


@pytest.mark.parametrize("bad", [0, -1, True, "1"])
def test_domain_rejects_a_bad_chain_id(bad: object) -> None:
    with pytest.raises(OrderError) as raised:
        Domain(bad, DOMAIN.verifying_contract)  # type: ignore[arg-type]
    assert raised.value.code == "ORDER_DOMAIN_INVALID"


def test_domain_rejects_a_bad_hub() -> None:
    with pytest.raises(OrderError) as raised:
        Domain(1, "0x1234")
    assert raised.value.code == "ORDER_DOMAIN_INVALID"


def _samples() -> list[object]:
    tag = make_tag(TagBit.TEE, TagBit.SGX, TagBit.GPU)
    return [
        AppOrder(app="0x" + "11" * 20, appprice=2**200, volume=3, tag=tag, salt=b"\x05" * 32),
        DatasetOrder(
            dataset="0x" + "12" * 20, datasetprice=0, volume=1, tag=bytes(32), apprestrict="0x" + "11" * 20
        ),
        WorkerpoolOrder(workerpool="0x" + "13" * 20, workerpoolprice=7, volume=9, tag=tag, category=4),
        RequestOrder(
            app="0x" + "11" * 20,
            appmaxprice=2**256 - 1,
            dataset="0x" + "12" * 20,
            datasetmaxprice=3,
            workerpool="0x" + "00" * 20,
            workerpoolmaxprice=10,
            requester="0x" + "22" * 20,
            volume=2,
            tag=tag,
            category=1,
            beneficiary="0x" + "23" * 20,
            params='{"iexec_args": "é ☃ \\"q\\""}',
        ),
    ]


@pytest.mark.node
def test_metamask_hash_and_signature_equal_ours() -> None:
    samples = _samples()
    results = metamask_sign([(KEY, typed_data(order, DOMAIN)) for order in samples])
    for order, (signature, digest) in zip(samples, results, strict=True):
        assert digest == order_hash(order, DOMAIN)
        ours = sign_order(order, KEY, DOMAIN)
        assert signature == ours.sign  # RFC 6979: the same key and digest give the same signature
        assert recover_order_signer(ours, DOMAIN) == Account.from_key(KEY).address
