"""Fixtures for the enclave runtime tests: bundles, tasks, a runtime with a simulated TEE.

Inputs come over http from ``http_root``, a loopback server whose origin the ``runtime``
fixture's fetch policy lists, as a worker lists the devnet's store (``file://`` is refused).
"""

from __future__ import annotations

import hashlib
import http.server
import os
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.tee import SimulatedQuoter
from sealrun.core.attestation import SimulatorKey
from sealrun.core.netpolicy import FetchPolicy
from sealrun.core.sealing import Identity, seal_bytes
from sealrun.core.tasks import SecretsBundle
from sealrun.core.tasks.secretsbundle import DatasetSecret, ResultUpload, TaskParams
from sealrun.enclave import EnclaveRuntime, RuntimeSettings

TASK_ID = "0x" + "ab" * 32
WORKER = "0x" + "11" * 20
DATASET_ADDRESS = "0x" + "da" * 20
# The line every test app that must complete ends with: computed.json is required (code 19).
COMPUTED = (
    "import json as _json\n"
    "_json.dump({'deterministic-output-path': '/iexec_out'}, open('/iexec_out/computed.json', 'w'))\n"
)
COMPUTED_BODY = b'{"deterministic-output-path": "/iexec_out"}'


@pytest.fixture
def http_root(work_root: Path) -> Iterator[tuple[str, Path]]:
    """A loopback http server over a fresh folder: (its origin, the folder)."""
    folder = work_root / "served"
    folder.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *_args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_bundle(work_root: Path) -> Callable[..., Path]:
    """Write a bundle folder: ``files`` {path: text}, a manifest with ``entrypoint`` and extras."""
    counter = iter(range(1000))

    def make(files: Mapping[str, str], *, entrypoint: str = '["python3", "app.py"]', extra: str = "") -> Path:
        root = work_root / f"bundle-{next(counter)}"
        root.mkdir()
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        manifest = f'[app]\nname = "test-app"\nentrypoint = {entrypoint}\nruntime = "python3"\n'
        (root / "sealrun-app.toml").write_text(manifest + textwrap.dedent(extra))
        return root

    return make


@dataclass(frozen=True)
class Task:
    """A task for the runtime: its secrets file and the keys to check the outcome."""

    secrets_file: Path
    bundle: SecretsBundle
    beneficiary: Identity
    enclave_key: bytes


@pytest.fixture
def make_task(work_root: Path, http_root: tuple[str, Path]) -> Callable[..., Task]:
    """Build a secrets bundle (optionally with a sealed dataset served by ``http_root``) in a file."""
    counter = iter(range(1000))

    def make(
        *,
        dataset: bytes | None = None,
        dataset_url: str | None = None,
        checksum: str | None = None,
        dataset_key: Identity | None = None,
        dataset_filename: str | None = "dataset.bin",
        args: str = "",
        input_files: tuple[str, ...] = (),
        requester_secrets: Mapping[int, str] | None = None,
        app_developer_secret: str | None = None,
        max_time: int = 60,
    ) -> Task:
        index = next(counter)
        beneficiary = Identity.generate()
        enclave_key = os.urandom(32)
        secret = None
        if dataset is not None or dataset_url is not None:
            key = Identity.generate()
            url = dataset_url
            if dataset is not None:
                sealed = seal_bytes(dataset, [key.recipient])
                base, folder = http_root
                path = folder / f"dataset-{index}.bin.age"
                path.write_bytes(sealed)
                url = url or f"{base}/{path.name}"
                checksum = checksum or "0x" + hashlib.sha256(sealed).hexdigest()
            assert url is not None
            secret = DatasetSecret(
                url=url,
                checksum=checksum or "0x" + "00" * 32,
                key=str(dataset_key or key),
                address=DATASET_ADDRESS,
                filename=dataset_filename,
            )
        bundle = SecretsBundle(
            task_id=TASK_ID,
            worker=WORKER,
            enclave_key="0x" + enclave_key.hex(),
            beneficiary_recipient=str(beneficiary.recipient),
            result_upload=ResultUpload(url="", token=""),
            max_time=max_time,
            params=TaskParams(args=args, input_files=input_files),
            dataset=secret,
            app_developer_secret=app_developer_secret,
            requester_secrets=dict(requester_secrets or {}),
        )
        secrets_file = work_root / f"secrets-{index}.json"
        secrets_file.write_bytes(bundle.to_json())
        return Task(secrets_file, bundle, beneficiary, enclave_key)

    return make


@pytest.fixture(scope="session")
def simulator_key() -> SimulatorKey:
    return SimulatorKey.generate()


@pytest.fixture
def runtime(simulator_key: SimulatorKey, http_root: tuple[str, Path]) -> EnclaveRuntime:
    return EnclaveRuntime(
        sandbox=BubblewrapSandbox(),
        make_quoter=lambda measurement: SimulatedQuoter(key=simulator_key, measurement=measurement),
        settings=RuntimeSettings(fetch=FetchPolicy(allowed_http_origins=frozenset({http_root[0]}))),
    )
