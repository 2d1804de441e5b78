"""``sealrun verify RECEIPT --offline`` and the receipt fetch, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealrun.adapters.receipts import fetch_receipt
from sealrun.cli.main import main
from sealrun.errors import ReceiptError
from tests.receipts.builder import SIMULATOR, signed


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        main(["verify", *args])
    except SystemExit as done:
        code = int(done.code or 0)
    else:
        code = 0
    return code, capsys.readouterr().out


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)  # no project here: a third party's folder
    key = tmp_path / "simulator.pub.pem"
    key.write_bytes(SIMULATOR.public_key.to_pem())
    good = tmp_path / "receipt.json"
    good.write_bytes(signed().raw)
    failed = tmp_path / "failed.json"
    failed.write_bytes(signed(status="failed").raw)
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(signed().raw.replace(b'"wall_time_s":60', b'"wall_time_s":61'))
    return {"key": key, "good": good, "failed": failed, "tampered": tampered}


def test_offline_verify_passes_for_completed_and_failed_receipts(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    for name in ("good", "failed"):
        code, out = _run(
            capsys,
            str(files[name]),
            "--offline",
            "--allow-simulated",
            "--simulator-key",
            str(files["key"]),
            "--json",
        )
        assert code == 0, out
        report = json.loads(out)
        assert report["verified"] is True
        assert report["offline"] is True
        statuses = {c["code"]: c["status"] for c in report["checks"]}
        assert statuses["VERIFY_EVIDENCE"] == "simulated"
        assert statuses["VERIFY_RELEASE"] == "skipped"


def test_offline_verify_says_what_failed(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    code, out = _run(capsys, str(files["good"]), "--offline", "--simulator-key", str(files["key"]))
    assert code == 1
    assert "RECEIPT_EVIDENCE_SIMULATED" in out
    assert "NOT VERIFIED" in out
    code, out = _run(
        capsys,
        str(files["tampered"]),
        "--offline",
        "--allow-simulated",
        "--simulator-key",
        str(files["key"]),
        "--json",
    )
    assert code == 1
    checks = json.loads(out)["checks"]
    assert checks[0]["reason"] == "RECEIPT_SIGNATURE_INVALID"


def test_unreadable_and_malformed_receipts_have_their_codes(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    code, out = _run(capsys, str(tmp_path / "missing.json"), "--offline", "--json")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "FILE_UNREADABLE"
    (tmp_path / "junk.json").write_bytes(b"{]")
    code, out = _run(capsys, str(tmp_path / "junk.json"), "--offline", "--json")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "RECEIPT_INVALID"
    code, out = _run(capsys, str(files["good"]), "--offline", "--receipt", str(files["good"]), "--json")
    assert json.loads(out)["error"]["code"] == "USAGE"


def test_a_store_that_is_down_is_receipt_unavailable() -> None:
    with pytest.raises(ReceiptError) as caught:
        fetch_receipt("http://127.0.0.1:9", b"\x01" * 32)
    assert caught.value.code == "RECEIPT_UNAVAILABLE"


def test_a_receipt_that_cannot_be_saved_is_output_unwritable(tmp_path: Path) -> None:
    from sealrun.cli.verify import _save
    from sealrun.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        _save(tmp_path / "missing" / "receipt.json", b"{}")
    assert caught.value.code == "OUTPUT_UNWRITABLE"
    _save(tmp_path / "receipt.json", b"{}")
    assert (tmp_path / "receipt.json").read_bytes() == b"{}"


def test_the_store_receipt_the_chain_bound_is_chosen_among_attempts() -> None:
    import hashlib

    import httpx

    first, second = signed(), signed(status="failed")  # two attempts' receipts, newest last
    blobs = {hashlib.sha256(r.raw).hexdigest(): r.raw for r in (first, second)}
    task = "0x" + first.receipt.task_id.hex()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/v1/tasks/{task}/receipts":
            listed = [
                {"checksum": "0x" + sha, "kind": "receipt", "size": len(raw), "url": f"http://s/v1/blobs/{sha}",
                 "recorded_at": n}
                for n, (sha, raw) in enumerate(blobs.items())
            ]  # fmt: skip
            return httpx.Response(200, json={"task": task, "blobs": listed})
        return httpx.Response(200, content=blobs[request.url.path.rsplit("/", 1)[-1]])

    def fetch(prefer: bytes | None) -> bytes:
        http = httpx.Client(transport=httpx.MockTransport(answer))
        return fetch_receipt("http://s", first.receipt.task_id, prefer=prefer, http=http)

    assert fetch(None) == second.raw  # the newest
    assert fetch(first.receipt.digest) == first.raw  # the one the chain bound
    assert fetch(b"\x00" * 32) == second.raw  # none bound: the newest, which will fail VERIFY_CHAIN
