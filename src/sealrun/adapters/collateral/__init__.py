"""Collateral from the vendors' services: Intel PCS/PCCS and AMD KDS, with an on-disk cache.

The checks and the freshness rules are pure core code (``sealrun.core.attestation.collateral``
and ``.freshness``); this package only moves bytes: :mod:`.fetcher` over HTTP, :mod:`.cache` to
disk. ``docs/attestation.md`` ("Collateral") describes the sources, the cache and the codes.
"""

from sealrun.adapters.collateral.cache import CachedAnswer, CollateralCache, default_cache_dir
from sealrun.adapters.collateral.fetcher import (
    AMD_KDS_URL,
    INTEL_PCS_URL,
    CollateralFetcher,
    DcapCollateral,
    SnpCollateral,
)

__all__ = [
    "AMD_KDS_URL",
    "INTEL_PCS_URL",
    "CachedAnswer",
    "CollateralCache",
    "CollateralFetcher",
    "DcapCollateral",
    "SnpCollateral",
    "default_cache_dir",
]
