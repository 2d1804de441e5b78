"""App bundles: the ``sealrun-app.toml`` manifest and the bundle fingerprint (pure).

Walking a bundle folder is disk I/O and lives in :mod:`sealrun.adapters.bundlefiles`.
"""

from sealrun.core.bundles.fingerprint import (
    ENCLAVE_VERSION,
    FINGERPRINT_DOMAIN,
    BundleFile,
    bundle_fingerprint,
    runtime_identity,
)
from sealrun.core.bundles.manifest import MANIFEST_NAME, RUNTIMES, AppManifest, Resources, parse_manifest

__all__ = [
    "ENCLAVE_VERSION",
    "FINGERPRINT_DOMAIN",
    "MANIFEST_NAME",
    "RUNTIMES",
    "AppManifest",
    "BundleFile",
    "Resources",
    "bundle_fingerprint",
    "parse_manifest",
    "runtime_identity",
]
