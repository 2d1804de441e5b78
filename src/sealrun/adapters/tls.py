"""TLS between sealrun's processes: a server's certificate and key, a client's CA bundle.

Every service reads three optional settings (``SEALRUN_<SERVICE>_TLS_CERT_FILE``,
``..._TLS_KEY_FILE``, ``..._TLS_CA_FILE``, the fields of :class:`TlsSettings`):

- with a certificate and its key, the service listens with TLS (``https://``): uvicorn's
  ``ssl_certfile``/``ssl_keyfile`` (:func:`server_options`, which loads both first, so a
  key that does not match its certificate refuses to start instead of failing every
  handshake later);
- with a CA bundle, every client the service makes (its peers' HTTP clients, the worker's
  enclaves) verifies a peer's certificate against that bundle, and that bundle only
  (:func:`client_verify`); without one, httpx's default trust (``SSL_CERT_FILE`` when set,
  else ``certifi``'s bundle).

A peer whose certificate does not verify (another CA, a name that is not the one in the
URL, an expired certificate) is refused: the client raises
:class:`~sealrun.errors.ServiceError` ``SERVICE_TLS_UNTRUSTED`` and does not retry (a retry
meets the same certificate). Bad files raise :class:`~sealrun.errors.ConfigError`
``TLS_FILES_INVALID`` (certificate without key or the reverse, unreadable, not PEM, key not
matching) or ``TLS_CA_INVALID`` (the CA bundle). Details: docs/operate.md, "TLS".
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TypedDict

from pydantic import BaseModel

from sealrun.errors import ConfigError

__all__ = ["ServerTls", "TlsSettings", "client_verify", "server_options", "untrusted_peer"]


class ServerTls(TypedDict, total=False):
    """uvicorn's TLS keyword arguments (none: plain HTTP)."""

    ssl_certfile: str
    ssl_keyfile: str


class TlsSettings(BaseModel):
    """The TLS fields every service's settings inherit (under the service's own prefix).

    A plain model mixed into each ``BaseSettings`` (the enclave loads this module through the
    HTTP clients and must not pay for pydantic-settings).

    Attributes:
        tls_cert_file: the server's certificate chain (PEM); with ``tls_key_file``, the
            service listens with TLS.
        tls_key_file: the certificate's private key (PEM, unencrypted, mode 0600).
        tls_ca_file: the CA bundle (PEM) the service's clients verify their peers against.
    """

    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None

    @property
    def scheme(self) -> str:
        """``https`` when the service listens with TLS, else ``http``."""
        return "https" if self.tls_cert_file is not None else "http"


def server_options(settings: TlsSettings) -> ServerTls:
    """uvicorn's TLS keyword arguments for ``settings`` (empty: plain HTTP).

    Raises:
        ConfigError: ``TLS_FILES_INVALID``.
    """
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise ConfigError(
            "TLS needs both a certificate (TLS_CERT_FILE) and its key (TLS_KEY_FILE), not one of them",
            code="TLS_FILES_INVALID",
        )
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        probe.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (OSError, ssl.SSLError) as error:
        # The reason only (no file content): "PEM lib", "KEY_VALUES_MISMATCH", "No such file".
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or type(error).__name__
        raise ConfigError(
            f"the TLS certificate {cert} and key {key} cannot be used: {reason}", code="TLS_FILES_INVALID"
        ) from error
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def client_verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    """What an httpx client verifies peers with: ``ca_file``'s CAs only, or ``True`` (the default store).

    Raises:
        ConfigError: ``TLS_CA_INVALID`` when ``ca_file`` is unreadable or holds no certificate.
    """
    if ca_file is None:
        return True
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or type(error).__name__
        raise ConfigError(
            f"the TLS CA bundle {ca_file} cannot be read: {reason}", code="TLS_CA_INVALID"
        ) from error
    if not context.get_ca_certs():
        raise ConfigError(f"the TLS CA bundle {ca_file} holds no CA certificate", code="TLS_CA_INVALID")
    return context


def untrusted_peer(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind ``error`` (an httpx transport error), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
