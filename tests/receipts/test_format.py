"""Task receipt v1: canonical encoding, digest, signature, and every single-field tampering."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.core.attestation import standard_verifier
from sealrun.core.jsontypes import JsonObject, JsonValue
from sealrun.core.receipts import DIGEST_DOMAIN, canonical_bytes, parse_receipt, receipt_digest
from sealrun.core.receipts.checks import all_passed, offline_checks
from sealrun.errors import ReceiptError
from tests.receipts.builder import NOW, SIMULATOR, body, sign, signed

Path = tuple[str | int, ...]
VERIFIER = standard_verifier(simulator_public_key=SIMULATOR.public_key)


def _leaves(value: JsonValue, path: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def _get(document: JsonValue, path: Path) -> JsonValue:
    for step in path:
        document = document[step]  # type: ignore[index]
    return document


def _set(document: JsonObject, path: Path, value: JsonValue) -> JsonObject:
    changed = copy.deepcopy(document)
    target: JsonValue = changed
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return changed


def _tampered(value: JsonValue) -> JsonValue:
    """Another value of the same shape where one exists (so only the signature can tell)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        last = value[-1]
        return value[:-1] + ("1" if last != "1" else "2")
    if value is None:
        return "0x" + "00" * 32
    return [*value, value[0]] if isinstance(value, list) and value else ["x"]


COMPLETED = signed()
FAILED = signed(status="failed")
LEAVES = sorted(set(_leaves(COMPLETED.receipt.body)), key=str)


def test_a_receipt_round_trips_and_its_digest_is_the_documented_one() -> None:
    for case in (COMPLETED, FAILED):
        again = parse_receipt(case.raw)
        assert again == case.receipt
        assert again.to_bytes() == case.raw
        unsigned = {k: v for k, v in case.receipt.body.items() if k != "signature"}
        import hashlib

        assert case.receipt.digest == hashlib.sha256(DIGEST_DOMAIN + canonical_bytes(unsigned)).digest()


def test_untampered_receipts_pass_offline_with_simulated_allowed() -> None:
    for case in (COMPLETED, FAILED):
        checks = offline_checks(case.receipt, verifier=VERIFIER, now=NOW, allow_simulated=True)
        assert [c.status for c in checks] == ["pass", "pass", "simulated", "pass", "skipped"]
        assert all_passed(checks, offline=True)


def test_simulated_evidence_fails_unless_allowed() -> None:
    checks = offline_checks(COMPLETED.receipt, verifier=VERIFIER, now=NOW)
    evidence = next(c for c in checks if c.code == "VERIFY_EVIDENCE")
    assert (evidence.status, evidence.reason) == ("fail", "RECEIPT_EVIDENCE_SIMULATED")
    assert not all_passed(checks, offline=True)


@pytest.mark.parametrize("path", LEAVES, ids=lambda p: ".".join(map(str, p)))
def test_every_single_field_tampering_is_refused(path: Path) -> None:
    document = _set(COMPLETED.receipt.body, path, _tampered(_get(COMPLETED.receipt.body, path)))
    raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    try:
        receipt = parse_receipt(raw)
    except ReceiptError as error:
        code = error.code
    else:
        code = None
    if code is not None:
        assert code in {"RECEIPT_INVALID", "RECEIPT_VERSION_UNSUPPORTED"}
        return
    assert receipt.digest != COMPLETED.receipt.digest or path == ("signature",)
    checks = offline_checks(receipt, verifier=VERIFIER, now=NOW, allow_simulated=True)
    signature = checks[0]
    assert (signature.code, signature.status, signature.reason) == (
        "VERIFY_SIGNATURE", "fail", "RECEIPT_SIGNATURE_INVALID",
    )  # fmt: skip
    assert not all_passed(checks, offline=True)


@settings(max_examples=60, deadline=None)
@given(
    index=st.sampled_from(range(len(LEAVES))),
    text=st.text(min_size=1, max_size=20),
    number=st.integers(0, 2**62),
)
def test_any_change_of_a_field_changes_the_digest_and_round_trips(index: int, text: str, number: int) -> None:
    path = LEAVES[index]
    old = _get(COMPLETED.receipt.body, path)
    new: JsonValue = number if isinstance(old, int) and not isinstance(old, bool) else text
    if new == old:
        return
    document = _set(COMPLETED.receipt.body, path, new)
    if path != ("signature",):
        assert receipt_digest(document) != COMPLETED.receipt.digest
    try:
        raw = canonical_bytes(document)
        receipt = parse_receipt(raw)
    except ReceiptError as error:
        code: str | None = error.code
    else:
        code = None
    if code is not None:
        assert code in {"RECEIPT_INVALID", "RECEIPT_VERSION_UNSUPPORTED"}
        return
    assert receipt.to_bytes() == raw
    assert parse_receipt(receipt.to_bytes()) == receipt


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"not json",
        b'{"version": 1}',
        COMPLETED.raw.replace(b",", b", ", 1),  # whitespace: not canonical
        COMPLETED.raw[:-1] + b',"version":1}',  # a duplicate key
        COMPLETED.raw.replace(b'"processes":64', b'"processes":64.0'),  # a float
        COMPLETED.raw.replace(b'"processes":64', b'"processes":NaN'),
        COMPLETED.raw.replace(b'"processes":64', b'"processes":-1'),
        COMPLETED.raw.replace(b'"status":"completed"', b'"status":"failed"'),  # failed without a code
        b"{" * 100_000,
        b" " * (5 << 20),
    ],
)
def test_malformed_receipts_are_refused(raw: bytes) -> None:
    with pytest.raises(ReceiptError) as caught:
        parse_receipt(raw)
    assert caught.value.code == "RECEIPT_INVALID"


def test_another_version_is_unsupported() -> None:
    raw = COMPLETED.raw.replace(b'"version":1,"worker"', b'"version":2,"worker"')
    assert raw != COMPLETED.raw
    with pytest.raises(ReceiptError) as caught:
        parse_receipt(raw)
    assert caught.value.code == "RECEIPT_VERSION_UNSUPPORTED"


def test_a_receipt_signed_by_another_key_is_refused() -> None:
    forged = sign(body(), key=bytes.fromhex("33" * 32))
    checks = offline_checks(forged.receipt, verifier=VERIFIER, now=NOW, allow_simulated=True)
    assert checks[0].reason == "RECEIPT_SIGNATURE_INVALID"
