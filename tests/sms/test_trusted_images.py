"""The SMS in confidential-VM mode: ``trusted_images_file`` wraps the TDX and SEV-SNP verifiers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealrun.core.attestation import ConfidentialVmVerifier, EvidenceType, SgxDcapVerifier, TdxDcapVerifier
from sealrun.errors import ConfigError
from sealrun.services.sms.app import _verifiers
from sealrun.services.sms.settings import SmsSettings

IMAGES = {"version": 1, "images": [{"name": "base", "tee": "sev-snp", "measurement": "ab" * 48}]}


def test_without_trusted_images_the_hardware_verifiers_are_plain(tmp_path: Path) -> None:
    verifiers = _verifiers(SmsSettings(data_dir=tmp_path))
    assert isinstance(verifiers[EvidenceType.TDX_DCAP], TdxDcapVerifier)


def test_trusted_images_put_tdx_and_snp_in_confidential_vm_mode(tmp_path: Path) -> None:
    path = tmp_path / "images.json"
    path.write_text(json.dumps(IMAGES))
    verifiers = _verifiers(SmsSettings(data_dir=tmp_path, trusted_images_file=path))
    assert isinstance(verifiers[EvidenceType.TDX_DCAP], ConfidentialVmVerifier)
    assert isinstance(verifiers[EvidenceType.SEV_SNP], ConfidentialVmVerifier)
    assert isinstance(verifiers[EvidenceType.SGX_DCAP], SgxDcapVerifier)


@pytest.mark.parametrize("content", [None, "version = 2", '{"version": 1, "images": []}'])
def test_an_unreadable_or_invalid_image_list_refuses_to_start(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "images.toml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        _verifiers(SmsSettings(data_dir=tmp_path, trusted_images_file=path))
    assert caught.value.code == "SMS_TRUSTED_IMAGES_INVALID"
