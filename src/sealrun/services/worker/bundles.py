"""Where a worker finds an app's bundle: the URI registered on chain with the app.

Only ``file://`` folders (one machine, the devnet) are supported so far; the enclave
measures whatever it is given and the SMS releases keys only to the registered fingerprint,
so a wrong or tampered bundle fails attestation rather than running.
Errors (:class:`~sealrun.errors.ServiceError`): ``APP_UNKNOWN``, ``BUNDLE_UNAVAILABLE``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from sealrun.adapters.chain.registry import RegistryClient
from sealrun.errors import ServiceError

__all__ = ["RegistryBundles"]


# How many apps' URIs a worker remembers (a hostile stream of distinct apps cannot grow it).
_KNOWN_APPS = 1024


class RegistryBundles:
    """Resolves app addresses to bundle folders through the registry.

    An app's bundle URI is fixed when it is created (the registry can only transfer its
    ownership), so it is read from the chain once per app, not once per task; an app the
    registry does not know is asked again next time (it may be registered since).

    Args:
        registry: reads apps (``registry.app(address).bundle_uri``).
    """

    def __init__(self, registry: RegistryClient) -> None:
        self._registry = registry
        self._uris: dict[str, str] = {}

    def _bundle_uri(self, app: str) -> str:
        key = app.lower()
        uri = self._uris.get(key)
        if uri is None:
            record = self._registry.app(app)
            if record is None:
                raise ServiceError(f"no app is registered at {app}", code="APP_UNKNOWN")
            if len(self._uris) >= _KNOWN_APPS:
                self._uris.clear()
            uri = self._uris[key] = record.bundle_uri
        return uri

    def __call__(self, app: str) -> Path:
        """The bundle folder of ``app``."""
        bundle_uri = self._bundle_uri(app)
        parsed = urlparse(bundle_uri)
        if parsed.scheme != "file":
            raise ServiceError(
                f"only file:// app bundles are supported so far, not {bundle_uri}",
                code="BUNDLE_UNAVAILABLE",
            )
        folder = Path(unquote(parsed.path))
        if not folder.is_dir():
            raise ServiceError(f"the bundle folder {folder} does not exist here", code="BUNDLE_UNAVAILABLE")
        return folder
