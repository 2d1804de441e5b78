"""``sealrun verify``'s checks: each bad input fails with its own code, never a false pass."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sealrun.core.attestation import SimulatorKey, make_simulated_evidence, standard_verifier
from sealrun.core.receipts import params_digest
from sealrun.core.receipts.checks import (
    ChainFacts,
    Check,
    SmsFacts,
    all_passed,
    offline_checks,
    online_checks,
)
from sealrun.core.receipts.release import derive_release_key, sign_release_record, verify_release_record
from sealrun.core.tasks import address_of
from sealrun.errors import ReceiptError
from tests.receipts.builder import DEAL, FINGERPRINT, INDEX, NOW, SIMULATOR, SMS_KEY, TASK, body, sign, signed

VERIFIER = standard_verifier(simulator_public_key=SIMULATOR.public_key)
SMS = SmsFacts(signer=address_of(SMS_KEY), audit_head_seq=9, audit_head_hash="0x" + "99" * 32)


def _chain(receipt_digest: bytes, *, status: str = "completed") -> ChainFacts:
    return ChainFacts(
        known=True, outcome=status, receipt_digest=receipt_digest,
        result_digest=bytes.fromhex("de" * 32) if status == "completed" else None,
        failure_code=3 if status == "failed" else None,
        log_digest=bytes.fromhex("10" * 32) if status == "failed" else None,
        deal_id=DEAL, index=INDEX, tx_hash="0x" + "7a" * 32, app="0x" + "a1" * 20,
        app_fingerprint=FINGERPRINT,
        dataset="0x" + "da" * 20, dataset_checksum=bytes.fromhex("c5" * 32),
        params='{"iexec_args": "--fast", "iexec_input_files": ["https://example.org/in.txt"], '
        '"iexec_secrets": {"1": "token"}}',
    )  # fmt: skip


def _by_code(checks: list[Check]) -> dict[str, Check]:
    return {check.code: check for check in checks}


def _all(status: str = "completed", **chain_changes: object) -> dict[str, Check]:
    case = signed(status=status)
    checks = offline_checks(
        case.receipt, verifier=VERIFIER, now=NOW, allow_simulated=True, sms_signer=SMS.signer
    )
    chain = replace(_chain(case.receipt.digest, status=status), **chain_changes)  # type: ignore[arg-type]
    return _by_code(checks + online_checks(case.receipt, chain, SMS))


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_good_receipt_verifies_online(status: str) -> None:
    checks = _all(status)
    assert {code: check.status for code, check in checks.items()} == {
        "VERIFY_SIGNATURE": "pass", "VERIFY_TASK": "pass", "VERIFY_EVIDENCE": "simulated",
        "VERIFY_FINGERPRINT": "pass", "VERIFY_RELEASE": "pass", "VERIFY_CHAIN": "pass", "VERIFY_APP": "pass",
        "VERIFY_INPUTS": "pass", "VERIFY_RESULT": "pass", "VERIFY_AUDIT": "pass",
    }  # fmt: skip
    assert all_passed(list(checks.values()), offline=False)


@pytest.mark.parametrize(
    ("changes", "code", "reason"),
    [
        ({"known": False}, "VERIFY_CHAIN", "RECEIPT_CHAIN_UNKNOWN_TASK"),
        ({"outcome": "claimed"}, "VERIFY_CHAIN", "RECEIPT_CHAIN_STATUS"),
        ({"outcome": None}, "VERIFY_CHAIN", "RECEIPT_CHAIN_STATUS"),
        ({"receipt_digest": b"\x01" * 32}, "VERIFY_CHAIN", "RECEIPT_CHAIN_BINDING"),
        ({"index": INDEX + 1}, "VERIFY_CHAIN", "RECEIPT_CHAIN_BINDING"),
        ({"app_fingerprint": b"\x02" * 32}, "VERIFY_APP", "RECEIPT_APP_MISMATCH"),
        ({"app_fingerprint": None}, "VERIFY_APP", "RECEIPT_APP_MISMATCH"),
        ({"dataset_checksum": b"\x03" * 32}, "VERIFY_INPUTS", "RECEIPT_INPUTS_MISMATCH"),
        ({"dataset": None}, "VERIFY_INPUTS", "RECEIPT_INPUTS_MISMATCH"),
        ({"params": '{"iexec_args": "--slow"}'}, "VERIFY_INPUTS", "RECEIPT_INPUTS_MISMATCH"),
        ({"params": "{not json"}, "VERIFY_INPUTS", "RECEIPT_INPUTS_MISMATCH"),
        (
            {"params": '{"iexec_args": "--fast", "iexec_input_files": ["https://example.org/in.txt"]}'},
            "VERIFY_INPUTS",
            "RECEIPT_INPUTS_MISMATCH",
        ),  # no secret in the deal, one used
        ({"result_digest": b"\x04" * 32}, "VERIFY_RESULT", "RECEIPT_RESULT_MISMATCH"),
    ],
)
def test_each_chain_disagreement_has_its_code(changes: dict[str, object], code: str, reason: str) -> None:
    checks = _all(**changes)
    assert (checks[code].status, checks[code].reason) == ("fail", reason)
    assert not all_passed(list(checks.values()), offline=False)


def test_a_failed_receipt_against_another_failure_code_or_log() -> None:
    for changes in ({"failure_code": 4}, {"log_digest": b"\x05" * 32}):
        checks = _all("failed", **changes)
        assert checks["VERIFY_RESULT"].reason == "RECEIPT_RESULT_MISMATCH"


def test_a_receipt_for_another_task_is_refused() -> None:
    case = signed()
    other = bytes.fromhex("ee" * 32)
    checks = _by_code(
        offline_checks(case.receipt, verifier=VERIFIER, now=NOW, allow_simulated=True, expected_task=other)
    )
    assert checks["VERIFY_TASK"].reason == "RECEIPT_TASK_MISMATCH"


def test_a_task_id_that_is_not_its_deal_and_index_is_refused() -> None:
    case = signed(index=INDEX + 1)  # the id stays TASK: keccak(deal, index + 1) is another
    checks = _by_code(offline_checks(case.receipt, verifier=VERIFIER, now=NOW, allow_simulated=True))
    assert checks["VERIFY_TASK"].reason == "RECEIPT_TASK_UNBOUND"


def test_evidence_that_does_not_verify_is_refused() -> None:
    stranger = standard_verifier(
        simulator_public_key=SimulatorKey.from_private_bytes(b"\x09" * 32).public_key
    )
    checks = _by_code(offline_checks(signed().receipt, verifier=stranger, now=NOW, allow_simulated=True))
    assert checks["VERIFY_EVIDENCE"].status == "fail"
    assert checks["VERIFY_EVIDENCE"].reason is not None
    assert checks["VERIFY_EVIDENCE"].reason.startswith("ATTEST_")
    assert checks["VERIFY_FINGERPRINT"].reason == "RECEIPT_FINGERPRINT_UNPROVEN"
    none = _by_code(
        offline_checks(signed().receipt, verifier=standard_verifier(), now=NOW, allow_simulated=True)
    )
    assert str(none["VERIFY_EVIDENCE"].reason).startswith("ATTEST_")


def test_evidence_of_another_measurement_or_digest_is_refused() -> None:
    document = body()
    other = make_simulated_evidence(SIMULATOR, measurement=b"\x0e" * 32, report_data=b"\x01" * 64).to_json()
    document["tee"]["evidence"] = other  # type: ignore[index]
    checks = _by_code(
        offline_checks(sign(document).receipt, verifier=VERIFIER, now=NOW, allow_simulated=True)
    )
    assert checks["VERIFY_EVIDENCE"].reason == "RECEIPT_EVIDENCE_DIGEST"
    mismatch = signed(fingerprint=b"\x0e" * 32)
    document = mismatch.receipt.body
    document["app"]["fingerprint"] = "0x" + FINGERPRINT.hex()  # type: ignore[index]
    checks = _by_code(
        offline_checks(sign(document).receipt, verifier=VERIFIER, now=NOW, allow_simulated=True)
    )
    assert checks["VERIFY_FINGERPRINT"].reason == "RECEIPT_FINGERPRINT_MISMATCH"
    document = body()
    document["tee"]["evidence"] = None  # type: ignore[index]
    checks = _by_code(
        offline_checks(sign(document).receipt, verifier=VERIFIER, now=NOW, allow_simulated=True)
    )
    assert checks["VERIFY_EVIDENCE"].reason == "RECEIPT_EVIDENCE_MISSING"


def test_the_sms_release_record_is_checked() -> None:
    document = body()
    document["release"] = None
    missing = _by_code(
        offline_checks(sign(document).receipt, verifier=VERIFIER, now=NOW, allow_simulated=True)
    )
    assert missing["VERIFY_RELEASE"].reason == "RECEIPT_RELEASE_MISSING"
    untrusted = _by_code(
        offline_checks(
            signed().receipt, verifier=VERIFIER, now=NOW, allow_simulated=True, sms_signer="0x" + "01" * 20
        )
    )
    assert untrusted["VERIFY_RELEASE"].reason == "RECEIPT_RELEASE_SIGNER_UNTRUSTED"
    unknown = _by_code(offline_checks(signed().receipt, verifier=VERIFIER, now=NOW, allow_simulated=True))
    assert unknown["VERIFY_RELEASE"].status == "skipped"  # offline, no key named: not a pass
    other = signed(task=bytes.fromhex("ee" * 32))  # the SMS released for another task than the receipt's
    document = other.receipt.body
    document["task"] = body()["task"]
    checks = _by_code(
        offline_checks(sign(document).receipt, verifier=VERIFIER, now=NOW, allow_simulated=True)
    )
    assert checks["VERIFY_RELEASE"].reason == "RECEIPT_RELEASE_MISMATCH"
    forged = body()
    forged["release"]["signer"] = "0x" + "01" * 20  # type: ignore[index]
    checks = _by_code(offline_checks(sign(forged).receipt, verifier=VERIFIER, now=NOW, allow_simulated=True))
    assert checks["VERIFY_RELEASE"].reason == "RECEIPT_RELEASE_SIGNATURE"


def test_the_audit_log_must_hold_the_record() -> None:
    case = signed()
    chain = _chain(case.receipt.digest)
    for sms, reason in (
        (SmsFacts(signer=SMS.signer), "RECEIPT_AUDIT_UNAVAILABLE"),
        (
            SmsFacts(signer=SMS.signer, audit_head_seq=6, audit_head_hash="0x" + "66" * 32),
            "RECEIPT_AUDIT_MISMATCH",
        ),
        (
            SmsFacts(signer=SMS.signer, audit_head_seq=7, audit_head_hash="0x" + "66" * 32),
            "RECEIPT_AUDIT_MISMATCH",
        ),
    ):
        checks = _by_code(online_checks(case.receipt, chain, sms))
        assert checks["VERIFY_AUDIT"].reason == reason
    same = SmsFacts(signer=SMS.signer, audit_head_seq=7, audit_head_hash="0x" + "77" * 32)
    assert _by_code(online_checks(case.receipt, chain, same))["VERIFY_AUDIT"].status == "pass"


def test_an_entry_inside_the_log_is_checked_by_its_hash() -> None:
    """The record's position is below the head: the SMS's public link at that position must
    carry the record's hash (a log that dropped or rewrote the entry is caught)."""
    case = signed()
    chain = _chain(case.receipt.digest)
    head = {"signer": SMS.signer, "audit_head_seq": 12, "audit_head_hash": "0x" + "cc" * 32}
    held = SmsFacts(**head, audit_entry_hash="0x" + "77" * 32)  # type: ignore[arg-type]
    check = _by_code(online_checks(case.receipt, chain, held))["VERIFY_AUDIT"]
    assert (check.status, "hash matches" in check.detail) == ("pass", True)
    rewritten = SmsFacts(**head, audit_entry_hash="0x" + "78" * 32)  # type: ignore[arg-type]
    assert _by_code(online_checks(case.receipt, chain, rewritten))["VERIFY_AUDIT"].reason == (
        "RECEIPT_AUDIT_MISMATCH"
    )
    by_position = SmsFacts(**head)  # type: ignore[arg-type]
    check = _by_code(online_checks(case.receipt, chain, by_position))["VERIFY_AUDIT"]
    assert (check.status, "position only" in check.detail) == ("pass", True)


def test_release_records_are_signed_by_the_key_derived_from_the_master_key() -> None:
    key = derive_release_key(b"\x42" * 32)
    assert key == derive_release_key(b"\x42" * 32) != derive_release_key(b"\x43" * 32)
    record = body()["release"]
    assert isinstance(record, dict)
    assert verify_release_record(record)["audit_seq"] == 7
    with pytest.raises(ReceiptError) as caught:
        sign_release_record({"version": 1}, key)
    assert caught.value.code == "RECEIPT_INVALID"
    for broken in ({**record, "record": "{}"}, {**record, "record": "nope"}, {"record": 1}):
        with pytest.raises(ReceiptError) as caught:
            verify_release_record(broken)  # type: ignore[arg-type]
        assert caught.value.code == "RECEIPT_INVALID"
    with pytest.raises(ReceiptError) as caught:
        verify_release_record({**record, "signature": "0x" + "00" * 65})
    assert caught.value.code == "RECEIPT_RELEASE_SIGNATURE"


def test_params_digest_is_over_args_and_input_files() -> None:
    assert params_digest("a", ["u"]) != params_digest("a", []) != params_digest("b", [])
    assert TASK != DEAL
