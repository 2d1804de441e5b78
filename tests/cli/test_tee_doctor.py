"""``sealrun tee doctor``: fake host trees for every finding, and this machine told truthfully."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sealrun.adapters.tee.hardware import probe_host
from sealrun.cli.teedoctor import doctor_report
from tests.conftest import REPO


def _host(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_bare_host_is_simulated_only(tmp_path: Path) -> None:
    report = doctor_report(probe_host(_host(tmp_path, {"proc/cpuinfo": "flags\t: fpu vme\n"})), None)
    assert report["summary"] == "simulated only (no TEE hardware)"
    assert report["hardware_backends"] == []
    assert report["worker"] == {
        "tee": "simulated",
        "source": "default",
        "available": True,
        "detail": report["backends"]["simulated"]["detail"],
        "simulated": True,
        "needs": "SEALRUN_WORKER_SIMULATOR_KEY_FILE",
        "setting_missing": True,
    }
    assert "worker: simulated needs SEALRUN_WORKER_SIMULATOR_KEY_FILE" in report["missing"]
    given = doctor_report(probe_host(tmp_path), None, {"SEALRUN_WORKER_SIMULATOR_KEY_FILE": "/k.pem"})
    assert given["worker"]["setting_missing"] is False
    assert not report["host"]["bubblewrap"]
    assert not report["host"]["user_namespaces"]
    assert any(line.startswith("tdx:") for line in report["missing"])


def test_a_tdx_guest_with_its_device_and_flags(tmp_path: Path) -> None:
    root = _host(
        tmp_path,
        {
            "proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu tdx_guest sgx\n",
            "dev/tdx_guest": "",
            "proc/sys/user/max_user_namespaces": "100\n",
        },
    )
    (root / "sys/kernel/config/tsm/report").mkdir(parents=True)  # a plain folder: names no provider
    report = doctor_report(probe_host(root), "tdx")
    host = report["host"]
    assert host["cpu_flags"] == ["sgx", "tdx_guest"]
    assert host["configfs_tsm"]
    assert host["tsm_provider"] is None
    assert "no provider" in host["tsm_provider_note"]
    assert host["user_namespaces"]
    assert report["backends"]["tdx"]["available"]
    assert not report["backends"]["sev-snp"]["available"]
    assert report["worker"]["tee"] == "tdx"
    assert report["worker"]["available"]
    assert not report["worker"]["simulated"]
    assert report["worker"]["source"] == "SEALRUN_WORKER_TEE"
    assert not any((root / "sys/kernel/config/tsm/report").iterdir())  # its probe entry is gone


def test_restricted_user_namespaces_and_gramine(tmp_path: Path) -> None:
    root = _host(
        tmp_path,
        {
            "proc/sys/user/max_user_namespaces": "100",
            "proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
            "dev/attestation/attestation_type": "dcap",
            "dev/sgx_enclave": "",
            "usr/bin/gramine-sgx": "",
        },
    )
    report = doctor_report(probe_host(root), "nitro")
    assert not report["host"]["user_namespaces"]
    assert "AppArmor" in report["host"]["user_namespaces_note"]
    assert report["host"]["gramine_attestation"] == "dcap"
    assert report["backends"]["gramine-sgx"]["available"]
    assert report["worker"]["available"] is False
    assert "unknown backend" in report["worker"]["detail"]


def test_this_machine_is_reported_truthfully() -> None:
    """No TEE hardware here: the doctor says simulated only, and the worker's default is it."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"}
    done = subprocess.run(
        [sys.executable, "-m", "sealrun.cli", "tee", "doctor", "--json"],
        capture_output=True, check=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    report = json.loads(done.stdout)
    real = Path("/sys/kernel/config/tsm/report").is_dir() or Path("/dev/tdx_guest").exists()
    assert not real, "this test documents a host without TEE hardware"
    assert report["summary"] == "simulated only (no TEE hardware)"
    assert report["worker"]["tee"] == "simulated"
    assert report["worker"]["simulated"]
    assert report["host"]["configfs_tsm"] is False
    assert report["host"]["sev_guest_device"] is False
    flags = Path("/proc/cpuinfo").read_text().split()
    assert ("sgx" in flags) == ("sgx" in report["host"]["cpu_flags"])
