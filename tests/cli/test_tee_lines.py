"""What `task show` and `app run` say about the TEE that ran a task (from its receipt)."""

from __future__ import annotations

from sealrun.cli.result import tee_lines


def test_a_simulated_tee_is_named_simulated() -> None:
    (line,) = tee_lines({"tee": {"type": "simulated", "simulated": True}})
    assert line.startswith("TEE: simulated: SIMULATED, no hardware protection")


def test_a_hardware_tee_is_named_with_its_type() -> None:
    assert tee_lines({"tee": {"type": "tdx", "simulated": False}}) == [
        "TEE: tdx (hardware; `sealrun verify` checks its evidence)"
    ]


def test_no_receipt_says_so_and_nothing_is_claimed() -> None:
    lines = tee_lines({"tee": {"error": {"code": "RECEIPT_UNAVAILABLE", "message": "none"}}})
    assert lines == ["TEE: not read from the task's receipt (RECEIPT_UNAVAILABLE)"]
    assert tee_lines({}) == []
    assert tee_lines({"tee": "bogus"}) == []


def test_the_isolation_mode_is_named_when_the_receipt_says_it() -> None:
    strict = tee_lines({"tee": {"type": "tdx", "simulated": False, "isolation": "strict", "session": None}})
    assert strict[1] == "isolation: strict (an enclave launched and attested for this task alone)"
    lines = tee_lines(
        {"tee": {"type": "simulated", "simulated": True, "isolation": "session", "session": "0x01"}}
    )
    assert lines[1].startswith("isolation: session 0x01 (an enclave attested once per worker boot")
    assert len(tee_lines({"tee": {"type": "tdx", "simulated": False, "isolation": None}})) == 1
