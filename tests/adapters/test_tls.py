"""TLS between services: a real store served over TLS (uvicorn in a thread) with certificates
made by a real CA (``cryptography``), and clients that trust only the CA bundle they are given."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from sealrun.adapters.http.store import StoreClient
from sealrun.adapters.tls import TlsSettings, client_verify, server_options
from sealrun.adapters.web.observability import http_check
from sealrun.errors import ConfigError, ServiceError, StorageError
from sealrun.services.store import StoreSettings, create_app
from sealrun.services.worker.app import enclave_options
from sealrun.services.worker.settings import WorkerSettings
from sealrun.testing.tls import TestCa

MISSING = "ab" * 32


@dataclass
class TlsStore:
    url: str
    ca: TestCa


def _serve(settings: StoreSettings) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=settings.port, log_level="error", ws="none",
        **server_options(settings),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the store did not start"
        time.sleep(0.05)
    return server, thread


@pytest.fixture(scope="module")
def tls_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsStore]:
    folder = tmp_path_factory.mktemp("tls")
    ca = TestCa(folder / "ca")
    issued = ca.issue("store", hosts=("127.0.0.1",))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = StoreSettings(
        root=folder / "store", port=port, tls_cert_file=issued.cert_file, tls_key_file=issued.key_file
    )  # type: ignore[call-arg]
    assert settings.base_url() == f"https://127.0.0.1:{port}"
    server, thread = _serve(settings)
    yield TlsStore(url=settings.base_url(), ca=ca)
    server.should_exit = True
    thread.join(10)


def test_a_client_that_trusts_the_ca_talks_to_the_tls_service(tls_store: TlsStore) -> None:
    with StoreClient(tls_store.url, ca_file=tls_store.ca.cert_file) as store:
        assert store.task_receipts(b"\x01" * 32) == []  # the store's own answer, over TLS
    http_check(tls_store.url, ca_file=tls_store.ca.cert_file)()


def test_a_peer_signed_by_another_ca_is_refused_at_once(tls_store: TlsStore, tmp_path: Path) -> None:
    stranger = TestCa(tmp_path / "other", name="another CA")
    waits: list[float] = []
    client = StoreClient(tls_store.url, ca_file=stranger.cert_file, sleep=waits.append)
    with client as store, pytest.raises(ServiceError) as caught:
        store.head(MISSING)
    assert caught.value.code == "SERVICE_TLS_UNTRUSTED"
    assert waits == []  # never retried: the same certificate would come back
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        http_check(tls_store.url, ca_file=stranger.cert_file)()


def test_the_system_store_does_not_trust_a_private_ca(tls_store: TlsStore) -> None:
    with StoreClient(tls_store.url) as store, pytest.raises(ServiceError) as caught:
        store.head(MISSING)
    assert caught.value.code == "SERVICE_TLS_UNTRUSTED"


@pytest.mark.parametrize("flaw", ["wrong name", "expired"])
def test_a_certificate_of_the_right_ca_with_a_flaw_is_refused(tmp_path: Path, flaw: str) -> None:
    ca = TestCa(tmp_path / "ca")
    hosts = ("10.99.0.1", "db.example") if flaw == "wrong name" else ("127.0.0.1",)
    issued = ca.issue("store", hosts=hosts, expired=flaw == "expired")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = StoreSettings(
        root=tmp_path / "store", port=port, tls_cert_file=issued.cert_file, tls_key_file=issued.key_file
    )  # type: ignore[call-arg]
    server, thread = _serve(settings)
    try:
        with (
            StoreClient(settings.base_url(), ca_file=ca.cert_file) as store,
            pytest.raises(ServiceError) as caught,
        ):
            store.head(MISSING)
        assert caught.value.code == "SERVICE_TLS_UNTRUSTED"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_plain_http_client_to_a_tls_port_is_unreachable_not_untrusted(tls_store: TlsStore) -> None:
    plain = tls_store.url.replace("https://", "http://")
    client = StoreClient(plain, ca_file=tls_store.ca.cert_file, sleep=lambda _s: None)
    with client as store, pytest.raises(StorageError) as caught:
        store.head(MISSING)
    assert caught.value.code == "STORAGE_UNREACHABLE"


def test_server_options_need_a_certificate_and_its_own_key(tmp_path: Path) -> None:
    ca = TestCa(tmp_path / "ca")
    one, other = ca.issue("one", hosts=("127.0.0.1",)), ca.issue("other", hosts=("127.0.0.1",))
    assert server_options(TlsSettings()) == {}
    assert server_options(TlsSettings(tls_cert_file=one.cert_file, tls_key_file=one.key_file)) == {
        "ssl_certfile": str(one.cert_file),
        "ssl_keyfile": str(one.key_file),
    }
    refused = [
        TlsSettings(tls_cert_file=one.cert_file),
        TlsSettings(tls_key_file=one.key_file),
        TlsSettings(tls_cert_file=one.cert_file, tls_key_file=other.key_file),  # not its key
        TlsSettings(tls_cert_file=tmp_path / "absent.crt", tls_key_file=one.key_file),
        TlsSettings(tls_cert_file=one.key_file, tls_key_file=one.key_file),  # a key is no certificate
    ]
    for settings in refused:
        with pytest.raises(ConfigError) as caught:
            server_options(settings)
        assert caught.value.code == "TLS_FILES_INVALID", settings


def test_a_ca_bundle_must_hold_a_certificate(tmp_path: Path) -> None:
    ca = TestCa(tmp_path / "ca")
    issued = ca.issue("one", hosts=("127.0.0.1",))
    assert client_verify(None) is True
    assert not isinstance(client_verify(ca.cert_file), bool)
    (tmp_path / "garbage.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    )
    for bad in (tmp_path / "absent.pem", issued.key_file, tmp_path / "garbage.pem"):
        with pytest.raises(ConfigError) as caught:
            client_verify(bad)
        assert caught.value.code == "TLS_CA_INVALID", bad


def test_services_read_their_tls_settings_and_the_worker_hands_the_ca_to_its_enclaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEALRUN_WORKER_TLS_CA_FILE", str(tmp_path / "ca.pem"))
    settings = WorkerSettings(
        key="0x" + "11" * 32, work_dir=tmp_path, rpc_url="http://127.0.0.1:1", hub="0x" + "22" * 20,
        scheduler_url="https://10.0.0.2:8703", sms_url="https://10.0.0.2:8702",
    )  # type: ignore[arg-type]  # fmt: skip
    assert settings.tls_ca_file == tmp_path / "ca.pem"
    options = enclave_options(settings)
    assert options[options.index("--tls-ca-file") + 1] == str(tmp_path / "ca.pem")
