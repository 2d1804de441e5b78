"""The enclave process picks its quoter from ``--tee``; the hardware backends' command lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sealrun.adapters.tee import EnclaveLaunch
from sealrun.adapters.tee.confidential import ConfidentialVmTee, GramineSgxTee
from sealrun.enclave.__main__ import main

ATTEST = ["--nonce", "00" * 32, "--public-key", "11" * 32, "--task-id", "22" * 32]


def test_attest_with_a_hardware_tee_on_a_host_without_it(
    make_bundle: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = make_bundle({"app.py": "print(1)\n"})
    assert (
        main(["attest", "--bundle", str(bundle), "--tee", "tdx", "--tee-root", str(tmp_path), *ATTEST]) == 1
    )
    assert "error [QUOTE_UNAVAILABLE]" in capsys.readouterr().err
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "sev-guest").write_bytes(b"")  # a plain file: the ioctl is refused
    assert (
        main(["attest", "--bundle", str(bundle), "--tee", "sev-snp", "--tee-root", str(tmp_path), *ATTEST])
        == 1
    )
    assert "error [QUOTE_FAILED]" in capsys.readouterr().err


def test_the_simulator_key_goes_with_the_simulated_tee_only(
    make_bundle: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = make_bundle({"app.py": "print(1)\n"})
    assert main(["attest", "--bundle", str(bundle), *ATTEST]) == 1
    assert "error [USAGE]" in capsys.readouterr().err
    key = tmp_path / "sim.pem"
    assert (
        main(["attest", "--bundle", str(bundle), "--tee", "tdx", "--simulator-key", str(key), *ATTEST]) == 1
    )
    assert "error [USAGE]" in capsys.readouterr().err


def test_hardware_backends_start_the_enclave_with_their_tee(tmp_path: Path) -> None:
    launch = EnclaveLaunch(bundle_dir=tmp_path / "b", work_dir=tmp_path / "w", sms_url="http://sms")
    argv = ConfidentialVmTee(name="sev-snp", python="py", root=tmp_path).command(launch)
    assert argv[:8] == ["py", "-m", "sealrun.enclave", "run", "--tee", "sev-snp", "--tee-root", str(tmp_path)]
    assert "--simulator-key" not in argv
    assert argv[-2:] == ["--sms", "http://sms"]
    assert "--tee-root" not in ConfidentialVmTee(name="tdx").command(launch)
    gramine = GramineSgxTee(manifest=tmp_path / "sealrun-enclave.manifest.sgx").command(launch)
    assert gramine[:5] == ["gramine-sgx", "sealrun-enclave", "run", "--tee", "gramine-sgx"]
