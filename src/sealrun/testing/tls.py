"""A throwaway certificate authority for tests and the multi-host rig (``scripts/multihost.py``).

Real X.509 made with ``cryptography``: a self-signed CA (P-256) that issues server
certificates naming IP addresses or DNS names. Keys are written 0600, certificates 0644
(the CA certificate is public; the enclave of another uid may read it), each through a
temporary file renamed into place.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["IssuedCertificate", "TestCa"]

_PEM = serialization.Encoding.PEM


def _write(path: Path, data: bytes, mode: int) -> Path:
    partial = path.with_name(f".{path.name}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(partial, mode)
    partial.replace(path)
    return path


_CA_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
)  # fmt: skip


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class IssuedCertificate:
    """A server certificate and its key, as files."""

    cert_file: Path
    key_file: Path


class TestCa:
    """A CA whose certificate is ``folder/<name>.pem``; :meth:`issue` makes server certificates."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: Path, *, name: str = "sealrun test CA") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        slug = name.replace(" ", "-")
        self.cert_file = _write(folder / f"{slug}.pem", self._certificate.public_bytes(_PEM), 0o644)

    def issue(
        self, name: str, *, hosts: tuple[str, ...], key_mode: int = 0o600, expired: bool = False
    ) -> IssuedCertificate:
        """A server certificate for ``hosts`` (IP addresses or DNS names), signed by this CA.

        ``expired`` makes one whose validity ended yesterday (for refusal tests).
        """
        key = ec.generate_private_key(ec.SECP256R1())
        alternative: list[x509.GeneralName] = []
        for host in hosts:
            try:
                alternative.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                alternative.append(x509.DNSName(host))
        now = datetime.datetime.now(datetime.UTC)
        start, end = (now - datetime.timedelta(days=3), now - datetime.timedelta(days=1)) if expired else (
            now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2)
        )  # fmt: skip
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        key_pem = key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return IssuedCertificate(
            cert_file=_write(self.folder / f"{name}.crt", certificate.public_bytes(_PEM), 0o644),
            key_file=_write(self.folder / f"{name}.key", key_pem, key_mode),
        )
