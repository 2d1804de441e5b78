"""The worker's TEE backend is a validated setting, checked against what the host offers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sealrun.adapters.tee import SimulatedTee
from sealrun.adapters.tee.confidential import ConfidentialVmTee, GramineSgxTee
from sealrun.adapters.tee.hardware import probe_host
from sealrun.errors import ConfigError
from sealrun.services.worker.app import tee_backend
from sealrun.services.worker.settings import WorkerSettings


def _settings(tmp_path: Path, **extra: Any) -> WorkerSettings:
    return WorkerSettings(key="0x" + "11" * 32, work_dir=tmp_path, hub="0x" + "00" * 20, **extra)  # type: ignore[arg-type]


def _code(settings: WorkerSettings) -> str:
    with pytest.raises(ConfigError) as caught:
        tee_backend(settings)
    return caught.value.code


def test_simulated_is_the_default_needs_its_key_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert _settings(tmp_path).tee == "simulated"
    assert _code(_settings(tmp_path)) == "CONFIG_INVALID"
    with caplog.at_level("WARNING", logger="sealrun.worker"):
        backend = tee_backend(_settings(tmp_path, simulator_key_file=tmp_path / "sim.pem"))
    assert "simulated: it protects nothing" in caplog.text
    assert isinstance(backend, SimulatedTee)
    assert backend.name == "simulated"


def test_an_unknown_backend_is_refused_with_its_code(tmp_path: Path) -> None:
    for name in ("sgx", "TDX", "nitro", ""):
        assert _code(_settings(tmp_path, tee=name)) == "CONFIG_TEE_UNKNOWN"


def test_hardware_backends_are_unavailable_without_their_interfaces(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    for name in ("tdx", "sev-snp", "gramine-sgx"):
        assert _code(_settings(tmp_path, tee=name, tee_root=host)) == "CONFIG_TEE_UNAVAILABLE"


def test_this_machine_has_no_tee_hardware(tmp_path: Path) -> None:
    """The real host (no configfs-tsm, no guest devices, no SGX here): hardware is refused."""
    real = probe_host(Path("/"), try_bubblewrap=False)
    if real.configfs_tsm or real.tdx_guest_device or real.sev_guest_device or real.sgx_device:
        pytest.fail("this test documents a host without TEE hardware; this one has some")
    assert _code(_settings(tmp_path, tee="tdx")) == "CONFIG_TEE_UNAVAILABLE"


def test_a_confidential_vm_with_an_interface_gets_its_backend(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "dev").mkdir(parents=True)
    (host / "dev" / "tdx_guest").write_bytes(b"")
    backend = tee_backend(_settings(tmp_path, tee="tdx", tee_root=host))
    assert isinstance(backend, ConfidentialVmTee)
    assert backend.name == "tdx"
    assert _code(_settings(tmp_path, tee="sev-snp", tee_root=host)) == "CONFIG_TEE_UNAVAILABLE"
    (host / "dev" / "sev-guest").write_bytes(b"")
    assert tee_backend(_settings(tmp_path, tee="sev-snp", tee_root=host)).name == "sev-snp"


def test_gramine_needs_its_tools_and_a_manifest(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "dev").mkdir(parents=True)
    (host / "usr" / "bin").mkdir(parents=True)
    (host / "dev" / "sgx_enclave").write_bytes(b"")
    assert _code(_settings(tmp_path, tee="gramine-sgx", tee_root=host)) == "CONFIG_TEE_UNAVAILABLE"
    (host / "usr" / "bin" / "gramine-sgx").write_bytes(b"")
    assert _code(_settings(tmp_path, tee="gramine-sgx", tee_root=host)) == "CONFIG_INVALID"
    manifest = tmp_path / "sealrun-enclave.manifest.sgx"
    backend = tee_backend(_settings(tmp_path, tee="gramine-sgx", tee_root=host, gramine_manifest=manifest))
    assert isinstance(backend, GramineSgxTee)


def test_isolation_is_strict_by_default_and_session_keeps_warm_enclaves(tmp_path: Path) -> None:
    """Decision 0080: ``session`` gives the SessionTee (simulated only for now)."""
    from sealrun.adapters.tee import SessionTee

    key = tmp_path / "sim.pem"
    assert _settings(tmp_path).isolation == "strict"
    assert isinstance(tee_backend(_settings(tmp_path, simulator_key_file=key)), SimulatedTee)
    backend = tee_backend(_settings(tmp_path, simulator_key_file=key, isolation="session"))
    assert isinstance(backend, SessionTee)
    assert backend.name == "simulated"
    host = tmp_path / "host"
    (host / "dev").mkdir(parents=True)
    (host / "dev" / "tdx_guest").write_bytes(b"")
    assert _code(_settings(tmp_path, tee="tdx", tee_root=host, isolation="session")) == "CONFIG_INVALID"
    with pytest.raises(ValueError, match="isolation"):
        _settings(tmp_path, isolation="loose")
