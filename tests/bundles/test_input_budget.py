"""The manifest's optional input budget, ``[resources] input_size_mb``.

It is hashed into the fingerprint only when set, so every bundle measured before the field
existed keeps its fingerprint (the known answer in ``test_fingerprint`` is the proof for the
unset case).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from sealrun.core.bundles import BundleFile, Resources, bundle_fingerprint, parse_manifest, runtime_identity
from sealrun.errors import EnclaveError

MINIMAL = '[app]\nname = "hello"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
FILES = (BundleFile("app.py", hashlib.sha256(b"x").digest(), 1),)
RUNTIME = runtime_identity("python3", "1")


def test_absent_means_the_worker_decides_and_stays_out_of_the_canonical_form() -> None:
    manifest = parse_manifest(MINIMAL)
    assert manifest.resources.input_size_mb is None
    assert manifest.resources.input_size_bytes is None
    assert b"input_size_mb" not in manifest.canonical()
    assert "input_size_mb" not in manifest.to_dict()["resources"]


def test_set_it_is_parsed_hashed_and_round_trips() -> None:
    manifest = parse_manifest(MINIMAL + "[resources]\ninput_size_mb = 100\n")
    assert manifest.resources == Resources(input_size_mb=100)
    assert manifest.resources.input_size_bytes == 100 << 20
    assert b'"input_size_mb":100' in manifest.canonical()
    assert manifest.to_dict()["resources"]["input_size_mb"] == 100
    plain = parse_manifest(MINIMAL)
    assert bundle_fingerprint(manifest, FILES, RUNTIME) != bundle_fingerprint(plain, FILES, RUNTIME)
    other = replace(manifest, resources=Resources(input_size_mb=101))
    assert bundle_fingerprint(other, FILES, RUNTIME) != bundle_fingerprint(manifest, FILES, RUNTIME)


@pytest.mark.parametrize("value", ["0", "-1", "true", '"100"', "1.5", str((1 << 22) + 1), "[]"])
def test_bad_values_are_refused(value: str) -> None:
    with pytest.raises(EnclaveError) as caught:
        parse_manifest(MINIMAL + f"[resources]\ninput_size_mb = {value}\n")
    assert caught.value.code == "MANIFEST_INVALID"
    assert "input_size_mb" in caught.value.message
